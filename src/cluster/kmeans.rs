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
    /// The kept run's inertia right after each assignment step (labels just drawn, centres
    /// not yet moved), from its f64 cluster sums, including the final E-step when there was
    /// one. Lloyd never increases it.
    pub inertia_history: Vec<f64>,
}

/// What a run still needs from the next pass over the points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// A Lloyd iteration: E-step, then the M-step from the updated cluster sums.
    Iterate,
    /// The last M-step moved the centres after the labels were drawn: one E-step more so
    /// that labels and centres agree (scikit-learn's final `update_centers=False` pass).
    FinalAssign,
    /// Finished.
    Done,
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
        let mut rngs: Vec<StdRng> = (0..self.n_init)
            .map(|r| StdRng::seed_from_u64(restart_seed(self.seed, r)))
            .collect();
        let seeds = kmeans_plus_plus(&points, self.k, &mut rngs);
        let runs = lloyd(&points, seeds, self.max_iter, tol);
        // The lowest inertia; strictly lower, so on a tie the earlier restart stays, as in
        // scikit-learn.
        let mut best = runs
            .into_iter()
            .reduce(|best, run| {
                if run.inertia < best.inertia {
                    run
                } else {
                    best
                }
            })
            .expect("n_init >= 1 was validated");
        // Label the points through the same (single-model) GEMM path as `predict`, so that
        // `labels == predict(x)` holds bit for bit; the runs' own last E-step went through
        // the stacked GEMM, which may round ties differently.
        best.labels = best.predict(x);
        best.inertia = exact_inertia(&points, &best.centroids, &best.labels);
        Ok(best)
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

/// Greedy k-means++ for every restart at once: returns one (k, D) matrix of seeds (rows of
/// x) per RNG. Each restart draws from its own RNG exactly as if alone; only the distance
/// computations are shared, one GEMM for all restarts' candidates.
fn kmeans_plus_plus(points: &Points<'_>, k: usize, rngs: &mut [StdRng]) -> Vec<Matrix> {
    let (n, d) = points.x.shape();
    let runs = rngs.len();
    let trials = 2 + (k as f64).ln() as usize;
    let firsts: Vec<usize> = rngs.iter_mut().map(|rng| rng.random_range(0..n)).collect();
    let mut seeds: Vec<Matrix> = firsts
        .iter()
        .map(|&first| {
            let mut s = Matrix::zeros(k, d);
            s.row_mut(0).copy_from_slice(points.x.row(first));
            s
        })
        .collect();
    // dist is (N, runs).
    let dist = sq_distances_to_rows(points, &firsts);
    // closest[r] is (N,): D(x)^2 of restart r, the squared distance to its nearest seed.
    let mut closest: Vec<Vec<f64>> = (0..runs)
        .map(|r| (0..n).map(|i| dist[i * runs + r] as f64).collect())
        .collect();
    let mut potential: Vec<f64> = closest.iter().map(|c| c.iter().sum()).collect();
    for c in 1..k {
        // candidates is (runs, trials): restart r samples with probability D(x)^2 /
        // potential, i.e. the first point whose running sum of D^2 reaches u * potential
        // (NumPy's searchsorted, side="left").
        let candidates: Vec<usize> = rngs
            .par_iter_mut()
            .zip(&closest)
            .zip(&potential)
            .flat_map_iter(|((rng, closest), &potential)| {
                let mut running = 0.0;
                let cumulative: Vec<f64> = closest
                    .iter()
                    .map(|&dd| {
                        running += dd;
                        running
                    })
                    .collect();
                (0..trials)
                    .map(|_| {
                        let target = rng.random::<f64>() * potential;
                        cumulative.partition_point(|&s| s < target).min(n - 1)
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        // dist is (N, runs * trials).
        let dist = sq_distances_to_rows(points, &candidates);
        let width = runs * trials;
        closest
            .par_iter_mut()
            .zip(&mut potential)
            .zip(&mut seeds)
            .enumerate()
            .for_each(|(r, ((closest, potential), seeds))| {
                // The potential if each candidate were added; keep the lowest (first on ties).
                let mut best = (0, f64::INFINITY);
                for t in 0..trials {
                    let col = r * trials + t;
                    let pot: f64 = closest
                        .iter()
                        .enumerate()
                        .map(|(i, &dd)| dd.min(dist[i * width + col] as f64))
                        .sum();
                    if pot < best.1 {
                        best = (t, pot);
                    }
                }
                let (t, pot) = best;
                let col = r * trials + t;
                for (i, dd) in closest.iter_mut().enumerate() {
                    *dd = dd.min(dist[i * width + col] as f64);
                }
                *potential = pot;
                seeds
                    .row_mut(c)
                    .copy_from_slice(points.x.row(candidates[col]));
            });
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

/// One restart's Lloyd state.
struct Run {
    /// centres is (k, D).
    centres: Matrix,
    /// The cluster whose sum holds each point, (N,): the last E-step's label, except for a
    /// point an empty cluster just took over (see `new_centres`).
    labels: Vec<usize>,
    /// upper is (N,): an upper bound on each point's distance to its own centre (Hamerly).
    upper: Vec<f64>,
    /// lower is (N,): a lower bound on each point's distance to every other centre.
    lower: Vec<f64>,
    /// sums is (k, D): the f64 sum of the points of each cluster, kept up to date by
    /// moving only the points whose label changed.
    sums: Vec<f64>,
    /// sq_sums is (k,): the sum of ||x||^2 over each cluster, for the inertia.
    sq_sums: Vec<f64>,
    /// Points per cluster, (k,).
    counts: Vec<u64>,
    step: Step,
    n_iter: usize,
    history: Vec<f64>,
}

/// Marks a point that has no cluster yet, so the first pass counts every label as changed.
const UNASSIGNED: usize = usize::MAX;

/// A label change: (point, old label, new label).
type Move = (usize, usize, usize);

/// Lloyd's iterations for all restarts in lockstep, so that every pass over the points
/// serves all the runs still going: each chunk of points is read from memory once per
/// iteration and stays in cache while every run assigns it.
///
/// Hamerly's bounds (Hamerly 2010) skip the points whose centre cannot have changed: each
/// point keeps an upper bound u on the distance to its own centre and a lower bound l on
/// the distance to any other; when centres move by delta, u grows by its centre's delta
/// and l shrinks by the largest other delta. A point with u <= max(l, s) keeps its label,
/// where s is half the distance from its centre to the nearest other centre (then no other
/// centre can be nearer, by the triangle inequality). The other points are gathered and
/// assigned with one GEMM per run and chunk. The bounds are widened by a bound on the f32
/// GEMM's rounding, so a skipped point's label is the exact nearest centre: the labels
/// are those of plain Lloyd, up to ties within rounding.
fn lloyd(points: &Points<'_>, seeds: Vec<Matrix>, max_iter: usize, tol: f64) -> Vec<KMeans> {
    let n = points.n();
    let mut runs: Vec<Run> = seeds
        .into_iter()
        .map(|centres| {
            let (k, d) = centres.shape();
            Run {
                centres,
                labels: vec![UNASSIGNED; n],
                upper: vec![f64::INFINITY; n],
                lower: vec![0.0; n],
                sums: vec![0.0; k * d],
                sq_sums: vec![0.0; k],
                counts: vec![0; k],
                step: Step::Iterate,
                n_iter: 0,
                history: Vec::new(),
            }
        })
        .collect();
    loop {
        let mut active: Vec<&mut Run> = runs.iter_mut().filter(|r| r.step != Step::Done).collect();
        if active.is_empty() {
            break;
        }
        // moves[b][a]: the label changes of block b for active run a, in point order.
        let moves = assign(points, &mut active);
        active.par_iter_mut().enumerate().for_each(|(a, run)| {
            let mut changed = 0;
            for block in &moves {
                changed += block[a].len();
                move_points(points, run, &block[a]);
            }
            run.history.push(inertia_from_sums(run));
            if run.step == Step::FinalAssign {
                run.step = Step::Done;
                return;
            }
            run.n_iter += 1;
            let Run {
                centres,
                labels,
                upper,
                lower,
                sums,
                sq_sums,
                counts,
                ..
            } = &mut **run;
            let (moved, relocated) = new_centres(points, labels, centres, sums, sq_sums, counts);
            let shift = squared_shift(centres, &moved);
            widen_bounds(centres, &moved, labels, upper, lower);
            for p in relocated {
                upper[p] = f64::INFINITY;
            }
            *centres = moved;
            run.step = if changed == 0 {
                // The labels already match the centres: no final E-step.
                Step::Done
            } else if shift <= tol || run.n_iter == max_iter {
                Step::FinalAssign
            } else {
                Step::Iterate
            };
        });
    }
    runs.into_par_iter()
        .map(|run| KMeans {
            inertia: inertia_from_sums(&run),
            centroids: run.centres,
            labels: run.labels,
            n_iter: run.n_iter,
            inertia_history: run.history,
        })
        .collect()
}

/// What the E-step of one run needs to know about its centres.
struct RunCentres<'a> {
    centres: Centres<'a>,
    /// half_gap is (k,): half the distance from each centre to its nearest other centre.
    half_gap: Vec<f64>,
    /// max_j ||c_j||^2, for the rounding bound.
    max_sq_norm: f64,
}

/// One run's per-point state, for the points of one block.
struct BlockState<'a> {
    labels: &'a mut [usize],
    upper: &'a mut [f64],
    lower: &'a mut [f64],
}

/// The E-step of every active run over all points: updates labels and bounds and returns,
/// per block (in block order) and per active run, the label changes.
fn assign(points: &Points<'_>, active: &mut [&mut Run]) -> Vec<Vec<Vec<Move>>> {
    let d = points.x.cols();
    let mut views = Vec::with_capacity(active.len());
    let mut per_block: Vec<Vec<BlockState<'_>>> =
        (0..points.blocks()).map(|_| Vec::new()).collect();
    for run in active.iter_mut() {
        let Run {
            centres,
            labels,
            upper,
            lower,
            ..
        } = &mut **run;
        let half_gap = half_gaps(centres);
        let centres = Centres::new(centres);
        let max_sq_norm = centres
            .sq_norms
            .iter()
            .fold(0.0f64, |m, &c| m.max(c as f64));
        views.push(RunCentres {
            centres,
            half_gap,
            max_sq_norm,
        });
        let blocks = labels
            .chunks_mut(BLOCK)
            .zip(upper.chunks_mut(BLOCK))
            .zip(lower.chunks_mut(BLOCK));
        for (b, ((labels, upper), lower)) in blocks.enumerate() {
            per_block[b].push(BlockState {
                labels,
                upper,
                lower,
            });
        }
    }
    // A bound on the rounding of ||x||^2 - 2 x.c + ||c||^2 in f32 with D-term dot products:
    // |error| <= (D + 4) eps (||x||^2 + ||c||^2).
    let rounding = (d as f64 + 4.0) * f32::EPSILON as f64;
    per_block
        .into_par_iter()
        .enumerate()
        .map(|(b, mut states)| {
            let mut moves: Vec<Vec<Move>> = states.iter().map(|_| Vec::new()).collect();
            let k_max = views.iter().map(|v| v.centres.k()).max().unwrap_or(0);
            // gathered is (rows, D): the chunk's points a run must re-assign; scores (rows, k).
            let mut gathered = Vec::with_capacity(CHUNK * d);
            let mut scores = vec![0.0f32; CHUNK * k_max];
            let mut todo = Vec::with_capacity(CHUNK);
            for_each_chunk(points, b, |i0, x_chunk, x_sq| {
                for ((st, view), moves) in states.iter_mut().zip(&views).zip(&mut moves) {
                    todo.clear();
                    for i in 0..x_chunk.rows() {
                        let p = i0 + i;
                        let keep = st.labels[p] != UNASSIGNED
                            && st.upper[p] <= view.half_gap[st.labels[p]].max(st.lower[p]);
                        if !keep {
                            todo.push(i);
                        }
                    }
                    if todo.is_empty() {
                        continue;
                    }
                    let rows = if todo.len() == x_chunk.rows() {
                        x_chunk
                    } else {
                        gathered.clear();
                        for &i in &todo {
                            gathered.extend_from_slice(x_chunk.row(i));
                        }
                        MatRef::from_slice(&gathered, todo.len(), d)
                    };
                    let k = view.centres.k();
                    view.centres.scores(rows, &mut scores);
                    for (row, &i) in scores.chunks_exact(k).zip(&todo) {
                        let p = i0 + i;
                        let (j, first, second) = two_nearest(row);
                        let xx = x_sq[i] as f64;
                        let slack = rounding * (xx + view.max_sq_norm);
                        st.upper[p] = (xx + first as f64 + slack).max(0.0).sqrt();
                        st.lower[p] = (xx + second as f64 - slack).max(0.0).sqrt();
                        let old = st.labels[p];
                        if old != j {
                            st.labels[p] = j;
                            moves.push((b * BLOCK + p, old, j));
                        }
                    }
                }
            });
            moves
        })
        .collect()
}

/// The index of the smallest score (the first on ties), the smallest and the second
/// smallest (infinite when there is one score).
fn two_nearest(scores: &[f32]) -> (usize, f32, f32) {
    let (mut j, mut first, mut second) = (0, scores[0], f32::INFINITY);
    for (c, &s) in scores.iter().enumerate().skip(1) {
        if s < first {
            second = first;
            first = s;
            j = c;
        } else if s < second {
            second = s;
        }
    }
    (j, first, second)
}

/// Half the distance from each centre to its nearest other centre, (k,), slightly shrunk
/// so that rounding in the square root never overstates it.
fn half_gaps(centres: &Matrix) -> Vec<f64> {
    let k = centres.rows();
    (0..k)
        .map(|j| {
            let nearest = (0..k)
                .filter(|&o| o != j)
                .map(|o| exact_sq_distance(centres.row(j), centres.row(o)))
                .fold(f64::INFINITY, f64::min);
            0.5 * nearest.sqrt() * (1.0 - 1e-12)
        })
        .collect()
}

/// After the centres move from `old` to `new`: u grows by its own centre's move, l shrinks
/// by the largest move among the other centres.
fn widen_bounds(
    old: &Matrix,
    new: &Matrix,
    labels: &[usize],
    upper: &mut [f64],
    lower: &mut [f64],
) {
    let delta: Vec<f64> = old
        .iter_rows()
        .zip(new.iter_rows())
        .map(|(a, b)| exact_sq_distance(a, b).sqrt() * (1.0 + 1e-12))
        .collect();
    // The largest move, its centre, and the second largest.
    let (mut top, mut top_j, mut next) = (0.0f64, usize::MAX, 0.0f64);
    for (j, &dj) in delta.iter().enumerate() {
        if dj > top {
            next = top;
            top = dj;
            top_j = j;
        } else if dj > next {
            next = dj;
        }
    }
    for ((&label, u), l) in labels.iter().zip(upper).zip(lower) {
        *u += delta[label];
        *l -= if label == top_j { next } else { top };
    }
}

/// Moves the changed points between the cluster sums: the M-step's work is proportional to
/// the points that changed cluster (all of them only on the first iteration).
fn move_points(points: &Points<'_>, run: &mut Run, moves: &[Move]) {
    let d = points.x.cols();
    for &(i, from, to) in moves {
        let x = points.x.row(i);
        let xx: f64 = x.iter().map(|&v| v as f64 * v as f64).sum();
        if from != UNASSIGNED {
            for (s, &v) in run.sums[from * d..(from + 1) * d].iter_mut().zip(x) {
                *s -= v as f64;
            }
            run.sq_sums[from] -= xx;
            run.counts[from] -= 1;
        }
        for (s, &v) in run.sums[to * d..(to + 1) * d].iter_mut().zip(x) {
            *s += v as f64;
        }
        run.sq_sums[to] += xx;
        run.counts[to] += 1;
    }
}

/// The inertia of the run's labels against its current centres, from the cluster sums:
/// sum_j (sum_{i in j} ||x_i||^2 - 2 c_j . S_j + n_j ||c_j||^2), all in f64.
fn inertia_from_sums(run: &Run) -> f64 {
    let d = run.centres.cols();
    let total: f64 = run
        .centres
        .iter_rows()
        .enumerate()
        .map(|(j, c)| {
            let s = &run.sums[j * d..(j + 1) * d];
            let cs: f64 = c.iter().zip(s).map(|(&c, &s)| c as f64 * s).sum();
            let cc: f64 = c.iter().map(|&c| c as f64 * c as f64).sum();
            run.sq_sums[j] - 2.0 * cs + run.counts[j] as f64 * cc
        })
        .sum();
    // Cancellation can leave a tiny negative for a perfect fit.
    total.max(0.0)
}

/// The M-step: each centre moves to the mean of its points (sums (k, D) / counts). An
/// empty cluster first takes the point farthest from its own centre (farthest first, as
/// scikit-learn's `_relocate_empty_clusters`); that point leaves its old cluster's sum, and
/// its label follows so that the sums stay those of the labels.
fn new_centres(
    points: &Points<'_>,
    labels: &mut [usize],
    old: &Matrix,
    sums: &mut [f64],
    sq_sums: &mut [f64],
    counts: &mut [u64],
) -> (Matrix, Vec<usize>) {
    let (k, d) = old.shape();
    let empty: Vec<usize> = (0..k).filter(|&j| counts[j] == 0).collect();
    let mut relocated = Vec::new();
    if !empty.is_empty() {
        // Rare, so the exact distances are computed only here.
        let far = farthest_points(points, old, labels, empty.len());
        for (&e, &p) in empty.iter().zip(&far) {
            let from = labels[p];
            for (dim, &v) in points.x.row(p).iter().enumerate() {
                sums[from * d + dim] -= v as f64;
                sums[e * d + dim] = v as f64;
            }
            let xx: f64 = points.x.row(p).iter().map(|&v| v as f64 * v as f64).sum();
            sq_sums[from] -= xx;
            sq_sums[e] = xx;
            counts[from] -= 1;
            counts[e] = 1;
            labels[p] = e;
            relocated.push(p);
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
    (centres, relocated)
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
        let mut labels = [0, 0, 0];
        let (mut sums, mut counts) = (vec![11.0, 0.0], vec![3, 0]);
        let (new, _) = new_centres(
            &points,
            &mut labels,
            &old,
            &mut sums,
            &mut vec![0.0; old.rows()],
            &mut counts,
        );
        assert_eq!(new.as_slice(), &[0.5, 10.0]);
        assert_eq!(
            (labels, sums, counts),
            ([0, 0, 1], vec![1.0, 10.0], vec![2, 1])
        );
        // Two empty clusters take the two farthest points, farthest first.
        let old = Matrix::from_vec(3, 1, vec![1.0, 100.0, 200.0]);
        let mut labels = [0, 0, 0];
        let (mut sums, mut counts) = (vec![11.0, 0.0, 0.0], vec![3, 0, 0]);
        let (new, _) = new_centres(
            &points,
            &mut labels,
            &old,
            &mut sums,
            &mut vec![0.0; old.rows()],
            &mut counts,
        );
        assert_eq!(new.as_slice(), &[1.0, 10.0, 0.0]);
        assert_eq!(labels, [2, 0, 1]);
    }

    /// Plain Lloyd in f64 with exact distances and full recomputation, the way the
    /// algorithm is written in textbooks: the reference for the bounded, incremental one.
    fn reference_lloyd(
        x: &Matrix,
        seeds: &Matrix,
        max_iter: usize,
        tol: f64,
    ) -> (Matrix, Vec<usize>, usize) {
        let (k, d) = seeds.shape();
        let mut c = seeds.clone();
        let nearest_exact = |c: &Matrix, i: usize| {
            (0..k)
                .map(|j| (exact_sq_distance(x.row(i), c.row(j)), j))
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
                .unwrap()
                .1
        };
        let mut labels = vec![UNASSIGNED; x.rows()];
        let mut iters = 0;
        let mut stable = false;
        while iters < max_iter {
            iters += 1;
            let new: Vec<usize> = (0..x.rows()).map(|i| nearest_exact(&c, i)).collect();
            let changed = new != labels;
            labels = new;
            let mut sums = vec![0.0f64; k * d];
            let mut counts = vec![0u64; k];
            for (i, &l) in labels.iter().enumerate() {
                counts[l] += 1;
                for (s, &v) in sums[l * d..(l + 1) * d].iter_mut().zip(x.row(i)) {
                    *s += v as f64;
                }
            }
            assert!(
                counts.iter().all(|&n| n > 0),
                "the reference does not relocate"
            );
            let moved = Matrix::from_fn(k, d, |j, m| (sums[j * d + m] / counts[j] as f64) as f32);
            let shift = squared_shift(&c, &moved);
            c = moved;
            if !changed {
                stable = true;
                break;
            }
            if shift <= tol {
                break;
            }
        }
        if !stable {
            labels = (0..x.rows()).map(|i| nearest_exact(&c, i)).collect();
        }
        (c, labels, iters)
    }

    /// The lockstep, bounded, incremental Lloyd gives plain Lloyd's labels, centres and
    /// iteration counts for every restart (continuous random data: no ties).
    #[test]
    fn bounded_lloyd_matches_plain_lloyd() {
        let mut rng = StdRng::seed_from_u64(11);
        // Overlapping blobs, so that labels keep changing for many iterations.
        let x = Matrix::from_fn(3000, 5, |i, j| {
            ((i % 7) * (j + 1)) as f32 * 0.3 + rng.random::<f32>() * 2.0
        });
        let points = Points::new(x.view());
        let tol = 1e-4 * mean_variance(x.view());
        let mut rngs: Vec<StdRng> = (0..4)
            .map(|r| StdRng::seed_from_u64(restart_seed(3, r)))
            .collect();
        let seeds = kmeans_plus_plus(&points, 7, &mut rngs);
        let runs = lloyd(&points, seeds.clone(), 300, tol);
        for (run, seeds) in runs.iter().zip(&seeds) {
            let (c, labels, iters) = reference_lloyd(&x, seeds, 300, tol);
            assert!(iters > 5, "too easy a test: {iters} iterations");
            assert_eq!(run.n_iter, iters);
            assert_eq!(run.labels, labels);
            for (a, b) in run.centroids.as_slice().iter().zip(c.as_slice()) {
                assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
            }
            assert!(
                (run.inertia - exact_inertia(&points, &run.centroids, &run.labels)).abs()
                    < 1e-6 * run.inertia
            );
        }
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
