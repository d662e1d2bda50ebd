//! Greedy k-means++ seeding (Arthur & Vassilvitskii 2007; scikit-learn's greedy variant):
//! the first centre is a point drawn uniformly; each next centre is drawn among
//! `2 + floor(ln k)` candidates sampled with probability proportional to D(x)^2, the squared
//! distance to the nearest centre so far, keeping the candidate that lowers the potential
//! sum D(x)^2 the most.

use rand::Rng;
use rand::rngs::StdRng;
use rayon::prelude::*;

use crate::linalg::{Matrix, argmin};

use super::distances::{Points, sq_distances_to_rows};

/// Greedy k-means++ for every restart at once: returns one (k, D) matrix of seeds (rows of
/// x) per RNG. Each restart draws from its own RNG exactly as if alone; only the distance
/// computations are shared, one GEMM for all restarts' candidates.
pub(super) fn kmeans_plus_plus(points: &Points<'_>, k: usize, rngs: &mut [StdRng]) -> Vec<Matrix> {
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
                let potentials = (0..trials).map(|t| {
                    let col = r * trials + t;
                    closest
                        .iter()
                        .enumerate()
                        .map(|(i, &dd)| dd.min(dist[i * width + col] as f64))
                        .sum::<f64>()
                });
                let (t, pot) = argmin(potentials).unwrap_or((0, f64::INFINITY));
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
