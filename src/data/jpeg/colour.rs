//! Chroma upsampling and colour conversion: the decoded component planes become rows of
//! grey or RGB pixels.
//!
//! **Upsampling.** A component with sampling factors (h, v) in a frame whose largest are
//! (Hmax, Vmax) has h/Hmax of the image's columns and v/Vmax of its rows (A.1.1). The
//! methods are libjpeg's (`jdsample.c`), chosen the same way so that the pixels agree:
//!
//! - 2:1 horizontally (4:2:2) or in both directions (4:2:0), and 1:2 vertically (4:4:0):
//!   the "fancy" triangle filter, each output sample 3/4 of the nearer input sample and 1/4
//!   of the next nearer, in each upsampled direction (so 9/16, 3/16, 3/16, 1/16 for 4:2:0);
//!   the edges repeat the last real sample. The rounding biases alternate (1 and 2 for a 2x
//!   filter, 8 and 7 for 4:2:0) so that no direction is favoured, as in libjpeg.
//! - any other integral ratio (4:1:1, a factor of 3, ...), and every ratio when the blocks
//!   are 1x1 (1/8 scale; libjpeg then turns the triangle filter off): each sample repeated.
//! - a ratio that is not an integer (libjpeg refuses these): the nearest sample to the left
//!   and above, the same repetition generalised.
//!
//! **Colour.** YCbCr is converted to RGB as JFIF defines it (ITU-R BT.601, full range):
//! R = Y + 1.402 (Cr - 128), G = Y - 0.34414 (Cb - 128) - 0.71414 (Cr - 128),
//! B = Y + 1.772 (Cb - 128), in 16-bit fixed point with libjpeg's rounding (`jdcolor.c`).
//! Grey output of a YCbCr image is its Y component, exactly what libjpeg (and so Pillow's
//! `draft('L', ...)`) gives; grey output of an RGB image is the crate's luma
//! ([`crate::data::png_grey::luma`]), as for PNGs.

/// One component's decoded samples at the decoded scale.
pub struct Plane {
    /// (rows, stride): the blocks' pixels, MCU-padded.
    pub data: Vec<u8>,
    pub stride: usize,
    /// The real samples (libjpeg's downsampled_width and _height): the rest is padding.
    pub width: usize,
    pub height: usize,
}

/// How one component's plane is brought to the output's resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upsample {
    /// Already at full resolution.
    None,
    /// Triangle filter, 2:1 horizontally.
    FancyH2V1,
    /// Triangle filter, 1:2 vertically.
    FancyH1V2,
    /// Triangle filter, 2:1 both ways.
    FancyH2V2,
    /// Output pixel (x, y) takes input sample (x h_in / h_out, y v_in / v_out).
    Nearest {
        h_in: usize,
        v_in: usize,
        h_out: usize,
        v_out: usize,
    },
}

/// What in-group (h_in, v_in) samples of a component become out-group (h_out, v_out)
/// pixels by, as libjpeg's `jinit_upsampler` chooses. `fancy` is false at 1/8 scale.
pub fn choose(
    h_in: usize,
    v_in: usize,
    h_out: usize,
    v_out: usize,
    fancy: bool,
    width: usize,
) -> Upsample {
    if h_in == h_out && v_in == v_out {
        Upsample::None
    } else if 2 * h_in == h_out && v_in == v_out && fancy && width > 2 {
        Upsample::FancyH2V1
    } else if h_in == h_out && 2 * v_in == v_out && fancy {
        Upsample::FancyH1V2
    } else if 2 * h_in == h_out && 2 * v_in == v_out && fancy && width > 2 {
        Upsample::FancyH2V2
    } else {
        Upsample::Nearest {
            h_in,
            v_in,
            h_out,
            v_out,
        }
    }
}

/// Writes output row `y` of the upsampled plane into `out` (one sample per output column).
pub fn upsample_row(plane: &Plane, method: Upsample, y: usize, out: &mut [u8]) {
    let row = |r: usize| {
        let r = r.min(plane.height - 1);
        &plane.data[r * plane.stride..r * plane.stride + plane.width]
    };
    let last = plane.width - 1;
    match method {
        Upsample::None => out.copy_from_slice(&row(y)[..out.len()]),
        Upsample::FancyH2V1 => {
            let s = row(y);
            for (x, o) in out.iter_mut().enumerate() {
                let i = (x / 2).min(last);
                // Even outputs lean left (bias 1), odd ones right (bias 2).
                let (near, far, bias) = if x % 2 == 0 {
                    (s[i], s[i.saturating_sub(1)], 1)
                } else {
                    (s[i], s[(i + 1).min(last)], 2)
                };
                *o = ((3 * near as u32 + far as u32 + bias) >> 2) as u8;
            }
        }
        Upsample::FancyH1V2 => {
            let (near, far, bias) = vertical_pair(plane, y);
            let (near, far) = (row(near), row(far));
            for (x, o) in out.iter_mut().enumerate() {
                *o = ((3 * near[x] as u32 + far[x] as u32 + bias) >> 2) as u8;
            }
        }
        Upsample::FancyH2V2 => {
            let (near, far, _) = vertical_pair(plane, y);
            let (near, far) = (row(near), row(far));
            let colsum = |i: usize| 3 * near[i] as u32 + far[i] as u32;
            for (x, o) in out.iter_mut().enumerate() {
                let i = (x / 2).min(last);
                let v = if x % 2 == 0 {
                    3 * colsum(i) + colsum(i.saturating_sub(1)) + 8
                } else {
                    3 * colsum(i) + colsum((i + 1).min(last)) + 7
                };
                *o = (v >> 4) as u8;
            }
        }
        Upsample::Nearest {
            h_in,
            v_in,
            h_out,
            v_out,
        } => {
            let s = row(y * v_in / v_out);
            for (x, o) in out.iter_mut().enumerate() {
                *o = s[(x * h_in / h_out).min(last)];
            }
        }
    }
}

/// For output row y of a 1:2 vertical filter: (nearest input row, next nearest, bias).
/// Even rows lean on the row above (bias 1), odd ones on the row below (bias 2); the first
/// and last real rows stand in for the missing neighbours.
fn vertical_pair(plane: &Plane, y: usize) -> (usize, usize, u32) {
    let r = (y / 2).min(plane.height - 1);
    if y.is_multiple_of(2) {
        (r, r.saturating_sub(1), 1)
    } else {
        (r, (r + 1).min(plane.height - 1), 2)
    }
}

/// Fixed-point constants: round(c * 2^16) (libjpeg's FIX(c) with SCALEBITS = 16).
const FIX_1_402: i32 = 91881;
const FIX_0_34414: i32 = 22554;
const FIX_0_71414: i32 = 46802;
const FIX_1_772: i32 = 116130;
const ONE_HALF: i32 = 1 << 15;

/// One JFIF YCbCr pixel as RGB.
#[inline(always)]
pub fn ycc_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let (y, cb, cr) = (y as i32, cb as i32 - 128, cr as i32 - 128);
    let r = y + ((FIX_1_402 * cr + ONE_HALF) >> 16);
    let g = y + ((-FIX_0_34414 * cb - FIX_0_71414 * cr + ONE_HALF) >> 16);
    let b = y + ((FIX_1_772 * cb + ONE_HALF) >> 16);
    [clamp(r), clamp(g), clamp(b)]
}

#[inline(always)]
fn clamp(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(width: usize, height: usize, data: Vec<u8>) -> Plane {
        Plane {
            data,
            stride: width,
            width,
            height,
        }
    }

    #[test]
    fn greys_stay_grey_and_primaries_are_jfif() {
        for v in [0u8, 1, 77, 128, 254, 255] {
            assert_eq!(ycc_to_rgb(v, 128, 128), [v, v, v]);
        }
        // Pure red in JFIF YCbCr: Y 76.245, Cb 84.97, Cr 255.5 (rounded 76, 85, 255).
        let [r, g, b] = ycc_to_rgb(76, 85, 255);
        assert!(r >= 253 && g <= 2 && b <= 2, "{r} {g} {b}");
    }

    #[test]
    fn the_triangle_filter_weights_three_to_one() {
        let p = plane(3, 1, vec![0, 100, 200]);
        let mut out = [0u8; 6];
        upsample_row(&p, Upsample::FancyH2V1, 0, &mut out);
        // Edges repeat; inside, (3 near + far + bias) / 4.
        assert_eq!(out, [0, 25, 75, 125, 175, 200]);

        let p = plane(3, 2, vec![0, 100, 200, 40, 140, 240]);
        let mut out = [0u8; 6];
        upsample_row(&p, Upsample::FancyH2V2, 1, &mut out);
        // Output row 1 is nearest to input row 0, next nearest row 1: column sums
        // 3 * row 0 + row 1 = 40, 440, 840, then (3 near + far + 8 or 7) / 16 across.
        assert_eq!(out, [10, 35, 85, 135, 185, 210]);
        let mut col = [0u8; 3];
        upsample_row(&p, Upsample::FancyH1V2, 2, &mut col);
        assert_eq!(col, [30, 130, 230]); // (3 * row 1 + row 0 + 1) / 4
        upsample_row(&p, Upsample::FancyH1V2, 3, &mut col);
        assert_eq!(col, [40, 140, 240]); // the last row stands in for the one below it
    }

    #[test]
    fn nearest_repeats_samples_for_any_ratio() {
        let p = plane(2, 1, vec![10, 20]);
        let mut out = [0u8; 6];
        let three = Upsample::Nearest {
            h_in: 1,
            v_in: 1,
            h_out: 3,
            v_out: 1,
        };
        upsample_row(&p, three, 0, &mut out);
        assert_eq!(out, [10, 10, 10, 20, 20, 20]);
        assert_eq!(
            choose(1, 1, 2, 2, false, 10),
            Upsample::Nearest {
                h_in: 1,
                v_in: 1,
                h_out: 2,
                v_out: 2
            }
        );
        assert_eq!(
            choose(1, 1, 2, 2, true, 2),
            Upsample::Nearest {
                h_in: 1,
                v_in: 1,
                h_out: 2,
                v_out: 2
            }
        );
        assert_eq!(choose(1, 1, 2, 2, true, 3), Upsample::FancyH2V2);
        assert_eq!(choose(2, 2, 2, 2, false, 3), Upsample::None);
    }
}
