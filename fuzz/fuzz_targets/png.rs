//! The PNG-to-grey path of the article's layout, as the loader takes it: the first image's
//! header fixes the set's size, then every image is decoded at that size; other images are
//! decoded at MNIST's 28x28. Any bytes decode or give a one-line error naming the file.
#![no_main]

use std::path::Path;

use deepcluster::data::png_grey::{MAX_PIXELS, decode_grey, read_size};
use libfuzzer_sys::fuzz_target;

fn check(result: deepcluster::Result<()>) {
    if let Err(e) = result {
        let msg = e.to_string();
        assert!(msg.starts_with("0.png: "), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
}

fuzz_target!(|bytes: &[u8]| {
    let path = Path::new("0.png");
    let (mut scratch, mut grey) = (Vec::new(), vec![0u8; 28 * 28]);
    check(decode_grey(path, bytes, (28, 28), &mut scratch, &mut grey));
    match read_size(path, bytes) {
        Ok(size) => {
            assert!(size.0 * size.1 <= MAX_PIXELS);
            let mut grey = vec![0u8; size.0 * size.1];
            check(decode_grey(path, bytes, size, &mut scratch, &mut grey));
        }
        Err(e) => check(Err(e)),
    }
});
