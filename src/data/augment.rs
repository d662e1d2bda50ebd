//! Data augmentation as DEC-DA uses it (Guo et al., ACML 2018): each image of each batch is
//! shifted and rotated by a fresh random amount before the network sees it.
//!
//! DEC-DA builds Keras's `ImageDataGenerator(width_shift_range=0.1, height_shift_range=0.1,
//! rotation_range=10)` (fill_mode 'nearest', bilinear). For one image of height h and width w
//! Keras's `get_random_transform` draws, in this order,
//!
//! ```text
//! theta ~ U(-10, 10) degrees,  tx ~ U(-0.1, 0.1) * h (rows),  ty ~ U(-0.1, 0.1) * w (cols),
//! ```
//!
//! continuous uniforms in pixels (a range below 1 is a fraction of the side). Note that Keras's
//! `tx` moves along the row axis, although the option that sets it is `height_shift_range`.
//! `apply_affine_transform` then builds the 3x3 matrix
//!
//! ```text
//! M = Offset(c) . R(theta) . Shift(tx, ty) . Offset(-c),   R = [[cos, -sin], [sin, cos]]
//! ```
//!
//! in (row, col) coordinates and hands its top two rows to `scipy.ndimage.affine_transform
//! (order=1, mode='nearest')`, which reads output pixel o = (r, col) from the input at
//!
//! ```text
//! i = M o = c + R(theta) (o - c + t),   t = (tx, ty),                          (1)
//! ```
//!
//! by bilinear interpolation, coordinates outside the image clamped to its edge pixels. A
//! positive tx thus moves the picture up, a positive ty left, and a positive theta turns it
//! clockwise as displayed (row 0 at the top): `theta = 90` gives `out[r][col] = in[n-1-col][r]`.
//!
//! The centre c: Keras before keras-preprocessing 1.1.2 (October 2020, so the TensorFlow 1.10
//! that DEC-DA ran) used c = (h/2 + 0.5, w/2 + 0.5), a pixel and a half off; since then
//! c = ((h-1)/2, (w-1)/2), the true centre of the pixel grid. [`Centre`] offers both; the
//! default is the true centre (the difference is a fixed sub-pixel shift, at most a quarter
//! of a pixel at 10 degrees).
//!
//! Determinism: the draws for the image at position k of the batch taken at step s come from
//! their own `StdRng` seeded by (seed, s, k), so a batch is the same for a seed whatever the
//! number of threads or the order in which rayon runs its rows.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use crate::linalg::{MatMut, MatRef, rows_per_task};
use crate::{Error, Result};

/// The size of one image: `channels` values per pixel, interleaved (R, G, B, R, G, B, ...),
/// so an image is (height, width, channels) flattened, as the loader stores colour images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageShape {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl ImageShape {
    /// A grey image: one value per pixel (MNIST).
    pub fn grey(height: usize, width: usize) -> Self {
        ImageShape {
            height,
            width,
            channels: 1,
        }
    }

    /// Values per image: height * width * channels, the row length of a batch.
    pub fn len(&self) -> usize {
        self.height * self.width * self.channels
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The point that rotations turn about (see the module notes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Centre {
    /// ((h-1)/2, (w-1)/2), the centre of the pixel grid: Keras since keras-preprocessing 1.1.2.
    #[default]
    Grid,
    /// (h/2 + 0.5, w/2 + 0.5): Keras up to keras-preprocessing 1.1.1, as DEC-DA ran it.
    Keras2018,
}

impl Centre {
    /// (row, col) of the centre of an h x w image.
    pub fn point(self, height: usize, width: usize) -> (f64, f64) {
        let (h, w) = (height as f64, width as f64);
        match self {
            Centre::Grid => (h / 2.0 - 0.5, w / 2.0 - 0.5),
            Centre::Keras2018 => (h / 2.0 + 0.5, w / 2.0 + 0.5),
        }
    }
}

/// The augmentation's hyper-parameters, Keras's names; the defaults are DEC-DA's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AugmentParams {
    /// Largest column shift as a fraction of the width, in [0, 1) (`width_shift_range`).
    pub width_shift: f64,
    /// Largest row shift as a fraction of the height, in [0, 1) (`height_shift_range`).
    pub height_shift: f64,
    /// Largest rotation in degrees, in [0, 180] (`rotation_range`).
    pub rotation: f64,
    pub centre: Centre,
}

impl Default for AugmentParams {
    fn default() -> Self {
        AugmentParams {
            width_shift: 0.1,
            height_shift: 0.1,
            rotation: 10.0,
            centre: Centre::Grid,
        }
    }
}

impl AugmentParams {
    /// Checks the ranges once, so that drawing never meets an impossible value.
    pub fn validate(&self) -> Result<()> {
        for (what, v) in [
            ("augmentation width shift", self.width_shift),
            ("augmentation height shift", self.height_shift),
        ] {
            // Keras reads a range of 1 or more as pixels; one meaning only here.
            if !(0.0..1.0).contains(&v) {
                return Err(Error::invalid(
                    what,
                    format!("{v} is not a fraction of the side in [0, 1)"),
                ));
            }
        }
        if !(0.0..=180.0).contains(&self.rotation) {
            return Err(Error::invalid(
                "augmentation rotation",
                format!("{} is not a number of degrees in [0, 180]", self.rotation),
            ));
        }
        Ok(())
    }
}

/// One image's random transform: a rotation and a shift in pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transform {
    /// Rotation in degrees; positive turns the picture clockwise as displayed.
    pub theta: f64,
    /// Shift along the rows (Keras's `tx`); positive moves the picture up.
    pub tx: f64,
    /// Shift along the columns (Keras's `ty`); positive moves the picture left.
    pub ty: f64,
}

impl Transform {
    /// No change at all.
    pub const IDENTITY: Transform = Transform {
        theta: 0.0,
        tx: 0.0,
        ty: 0.0,
    };

    /// Keras's draw: theta, then tx, then ty, each uniform in [-range, range). All three
    /// are always drawn, so a zero range leaves the other draws where they were.
    pub fn draw(params: &AugmentParams, height: usize, width: usize, rng: &mut impl Rng) -> Self {
        let mut uniform = |range: f64| range * (2.0 * rng.random::<f64>() - 1.0);
        let theta = uniform(params.rotation);
        let tx = uniform(params.height_shift) * height as f64;
        let ty = uniform(params.width_shift) * width as f64;
        Transform { theta, tx, ty }
    }
}

/// Equation (1) as an affine map from output (row, col) to input (row, col):
/// `i = a o + b`, with a = R(theta) and b = c + R(theta) (t - c).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine {
    /// a is (2, 2), row-major.
    pub a: [[f64; 2]; 2],
    /// b is (2,).
    pub b: [f64; 2],
}

impl Affine {
    /// Keras's matrix M = Offset(c) R(theta) Shift(t) Offset(-c), its top two rows.
    pub fn keras(t: &Transform, shape: ImageShape, centre: Centre) -> Self {
        let (sin, cos) = t.theta.to_radians().sin_cos();
        let a = [[cos, -sin], [sin, cos]];
        let (cr, cc) = centre.point(shape.height, shape.width);
        let (dr, dc) = (t.tx - cr, t.ty - cc); // t - c
        let b = [
            cr + a[0][0] * dr + a[0][1] * dc,
            cc + a[1][0] * dr + a[1][1] * dc,
        ];
        Affine { a, b }
    }

    /// The input coordinate that output pixel (r, col) reads, (row, col).
    pub fn apply(&self, r: f64, col: f64) -> (f64, f64) {
        (
            self.a[0][0] * r + self.a[0][1] * col + self.b[0],
            self.a[1][0] * r + self.a[1][1] * col + self.b[1],
        )
    }
}

/// Writes `src` transformed by `t` into `dst`, both (height, width, channels) flattened:
/// each output pixel is the bilinear sample of the input at equation (1), with the
/// coordinate clamped to the image first (fill mode 'nearest'); every channel gets the
/// same transform. A pure function of its arguments.
#[track_caller]
pub fn transform_image(
    src: &[f32],
    dst: &mut [f32],
    shape: ImageShape,
    t: &Transform,
    centre: Centre,
) {
    assert_eq!(
        src.len(),
        shape.len(),
        "transform_image: source is not {shape:?}"
    );
    assert_eq!(
        dst.len(),
        shape.len(),
        "transform_image: output is not {shape:?}"
    );
    if shape.is_empty() {
        return;
    }
    let affine = Affine::keras(t, shape, centre);
    // The constant channel counts let the compiler unroll the channel loop.
    match shape.channels {
        1 => resample(src, dst, shape.height, shape.width, 1, &affine),
        3 => resample(src, dst, shape.height, shape.width, 3, &affine),
        c => resample(src, dst, shape.height, shape.width, c, &affine),
    }
}

/// The bilinear resampling loop. The rotation terms are computed once per image and the
/// coordinate of output pixel (r, col) is an affine function of r and col, so a pixel costs
/// two multiply-adds for its coordinate and no trigonometry.
#[inline(always)]
fn resample(src: &[f32], dst: &mut [f32], h: usize, w: usize, c: usize, m: &Affine) {
    // How the input coordinate moves per output column.
    let (a01, a11) = (m.a[0][1] as f32, m.a[1][1] as f32);
    let (last_r, last_c) = ((h - 1) as f32, (w - 1) as f32);
    for r in 0..h {
        // The coordinate of (r, 0), in f64 so that b's large terms cancel exactly.
        let y0 = (m.a[0][0] * r as f64 + m.b[0]) as f32;
        let x0 = (m.a[1][0] * r as f64 + m.b[1]) as f32;
        let out_row = &mut dst[r * w * c..(r + 1) * w * c];
        for (col, out) in out_row.chunks_exact_mut(c).enumerate() {
            let y = (y0 + a01 * col as f32).clamp(0.0, last_r);
            let x = (x0 + a11 * col as f32).clamp(0.0, last_c);
            // y, x >= 0, so truncation is floor.
            let (i0, j0) = (y as usize, x as usize);
            let (fy, fx) = (y - i0 as f32, x - j0 as f32);
            let (i1, j1) = ((i0 + 1).min(h - 1), (j0 + 1).min(w - 1));
            let (p00, p01) = ((i0 * w + j0) * c, (i0 * w + j1) * c);
            let (p10, p11) = ((i1 * w + j0) * c, (i1 * w + j1) * c);
            for (ch, v) in out.iter_mut().enumerate() {
                let top = (1.0 - fx) * src[p00 + ch] + fx * src[p01 + ch];
                let bottom = (1.0 - fx) * src[p10 + ch] + fx * src[p11 + ch];
                *v = (1.0 - fy) * top + fy * bottom;
            }
        }
    }
}

/// SplitMix64's finaliser: a bijection on u64 that scatters nearby inputs.
fn mix(z: u64) -> u64 {
    let mut z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of the draws for the image at `position` in the batch of `step`.
fn image_seed(seed: u64, step: u64, position: u64) -> u64 {
    mix(mix(mix(seed) ^ step) ^ position)
}

/// Validated parameters, the image shape and the seed: everything a training loop needs to
/// augment its batches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Augmenter {
    params: AugmentParams,
    shape: ImageShape,
    seed: u64,
}

impl Augmenter {
    /// Checks `params` (an error names the bad range) and the shape (at least one pixel).
    pub fn new(params: AugmentParams, shape: ImageShape, seed: u64) -> Result<Self> {
        params.validate()?;
        if shape.is_empty() {
            return Err(Error::invalid(
                "augmentation",
                format!(
                    "images of {}x{} pixels with {} channels cannot be augmented",
                    shape.height, shape.width, shape.channels
                ),
            ));
        }
        Ok(Augmenter {
            params,
            shape,
            seed,
        })
    }

    pub fn params(&self) -> &AugmentParams {
        &self.params
    }

    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// The transform of the image at `position` in the batch of `step`: a function of
    /// (seed, step, position) alone.
    pub fn transform(&self, step: u64, position: usize) -> Transform {
        let mut rng = StdRng::seed_from_u64(image_seed(self.seed, step, position as u64));
        Transform::draw(&self.params, self.shape.height, self.shape.width, &mut rng)
    }

    /// Fills `out` (B, len) with the images `rows` (B,) of `images` (N, len), each freshly
    /// transformed: row k of `out` is image `rows[k]` under `self.transform(step, k)`.
    /// `step` is a counter the caller advances once per batch (the training iteration), so
    /// every batch gets new draws. Parallel over rows, in blocks that depend on the shape
    /// only; nothing is allocated per image.
    #[track_caller]
    pub fn augment_batch(&self, images: MatRef<'_>, rows: &[usize], step: u64, out: MatMut<'_>) {
        let len = self.shape.len();
        assert_eq!(
            images.cols(),
            len,
            "augment_batch: images are not {:?}",
            self.shape
        );
        assert_eq!(
            out.shape(),
            (rows.len(), len),
            "augment_batch: the batch buffer is not ({}, {len})",
            rows.len()
        );
        if let Some(&bad) = rows.iter().find(|&&i| i >= images.rows()) {
            panic!("augment_batch: row {bad} of {} images", images.rows());
        }
        let block = rows_per_task(len);
        out.par_row_blocks(block)
            .enumerate()
            .for_each(|(b, mut chunk)| {
                for i in 0..chunk.rows() {
                    let k = b * block + i;
                    let t = self.transform(step, k);
                    transform_image(
                        images.row(rows[k]),
                        chunk.row_mut(i),
                        self.shape,
                        &t,
                        self.params.centre,
                    );
                }
            });
    }
}
