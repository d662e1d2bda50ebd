//! The JPEG decoder on any bytes: the header probe, then a decode at every scale, grey and
//! RGB, turned and not. Each gives an image of the size the probe promises, or a one-line
//! error that the loader prefixes with the file's name.
#![no_main]

use std::path::Path;

use deepcluster::data::jpeg::{Channels, MAX_PIXELS, Options, Orientation, Scale, decode, read_info};
use libfuzzer_sys::fuzz_target;

fn check(e: deepcluster::data::jpeg::JpegError) {
    let msg = deepcluster::Error::data(Path::new("0.jpg"), e.to_string()).to_string();
    assert!(msg.starts_with("0.jpg: "), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
}

fuzz_target!(|bytes: &[u8]| {
    let info = match read_info(bytes) {
        Ok(info) => info,
        Err(e) => return check(e),
    };
    assert!(info.width * info.height <= MAX_PIXELS);
    // The length picks the options (a valid file's first and last bytes are fixed), so that
    // every combination is reached.
    let pick = bytes.len();
    let options = Options {
        scale: Scale::ALL[pick % 4],
        channels: [Channels::Grey, Channels::Rgb][(pick / 4) % 2],
        orientation: [Orientation::Apply, Orientation::Ignore][(pick / 8) % 2],
    };
    match decode(bytes, &options) {
        Ok(image) => {
            let (w, h) = info.output_size(options.scale, options.orientation);
            assert_eq!((image.width, image.height), (w, h));
            assert_eq!(image.pixels.len(), w * h * options.channels.count());
        }
        Err(e) => check(e),
    }
});
