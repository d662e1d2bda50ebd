//! The contingency table: how many points of each class fell in each cluster.
//! Every metric in this module is a function of this table alone.
//!
//! The table is kept sparse, as its non-zero cells only: n points fill at most n cells,
//! whereas a dense table of 100,000 classes by 100,000 clusters would need 80 GB. NMI and
//! ARI sum over the non-zero cells alone (a zero cell adds 0 ln 0 = 0 and 0^2 = 0), in the
//! same row-major order a dense table would visit them.

use crate::{Error, Result};

/// One non-zero cell: `count` points have the `class`-th distinct truth label and the
/// `cluster`-th distinct predicted label (distinct labels numbered in increasing order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    pub class: usize,
    pub cluster: usize,
    pub count: u64,
}

/// The contingency table of two labelings, as its non-zero cells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contingency {
    pub classes: usize,
    pub clusters: usize,
    /// The non-zero cells, sorted by (class, cluster): row-major order.
    pub cells: Vec<Cell>,
    /// Points per class, (classes,).
    pub class_sizes: Vec<u64>,
    /// Points per cluster, (clusters,).
    pub cluster_sizes: Vec<u64>,
    /// The number of points.
    pub n: u64,
}

impl Contingency {
    /// Builds the table in O(n log n) time and O(n) memory; empty labelings or labelings of
    /// different lengths are errors.
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
        let mut class_sizes = vec![0u64; classes];
        let mut cluster_sizes = vec![0u64; clusters];
        // pairs is (n,): each point's (class, cluster), sorted so equal pairs are adjacent.
        let mut pairs: Vec<(usize, usize)> = class_of.into_iter().zip(cluster_of).collect();
        pairs.sort_unstable();
        let mut cells: Vec<Cell> = Vec::new();
        for &(class, cluster) in &pairs {
            class_sizes[class] += 1;
            cluster_sizes[cluster] += 1;
            match cells.last_mut() {
                Some(c) if c.class == class && c.cluster == cluster => c.count += 1,
                _ => cells.push(Cell {
                    class,
                    cluster,
                    count: 1,
                }),
            }
        }
        Ok(Contingency {
            classes,
            clusters,
            cells,
            class_sizes,
            cluster_sizes,
            n: truth.len() as u64,
        })
    }

    /// Points of class i in cluster j (0 for a cell that is not stored).
    pub fn at(&self, i: usize, j: usize) -> u64 {
        self.cells
            .binary_search_by(|c| (c.class, c.cluster).cmp(&(i, j)))
            .map_or(0, |k| self.cells[k].count)
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
