//! The original images behind a clustering's pictures.
//!
//! The network sees each image as it was loaded: brought to one size, and grey unless the
//! run asked for `--colour rgb`. A person looking at a cluster wants to see the photos
//! themselves, so for a folder of images ([`Folder::sources`](crate::data::Folder)) the
//! montages and the gallery decode each source file again, with the crate's own decoders
//! ([`decode`]), always in colour (the network's input mode does not decide the picture),
//! and bring it to the picture's size with the loader's Resize + CenterCrop
//! ([`resize`](crate::data::resize): area averaging when shrinking, bilinear when growing):
//!
//! - a montage tile is [`ORIGINAL_TILE`] x [`ORIGINAL_TILE`]: square, so the grid stays
//!   regular whatever the photos' aspect ratios; 64 px is about the 56 px of an MNIST digit
//!   enlarged twice (the matrix path's tile), large enough to tell photos apart, and a
//!   100-member montage stays about 690 px wide, one screen;
//! - a gallery thumbnail keeps the photo's aspect ratio and is nothing cropped: its
//!   shorter side is [`THUMBNAIL_SIDE`] (torchvision's `Resize(128)` alone), or the
//!   photo's own size when that is smaller (never enlarged, as a photo manager's
//!   thumbnails), which is then the photo's own pixels exactly.
//!
//! A picture whose every pixel is neutral (red = green = blue: a grey photo, decoded to
//! RGB) is stored as grey ([`grey_if_neutral`]), so a folder of grey photos still gives
//! grey PNGs and a single colour photo makes its montage RGB.
//!
//! Only what is drawn is decoded, one file at a time per thread, each thread with its own
//! reusable buffers ([`Originals`]): never every full-size image at once.
//!
//! **A source that cannot be read again** (removed or changed since the images were
//! loaded) does not stop the pictures: its network input is drawn instead (the matrix
//! row, brought to the tile size the same way), and the picture's writer reports it as
//! [`Unreadable`], for the caller to warn once ([`unreadable_warning`]).

use std::path::Path;

use super::raster::{Channels, Image, unit_to_byte};
use crate::Result;
use crate::data::decode::{self, Colour};
use crate::data::resize::{self, Resizer};

/// The side of a montage tile drawn from an original, in pixels.
pub const ORIGINAL_TILE: usize = 64;
/// The shorter side of a gallery thumbnail drawn from an original, in pixels, at most.
pub const THUMBNAIL_SIDE: usize = 128;

/// A picture that showed an image's network input because its source file could not be
/// read again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    /// The image's row.
    pub row: usize,
    /// The one-line error, naming the file.
    pub error: String,
}

/// The one warning a run prints about its [`Unreadable`] sources (any order, repeats
/// allowed): how many images, and the first one's error. None when there are none.
pub fn unreadable_warning(list: &[Unreadable]) -> Option<String> {
    let mut rows: Vec<usize> = list.iter().map(|u| u.row).collect();
    rows.sort_unstable();
    rows.dedup();
    let first = list.iter().min_by_key(|u| u.row)?;
    let n = rows.len();
    let (noun, verb, its) = if n == 1 {
        ("image", "was", "its")
    } else {
        ("images", "were", "their")
    };
    Some(format!(
        "warning: {n} source {noun} could not be read again for the pictures, so {its} \
         network input {verb} drawn instead (first: {})",
        first.error
    ))
}

/// The size (width, height) of a montage tile drawn from a `_src_w` x `_src_h` original:
/// always [`ORIGINAL_TILE`] square (the centre crop).
pub fn tile_size(_src_w: usize, _src_h: usize) -> (usize, usize) {
    (ORIGINAL_TILE, ORIGINAL_TILE)
}

/// The size (width, height) of a gallery thumbnail of a `src_w` x `src_h` original: the
/// shorter side [`THUMBNAIL_SIDE`] (or the original's, when smaller), the longer one in
/// proportion, floored as torchvision's `Resize(int)`, so that nothing is cropped.
pub fn thumbnail_size(src_w: usize, src_h: usize) -> (usize, usize) {
    let short = src_w.min(src_h);
    let side = THUMBNAIL_SIDE.min(short);
    if src_w <= src_h {
        (side, (side * src_h / src_w).max(side))
    } else {
        ((side * src_w / src_h).max(side), side)
    }
}

/// `img` as a grey image when every pixel has red = green = blue; else `img` itself.
pub fn grey_if_neutral(img: Image) -> Image {
    if img.channels == Channels::Grey {
        return img;
    }
    let neutral = img
        .pixels
        .chunks_exact(3)
        .all(|p| p[0] == p[1] && p[1] == p[2]);
    if !neutral {
        return img;
    }
    Image {
        width: img.width,
        height: img.height,
        channels: Channels::Grey,
        pixels: img.pixels.chunks_exact(3).map(|p| p[0]).collect(),
    }
}

/// One thread's reusable buffers for drawing originals: the file's bytes, its decoded
/// pixels, the resizer's weights and the resized values. Keep one per thread (rayon's
/// `map_init`): after the first few images nothing is allocated but the pictures.
#[derive(Debug, Default)]
pub struct Originals {
    bytes: Vec<u8>,
    /// The decoded image, (src_h, src_w, 3) u8.
    pixels: Vec<u8>,
    resizer: Resizer,
    /// The resized image, (h, w, channels) f32 in [0, 1].
    values: Vec<f32>,
}

impl Originals {
    pub fn new() -> Self {
        Self::default()
    }

    /// The image file `path` decoded in RGB and brought by Resize + CenterCrop to the
    /// size `size_of(src_w, src_h)` gives, (width, height). An error (naming the file)
    /// when it cannot be read or decoded.
    pub fn picture(
        &mut self,
        path: &Path,
        size_of: fn(usize, usize) -> (usize, usize),
    ) -> Result<Image> {
        crate::io::read::read_capped_into(
            path,
            crate::data::MAX_FILE_BYTES,
            "an image",
            &mut self.bytes,
        )?;
        // The header's size picks the target, which lets a JPEG decode at a reduced scale.
        let (h, w) = decode::read_size(path, &self.bytes)?;
        if h == 0 || w == 0 {
            return Err(crate::Error::data(path, "image has no pixels"));
        }
        let target = size_of(w, h);
        let (h, w) = decode::decode(path, &self.bytes, Colour::Rgb, target, &mut self.pixels)?;
        if h == 0 || w == 0 {
            return Err(crate::Error::data(path, "image has no pixels"));
        }
        let src = resize::Image {
            pixels: &self.pixels,
            width: w,
            height: h,
            channels: 3,
        };
        Ok(resized(
            &mut self.resizer,
            &mut self.values,
            src,
            target,
            Channels::Rgb,
        ))
    }

    /// A network input, (height, width, channels) values in [0, 1], brought by Resize +
    /// CenterCrop to `target` (width, height): the stand-in for an unreadable original.
    pub fn input(
        &mut self,
        values: &[f32],
        (width, height): (usize, usize),
        channels: Channels,
        target: (usize, usize),
    ) -> Image {
        // The same bytes the matrix path draws, then the same filter as an original.
        let bytes: Vec<u8> = values.iter().map(|&v| unit_to_byte(v)).collect();
        let src = resize::Image {
            pixels: &bytes,
            width,
            height,
            channels: channels.count(),
        };
        resized(&mut self.resizer, &mut self.values, src, target, channels)
    }
}

/// `src` brought to (dst_w, dst_h) by Resize + CenterCrop through `values`, the reusable
/// (dst_h, dst_w, channels) f32 buffer, as a raster image.
fn resized(
    resizer: &mut Resizer,
    values: &mut Vec<f32>,
    src: resize::Image<'_>,
    (dst_w, dst_h): (usize, usize),
    channels: Channels,
) -> Image {
    values.resize(dst_w * dst_h * channels.count(), 0.0);
    resizer.resize_into(src, values, dst_w, dst_h);
    Image::from_unit_pixels(values, dst_w, dst_h, channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_keep_the_aspect_ratio_and_never_grow() {
        assert_eq!(thumbnail_size(300, 200), (192, 128));
        assert_eq!(thumbnail_size(200, 300), (128, 192));
        assert_eq!(thumbnail_size(129, 128), (129, 128));
        assert_eq!(thumbnail_size(1000, 999), (128, 128)); // 128 * 1000 / 999 floored
        assert_eq!(thumbnail_size(40, 30), (40, 30)); // smaller: its own size
        assert_eq!(thumbnail_size(1, 1), (1, 1));
        assert_eq!(tile_size(7, 3000), (ORIGINAL_TILE, ORIGINAL_TILE));
    }

    #[test]
    fn neutral_pictures_become_grey_and_colour_ones_stay() {
        let mut img = Image::new(2, 1, Channels::Rgb, super::super::raster::Colour::grey(9));
        let grey = grey_if_neutral(img.clone());
        assert_eq!(
            (grey.channels, grey.pixels.as_slice()),
            (Channels::Grey, &[9, 9][..])
        );
        img.pixels[5] = 10;
        assert_eq!(grey_if_neutral(img.clone()), img);
    }

    #[test]
    fn the_warning_counts_images_once_and_names_the_first() {
        assert_eq!(unreadable_warning(&[]), None);
        let u = |row, error: &str| Unreadable {
            row,
            error: error.to_string(),
        };
        let one = unreadable_warning(&[u(4, "b.png: gone"), u(4, "b.png: gone")]).unwrap();
        assert!(
            one.starts_with("warning: 1 source image could not"),
            "{one}"
        );
        assert!(one.ends_with("(first: b.png: gone)"), "{one}");
        let two = unreadable_warning(&[u(4, "b.png: gone"), u(1, "a.png: gone")]).unwrap();
        assert!(two.starts_with("warning: 2 source images"), "{two}");
        assert!(two.ends_with("(first: a.png: gone)"), "{two}");
    }
}
