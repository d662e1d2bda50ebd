//! The EXIF orientation tag (0x0112): how the stored pixels must be turned to be seen
//! upright. Cameras store the sensor's rows as they come and record the camera's rotation
//! instead of rotating the pixels.
//!
//! | tag | stored image shown upright by | as `ImageOps.exif_transpose` |
//! | --- | --- | --- |
//! | 1 | nothing | |
//! | 2 | mirroring left-right | FLIP_LEFT_RIGHT |
//! | 3 | turning 180 degrees | ROTATE_180 |
//! | 4 | mirroring top-bottom | FLIP_TOP_BOTTOM |
//! | 5 | transposing (mirror on the main diagonal) | TRANSPOSE |
//! | 6 | turning 90 degrees clockwise | ROTATE_270 (counter-clockwise) |
//! | 7 | transverse (mirror on the other diagonal) | TRANSVERSE |
//! | 8 | turning 90 degrees counter-clockwise | ROTATE_90 |

/// Turns `pixels`, (height, width, channels), upright for EXIF orientation `tag`; returns
/// the new (width, height, pixels). Tags other than 2..=8 leave the image as it is.
pub fn apply(
    tag: u8,
    width: usize,
    height: usize,
    channels: usize,
    pixels: Vec<u8>,
) -> (usize, usize, Vec<u8>) {
    if !(2..=8).contains(&tag) {
        return (width, height, pixels);
    }
    assert_eq!(
        pixels.len(),
        width * height * channels,
        "pixels is (height, width, channels)"
    );
    let (w, h) = (width, height);
    // Output (X, Y) of an (W', H') image takes the stored pixel (x, y) given here.
    let (out_w, out_h) = if tag >= 5 { (h, w) } else { (w, h) };
    let source = |x: usize, y: usize| -> (usize, usize) {
        match tag {
            2 => (w - 1 - x, y),
            3 => (w - 1 - x, h - 1 - y),
            4 => (x, h - 1 - y),
            5 => (y, x),
            6 => (y, h - 1 - x),
            7 => (w - 1 - y, h - 1 - x),
            _ => (w - 1 - y, x), // 8
        }
    };
    let mut out = vec![0u8; pixels.len()];
    for y in 0..out_h {
        for x in 0..out_w {
            let (sx, sy) = source(x, y);
            let from = (sy * w + sx) * channels;
            let to = (y * out_w + x) * channels;
            out[to..to + channels].copy_from_slice(&pixels[from..from + channels]);
        }
    }
    (out_w, out_h, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3x2 image, pixel values 0..6 row by row:
    /// ```text
    /// 0 1 2
    /// 3 4 5
    /// ```
    fn turned(tag: u8) -> (usize, usize, Vec<u8>) {
        apply(tag, 3, 2, 1, (0..6).collect())
    }

    #[test]
    fn every_tag_by_hand() {
        assert_eq!(turned(1), (3, 2, vec![0, 1, 2, 3, 4, 5]));
        assert_eq!(turned(2), (3, 2, vec![2, 1, 0, 5, 4, 3]));
        assert_eq!(turned(3), (3, 2, vec![5, 4, 3, 2, 1, 0]));
        assert_eq!(turned(4), (3, 2, vec![3, 4, 5, 0, 1, 2]));
        assert_eq!(turned(5), (2, 3, vec![0, 3, 1, 4, 2, 5]));
        assert_eq!(turned(6), (2, 3, vec![3, 0, 4, 1, 5, 2])); // clockwise
        assert_eq!(turned(7), (2, 3, vec![5, 2, 4, 1, 3, 0]));
        assert_eq!(turned(8), (2, 3, vec![2, 5, 1, 4, 0, 3])); // counter-clockwise
    }

    #[test]
    fn turns_compose_as_rotations_do() {
        // Clockwise twice is 180 degrees; clockwise then counter-clockwise is nothing.
        let (w, h, p) = turned(6);
        assert_eq!(apply(6, w, h, 1, p.clone()), turned(3));
        assert_eq!(apply(8, w, h, 1, p), turned(1));
    }
}
