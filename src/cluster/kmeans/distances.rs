//! The distance trick: ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2, so the squared distances
//! from a chunk of points to all k centres are one GEMM, x (rows, D) times C^T (D, k), plus
//! the two norms. The points are walked in fixed chunks of `CHUNK` rows inside fixed blocks
//! of `BLOCK` rows, the same in every pass, so the GEMM always sees the same operands.
//! Also the exact f64 distances used where rounding must not matter (inertia, relocation).

use rayon::prelude::*;

use crate::linalg::{MatMut, MatRef, Matrix, Transpose, gemm};

use super::{BLOCK, CHUNK};

/// The data with its squared row norms, computed once per fit.
pub(super) struct Points<'a> {
    /// x is (N, D).
    pub(super) x: MatRef<'a>,
    /// ||x_i||^2, (N,), summed in f64.
    pub(super) sq_norms: Vec<f32>,
}

impl<'a> Points<'a> {
    pub(super) fn new(x: MatRef<'a>) -> Self {
        let sq_norms = (0..x.rows())
            .into_par_iter()
            .map(|i| x.row(i).iter().map(|&v| v as f64 * v as f64).sum::<f64>() as f32)
            .collect();
        Points { x, sq_norms }
    }

    pub(super) fn n(&self) -> usize {
        self.x.rows()
    }

    pub(super) fn blocks(&self) -> usize {
        self.n().div_ceil(BLOCK)
    }
}

/// Calls `f(offset in block, x_chunk (rows, D), ||x||^2 of those rows)` for the CHUNK-row
/// chunks of block `b`, in order. Chunk boundaries are the same in every pass (fit, predict,
/// distances), so the GEMM sees the same operands and the labels agree bit for bit.
pub(super) fn for_each_chunk(
    points: &Points<'_>,
    b: usize,
    mut f: impl FnMut(usize, MatRef<'_>, &[f32]),
) {
    let start = b * BLOCK;
    let end = (start + BLOCK).min(points.n());
    for c0 in (start..end).step_by(CHUNK) {
        let c1 = (c0 + CHUNK).min(end);
        f(
            c0 - start,
            points.x.rows_range(c0..c1),
            &points.sq_norms[c0..c1],
        );
    }
}

/// Centres with their squared norms.
pub(super) struct Centres<'a> {
    /// c is (k, D).
    pub(super) c: MatRef<'a>,
    /// ||c_j||^2, (k,).
    pub(super) sq_norms: Vec<f32>,
}

impl<'a> Centres<'a> {
    pub(super) fn new(c: &'a Matrix) -> Self {
        let sq_norms = c
            .iter_rows()
            .map(|r| r.iter().map(|&v| v as f64 * v as f64).sum::<f64>() as f32)
            .collect();
        Centres {
            c: c.view(),
            sq_norms,
        }
    }

    pub(super) fn k(&self) -> usize {
        self.c.rows()
    }

    /// scores (rows, k) = ||c_j||^2 - 2 x_i.c_j for the rows of x_chunk (rows, D): the squared
    /// distance less ||x_i||^2. One GEMM for the whole chunk. `scores` may be longer than
    /// rows * k; only the front is written.
    pub(super) fn scores(&self, x_chunk: MatRef<'_>, scores: &mut [f32]) {
        let (rows, k) = (x_chunk.rows(), self.k());
        let scores = &mut scores[..rows * k];
        // scores = -2 x c^T
        gemm(
            -2.0,
            x_chunk,
            Transpose::No,
            self.c,
            Transpose::Yes,
            0.0,
            MatMut::from_slice(scores, rows, k),
        );
        for row in scores.chunks_exact_mut(k) {
            for (s, &cc) in row.iter_mut().zip(&self.sq_norms) {
                *s += cc;
            }
        }
    }
}

/// Squared distances from every point to the points `rows` of the data: (N, rows.len()).
pub(super) fn sq_distances_to_rows(points: &Points<'_>, rows: &[usize]) -> Vec<f32> {
    let d = points.x.cols();
    let chosen = Matrix::from_fn(rows.len(), d, |r, j| points.x.at(rows[r], j));
    sq_distances(points, &chosen).into_vec()
}

/// Squared distances (N, k) from every point to every centre through the GEMM trick:
/// ||x||^2 + (||c||^2 - 2 x.c), clamped at 0 where f32 cancellation dips below.
pub(super) fn sq_distances(points: &Points<'_>, centroids: &Matrix) -> Matrix {
    let centres = Centres::new(centroids);
    let k = centres.k();
    let mut out = Matrix::zeros(points.n(), k);
    // out is (N, k); each block owns (BLOCK, k) of it.
    out.as_mut_slice()
        .par_chunks_mut(BLOCK * k)
        .enumerate()
        .for_each(|(b, out)| {
            for_each_chunk(points, b, |i0, x_chunk, x_sq| {
                let rows = x_chunk.rows();
                let dist = &mut out[i0 * k..(i0 + rows) * k];
                centres.scores(x_chunk, dist);
                for (row, &xx) in dist.chunks_exact_mut(k).zip(x_sq) {
                    for s in row {
                        *s = (xx + *s).max(0.0);
                    }
                }
            });
        });
    out
}

pub(super) fn exact_sq_distance(x: &[f32], c: &[f32]) -> f64 {
    x.iter()
        .zip(c)
        .map(|(&a, &b)| {
            let diff = a as f64 - b as f64;
            diff * diff
        })
        .sum()
}

/// The reported inertia: sum_i ||x_i - c_{label_i}||^2 computed directly in f64 (not
/// through the GEMM trick), block partials added in block order.
pub(super) fn exact_inertia(points: &Points<'_>, centres: &Matrix, labels: &[usize]) -> f64 {
    let partials: Vec<f64> = labels
        .par_chunks(BLOCK)
        .enumerate()
        .map(|(b, labels)| {
            labels
                .iter()
                .enumerate()
                .map(|(i, &j)| exact_sq_distance(points.x.row(b * BLOCK + i), centres.row(j)))
                .sum()
        })
        .collect();
    partials.iter().sum()
}
