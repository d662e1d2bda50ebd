//! The IDX reader, raw and through the gzip inflater: any bytes are an IDX file whose data
//! matches its dimensions, or a one-line error naming the file.
#![no_main]

use std::path::Path;

use deepcluster::data::idx;
use libfuzzer_sys::fuzz_target;

fn check(result: deepcluster::Result<idx::Idx>) {
    match result {
        Ok(file) => {
            let count: usize = file.dims.iter().product();
            assert_eq!(count, file.data.len());
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("t10k-images-idx3-ubyte"), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }
}

fuzz_target!(|bytes: &[u8]| {
    let path = Path::new("t10k-images-idx3-ubyte");
    check(idx::from_bytes(path, bytes.to_vec()));
    // The same bytes behind a gzip header, so the inflater sees them as a deflate stream.
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    gz.extend_from_slice(bytes);
    check(idx::from_bytes(path, gz));
});
