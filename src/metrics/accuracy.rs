//! Clustering accuracy: the fraction of points whose cluster is mapped to their class by
//! the best one-to-one map of clusters to classes (Xie et al. 2016, eq. 10 / the unsupervised
//! clustering accuracy of the DEC paper). The best map maximises the matched counts of the
//! contingency table, which the Hungarian algorithm finds in O(n^3).
//!
//! With more clusters than classes, the clusters left without a class count as wrong; with
//! more classes than clusters, so do the classes left without a cluster.

use super::contingency::Contingency;
use super::hungarian::hungarian;
use crate::Result;

/// Accuracy of `pred` against `truth` in (0, 1].
pub fn accuracy(truth: &[usize], pred: &[usize]) -> Result<f64> {
    Ok(accuracy_of(&Contingency::new(truth, pred)?))
}

pub(crate) fn accuracy_of(t: &Contingency) -> f64 {
    // Maximising matched counts = minimising their negatives; cost is (classes, clusters).
    let cost: Vec<f64> = t.counts.iter().map(|&c| -(c as f64)).collect();
    let matched: u64 = hungarian(&cost, t.classes, t.clusters)
        .into_iter()
        .map(|(i, j)| t.at(i, j))
        .sum();
    matched as f64 / t.n as f64
}
