//! Exact k nearest neighbours by blocked GEMM (UMAP step 1).
//!
//! The squared distance is expanded as ||x||^2 + ||y||^2 - 2 x.y so that the cross terms of
//! a block of query rows against a block of reference rows are one GEMM with op(B) = B^T.
//! Only a (ROW_BLOCK, COL_BLOCK) tile of distances exists at a time; each query row keeps a
//! running top-k, so 49,000 points never need the 49,000 x 49,000 matrix (9.6 GB).
//!
//! The expansion loses digits when two points are close (cancellation), so the k chosen
//! neighbours' distances are recomputed directly as sum (x - y)^2 and the list re-sorted.
//! Ties are broken by the smaller index, so the result is a function of the data alone.

use rayon::prelude::*;

use crate::linalg::{MatRef, Matrix, Transpose, gemm};

/// Query rows per unit of parallel work: the tile of distances is (ROW_BLOCK, COL_BLOCK).
const ROW_BLOCK: usize = 64;
/// Reference rows per GEMM: 64 x 2048 f32 = 512 KiB of distances, about one L2.
const COL_BLOCK: usize = 2048;
/// Columns per group of the top-k scan's pre-check (two AVX registers of f32).
const SCAN: usize = 16;

/// The k nearest neighbours of every query row, nearest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Knn {
    /// indices is (N, k): row i lists the reference rows nearest to query row i.
    pub indices: Vec<usize>,
    /// distances is (N, k): the Euclidean distances (not squared), non-decreasing per row.
    pub distances: Vec<f32>,
    /// k, the number of neighbours per row.
    pub k: usize,
}

impl Knn {
    pub fn rows(&self) -> usize {
        self.indices.len() / self.k.max(1)
    }

    pub fn row_indices(&self, i: usize) -> &[usize] {
        &self.indices[i * self.k..(i + 1) * self.k]
    }

    pub fn row_distances(&self, i: usize) -> &[f32] {
        &self.distances[i * self.k..(i + 1) * self.k]
    }
}

/// Squared Euclidean distance, summed directly (no cancellation).
#[inline]
pub fn squared_distance(x: &[f32], y: &[f32]) -> f32 {
    x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum()
}

/// The k nearest rows of `reference` (M, D) to each row of `query` (N, D), nearest first,
/// ties by index. Needs 1 <= k <= M (asserted: the caller validates).
pub fn knn_query(query: MatRef<'_>, reference: MatRef<'_>, k: usize) -> Knn {
    assert!(
        k >= 1 && k <= reference.rows(),
        "knn: k = {k} with {} reference rows",
        reference.rows()
    );
    assert_eq!(
        query.cols(),
        reference.cols(),
        "knn: query and reference dimensions differ"
    );
    let n = query.rows();
    let m = reference.rows();
    // ||y||^2 of every reference row, (M,).
    let ref_norms: Vec<f32> = (0..m).map(|j| norm2(reference.row(j))).collect();
    let mut indices = vec![0usize; n * k];
    let mut distances = vec![0f32; n * k];
    indices
        .par_chunks_mut(ROW_BLOCK * k)
        .zip(distances.par_chunks_mut(ROW_BLOCK * k))
        .enumerate()
        .for_each(|(block, (idx_out, dist_out))| {
            let r0 = block * ROW_BLOCK;
            let rows = idx_out.len() / k;
            let q = query.rows_range(r0..r0 + rows);
            block_top_k(q, reference, &ref_norms, k, idx_out, dist_out);
        });
    Knn {
        indices,
        distances,
        k,
    }
}

/// The k nearest neighbours of every row of `x` (N, D) within `x`, the point itself as
/// neighbour 0 at distance 0 (umap-learn's convention), the others nearest first.
///
/// With duplicate points several neighbours sit at distance 0 and the index tie-break may
/// not list the point itself first (or at all); it is then moved (or put) in front
/// explicitly, dropping the farthest candidate.
pub fn knn_self(x: MatRef<'_>, k: usize) -> Knn {
    let mut knn = knn_query(x, x, k);
    for i in 0..x.rows() {
        let idx = &mut knn.indices[i * k..(i + 1) * k];
        let dist = &mut knn.distances[i * k..(i + 1) * k];
        // Where the point itself sits, or the last slot when it was crowded out.
        let at = idx.iter().position(|&j| j == i).unwrap_or(k - 1);
        for t in (1..=at).rev() {
            idx[t] = idx[t - 1];
            dist[t] = dist[t - 1];
        }
        idx[0] = i;
        dist[0] = 0.0;
    }
    knn
}

fn norm2(x: &[f32]) -> f32 {
    x.iter().map(|v| v * v).sum()
}

/// One block of query rows `q` (R, D) against all of `reference` (M, D): the running top-k
/// of each row, then exact distances. idx_out and dist_out are (R, k).
fn block_top_k(
    q: MatRef<'_>,
    reference: MatRef<'_>,
    ref_norms: &[f32],
    k: usize,
    idx_out: &mut [usize],
    dist_out: &mut [f32],
) {
    let r = q.rows();
    let m = reference.rows();
    let q_norms: Vec<f32> = (0..r).map(|i| norm2(q.row(i))).collect();
    // best holds each row's k best (squared distance, index) so far, sorted, (R, k).
    let mut best = vec![(f32::INFINITY, usize::MAX); r * k];
    // tile is (R, COL_BLOCK): -2 q . y for a block of reference rows.
    let mut tile = Matrix::zeros(r, COL_BLOCK.min(m));
    for c0 in (0..m).step_by(COL_BLOCK) {
        let cols = COL_BLOCK.min(m - c0);
        let y = reference.rows_range(c0..c0 + cols);
        let mut t = crate::linalg::MatMut::new(tile.as_mut_slice(), r, cols, cols);
        gemm(-2.0, q, Transpose::No, y, Transpose::Yes, 0.0, t.reborrow());
        let norms = &ref_norms[c0..c0 + cols];
        for i in 0..r {
            let row_best = &mut best[i * k..(i + 1) * k];
            let cross = &tile.as_slice()[i * cols..(i + 1) * cols];
            // Most columns cannot enter the top k: a vectorisable minimum over a group of
            // SCAN columns skips the group unless one of them might.
            for (g, (cg, ng)) in cross.chunks(SCAN).zip(norms.chunks(SCAN)).enumerate() {
                let mut lanes = [f32::INFINITY; SCAN];
                for ((l, &c), &nj) in lanes.iter_mut().zip(cg).zip(ng) {
                    *l = l.min(nj + c);
                }
                let group_min = lanes.iter().copied().fold(f32::INFINITY, f32::min);
                if (q_norms[i] + group_min).max(0.0) >= row_best[k - 1].0 {
                    continue;
                }
                for (l, (&c, &nj)) in cg.iter().zip(ng).enumerate() {
                    // Clamped at 0: rounding can make the expansion slightly negative.
                    let d2 = (q_norms[i] + nj + c).max(0.0);
                    // Columns arrive in increasing index, so an equal distance never
                    // displaces an earlier index: strict < is the index tie-break.
                    if d2 < row_best[k - 1].0 {
                        insert_sorted(row_best, (d2, c0 + g * SCAN + l));
                    }
                }
            }
        }
    }
    for i in 0..r {
        let row_best = &mut best[i * k..(i + 1) * k];
        for entry in row_best.iter_mut() {
            entry.0 = squared_distance(q.row(i), reference.row(entry.1));
        }
        row_best.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (t, &(d2, j)) in row_best.iter().enumerate() {
            idx_out[i * k + t] = j;
            dist_out[i * k + t] = d2.sqrt();
        }
    }
}

/// Puts `item` into the sorted list, dropping the last (largest) entry.
#[inline]
fn insert_sorted(list: &mut [(f32, usize)], item: (f32, usize)) {
    let mut t = list.len() - 1;
    while t > 0 && list[t - 1].0 > item.0 {
        list[t] = list[t - 1];
        t -= 1;
    }
    list[t] = item;
}
