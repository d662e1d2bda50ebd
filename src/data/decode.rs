//! An image file's bytes to pixels, whatever its format: the format is told by the file's
//! first bytes (its magic number), never by its name, and each format is one match arm.
//!
//! - PNG, `89 50 4E 47 0D 0A 1A 0A`: [`png_grey`];
//! - JPEG, `FF D8 FF`: [`jpeg`], decoded straight at 1/2, 1/4 or 1/8 scale in the DCT
//!   domain when the target size allows (libjpeg's `scale_denom`), the EXIF orientation
//!   applied;
//! - anything else: an error naming the file and its first bytes.
//!
//! Pixels come out as 8-bit samples, (height, width, channels) interleaved, with 1 channel
//! ([`Colour::Grey`], luma) or 3 ([`Colour::Rgb`]).

use std::path::Path;

use super::jpeg;
use super::png_grey::{self, Size};
use crate::{Error, Result};

/// How many channels the images are given: `--colour grey|rgb`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Colour {
    /// One channel: colour becomes its BT.601 luma ([`png_grey::luma`]), as the article.
    #[default]
    Grey,
    /// Three interleaved channels, R G B; grey images have the grey repeated.
    Rgb,
}

impl Colour {
    pub fn channels(self) -> usize {
        match self {
            Colour::Grey => 1,
            Colour::Rgb => 3,
        }
    }
}

/// An image format, told by its magic number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Jpeg,
}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
const JPEG_MAGIC: &[u8] = b"\xff\xd8\xff";

/// How many leading bytes [`read_size`] may need: PNG's IHDR ends at byte 33; a JPEG's
/// frame header (SOF) follows its APP segments, which may be up to 64 KiB each.
pub const HEADER_BYTES: u64 = 256 * 1024;

/// The format of the file whose first bytes are `bytes`, if it is one the crate knows.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(PNG_MAGIC) {
        Some(Format::Png)
    } else if bytes.starts_with(JPEG_MAGIC) {
        Some(Format::Jpeg)
    } else {
        None
    }
}

/// The format of `bytes`, or the one-line error naming `path`.
fn format_of(path: &Path, bytes: &[u8]) -> Result<Format> {
    match sniff(bytes) {
        Some(format) => Ok(format),
        None => {
            let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02X}")).collect();
            Err(Error::data(
                path,
                if bytes.is_empty() {
                    "not an image: the file is empty".to_string()
                } else {
                    format!("not a PNG or JPEG image (it starts {})", head.join(" "))
                },
            ))
        }
    }
}

/// The (height, width) of the image whose first bytes (at least [`HEADER_BYTES`], or the
/// whole file) are `bytes`, from its header alone.
pub fn read_size(path: &Path, bytes: &[u8]) -> Result<Size> {
    match format_of(path, bytes)? {
        Format::Png => png_grey::read_size(path, bytes),
        Format::Jpeg => {
            let info = jpeg::read_info(bytes).map_err(|e| Error::data(path, e.to_string()))?;
            let (w, h) = info.output_size(jpeg::Scale::Full, jpeg::Orientation::Apply);
            Ok((h, w))
        }
    }
}

/// Decodes the whole file `bytes` into `pixels`, (height, width, colour.channels()) bytes,
/// and returns (height, width). `pixels` is a reusable buffer: keep one per thread.
///
/// `target` (width, height) is the size the caller will resize to: a JPEG is decoded at the
/// smallest DCT scale that still covers it (a 4000x3000 photo bound for 28x28 is decoded at
/// 500x375, from the DC coefficients alone), so the resize that follows only finishes the job.
pub fn decode(
    path: &Path,
    bytes: &[u8],
    colour: Colour,
    target: (usize, usize),
    pixels: &mut Vec<u8>,
) -> Result<Size> {
    match format_of(path, bytes)? {
        Format::Png => png_grey::decode_channels(path, bytes, colour.channels(), pixels),
        Format::Jpeg => {
            let bad = |e: jpeg::JpegError| Error::data(path, e.to_string());
            let info = jpeg::read_info(bytes).map_err(bad)?;
            let (w, h) = info.output_size(jpeg::Scale::Full, jpeg::Orientation::Apply);
            let options = jpeg::Options {
                scale: jpeg::Scale::at_least(w, h, target),
                channels: match colour {
                    Colour::Grey => jpeg::Channels::Grey,
                    Colour::Rgb => jpeg::Channels::Rgb,
                },
                orientation: jpeg::Orientation::Apply,
            };
            let image = jpeg::decode(bytes, &options).map_err(bad)?;
            // The decoder's buffer becomes the caller's: no copy.
            *pixels = image.pixels;
            Ok((image.height, image.width))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_their_magic_numbers() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(Format::Png));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF"), Some(Format::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n"), None); // truncated magic
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b""), None);
        let p = Path::new("a.jpg");
        let msg = read_size(p, b"\xff\xd8\xff\xe1").unwrap_err().to_string();
        assert!(msg.starts_with("a.jpg: "), "{msg}");
        let msg = read_size(p, b"hello").unwrap_err().to_string();
        assert_eq!(
            msg,
            "a.jpg: not a PNG or JPEG image (it starts 68 65 6C 6C 6F)"
        );
        let msg = read_size(p, b"").unwrap_err().to_string();
        assert_eq!(msg, "a.jpg: not an image: the file is empty");
    }
}
