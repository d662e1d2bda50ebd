//! K-Means: greedy k-means++ seeding, then Lloyd's iterations, restarted `n_init` times,
//! keeping the run with the lowest inertia. It follows scikit-learn's `KMeans` (Lloyd
//! algorithm) step for step, so that its numbers can be compared with the ones people trust.
//!
//! - Seeding (Arthur & Vassilvitskii 2007, greedy variant): the first centre is a point drawn
//!   uniformly; each next centre is drawn among `2 + floor(ln k)` candidates sampled with
//!   probability proportional to D(x)^2, the squared distance to the nearest centre so far,
//!   keeping the candidate that lowers the potential sum D(x)^2 the most.
//! - Lloyd: assign every point to its nearest centre (E-step), move each centre to the mean
//!   of its points (M-step). Stop when no label changes, or when the squared centre shift
//!   summed over centres is at most `tol` times the mean per-feature variance of the data,
//!   or after `max_iter` iterations; then one last E-step makes the labels match the centres.
//! - An empty cluster is moved onto the point farthest from its own centre.
//!
//! The distance trick: ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2, so the assignment of a chunk
//! of points to all k centres is one GEMM, x (rows, D) times C^T (D, k). The nearest centre
//! only needs ||c||^2 - 2 x.c; ||x||^2 is added back (and the result clamped at 0, since the
//! subtraction cancels in f32) where the distance itself is needed.
//!
//! Speed, without changing the result: the `n_init` restarts run in lockstep, so each pass
//! over the data serves them all while a chunk of points is in cache; Hamerly's bounds skip
//! the points whose nearest centre cannot have changed (see `lloyd`); the M-step keeps f64
//! sums per cluster up to date by moving only the points that changed cluster.
//!
//! Determinism whatever the rayon thread count: points are cut into fixed blocks of `BLOCK`
//! rows; each block reports its label changes, which are applied in block order. Each
//! restart seeds its own `StdRng` from the master seed and the restart index (SplitMix64).
//! A restart's run does not depend on the other restarts, except that the seeding GEMM
//! stacks all restarts' candidates, which the fast GEMM may round differently than it
//! would a single one.
//!
//! The files, one idea each, in reading order:
//! - `mod.rs` (this file): the parameters, their validation, the fitted model and `fit`,
//!   `predict`, `distances`.
//! - `distances.rs`: the GEMM distance trick over fixed chunks of points.
//! - `plus_plus.rs`: greedy k-means++ seeding, all restarts at once.
//! - `lloyd.rs`: Lloyd's iterations for all restarts in lockstep, and the M-step.
//! - `hamerly.rs`: the E-step, with Hamerly's bounds to skip the points that cannot move.
//! - `reference.rs`: plain Lloyd as the textbook writes it, the oracle the fast path is
//!   tested against (as `gemm_naive` is for the GEMM).

mod distances;
mod hamerly;
mod lloyd;
mod plus_plus;
mod reference;

pub use reference::reference_lloyd;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rayon::prelude::*;

use crate::linalg::{MatRef, Matrix, argmin};
use crate::{Error, Result};

use distances::{Centres, Points, exact_inertia, for_each_chunk, sq_distances};
use lloyd::lloyd;
use plus_plus::kmeans_plus_plus;

/// Rows per GEMM call: 256 MNIST rows are 800 KB, so the chunk is still in L2 when its rows
/// are added into the centre sums right after the GEMM (scikit-learn uses the same size).
pub(super) const CHUNK: usize = 256;
/// Rows per unit of parallel work, each with its own partial sums. A fixed multiple of
/// `CHUNK`, never derived from the thread count, so sums are bit-identical on any machine.
pub(super) const BLOCK: usize = 8 * CHUNK;

/// Hyper-parameters of K-Means; `fit` validates them against the data.
#[derive(Clone, Debug, PartialEq)]
pub struct KMeansParams {
    /// The number of clusters.
    pub k: usize,
    /// Independent seedings + Lloyd runs; the one with the lowest inertia is kept.
    pub n_init: usize,
    /// The most Lloyd iterations per run.
    pub max_iter: usize,
    /// Convergence threshold on the squared centre shift, relative to the data's mean
    /// per-feature variance (scikit-learn's `tol`).
    pub tol: f32,
    /// Master seed; restart r uses a seed derived from (seed, r).
    pub seed: u64,
}

impl Default for KMeansParams {
    /// scikit-learn's defaults, with k = 10 for the ten digits.
    fn default() -> Self {
        KMeansParams {
            k: 10,
            n_init: 20,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
        }
    }
}

/// A fitted K-Means model.
#[derive(Clone, Debug, PartialEq)]
pub struct KMeans {
    /// centroids is (k, D).
    pub centroids: Matrix,
    /// The cluster of each point of the fit data, (N,), consistent with `centroids`.
    pub labels: Vec<usize>,
    /// Sum of squared distances of the fit points to their centroids, computed in f64.
    pub inertia: f64,
    /// Lloyd iterations of the kept run.
    pub n_iter: usize,
    /// The kept run's inertia right after each assignment step (labels just drawn, centres
    /// not yet moved), from its f64 cluster sums, including the final E-step when there was
    /// one. Lloyd never increases it.
    pub inertia_history: Vec<f64>,
}

impl KMeansParams {
    /// Fits K-Means to the rows of `x` (N, D).
    ///
    /// Errors (`Error::Invalid`): k = 0, k > N, n_init = 0, max_iter = 0, a negative or
    /// non-finite tol, D = 0, or a non-finite value in `x`.
    pub fn fit(&self, x: MatRef<'_>) -> Result<KMeans> {
        let fitted = self.fit_until(x, &|| false)?;
        Ok(fitted.expect("never asked to stop"))
    }

    /// [`fit`](Self::fit), asking `stop` before each seeding and each Lloyd iteration (of
    /// all restarts in lockstep); None when it said yes (Ctrl-C). Asking changes no bit of
    /// the result.
    pub fn fit_until(&self, x: MatRef<'_>, stop: &dyn Fn() -> bool) -> Result<Option<KMeans>> {
        self.validate(x)?;
        if stop() {
            return Ok(None);
        }
        let points = Points::new(x);
        let tol = self.tol as f64 * mean_variance(x);
        let mut rngs: Vec<StdRng> = (0..self.n_init)
            .map(|r| StdRng::seed_from_u64(restart_seed(self.seed, r)))
            .collect();
        let seeds = kmeans_plus_plus(&points, self.k, &mut rngs);
        let Some(runs) = lloyd(&points, seeds, self.max_iter, tol, stop) else {
            return Ok(None);
        };
        // The lowest inertia; on a tie the earlier restart stays, as in scikit-learn.
        let (r, _) = argmin(runs.iter().map(|run| run.inertia)).unwrap_or((0, 0.0));
        let mut best = runs.into_iter().nth(r).expect("n_init >= 1 was validated");
        // Label the points through the same (single-model) GEMM path as `predict`, so that
        // `labels == predict(x)` holds bit for bit; the runs' own last E-step went through
        // the stacked GEMM, which may round ties differently.
        best.labels = best.predict(x);
        best.inertia = exact_inertia(&points, &best.centroids, &best.labels);
        Ok(Some(best))
    }

    fn validate(&self, x: MatRef<'_>) -> Result<()> {
        let (n, d) = x.shape();
        let bad = |what: &str, problem: String| Err(Error::invalid(what, problem));
        if self.k == 0 {
            return bad("kmeans k", "k = 0: need at least one cluster".into());
        }
        if self.k > n {
            return bad(
                "kmeans k",
                format!("k = {} clusters but only {n} points", self.k),
            );
        }
        if self.n_init == 0 {
            return bad("kmeans n_init", "n_init = 0: need at least one run".into());
        }
        if self.max_iter == 0 {
            return bad(
                "kmeans max_iter",
                "max_iter = 0: need at least one iteration".into(),
            );
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return bad("kmeans tol", format!("tol = {} must be >= 0", self.tol));
        }
        if d == 0 {
            return bad("kmeans data", "points have no features (D = 0)".into());
        }
        for i in 0..n {
            if let Some(j) = x.row(i).iter().position(|v| !v.is_finite()) {
                return bad(
                    "kmeans data",
                    format!("value {} at row {i}, column {j} is not finite", x.at(i, j)),
                );
            }
        }
        Ok(())
    }
}

impl KMeans {
    /// The nearest centroid of each row of `x` (N, D), ties to the lowest index.
    /// Called on the fit data it returns `labels`.
    #[track_caller]
    pub fn predict(&self, x: MatRef<'_>) -> Vec<usize> {
        self.check_width(x);
        let points = Points::new(x);
        let centres = Centres::new(&self.centroids);
        let mut labels = vec![0usize; x.rows()];
        labels
            .par_chunks_mut(BLOCK)
            .enumerate()
            .for_each(|(b, labels)| {
                let mut scores = vec![0.0f32; CHUNK * centres.k()];
                for_each_chunk(&points, b, |i0, x_chunk, _| {
                    centres.scores(x_chunk, &mut scores);
                    for (i, row) in scores
                        .chunks_exact(centres.k())
                        .take(x_chunk.rows())
                        .enumerate()
                    {
                        labels[i0 + i] = argmin(row.iter().copied()).map_or(0, |(j, _)| j);
                    }
                });
            });
        labels
    }

    /// Squared Euclidean distances from each row of `x` (N, D) to each centroid: (N, k).
    #[track_caller]
    pub fn distances(&self, x: MatRef<'_>) -> Matrix {
        self.check_width(x);
        sq_distances(&Points::new(x), &self.centroids)
    }

    #[track_caller]
    fn check_width(&self, x: MatRef<'_>) {
        assert_eq!(
            x.cols(),
            self.centroids.cols(),
            "kmeans: points have {} features but the centroids {}",
            x.cols(),
            self.centroids.cols()
        );
    }
}

/// A distinct, well-mixed seed for each restart (SplitMix64's output function on
/// seed + restart), so that restarts are independent yet reproducible.
pub(super) fn restart_seed(seed: u64, restart: usize) -> u64 {
    let mut z = seed
        .wrapping_add(restart as u64)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The mean over features of each feature's (population) variance, in f64: the scale
/// `tol` is relative to (scikit-learn's `_tolerance`).
pub(super) fn mean_variance(x: MatRef<'_>) -> f64 {
    let (n, d) = x.shape();
    let mut mean = vec![0.0f64; d];
    for i in 0..n {
        for (m, &v) in mean.iter_mut().zip(x.row(i)) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut var = vec![0.0f64; d];
    for i in 0..n {
        for ((s, &v), m) in var.iter_mut().zip(x.row(i)).zip(&mean) {
            *s += (v as f64 - m) * (v as f64 - m);
        }
    }
    var.iter().sum::<f64>() / (n as f64 * d as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_seeds_differ() {
        let seeds: Vec<u64> = (0..100).map(|r| restart_seed(7, r)).collect();
        let mut unique = seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), seeds.len());
    }

    #[test]
    fn mean_variance_is_the_population_variance_averaged_over_features() {
        // Feature 0: 1, 3 (variance 1); feature 1: 0, 0 (variance 0).
        let x = Matrix::from_vec(2, 2, vec![1.0, 0.0, 3.0, 0.0]);
        assert_eq!(mean_variance(x.view()), 0.5);
    }
}
