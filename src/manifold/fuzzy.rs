//! The fuzzy simplicial set (UMAP steps 2 and 3): each point's local metric (rho_i,
//! sigma_i), the membership strengths w_ij of its kNN edges, and their fuzzy union.
//!
//! rho_i is the distance to the nearest non-identical neighbour (local_connectivity = 1), so
//! every point is connected to at least one other with strength 1. sigma_i is found by
//! bisection so that sum_{j=1..k-1} exp(-max(0, d_ij - rho_i) / sigma_i) = log2(k)
//! (umap-learn's `smooth_knn_dist`; column 0, the point itself, is left out of the sum).
//! The fuzzy union of the directed graphs W and W^T is A = W + W^T - W o W^T: the
//! probability that at least one of the two directed edges exists.

use super::knn::Knn;

/// Bisection steps of the sigma search (umap-learn's n_iter).
const BISECTION_STEPS: usize = 64;
/// The sigma search stops when the sum is this close to log2(k) (SMOOTH_K_TOLERANCE).
pub const SMOOTH_K_TOLERANCE: f64 = 1e-5;
/// sigma_i is at least this fraction of the mean neighbour distance (MIN_K_DIST_SCALE): a
/// point whose neighbours are all at about rho_i would otherwise get sigma_i -> 0.
const MIN_K_DIST_SCALE: f64 = 1e-3;

/// The local metric of every point: rho_i and sigma_i, (N,) each.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalMetric {
    pub rho: Vec<f64>,
    pub sigma: Vec<f64>,
}

/// umap-learn's `smooth_knn_dist` with bandwidth 1. `local_connectivity` is 1 for the fit
/// set and 0 for transform (where rho_i is then 0). knn.distances is (N, k).
pub fn smooth_knn_dist(knn: &Knn, local_connectivity: f64) -> LocalMetric {
    let k = knn.k;
    let n = knn.rows();
    let target = (k as f64).log2();
    let mean_all = if knn.distances.is_empty() {
        0.0
    } else {
        knn.distances.iter().map(|&d| d as f64).sum::<f64>() / knn.distances.len() as f64
    };
    let mut rho = vec![0.0f64; n];
    let mut sigma = vec![0.0f64; n];
    for i in 0..n {
        let d: Vec<f64> = knn.row_distances(i).iter().map(|&v| v as f64).collect();
        rho[i] = local_rho(&d, local_connectivity);
        sigma[i] = bisect_sigma(&d, rho[i], target);
        // The floor: relative to this row's mean distance when the point has a non-zero
        // nearest neighbour, else to the mean over all rows.
        let mean = if rho[i] > 0.0 {
            d.iter().sum::<f64>() / k as f64
        } else {
            mean_all
        };
        sigma[i] = sigma[i].max(MIN_K_DIST_SCALE * mean);
    }
    LocalMetric { rho, sigma }
}

/// rho_i: the local_connectivity-th smallest non-zero distance, interpolated between
/// neighbours for a fractional local_connectivity; the largest non-zero distance when there
/// are too few; 0 when all neighbours coincide with the point.
fn local_rho(d: &[f64], local_connectivity: f64) -> f64 {
    let non_zero: Vec<f64> = d.iter().copied().filter(|&v| v > 0.0).collect();
    if non_zero.len() as f64 >= local_connectivity {
        let index = local_connectivity.floor() as usize;
        let interpolation = local_connectivity - index as f64;
        if index > 0 {
            let mut r = non_zero[index - 1];
            if interpolation > SMOOTH_K_TOLERANCE {
                r += interpolation * (non_zero[index] - non_zero[index - 1]);
            }
            r
        } else {
            interpolation * non_zero[0]
        }
    } else if !non_zero.is_empty() {
        non_zero.iter().copied().fold(f64::MIN, f64::max)
    } else {
        0.0
    }
}

/// The sum whose value sigma is chosen to fix: sum_{j>=1} exp(-max(0, d_j - rho) / sigma).
pub fn membership_sum(d: &[f64], rho: f64, sigma: f64) -> f64 {
    d[1..]
        .iter()
        .map(|&dj| {
            let excess = dj - rho;
            if excess > 0.0 {
                (-(excess / sigma)).exp()
            } else {
                1.0
            }
        })
        .sum()
}

/// Bisection for sigma in (0, inf): doubling until the sum exceeds the target, then halving
/// the bracket (the sum increases with sigma).
fn bisect_sigma(d: &[f64], rho: f64, target: f64) -> f64 {
    let (mut lo, mut hi, mut mid) = (0.0f64, f64::INFINITY, 1.0f64);
    for _ in 0..BISECTION_STEPS {
        let psum = membership_sum(d, rho, mid);
        if (psum - target).abs() < SMOOTH_K_TOLERANCE {
            break;
        }
        if psum > target {
            hi = mid;
            mid = (lo + hi) / 2.0;
        } else {
            lo = mid;
            mid = if hi == f64::INFINITY {
                mid * 2.0
            } else {
                (lo + hi) / 2.0
            };
        }
    }
    mid
}

/// Whether the neighbour lists come from the fit set itself (the point is its own
/// neighbour 0, whose edge is dropped) or from new points against the fit set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Neighbours {
    /// kNN of the fit set within itself.
    SelfSet,
    /// kNN of new points among the fit points (umap-learn's bipartite=True).
    Bipartite,
}

/// The membership strength of every kNN edge, (N, k) in the layout of `knn`:
/// w_ij = exp(-(d_ij - rho_i) / sigma_i), 1 within rho_i, 0 for the point itself.
pub fn membership_strengths(knn: &Knn, metric: &LocalMetric, kind: Neighbours) -> Vec<f32> {
    let k = knn.k;
    let mut w = vec![0f32; knn.indices.len()];
    for i in 0..knn.rows() {
        for t in 0..k {
            let j = knn.indices[i * k + t];
            let excess = knn.distances[i * k + t] as f64 - metric.rho[i];
            w[i * k + t] = if kind == Neighbours::SelfSet && j == i {
                0.0
            } else if excess <= 0.0 || metric.sigma[i] == 0.0 {
                1.0
            } else {
                (-(excess / metric.sigma[i])).exp() as f32
            };
        }
    }
    w
}

/// A sparse matrix in compressed sparse row form, columns sorted within each row, no
/// explicit zeros.
#[derive(Clone, Debug, PartialEq)]
pub struct Csr {
    /// rows, the number of rows (the number of columns is the caller's to know).
    pub rows: usize,
    /// indptr is (rows + 1,): row i's entries are indptr[i]..indptr[i + 1].
    pub indptr: Vec<usize>,
    /// indices is (nnz,): the column of each entry.
    pub indices: Vec<usize>,
    /// values is (nnz,).
    pub values: Vec<f32>,
}

impl Csr {
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// Row i's (column, value) entries.
    pub fn row(&self, i: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let r = self.indptr[i]..self.indptr[i + 1];
        self.indices[r.clone()]
            .iter()
            .copied()
            .zip(self.values[r].iter().copied())
    }

    /// The entry (i, j), 0 when absent (binary search in the sorted row).
    pub fn get(&self, i: usize, j: usize) -> f32 {
        let r = self.indptr[i]..self.indptr[i + 1];
        match self.indices[r.clone()].binary_search(&j) {
            Ok(t) => self.values[r.start + t],
            Err(_) => 0.0,
        }
    }

    /// The largest value, 0 for an empty matrix.
    pub fn max_value(&self) -> f32 {
        self.values.iter().copied().fold(0.0, f32::max)
    }

    /// A copy without the entries below `threshold`.
    pub fn drop_below(&self, threshold: f32) -> Csr {
        let mut out = Csr {
            rows: self.rows,
            indptr: vec![0],
            indices: vec![],
            values: vec![],
        };
        for i in 0..self.rows {
            for (j, v) in self.row(i) {
                if v >= threshold {
                    out.indices.push(j);
                    out.values.push(v);
                }
            }
            out.indptr.push(out.indices.len());
        }
        out
    }

    /// From (row, column, value) triplets, with no repeated (row, column): sorted by row
    /// (counting sort), then by column; zeros dropped.
    pub fn from_triplets(rows: usize, triplets: &[(usize, usize, f32)]) -> Csr {
        let mut counts = vec![0usize; rows + 1];
        for &(i, _, _) in triplets {
            counts[i + 1] += 1;
        }
        for i in 0..rows {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut entries = vec![(0usize, 0f32); triplets.len()];
        for &(i, j, v) in triplets {
            entries[fill[i]] = (j, v);
            fill[i] += 1;
        }
        let mut out = Csr {
            rows,
            indptr: vec![0],
            indices: vec![],
            values: vec![],
        };
        for i in 0..rows {
            let seg = &mut entries[counts[i]..counts[i + 1]];
            seg.sort_by_key(|e| e.0);
            for &(j, v) in seg.iter() {
                debug_assert!(
                    out.indices.len() == out.indptr[i] || *out.indices.last().unwrap() != j
                );
                if v != 0.0 {
                    out.indices.push(j);
                    out.values.push(v);
                }
            }
            out.indptr.push(out.indices.len());
        }
        out
    }
}

/// The fuzzy union A = W + W^T - W o W^T of the directed kNN graph W (N, N), whose row i
/// holds the strengths `w` (N, k) of i's edges to knn.indices. Symmetric, values in [0, 1].
pub fn fuzzy_union(knn: &Knn, w: &[f32]) -> Csr {
    let n = knn.rows();
    let k = knn.k;
    // Every directed edge once as (i, j) from W and once as (j, i) from W^T; the pair that
    // meets at (i, j) is W_ij and W_ji.
    let mut forward: Vec<(usize, usize, f32)> = Vec::with_capacity(n * k);
    for i in 0..n {
        for t in 0..k {
            let v = w[i * k + t];
            if v != 0.0 {
                forward.push((i, knn.indices[i * k + t], v));
            }
        }
    }
    let wm = Csr::from_triplets(n, &forward);
    let backward: Vec<(usize, usize, f32)> = forward.iter().map(|&(i, j, v)| (j, i, v)).collect();
    let wt = Csr::from_triplets(n, &backward);
    let mut union = Vec::with_capacity(2 * forward.len());
    for i in 0..n {
        // Merge the two sorted rows.
        let (mut a, mut b) = (wm.row(i).peekable(), wt.row(i).peekable());
        loop {
            let (j, x, y) = match (a.peek().copied(), b.peek().copied()) {
                (Some((ja, x)), Some((jb, y))) if ja == jb => {
                    a.next();
                    b.next();
                    (ja, x, y)
                }
                (Some((ja, x)), Some((jb, _))) if ja < jb => {
                    a.next();
                    (ja, x, 0.0)
                }
                (Some((ja, x)), None) => {
                    a.next();
                    (ja, x, 0.0)
                }
                (_, Some((jb, y))) => {
                    b.next();
                    (jb, 0.0, y)
                }
                (None, None) => break,
            };
            union.push((i, j, x + y - x * y));
        }
    }
    Csr::from_triplets(n, &union)
}
