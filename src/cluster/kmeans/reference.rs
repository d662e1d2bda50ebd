//! Plain Lloyd, the way the textbook writes it: the reference the fast path (`lloyd.rs`,
//! `hamerly.rs`) is tested against, as `gemm_naive` is for the GEMM.
//!
//! Every iteration recomputes every distance exactly in f64 (no GEMM trick, no bounds, no
//! incremental sums), assigns each point to its nearest centre (E-step), relocates empty
//! clusters, and moves each centre to the mean of its points (M-step). It is O(N k D) per
//! iteration and single-threaded: for tests and small data only.

use crate::linalg::{MatRef, Matrix, argmin};

use super::KMeans;
use super::distances::exact_sq_distance;
use super::mean_variance;

/// Lloyd's algorithm from the centres `seeds` (k, D) on the rows of `x` (N, D), with the
/// same rules as [`KMeansParams::fit`](super::KMeansParams::fit) after its seeding:
///
/// 1. E-step: label_i = argmin_j ||x_i - c_j||^2 (exact f64, the lowest j on ties).
/// 2. Empty clusters, in index order, each take the point farthest from its own centre
///    (farthest first, ties to the lower index; scikit-learn's `_relocate_empty_clusters`).
/// 3. M-step: c_j = mean of the points labelled j (a cluster left empty keeps its centre).
/// 4. Stop when no label changed in step 1; or, after one last E-step, when the squared
///    centre shift sum_j ||c_j' - c_j||^2 is at most `tol` times the data's mean
///    per-feature variance, or after `max_iter` iterations.
///
/// Returns the model with `n_iter` iterations, the exact f64 inertia of its final labels,
/// and `inertia_history` holding the exact inertia after each E-step (labels just drawn,
/// centres not yet moved).
///
/// Panics when the shapes disagree, `x` is empty, or `max_iter` is 0: a reference for tests,
/// not a user-facing entry (that is `KMeansParams::fit`, which validates).
#[track_caller]
pub fn reference_lloyd(x: MatRef<'_>, seeds: &Matrix, max_iter: usize, tol: f32) -> KMeans {
    let (n, d) = x.shape();
    let k = seeds.rows();
    assert!(
        n >= 1 && k >= 1 && max_iter >= 1,
        "reference_lloyd: empty problem"
    );
    assert_eq!(
        seeds.cols(),
        d,
        "reference_lloyd: seeds and points differ in width"
    );
    let tol = tol as f64 * mean_variance(x);
    // c is (k, D); labels is (N,).
    let mut c = seeds.clone();
    let mut labels: Vec<usize> = Vec::new();
    let mut history = Vec::new();
    let mut n_iter = 0;
    let mut stable = false;
    while n_iter < max_iter {
        n_iter += 1;
        // 1. E-step.
        let new = assign_exact(x, &c);
        let changed = new != labels;
        labels = new;
        history.push(inertia_exact(x, &c, &labels));
        // 2. Empty clusters take the farthest points.
        let mut counts = vec![0u64; k];
        labels.iter().for_each(|&l| counts[l] += 1);
        let empty: Vec<usize> = (0..k).filter(|&j| counts[j] == 0).collect();
        if !empty.is_empty() {
            let mut order: Vec<(f64, usize)> = (0..n)
                .map(|i| (exact_sq_distance(x.row(i), c.row(labels[i])), i))
                .collect();
            order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for (&e, &(_, p)) in empty.iter().zip(&order) {
                counts[labels[p]] -= 1;
                counts[e] += 1;
                labels[p] = e;
            }
        }
        // 3. M-step: sums is (k, D), in f64.
        let mut sums = vec![0.0f64; k * d];
        for (i, &l) in labels.iter().enumerate() {
            for (s, &v) in sums[l * d..(l + 1) * d].iter_mut().zip(x.row(i)) {
                *s += v as f64;
            }
        }
        let moved = Matrix::from_fn(k, d, |j, m| {
            if counts[j] == 0 {
                c.row(j)[m]
            } else {
                (sums[j * d + m] / counts[j] as f64) as f32
            }
        });
        let shift: f64 = c
            .as_slice()
            .iter()
            .zip(moved.as_slice())
            .map(|(&a, &b)| (a as f64 - b as f64) * (a as f64 - b as f64))
            .sum();
        c = moved;
        // 4. Stop.
        if !changed {
            stable = true;
            break;
        }
        if shift <= tol {
            break;
        }
    }
    if !stable {
        // The centres moved after the last labels were drawn: one E-step more.
        labels = assign_exact(x, &c);
        history.push(inertia_exact(x, &c, &labels));
    }
    KMeans {
        inertia: inertia_exact(x, &c, &labels),
        centroids: c,
        labels,
        n_iter,
        inertia_history: history,
    }
}

/// The nearest centre of every point by exact f64 distance, the lowest index on ties.
fn assign_exact(x: MatRef<'_>, c: &Matrix) -> Vec<usize> {
    (0..x.rows())
        .map(|i| {
            let distances = (0..c.rows()).map(|j| exact_sq_distance(x.row(i), c.row(j)));
            argmin(distances).map_or(0, |(j, _)| j)
        })
        .collect()
}

/// sum_i ||x_i - c_{label_i}||^2 in f64, in point order.
fn inertia_exact(x: MatRef<'_>, c: &Matrix, labels: &[usize]) -> f64 {
    labels
        .iter()
        .enumerate()
        .map(|(i, &j)| exact_sq_distance(x.row(i), c.row(j)))
        .sum()
}
