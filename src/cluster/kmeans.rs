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
//! Determinism whatever the rayon thread count: points are cut into fixed blocks of `BLOCK`
//! rows; each block writes its own partial sums, and the partials are added in block order.
//! Each restart seeds its own `StdRng` from the master seed and the restart index.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use crate::linalg::{MatMut, MatRef, Matrix, Transpose, gemm};
use crate::{Error, Result};

/// Rows per GEMM call: 256 MNIST rows are 800 KB, so the chunk is still in L2 when its rows
/// are added into the centre sums right after the GEMM (scikit-learn uses the same size).
const CHUNK: usize = 256;
/// Rows per unit of parallel work, each with its own partial sums. A fixed multiple of
/// `CHUNK`, never derived from the thread count, so sums are bit-identical on any machine.
const BLOCK: usize = 8 * CHUNK;

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
    /// The kept run's inertia right after each assignment step (from the GEMM distances),
    /// including the final E-step when there was one. Lloyd never increases it.
    pub inertia_history: Vec<f64>,
}

/// How a Lloyd pass over the points ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// E-step only: labels and inertia.
    Assign,
    /// E-step plus the per-cluster sums and counts the M-step needs.
    AssignAndSum,
}

/// Why a Lloyd run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// No label changed: the labels already match the centres.
    LabelsStable,
    /// The centres moved less than the tolerance.
    ShiftBelowTolerance,
    /// `max_iter` iterations ran.
    MaxIter,
}

impl KMeansParams {
    /// Fits K-Means to the rows of `x` (N, D).
    ///
    /// Errors (`Error::Invalid`): k = 0, k > N, n_init = 0, max_iter = 0, a negative or
    /// non-finite tol, D = 0, or a non-finite value in `x`.
    pub fn fit(&self, x: MatRef<'_>) -> Result<KMeans> {
        self.validate(x)?;
        let points = Points::new(x);
        let tol = self.tol as f64 * mean_variance(x);
        let mut best: Option<KMeans> = None;
        for restart in 0..self.n_init {
            let mut rng = StdRng::seed_from_u64(restart_seed(self.seed, restart));
            let seeds = kmeans_plus_plus(&points, self.k, &mut rng);
            let run = lloyd(&points, seeds, self.max_iter, tol);
            // Strictly lower: on a tie the earlier restart stays, as in scikit-learn.
            if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
                best = Some(run);
            }
        }
        Ok(best.expect("n_init >= 1 was validated"))
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
                        labels[i0 + i] = nearest(row).0;
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

/// The data with its squared row norms, computed once per fit.
struct Points<'a> {
    /// x is (N, D).
    x: MatRef<'a>,
    /// ||x_i||^2, (N,), summed in f64.
    sq_norms: Vec<f32>,
}

impl<'a> Points<'a> {
    fn new(x: MatRef<'a>) -> Self {
        let sq_norms = (0..x.rows())
            .into_par_iter()
            .map(|i| x.row(i).iter().map(|&v| v as f64 * v as f64).sum::<f64>() as f32)
            .collect();
        Points { x, sq_norms }
    }

    fn n(&self) -> usize {
        self.x.rows()
    }

    fn blocks(&self) -> usize {
        self.n().div_ceil(BLOCK)
    }
}

/// Calls `f(offset in block, x_chunk (rows, D), ||x||^2 of those rows)` for the CHUNK-row
/// chunks of block `b`, in order. Chunk boundaries are the same in every pass (fit, predict,
/// distances), so the GEMM sees the same operands and the labels agree bit for bit.
fn for_each_chunk(points: &Points<'_>, b: usize, mut f: impl FnMut(usize, MatRef<'_>, &[f32])) {
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
struct Centres<'a> {
    /// c is (k, D).
    c: MatRef<'a>,
    /// ||c_j||^2, (k,).
    sq_norms: Vec<f32>,
}

impl<'a> Centres<'a> {
    fn new(c: &'a Matrix) -> Self {
        let sq_norms = c
            .iter_rows()
            .map(|r| r.iter().map(|&v| v as f64 * v as f64).sum::<f64>() as f32)
            .collect();
        Centres {
            c: c.view(),
            sq_norms,
        }
    }

    fn k(&self) -> usize {
        self.c.rows()
    }

    /// scores (rows, k) = ||c_j||^2 - 2 x_i.c_j for the rows of x_chunk (rows, D): the squared
    /// distance less ||x_i||^2. One GEMM for the whole chunk. `scores` may be longer than
    /// rows * k; only the front is written.
    fn scores(&self, x_chunk: MatRef<'_>, scores: &mut [f32]) {
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

/// The index of the smallest score (the first on ties) and that score.
fn nearest(scores: &[f32]) -> (usize, f32) {
    let mut best = (0, scores[0]);
    for (j, &s) in scores.iter().enumerate().skip(1) {
        if s < best.1 {
            best = (j, s);
        }
    }
    best
}

/// A distinct, well-mixed seed for each restart (SplitMix64's output function on
/// seed + restart), so that restarts are independent yet reproducible.
fn restart_seed(seed: u64, restart: usize) -> u64 {
    let mut z = seed
        .wrapping_add(restart as u64)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The mean over features of each feature's (population) variance, in f64: the scale
/// `tol` is relative to (scikit-learn's `_tolerance`).
fn mean_variance(x: MatRef<'_>) -> f64 {
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

/// Greedy k-means++: returns the k seeds (k, D), rows of x.
fn kmeans_plus_plus(points: &Points<'_>, k: usize, rng: &mut StdRng) -> Matrix {
    let (n, d) = points.x.shape();
    let trials = 2 + (k as f64).ln() as usize;
    let mut seeds = Matrix::zeros(k, d);
    let first = rng.random_range(0..n);
    seeds.row_mut(0).copy_from_slice(points.x.row(first));
    // closest is (N,): D(x)^2, the squared distance to the nearest seed so far.
    let mut closest: Vec<f64> = sq_distances_to_rows(points, &[first])
        .into_iter()
        .map(f64::from)
        .collect();
    let mut potential: f64 = closest.iter().sum();
    let mut cumulative = vec![0.0f64; n];
    for c in 1..k {
        // Sample candidates with probability D(x)^2 / potential: the first point whose
        // running sum of D^2 reaches u * potential (NumPy's searchsorted, side="left").
        let mut running = 0.0;
        for (acc, &dd) in cumulative.iter_mut().zip(&closest) {
            running += dd;
            *acc = running;
        }
        let candidates: Vec<usize> = (0..trials)
            .map(|_| {
                let target = rng.random::<f64>() * potential;
                cumulative.partition_point(|&s| s < target).min(n - 1)
            })
            .collect();
        // dist is (N, trials).
        let dist = sq_distances_to_rows(points, &candidates);
        // The potential if each candidate were added; keep the lowest (first on ties).
        let mut best = (0, f64::INFINITY);
        for t in 0..trials {
            let pot: f64 = closest
                .iter()
                .enumerate()
                .map(|(i, &dd)| dd.min(dist[i * trials + t] as f64))
                .sum();
            if pot < best.1 {
                best = (t, pot);
            }
        }
        let (t, pot) = best;
        for (i, dd) in closest.iter_mut().enumerate() {
            *dd = dd.min(dist[i * trials + t] as f64);
        }
        potential = pot;
        seeds
            .row_mut(c)
            .copy_from_slice(points.x.row(candidates[t]));
    }
    seeds
}

/// Squared distances from every point to the points `rows` of the data: (N, rows.len()).
fn sq_distances_to_rows(points: &Points<'_>, rows: &[usize]) -> Vec<f32> {
    let d = points.x.cols();
    let chosen = Matrix::from_fn(rows.len(), d, |r, j| points.x.at(rows[r], j));
    sq_distances(points, &chosen).into_vec()
}

/// Squared distances (N, k) from every point to every centre through the GEMM trick:
/// ||x||^2 + (||c||^2 - 2 x.c), clamped at 0 where f32 cancellation dips below.
fn sq_distances(points: &Points<'_>, centroids: &Matrix) -> Matrix {
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

/// One block's share of a Lloyd pass: partial sums for the M-step and the E-step's scratch.
struct BlockPass {
    /// sums is (k, D): the sum of this block's points in each cluster, in f64.
    sums: Vec<f64>,
    /// counts is (k,).
    counts: Vec<u64>,
    /// Sum of the squared distances to the assigned centres.
    inertia: f64,
    /// How many labels changed.
    changed: usize,
    /// scores is (CHUNK, k): the GEMM output for one chunk.
    scores: Vec<f32>,
}

impl BlockPass {
    fn new(k: usize, d: usize) -> Self {
        BlockPass {
            sums: vec![0.0; k * d],
            counts: vec![0; k],
            inertia: 0.0,
            changed: 0,
            scores: vec![0.0; CHUNK * k],
        }
    }
}

/// The whole pass, blocks added in block order.
struct PassTotals {
    /// sums is (k, D).
    sums: Vec<f64>,
    counts: Vec<u64>,
    inertia: f64,
    changed: usize,
}

/// One E-step over all points (updating `labels` in place), plus the sums the M-step needs
/// when `step` asks for them.
fn lloyd_pass(
    points: &Points<'_>,
    centres: &Matrix,
    labels: &mut [usize],
    blocks: &mut [BlockPass],
    step: Step,
) -> PassTotals {
    let centres = Centres::new(centres);
    let (k, d) = centres.c.shape();
    labels
        .par_chunks_mut(BLOCK)
        .zip(blocks.par_iter_mut())
        .enumerate()
        .for_each(|(b, (labels, acc))| {
            acc.inertia = 0.0;
            acc.changed = 0;
            if step == Step::AssignAndSum {
                acc.sums.fill(0.0);
                acc.counts.fill(0);
            }
            for_each_chunk(points, b, |i0, x_chunk, x_sq| {
                centres.scores(x_chunk, &mut acc.scores);
                for i in 0..x_chunk.rows() {
                    let (j, s) = nearest(&acc.scores[i * k..(i + 1) * k]);
                    acc.inertia += (x_sq[i] + s).max(0.0) as f64;
                    if labels[i0 + i] != j {
                        labels[i0 + i] = j;
                        acc.changed += 1;
                    }
                    if step == Step::AssignAndSum {
                        acc.counts[j] += 1;
                        for (s, &v) in acc.sums[j * d..(j + 1) * d].iter_mut().zip(x_chunk.row(i)) {
                            *s += v as f64;
                        }
                    }
                }
            });
        });
    let mut totals = PassTotals {
        sums: vec![0.0; if step == Step::AssignAndSum { k * d } else { 0 }],
        counts: vec![0; k],
        inertia: 0.0,
        changed: 0,
    };
    for acc in blocks.iter() {
        totals.inertia += acc.inertia;
        totals.changed += acc.changed;
        if step == Step::AssignAndSum {
            for (t, &s) in totals.sums.iter_mut().zip(&acc.sums) {
                *t += s;
            }
            for (t, &c) in totals.counts.iter_mut().zip(&acc.counts) {
                *t += c;
            }
        }
    }
    totals
}

/// Marks a point that has no cluster yet, so the first pass counts every label as changed.
const UNASSIGNED: usize = usize::MAX;

/// Lloyd's iterations from the given seeds (k, D).
fn lloyd(points: &Points<'_>, seeds: Matrix, max_iter: usize, tol: f64) -> KMeans {
    let (k, d) = seeds.shape();
    let mut centres = seeds;
    let mut labels = vec![UNASSIGNED; points.n()];
    let mut blocks: Vec<BlockPass> = (0..points.blocks()).map(|_| BlockPass::new(k, d)).collect();
    let mut history = Vec::new();
    let mut stop = Stop::MaxIter;
    let mut n_iter = 0;
    while n_iter < max_iter {
        n_iter += 1;
        let pass = lloyd_pass(
            points,
            &centres,
            &mut labels,
            &mut blocks,
            Step::AssignAndSum,
        );
        history.push(pass.inertia);
        let moved = new_centres(points, &labels, &centres, pass.sums, pass.counts);
        let shift = squared_shift(&centres, &moved);
        centres = moved;
        if pass.changed == 0 {
            stop = Stop::LabelsStable;
            break;
        }
        if shift <= tol {
            stop = Stop::ShiftBelowTolerance;
            break;
        }
    }
    if stop != Stop::LabelsStable {
        // The last M-step moved the centres after the labels were drawn: re-assign so
        // that labels and centres agree.
        let pass = lloyd_pass(points, &centres, &mut labels, &mut blocks, Step::Assign);
        history.push(pass.inertia);
    }
    let inertia = exact_inertia(points, &centres, &labels);
    KMeans {
        centroids: centres,
        labels,
        inertia,
        n_iter,
        inertia_history: history,
    }
}

/// The M-step: each centre moves to the mean of its points (sums (k, D) / counts). An
/// empty cluster first takes the point farthest from its own centre (farthest first, as
/// scikit-learn's `_relocate_empty_clusters`); that point leaves its old cluster's sum.
fn new_centres(
    points: &Points<'_>,
    labels: &[usize],
    old: &Matrix,
    mut sums: Vec<f64>,
    mut counts: Vec<u64>,
) -> Matrix {
    let (k, d) = old.shape();
    let empty: Vec<usize> = (0..k).filter(|&j| counts[j] == 0).collect();
    if !empty.is_empty() {
        // Rare, so the exact distances are computed only here.
        let far = farthest_points(points, old, labels, empty.len());
        for (&e, &p) in empty.iter().zip(&far) {
            let from = labels[p];
            let x = points.x.row(p);
            for (dim, &v) in x.iter().enumerate() {
                sums[from * d + dim] -= v as f64;
                sums[e * d + dim] = v as f64;
            }
            counts[from] -= 1;
            counts[e] = 1;
        }
    }
    let mut centres = Matrix::zeros(k, d);
    for j in 0..k {
        if counts[j] == 0 {
            // Only when a relocation took a cluster's last point: keep its old place.
            centres.row_mut(j).copy_from_slice(old.row(j));
            continue;
        }
        let inv = 1.0 / counts[j] as f64;
        for (c, &s) in centres.row_mut(j).iter_mut().zip(&sums[j * d..(j + 1) * d]) {
            *c = (s * inv) as f32;
        }
    }
    centres
}

/// The `how_many` points farthest from their assigned centre (exact f64 distances),
/// farthest first, ties to the lower index.
fn farthest_points(
    points: &Points<'_>,
    centres: &Matrix,
    labels: &[usize],
    how_many: usize,
) -> Vec<usize> {
    let mut order: Vec<(f64, usize)> = (0..points.n())
        .map(|i| {
            (
                exact_sq_distance(points.x.row(i), centres.row(labels[i])),
                i,
            )
        })
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    order.into_iter().take(how_many).map(|(_, i)| i).collect()
}

fn exact_sq_distance(x: &[f32], c: &[f32]) -> f64 {
    x.iter()
        .zip(c)
        .map(|(&a, &b)| {
            let diff = a as f64 - b as f64;
            diff * diff
        })
        .sum()
}

/// sum_j ||new_j - old_j||^2, compared with the tolerance.
fn squared_shift(old: &Matrix, new: &Matrix) -> f64 {
    old.as_slice()
        .iter()
        .zip(new.as_slice())
        .map(|(&a, &b)| (a as f64 - b as f64) * (a as f64 - b as f64))
        .sum()
}

/// The reported inertia: sum_i ||x_i - c_{label_i}||^2 computed directly in f64 (not
/// through the GEMM trick), block partials added in block order.
fn exact_inertia(points: &Points<'_>, centres: &Matrix, labels: &[usize]) -> f64 {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Points 0, 1, 10 all in cluster 0 (centre 1); cluster 1 is empty. The farthest point
    /// from its centre is 10 (81 away): it becomes cluster 1's centre and leaves cluster 0,
    /// whose centre becomes (0 + 1) / 2.
    #[test]
    fn an_empty_cluster_takes_the_farthest_point() {
        let x = Matrix::from_vec(3, 1, vec![0.0, 1.0, 10.0]);
        let points = Points::new(x.view());
        let old = Matrix::from_vec(2, 1, vec![1.0, 100.0]);
        let new = new_centres(&points, &[0, 0, 0], &old, vec![11.0, 0.0], vec![3, 0]);
        assert_eq!(new.as_slice(), &[0.5, 10.0]);
        // Two empty clusters take the two farthest points, farthest first.
        let old = Matrix::from_vec(3, 1, vec![1.0, 100.0, 200.0]);
        let new = new_centres(
            &points,
            &[0, 0, 0],
            &old,
            vec![11.0, 0.0, 0.0],
            vec![3, 0, 0],
        );
        assert_eq!(new.as_slice(), &[1.0, 10.0, 0.0]);
    }

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
