//! Bringing an image of any size to one size: resize so that it covers the target, then
//! crop the centre (torchvision's `Resize(size)` + `CenterCrop(size)`), straight into a
//! row of the f32 matrix, in [0, 1].
//!
//! **Geometry** ([`Geometry::new`]): a (src_w, src_h) image and a (dst_w, dst_h) target.
//! The image is scaled, keeping its aspect ratio, to the smallest size that covers the
//! target: the side that is relatively shorter becomes the target's, the other is
//! floor(target side x long / short), as torchvision's `Resize` computes it (for a square
//! target this is exactly "the shorter side becomes `size`"). The crop then starts at
//! round((resized - target) / 2) on each axis, with Python's round-half-to-even, as
//! torchvision's `CenterCrop`.
//!
//! **Filters**, chosen per axis by the scale s = source / resized along it:
//!
//! - s > 1, shrinking: **area averaging**. Resized pixel q covers the source interval
//!   [q s, (q + 1) s]; source pixel p (covering [p, p + 1]) weighs its overlap with it,
//!   divided by s. These are exact coverage weights, as OpenCV's `INTER_AREA`; for an
//!   integer factor they are the block means, which PIL's `BOX` gives too (for other
//!   factors PIL's `BOX` counts a source pixel whole or not at all, by its centre).
//! - s <= 1, growing (or keeping): **bilinear**, pixel centres aligned (PIL's `BILINEAR`,
//!   OpenCV's `INTER_LINEAR`): resized pixel q samples the source at (q + 1/2) s - 1/2,
//!   between its two neighbours, the edge pixels repeated outside. At s = 1 it is the
//!   identity.
//!
//! **Separable**: the weights of each axis are computed once per image size (one window
//! of source pixels per output column, one per output row, for the cropped part only); a
//! horizontal pass filters the source rows that the output needs into an f32 scratch
//! buffer (rows, dst_w x channels), then a vertical pass combines those rows into the
//! output. A pixel byte v becomes v / 255 at the end, so an image already at the target
//! size gives exactly [`to_unit`](super::to_unit) of its bytes.
//!
//! Pixels are u8, 1 (grey) or 3 (RGB) channels interleaved (as the PNG decoder gives them);
//! the output is interleaved the same way, (dst_h, dst_w, channels).

use std::cell::RefCell;

/// Where the output comes from: the resized size and the crop's top-left corner in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// The source image's size.
    pub src_w: usize,
    pub src_h: usize,
    /// The image scaled to cover the target, aspect ratio kept.
    pub resized_w: usize,
    pub resized_h: usize,
    /// The crop's offsets in the resized image.
    pub left: usize,
    pub top: usize,
    /// The target size.
    pub dst_w: usize,
    pub dst_h: usize,
}

impl Geometry {
    /// torchvision's Resize + CenterCrop for a (src_w, src_h) image and a (dst_w, dst_h)
    /// target; all four at least 1.
    #[track_caller]
    pub fn new(src_w: usize, src_h: usize, dst_w: usize, dst_h: usize) -> Geometry {
        assert!(
            src_w > 0 && src_h > 0 && dst_w > 0 && dst_h > 0,
            "resize: sizes must be >= 1: {src_w}x{src_h} -> {dst_w}x{dst_h}"
        );
        // Compare the aspect ratios exactly: src_w / src_h against dst_w / dst_h.
        let (resized_w, resized_h) = if src_w * dst_h >= dst_w * src_h {
            // Relatively wider: the height becomes dst_h, the width follows (floored).
            ((dst_h * src_w / src_h).max(dst_w), dst_h)
        } else {
            (dst_w, (dst_w * src_h / src_w).max(dst_h))
        };
        Geometry {
            src_w,
            src_h,
            resized_w,
            resized_h,
            left: half_round_even(resized_w - dst_w),
            top: half_round_even(resized_h - dst_h),
            dst_w,
            dst_h,
        }
    }
}

/// round(e / 2) with ties to even, as Python's `round` (torchvision's `CenterCrop`).
fn half_round_even(e: usize) -> usize {
    let h = e / 2;
    if e % 2 == 1 && h % 2 == 1 { h + 1 } else { h }
}

/// The filter weights of one axis: for each output index, a window of consecutive source
/// indices and their weights (summing to 1).
#[derive(Clone, Debug, Default)]
struct Axis {
    /// The first source index of each output's window, (dst,).
    first: Vec<usize>,
    /// Output i's weights are weights[offsets[i]..offsets[i + 1]], (dst + 1,).
    offsets: Vec<usize>,
    weights: Vec<f32>,
}

impl Axis {
    /// The weights for `dst` outputs starting at resized index `crop` of an axis resized
    /// from `src` to `resized` pixels. Reuses the vectors' storage.
    fn compute(&mut self, src: usize, resized: usize, crop: usize, dst: usize) {
        self.first.clear();
        self.offsets.clear();
        self.weights.clear();
        self.offsets.push(0);
        let s = src as f64 / resized as f64;
        for q in crop..crop + dst {
            if s > 1.0 {
                // Area: the overlap of [p, p + 1] with [q s, (q + 1) s], over s.
                let (lo, hi) = (q as f64 * s, ((q + 1) as f64 * s).min(src as f64));
                let p0 = lo.floor() as usize;
                let p1 = (hi.ceil() as usize).min(src);
                self.first.push(p0);
                let start = self.weights.len();
                for p in p0..p1 {
                    let overlap = hi.min((p + 1) as f64) - lo.max(p as f64);
                    self.weights.push((overlap.max(0.0) / s) as f32);
                }
                // Coverage adds up to s, but keep the sum at 1 to the last bit we can.
                let total: f32 = self.weights[start..].iter().sum();
                self.weights[start..].iter_mut().for_each(|w| *w /= total);
            } else {
                // Bilinear: the sample point c between pixels p and p + 1; outside the
                // outermost pixel centres, the edge pixel (repeated).
                let c = (q as f64 + 0.5) * s - 0.5;
                let last = src - 1;
                if c <= 0.0 {
                    self.first.push(0);
                    self.weights.push(1.0);
                } else if c >= last as f64 {
                    self.first.push(last);
                    self.weights.push(1.0);
                } else {
                    let p = c.floor();
                    let f = c - p;
                    self.first.push(p as usize);
                    if f == 0.0 {
                        self.weights.push(1.0);
                    } else {
                        self.weights.push((1.0 - f) as f32);
                        self.weights.push(f as f32);
                    }
                }
            }
            self.offsets.push(self.weights.len());
        }
    }

    /// Output i's window: its first source index and its weights.
    #[inline]
    fn window(&self, i: usize) -> (usize, &[f32]) {
        (
            self.first[i],
            &self.weights[self.offsets[i]..self.offsets[i + 1]],
        )
    }

    /// The source indices any output reads: lo..hi.
    fn span(&self) -> (usize, usize) {
        let lo = self.first.iter().copied().min().unwrap_or(0);
        let hi = (0..self.first.len())
            .map(|i| self.first[i] + self.offsets[i + 1] - self.offsets[i])
            .max()
            .unwrap_or(0);
        (lo, hi)
    }
}

/// A source image: u8 pixels (height, width, channels), channels interleaved.
#[derive(Clone, Copy, Debug)]
pub struct Image<'a> {
    pub pixels: &'a [u8],
    pub width: usize,
    pub height: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
}

/// A resizer with its reusable buffers (the axes' weights and the horizontal pass's rows):
/// keep one per thread; after the first few images nothing is allocated.
#[derive(Clone, Debug, Default)]
pub struct Resizer {
    horizontal: Axis,
    vertical: Axis,
    /// The horizontal pass's output, (rows read, dst_w x channels).
    rows: Vec<f32>,
    /// The sizes the axes' weights were computed for.
    geometry: Option<Geometry>,
}

impl Resizer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Resizes and centre-crops `src` into `dst` (dst_h, dst_w, channels) f32 in [0, 1].
    ///
    /// Panics (a bug in the caller, not a user error) on a zero size, a buffer of the
    /// wrong length, or a number of channels other than 1 and 3.
    #[track_caller]
    pub fn resize_into(&mut self, src: Image<'_>, dst: &mut [f32], dst_w: usize, dst_h: usize) {
        let Image {
            pixels: src,
            width: src_w,
            height: src_h,
            channels,
        } = src;
        assert!(
            channels == 1 || channels == 3,
            "resize: {channels} channels (1 or 3)"
        );
        let g = Geometry::new(src_w, src_h, dst_w, dst_h);
        assert_eq!(
            src.len(),
            src_w * src_h * channels,
            "resize: source buffer for {src_w}x{src_h}x{channels}"
        );
        assert_eq!(
            dst.len(),
            dst_w * dst_h * channels,
            "resize: output buffer for {dst_w}x{dst_h}x{channels}"
        );
        if (src_w, src_h) == (dst_w, dst_h) {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = super::to_unit(s);
            }
            return;
        }
        if self.geometry != Some(g) {
            self.horizontal.compute(src_w, g.resized_w, g.left, dst_w);
            self.vertical.compute(src_h, g.resized_h, g.top, dst_h);
            self.geometry = Some(g);
        }
        // Horizontal pass: source rows y0..y1 (those the output reads) into
        // rows (y1 - y0, dst_w x channels).
        let (y0, y1) = self.vertical.span();
        let width = dst_w * channels;
        self.rows.resize((y1 - y0) * width, 0.0);
        let src_stride = src_w * channels;
        for (y, row) in (y0..y1).zip(self.rows.chunks_exact_mut(width)) {
            let line = &src[y * src_stride..(y + 1) * src_stride];
            match channels {
                1 => horizontal::<1>(&self.horizontal, line, row),
                _ => horizontal::<3>(&self.horizontal, line, row),
            }
        }
        // Vertical pass: output row v = sum_t w_t rows[first + t - y0], then / 255.
        for (v, out) in dst.chunks_exact_mut(width).enumerate() {
            let (first, weights) = self.vertical.window(v);
            out.fill(0.0);
            for (t, &w) in weights.iter().enumerate() {
                let row = &self.rows[(first + t - y0) * width..(first + t - y0 + 1) * width];
                for (o, &r) in out.iter_mut().zip(row) {
                    *o += w * r;
                }
            }
            for o in out.iter_mut() {
                // A convex combination of bytes, so in [0, 255] but for rounding.
                *o = (*o / 255.0).clamp(0.0, 1.0);
            }
        }
    }
}

/// One source row (src_w, C) u8 filtered to (dst_w, C) f32 with the horizontal weights.
#[inline]
fn horizontal<const C: usize>(axis: &Axis, line: &[u8], out: &mut [f32]) {
    for (u, o) in out.chunks_exact_mut(C).enumerate() {
        let (first, weights) = axis.window(u);
        let mut acc = [0.0f32; C];
        let pixels = &line[first * C..(first + weights.len()) * C];
        for (&w, px) in weights.iter().zip(pixels.chunks_exact(C)) {
            for c in 0..C {
                acc[c] += w * px[c] as f32;
            }
        }
        o.copy_from_slice(&acc);
    }
}

thread_local! {
    /// Each thread's resizer, for [`resize_into`].
    static RESIZER: RefCell<Resizer> = RefCell::new(Resizer::new());
}

/// [`Resizer::resize_into`] with the calling thread's own resizer, so a parallel loader
/// allocates nothing per image: `src` (src_h, src_w, channels) u8 into `dst`
/// (dst_h, dst_w, channels) f32 in [0, 1].
#[track_caller]
pub fn resize_into(
    src: &[u8],
    src_w: usize,
    src_h: usize,
    channels: usize,
    dst: &mut [f32],
    dst_w: usize,
    dst_h: usize,
) {
    let src = Image {
        pixels: src,
        width: src_w,
        height: src_h,
        channels,
    };
    RESIZER.with(|r| r.borrow_mut().resize_into(src, dst, dst_w, dst_h));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_half_even_is_pythons() {
        // Python: [round(e / 2) for e in range(10)] == [0, 0, 1, 2, 2, 2, 3, 4, 4, 4]
        let got: Vec<usize> = (0..10).map(half_round_even).collect();
        assert_eq!(got, vec![0, 0, 1, 2, 2, 2, 3, 4, 4, 4]);
    }

    #[test]
    fn weights_sum_to_one_and_stay_in_range() {
        let mut axis = Axis::default();
        for (src, resized) in [(5, 2), (7, 3), (100, 28), (3, 28), (1, 5), (28, 28), (9, 4)] {
            let crop = 0;
            axis.compute(src, resized, crop, resized);
            for i in 0..resized {
                let (first, w) = axis.window(i);
                assert!(first + w.len() <= src, "{src}->{resized} window {i}");
                let total: f32 = w.iter().sum();
                assert!((total - 1.0).abs() < 1e-6, "{src}->{resized} {i}: {total}");
                assert!(w.iter().all(|&w| w >= 0.0));
            }
        }
    }
}
