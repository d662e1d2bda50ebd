//! The image-list reader (train.csv / test.csv): any bytes are a listing or a one-line
//! error naming the file, and a listing's rows are consistent.
#![no_main]

use std::path::Path;

use deepcluster::data::listing::parse_listing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let path = Path::new("train.csv");
    match parse_listing(path, bytes) {
        Ok(listing) => {
            assert!(!listing.filenames.is_empty());
            assert_eq!(listing.filenames.len(), listing.lines.len());
            if let Some(labels) = &listing.labels {
                assert_eq!(labels.len(), listing.filenames.len());
            }
            for name in &listing.filenames {
                // Every accepted filename stays inside the folder it is resolved in.
                assert!(!name.is_empty());
                assert!(Path::new(name).is_relative(), "{name}");
                assert!(
                    !Path::new(name).components().any(|c| c.as_os_str() == ".."),
                    "{name}"
                );
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("train.csv"), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }
});
