//! The safetensors reader: any bytes are a file whose tensors match their shapes, or a
//! one-line error naming the file; then the autoencoder and DEC loaders on top of it.
#![no_main]

use std::path::Path;

use deepcluster::io::{safetensors, weights};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let path = Path::new("ae.safetensors");
    match safetensors::parse(bytes, path) {
        Ok(file) => {
            for t in &file.tensors {
                assert_eq!(t.shape.iter().product::<usize>(), t.data.len());
            }
            // Rebuilding a network from the header must not trust its sizes either.
            for result in [
                weights::autoencoder_from(path, &file, "").map(|_| ()),
                weights::dec_from(path, &file).map(|_| ()),
            ] {
                if let Err(e) = result {
                    let msg = e.to_string();
                    assert!(!msg.contains('\n'), "{msg}");
                }
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("ae.safetensors: "), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }
});
