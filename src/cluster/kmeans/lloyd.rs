//! Lloyd's iterations (E-step, then M-step) for all restarts in lockstep, and the M-step:
//! the f64 cluster sums kept up to date by moving only the points that changed cluster,
//! the new centres as their means, and the relocation of empty clusters. The E-step with
//! Hamerly's bounds is in `hamerly.rs`.

use rayon::prelude::*;

use crate::linalg::Matrix;

use super::KMeans;
use super::distances::{Points, exact_sq_distance};
use super::hamerly::{assign, widen_bounds};

/// What a run still needs from the next pass over the points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// A Lloyd iteration: E-step, then the M-step from the updated cluster sums.
    Iterate,
    /// The last M-step moved the centres after the labels were drawn: one E-step more so
    /// that labels and centres agree (scikit-learn's final `update_centers=False` pass).
    FinalAssign,
    /// Finished.
    Done,
}

/// One restart's Lloyd state.
pub(super) struct Run {
    /// centres is (k, D).
    pub(super) centres: Matrix,
    /// The cluster whose sum holds each point, (N,): the last E-step's label, except for a
    /// point an empty cluster just took over (see `new_centres`).
    pub(super) labels: Vec<usize>,
    /// upper is (N,): an upper bound on each point's distance to its own centre (Hamerly).
    pub(super) upper: Vec<f64>,
    /// lower is (N,): a lower bound on each point's distance to every other centre.
    pub(super) lower: Vec<f64>,
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
pub(super) const UNASSIGNED: usize = usize::MAX;

/// A label change: (point, old label, new label).
pub(super) type Move = (usize, usize, usize);

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
///
/// `stop` is asked before every iteration; when it says yes, the runs are abandoned and
/// the result is None (a stop request, Ctrl-C). Asking changes nothing else.
pub(super) fn lloyd(
    points: &Points<'_>,
    seeds: Vec<Matrix>,
    max_iter: usize,
    tol: f64,
    stop: &dyn Fn() -> bool,
) -> Option<Vec<KMeans>> {
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
        if stop() {
            return None;
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
    let fitted = runs
        .into_par_iter()
        .map(|run| KMeans {
            inertia: inertia_from_sums(&run),
            centroids: run.centres,
            labels: run.labels,
            n_iter: run.n_iter,
            inertia_history: run.history,
        })
        .collect();
    Some(fitted)
}

/// Moves the changed points between the cluster sums: the M-step's work is proportional to
/// the points that changed cluster (all of them only on the first iteration).
pub(super) fn move_points(points: &Points<'_>, run: &mut Run, moves: &[Move]) {
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
pub(super) fn inertia_from_sums(run: &Run) -> f64 {
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
pub(super) fn new_centres(
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
pub(super) fn farthest_points(
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

/// sum_j ||new_j - old_j||^2, compared with the tolerance.
pub(super) fn squared_shift(old: &Matrix, new: &Matrix) -> f64 {
    old.as_slice()
        .iter()
        .zip(new.as_slice())
        .map(|(&a, &b)| (a as f64 - b as f64) * (a as f64 - b as f64))
        .sum()
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::super::plus_plus::kmeans_plus_plus;
    use super::super::reference::reference_lloyd;
    use super::super::{mean_variance, restart_seed};
    use super::*;
    use crate::cluster::kmeans::distances::exact_inertia;

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

    /// The lockstep, bounded, incremental Lloyd gives the reference's (plain Lloyd's)
    /// labels, centres, iteration counts and inertia history for every restart (continuous
    /// random data: no ties). The last restart starts with one centre far from every point,
    /// so its cluster is empty after the first E-step and the relocation is compared too.
    #[test]
    fn bounded_lloyd_matches_the_reference() {
        let mut rng = StdRng::seed_from_u64(11);
        // Overlapping blobs, so that labels keep changing for many iterations.
        let x = Matrix::from_fn(3000, 5, |i, j| {
            ((i % 7) * (j + 1)) as f32 * 0.3 + rng.random::<f32>() * 2.0
        });
        let points = Points::new(x.view());
        let tol = 1e-4f32;
        let mut rngs: Vec<StdRng> = (0..4)
            .map(|r| StdRng::seed_from_u64(restart_seed(3, r)))
            .collect();
        let mut seeds = kmeans_plus_plus(&points, 7, &mut rngs);
        seeds[3].row_mut(6).fill(1000.0);
        let runs = lloyd(
            &points,
            seeds.clone(),
            300,
            tol as f64 * mean_variance(x.view()),
            &|| false,
        )
        .unwrap();
        for (run, seeds) in runs.iter().zip(&seeds) {
            let reference = reference_lloyd(x.view(), seeds, 300, tol);
            let iters = reference.n_iter;
            assert!(iters > 5, "too easy a test: {iters} iterations");
            assert_eq!(run.n_iter, iters);
            assert_eq!(run.labels, reference.labels);
            for (a, b) in run
                .centroids
                .as_slice()
                .iter()
                .zip(reference.centroids.as_slice())
            {
                assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
            }
            assert_eq!(run.inertia_history.len(), reference.inertia_history.len());
            for (a, b) in run.inertia_history.iter().zip(&reference.inertia_history) {
                assert!((a - b).abs() <= 1e-6 * b, "inertia history {a} vs {b}");
            }
            assert!(
                (run.inertia - exact_inertia(&points, &run.centroids, &run.labels)).abs()
                    < 1e-6 * run.inertia
            );
        }
        // The far seed's cluster did empty (else the relocation went untested).
        assert!(seeds[3].row(6).iter().all(|&v| v == 1000.0));
        assert!(runs[3].centroids.row(6).iter().all(|&v| v < 100.0));
    }
}
