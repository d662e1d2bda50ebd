//! Any PNG to 8-bit grey, then to `f32` in [0, 1].
//!
//! Every colour type and bit depth PNG allows is accepted: grey (1, 2, 4, 8, 16 bits),
//! grey + alpha (8, 16), RGB (8, 16), RGBA (8, 16) and palette (1, 2, 4, 8), interlaced or
//! not. The `png` crate's transformations do the unpacking: `EXPAND` turns low bit depths
//! into 8 bits (scaled, so 1-bit white is 255) and palette indices into RGB(A);
//! `STRIP_16` keeps the high byte of 16-bit samples. What is left is one to four 8-bit
//! channels, which become one grey byte:
//!
//! - grey is used as is;
//! - colour becomes its luma, ITU-R BT.601: Y = 0.299 R + 0.587 G + 0.114 B, rounded to the
//!   nearest integer (computed exactly in integers);
//! - **alpha is ignored**: a pixel's stored colour is used whatever its transparency, as the
//!   article's `imread(..., flatten=True)` and PIL's `convert('L')` do. (A transparent
//!   pixel is not composited onto a background.) A `tRNS` chunk is likewise ignored.
//!
//! [`decode_channels`] decodes the same way to grey or to RGB (8-bit, three interleaved
//! channels: grey repeated, alpha ignored), for images of any size: the folder layout's.
//!
//! Header sizes are checked against the expected image size before any pixel buffer is
//! allocated, so a file claiming 100,000 x 100,000 pixels costs nothing.

use std::io::Cursor;
use std::path::Path;

use crate::{Error, Result};

/// Images larger than this many pixels are refused (4096 x 4096); MNIST's are 784.
pub const MAX_PIXELS: usize = 1 << 24;

/// (height, width).
pub type Size = (usize, usize);

/// Reads only the header of the PNG in `bytes`: its (height, width).
pub fn read_size(path: &Path, bytes: &[u8]) -> Result<Size> {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    let info = decoder
        .read_header_info()
        .map_err(|e| Error::data(path, format!("not a readable PNG: {e}")))?;
    let size = (info.height as usize, info.width as usize);
    if size.0.saturating_mul(size.1) > MAX_PIXELS {
        return Err(Error::data(
            path,
            format!(
                "image is {}x{}, more than the {MAX_PIXELS} pixels allowed",
                size.1, size.0
            ),
        ));
    }
    Ok(size)
}

/// Decodes the PNG in `bytes`, which must be `size`, into `grey` (height * width bytes).
/// `scratch` is a reusable buffer for the decoder's output (up to 4 bytes per pixel).
pub fn decode_grey(
    path: &Path,
    bytes: &[u8],
    size: Size,
    scratch: &mut Vec<u8>,
    grey: &mut [u8],
) -> Result<()> {
    let (height, width) = size;
    assert_eq!(
        grey.len(),
        height * width,
        "grey buffer is (height * width,)"
    );
    let color = decode_frame(path, bytes, size, scratch)?;
    // scratch is (height * width, channels).
    let pixels = scratch.chunks_exact(color.samples());
    match color {
        png::ColorType::Grayscale | png::ColorType::GrayscaleAlpha => {
            for (g, p) in grey.iter_mut().zip(pixels) {
                *g = p[0]; // p[1], if any, is alpha: ignored.
            }
        }
        png::ColorType::Rgb | png::ColorType::Rgba => {
            for (g, p) in grey.iter_mut().zip(pixels) {
                *g = luma(p[0], p[1], p[2]); // p[3], if any, is alpha: ignored.
            }
        }
        png::ColorType::Indexed => unreachable!("decode_frame expands palettes"),
    }
    Ok(())
}

/// Decodes the PNG in `bytes`, of any size up to [`MAX_PIXELS`], into `pixels` as
/// (height, width, `channels`) bytes, channels interleaved: 1 is grey (colour becomes its
/// luma, exactly as [`decode_grey`]), 3 is RGB (grey is repeated in the three channels).
/// Alpha and `tRNS` are ignored in both, as in [`decode_grey`]. Returns (height, width).
///
/// `pixels` is the decoder's own output buffer, converted in place, so one reusable
/// buffer of at most 4 bytes per source pixel is all a call needs.
pub fn decode_channels(
    path: &Path,
    bytes: &[u8],
    channels: usize,
    pixels: &mut Vec<u8>,
) -> Result<Size> {
    assert!(
        channels == 1 || channels == 3,
        "{channels} channels (1 or 3)"
    );
    let size = read_size(path, bytes)?;
    let n = size.0 * size.1;
    let color = decode_frame(path, bytes, size, pixels)?;
    let from = color.samples();
    // pixels is (n, from) bytes. Shrinking (from > channels) runs forwards and growing
    // backwards, so every pixel is read before its bytes are overwritten.
    match (from, channels) {
        (f, c) if f == c => {}
        (_, 1) => {
            for i in 0..n {
                let p = &pixels[i * from..i * from + from];
                pixels[i] = match color {
                    png::ColorType::Rgb | png::ColorType::Rgba => luma(p[0], p[1], p[2]),
                    _ => p[0], // grey + alpha: alpha ignored
                };
            }
        }
        (4, 3) => {
            for i in 0..n {
                pixels.copy_within(i * 4..i * 4 + 3, i * 3); // alpha ignored
            }
        }
        (_, 3) => {
            // Grey (+ alpha) to RGB: v -> (v, v, v).
            pixels.resize(n * 3, 0);
            for i in (0..n).rev() {
                let v = pixels[i * from];
                pixels[i * 3..i * 3 + 3].fill(v);
            }
        }
        _ => unreachable!("1 or 3 channels"),
    }
    pixels.truncate(n * channels);
    Ok(size)
}

/// Decodes the PNG in `bytes`, which must be `size`, into `scratch` as 8-bit samples,
/// palettes expanded: (height * width, channels) bytes of the returned colour type, which
/// is grey, grey + alpha, RGB or RGBA. `scratch` keeps any extra length it had.
fn decode_frame(
    path: &Path,
    bytes: &[u8],
    size: Size,
    scratch: &mut Vec<u8>,
) -> Result<png::ColorType> {
    let (height, width) = size;
    let bad = |e: png::DecodingError| Error::data(path, format!("not a readable PNG: {e}"));

    // The decoder's own allocations (row buffers, the inflate window) are capped too.
    let limits = png::Limits {
        bytes: 8 * 1024 * 1024 + 16 * height * width,
    };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let info = decoder.read_header_info().map_err(bad)?;
    let found = (info.height as usize, info.width as usize);
    if found != size {
        return Err(Error::data(
            path,
            format!(
                "image is {}x{}, but the other images are {}x{} (width x height)",
                found.1, found.0, width, height
            ),
        ));
    }
    let mut reader = decoder.read_info().map_err(bad)?;
    // The png crate (0.18.1) checks that a palette has 1 to 256 entries but not that its
    // length is whole entries, and then panics expanding it (found by fuzzing).
    if let Some(palette) = &reader.info().palette
        && palette.len() % 3 != 0
    {
        return Err(Error::data(
            path,
            format!(
                "the PLTE chunk has {} bytes, not a whole number of RGB entries",
                palette.len()
            ),
        ));
    }
    let (color, depth) = reader.output_color_type();
    if depth != png::BitDepth::Eight {
        return Err(Error::data(path, format!("unexpected {depth:?} output")));
    }
    if color == png::ColorType::Indexed {
        return Err(Error::data(path, "palette was not expanded"));
    }
    let needed = height * width * color.samples();
    if scratch.len() < needed {
        scratch.resize(needed, 0);
    }
    reader.next_frame(&mut scratch[..needed]).map_err(bad)?;
    Ok(color)
}

/// ITU-R BT.601 luma of an 8-bit RGB triple, rounded half up: (299 R + 587 G + 114 B) / 1000.
/// The weights sum to 1000, so white stays 255 and grey (v, v, v) stays v.
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((299 * r as u32 + 587 * g as u32 + 114 * b as u32 + 500) / 1000) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_keeps_greys_and_rounds() {
        for v in 0..=255u8 {
            assert_eq!(luma(v, v, v), v);
        }
        assert_eq!(luma(255, 0, 0), 76); // 76.245
        assert_eq!(luma(0, 255, 0), 150); // 149.685
        assert_eq!(luma(0, 0, 255), 29); // 29.07
    }
}
