//! A picture of what augmentation shows the network: each row an original image, then a
//! few of its random shifts and rotations ([`crate::data::augment`]), enlarged and framed
//! like the montages' tiles.
//!
//! ```text
//! original   augmented
//! [7]        [7] [7] [7] [7] [7] [7] [7] [7]
//! [2]        [2] [2] [2] ...
//! ```

use std::path::Path;

use super::font;
use super::montage::TILE_SCALE;
use super::raster::{Channels, Colour, Image, save_png, unit_to_byte};
use crate::data::augment::{Augmenter, ImageShape};
use crate::linalg::{MatRef, Matrix};
use crate::{Error, Result};

/// Augmentations shown beside each original.
pub const AUGMENTED_PER_ORIGINAL: usize = 8;

const BACKGROUND: Colour = Colour::grey(235);
const FRAME: Colour = Colour::grey(130);
const INK: Colour = Colour::BLACK;
/// Pixels between tiles, around the picture, and the extra space after the original.
const GAP: usize = 2;
const MARGIN: usize = 2;
const SEPARATION: usize = 8;
/// Height of the caption strip.
const CAPTION_H: usize = 12;

/// Width and height of one framed tile.
fn cell_size(shape: ImageShape) -> (usize, usize) {
    (shape.width * TILE_SCALE + 2, shape.height * TILE_SCALE + 2)
}

/// Width and height of the picture of `originals` rows of 1 + `per_original` tiles.
pub fn strip_size(shape: ImageShape, originals: usize, per_original: usize) -> (usize, usize) {
    let (cw, ch) = cell_size(shape);
    let columns = 1 + per_original;
    (
        2 * MARGIN + columns * cw + (columns - 1) * GAP + SEPARATION,
        CAPTION_H + MARGIN + originals * ch + originals.saturating_sub(1) * GAP,
    )
}

/// Top-left corner of the image inside the tile of column `column` (0: the original) in
/// row `row`.
pub fn tile_origin(shape: ImageShape, row: usize, column: usize) -> (usize, usize) {
    let (cw, ch) = cell_size(shape);
    let extra = if column > 0 { SEPARATION } else { 0 };
    (
        MARGIN + column * (cw + GAP) + extra + 1,
        CAPTION_H + row * (ch + GAP) + 1,
    )
}

/// One image, (height, width, channels) flattened in [0, 1], as a grey or RGB picture.
fn picture(values: &[f32], shape: ImageShape) -> Image {
    if shape.channels == 1 {
        return Image::from_unit_floats(values, shape.width, shape.height);
    }
    // Colour: the first three channels of the loader's interleaved RGB (a two-channel
    // image repeats its second).
    let pixels = values
        .chunks_exact(shape.channels)
        .flat_map(|p| [0, 1, 2].map(|k| p[k.min(p.len() - 1)]))
        .map(unit_to_byte)
        .collect();
    Image {
        width: shape.width,
        height: shape.height,
        channels: Channels::Rgb,
        pixels,
    }
}

/// The picture: row r shows image `originals[r]` of `images` (N, len), then
/// `per_original` augmentations of it, those of positions r * per_original .. in the batch
/// of `step`, exactly what `augment_batch` gives for that batch of repeated rows.
pub fn augmented_strip(
    images: MatRef<'_>,
    originals: &[usize],
    augmenter: &Augmenter,
    per_original: usize,
    step: u64,
) -> Image {
    let shape = augmenter.shape();
    let rows: Vec<usize> = originals
        .iter()
        .flat_map(|&i| std::iter::repeat_n(i, per_original))
        .collect();
    let mut batch = Matrix::zeros(rows.len(), shape.len()); // (originals * per_original, len)
    augmenter.augment_batch(images, &rows, step, batch.view_mut());

    let channels = if shape.channels == 1 {
        Channels::Grey
    } else {
        Channels::Rgb
    };
    let (w, h) = strip_size(shape, originals.len(), per_original);
    let mut img = Image::new(w, h, channels, BACKGROUND);
    font::draw_text(&mut img, MARGIN as i64, 3, "original", INK, 1);
    let (x, _) = tile_origin(shape, 0, 1);
    font::draw_text(&mut img, x as i64 - 1, 3, "augmented", INK, 1);
    let (cw, ch) = cell_size(shape);
    let mut put = |values: &[f32], row: usize, column: usize| {
        let (x, y) = tile_origin(shape, row, column);
        let (x, y) = (x as i64, y as i64);
        img.fill_rect(x - 1, y - 1, cw, ch, FRAME);
        img.blit(&picture(values, shape).scaled(TILE_SCALE), x, y);
    };
    for (r, &i) in originals.iter().enumerate() {
        put(images.row(i), r, 0);
        for j in 0..per_original {
            put(batch.row(r * per_original + j), r, 1 + j);
        }
    }
    img
}

/// Writes [`augmented_strip`] as a PNG to `path`.
pub fn write_augmented(
    path: impl AsRef<Path>,
    images: MatRef<'_>,
    originals: &[usize],
    augmenter: &Augmenter,
    per_original: usize,
    step: u64,
) -> Result<()> {
    if originals.is_empty() || per_original == 0 {
        return Err(Error::invalid(
            path.as_ref().display().to_string(),
            "a picture of augmented samples needs at least one original and one augmentation",
        ));
    }
    if let Some(&bad) = originals.iter().find(|&&i| i >= images.rows()) {
        return Err(Error::invalid(
            path.as_ref().display().to_string(),
            format!("image {bad} of {} cannot be shown", images.rows()),
        ));
    }
    let img = augmented_strip(images, originals, augmenter, per_original, step);
    save_png(path, &img)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::augment::AugmentParams;
    use crate::report::raster::load_png;

    fn digits(n: usize, shape: ImageShape) -> Matrix {
        // A bright square in a dark field, different in each image.
        Matrix::from_fn(n, shape.len(), |i, k| {
            let (r, c) = (
                (k / shape.channels) / shape.width,
                (k / shape.channels) % shape.width,
            );
            if (8..20).contains(&r) && (8 + i % 4..16 + i % 4).contains(&c) {
                1.0
            } else {
                0.0
            }
        })
    }

    #[test]
    fn writes_a_png_of_the_expected_size() {
        let shape = ImageShape::grey(28, 28);
        let x = digits(5, shape);
        let aug = Augmenter::new(AugmentParams::default(), shape, 3).unwrap();
        let dir = std::env::temp_dir().join(format!("augmented-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("augmented.png");
        write_augmented(&path, x.view(), &[4, 0, 2], &aug, AUGMENTED_PER_ORIGINAL, 0).unwrap();
        let img = load_png(&path).unwrap();
        let (w, h) = strip_size(shape, 3, AUGMENTED_PER_ORIGINAL);
        // 9 tiles of 58 px, 8 gaps of 2, margins 2 + 2, separation 8; caption 12, 3 rows.
        assert_eq!((w, h), (4 + 9 * 58 + 8 * 2 + 8, 12 + 2 + 3 * 58 + 2 * 2));
        assert_eq!(
            (img.width, img.height, img.channels),
            (w, h, Channels::Grey)
        );
        assert_eq!(img, augmented_strip(x.view(), &[4, 0, 2], &aug, 8, 0));

        // The original sits unchanged in column 0 (enlarged), the augmentations differ.
        let original = Image::from_unit_floats(x.row(0), 28, 28).scaled(TILE_SCALE);
        let tile = |row, column| {
            let (x0, y0) = tile_origin(shape, row, column);
            let mut t = Image::new(56, 56, Channels::Grey, Colour::BLACK);
            for y in 0..56 {
                for x in 0..56 {
                    t.put(x as i64, y as i64, img.get(x0 + x, y0 + y));
                }
            }
            t
        };
        assert_eq!(tile(1, 0), original);
        assert_ne!(tile(1, 1), original);
        assert_ne!(tile(1, 1), tile(1, 2));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn colour_images_give_an_rgb_picture() {
        let shape = ImageShape {
            height: 10,
            width: 12,
            channels: 3,
        };
        let x = digits(2, shape);
        let aug = Augmenter::new(AugmentParams::default(), shape, 3).unwrap();
        let img = augmented_strip(x.view(), &[1], &aug, 3, 7);
        assert_eq!(img.channels, Channels::Rgb);
        assert_eq!((img.width, img.height), strip_size(shape, 1, 3));
    }

    #[test]
    fn nothing_to_show_is_an_error() {
        let shape = ImageShape::grey(28, 28);
        let x = digits(2, shape);
        let aug = Augmenter::new(AugmentParams::default(), shape, 3).unwrap();
        let path = std::env::temp_dir().join("never-written.png");
        assert!(write_augmented(&path, x.view(), &[], &aug, 4, 0).is_err());
        assert!(write_augmented(&path, x.view(), &[0], &aug, 0, 0).is_err());
        let err = write_augmented(&path, x.view(), &[2], &aug, 4, 0).unwrap_err();
        assert!(err.to_string().contains("image 2 of 2"), "{err}");
        assert!(!path.exists());
    }
}
