//! The contingency table: how many points of each class fell in each cluster.
//! Every metric in this module is a function of this table alone.

use crate::{Error, Result};

/// counts is (classes, clusters): `counts[i * clusters + j]` points have the i-th distinct
/// truth label and the j-th distinct predicted label (distinct labels in increasing order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contingency {
    pub classes: usize,
    pub clusters: usize,
    pub counts: Vec<u64>,
    /// Points per class, (classes,).
    pub class_sizes: Vec<u64>,
    /// Points per cluster, (clusters,).
    pub cluster_sizes: Vec<u64>,
    /// The number of points.
    pub n: u64,
}

impl Contingency {
    /// Builds the table; empty labelings or labelings of different lengths are errors.
    pub fn new(truth: &[usize], pred: &[usize]) -> Result<Self> {
        if truth.is_empty() || pred.is_empty() {
            return Err(Error::invalid("labels", "cannot score an empty labeling"));
        }
        if truth.len() != pred.len() {
            return Err(Error::invalid(
                "labels",
                format!(
                    "{} true labels but {} predicted labels",
                    truth.len(),
                    pred.len()
                ),
            ));
        }
        let (class_of, classes) = dense_codes(truth);
        let (cluster_of, clusters) = dense_codes(pred);
        let mut counts = vec![0u64; classes * clusters];
        let mut class_sizes = vec![0u64; classes];
        let mut cluster_sizes = vec![0u64; clusters];
        for (&i, &j) in class_of.iter().zip(&cluster_of) {
            counts[i * clusters + j] += 1;
            class_sizes[i] += 1;
            cluster_sizes[j] += 1;
        }
        Ok(Contingency {
            classes,
            clusters,
            counts,
            class_sizes,
            cluster_sizes,
            n: truth.len() as u64,
        })
    }

    /// Points of class i in cluster j.
    pub fn at(&self, i: usize, j: usize) -> u64 {
        self.counts[i * self.clusters + j]
    }
}

/// Renames arbitrary labels to 0..distinct in increasing order of value; returns the codes
/// and the number of distinct labels.
fn dense_codes(labels: &[usize]) -> (Vec<usize>, usize) {
    let mut distinct = labels.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let codes = labels
        .iter()
        .map(|l| {
            distinct
                .binary_search(l)
                .expect("every label is among the distinct ones")
        })
        .collect();
    (codes, distinct.len())
}
