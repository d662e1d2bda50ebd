//! Clustering accuracy: the fraction of points whose cluster is mapped to their class by
//! the best one-to-one map of clusters to classes (Xie et al. 2016, eq. 10 / the unsupervised
//! clustering accuracy of the DEC paper). The best map maximises the matched counts of the
//! contingency table, which the Hungarian algorithm finds in O(n^3).
//!
//! With more clusters than classes, the clusters left without a class count as wrong; with
//! more classes than clusters, so do the classes left without a cluster.
//!
//! Only non-zero cells can add to the matched count, so the problem splits into the
//! connected components of the bipartite graph whose edges are the non-zero cells (a class
//! and a cluster are joined when they share a point). Each component is solved on its own,
//! on a dense table of its classes by its clusters: 100,000 labels that pair up one to one
//! are 100,000 tables of one cell, where one dense table would need 80 GB. A component too
//! large for the O(r^2 c) search is refused with an error, never an abort.

use super::contingency::{Cell, Contingency};
use super::hungarian::hungarian;
use crate::{Error, Result};

/// The largest component (its classes x its clusters) that gets a dense optimal assignment:
/// 2^20 cells, 8 MiB of f64 costs. The search is cubic: a random 2,048 x 2,048 block took
/// 14 s of CPU here, so 1,024 x 1,024 is about 2 s.
pub const MAX_ASSIGNMENT_CELLS: usize = 1 << 20;

/// Accuracy of `pred` against `truth` in (0, 1].
///
/// Errors when a connected block of the contingency table exceeds [`MAX_ASSIGNMENT_CELLS`].
pub fn accuracy(truth: &[usize], pred: &[usize]) -> Result<f64> {
    accuracy_of(&Contingency::new(truth, pred)?)
}

pub(crate) fn accuracy_of(t: &Contingency) -> Result<f64> {
    let mut matched = 0u64;
    for block in components(t) {
        matched += best_matching(&block)?;
    }
    Ok(matched as f64 / t.n as f64)
}

/// The non-zero cells grouped by connected component of the class-cluster graph, each
/// group in row-major order; groups ordered by their first cell.
fn components(t: &Contingency) -> Vec<Vec<Cell>> {
    // Union-find over classes 0..classes and clusters classes..classes+clusters.
    let mut parent: Vec<usize> = (0..t.classes + t.clusters).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]]; // path halving
            x = parent[x];
        }
        x
    }
    for c in &t.cells {
        let a = root(&mut parent, c.class);
        let b = root(&mut parent, t.classes + c.cluster);
        if a != b {
            parent[a.max(b)] = a.min(b);
        }
    }
    let mut group_of_root = vec![usize::MAX; parent.len()];
    let mut groups: Vec<Vec<Cell>> = Vec::new();
    for &c in &t.cells {
        let r = root(&mut parent, c.class);
        if group_of_root[r] == usize::MAX {
            group_of_root[r] = groups.len();
            groups.push(Vec::new());
        }
        groups[group_of_root[r]].push(c);
    }
    groups
}

/// The largest total count of a one-to-one matching within one component.
fn best_matching(block: &[Cell]) -> Result<u64> {
    // Local numbering of the component's classes (rows) and clusters (columns).
    let mut rows: Vec<usize> = block.iter().map(|c| c.class).collect();
    rows.dedup(); // cells are row-major, so equal classes are adjacent
    let mut cols: Vec<usize> = block.iter().map(|c| c.cluster).collect();
    cols.sort_unstable();
    cols.dedup();
    if rows.len() == 1 || cols.len() == 1 {
        // One class or one cluster: the best matching is the single largest cell.
        return Ok(block.iter().map(|c| c.count).max().unwrap_or(0));
    }
    let cells = rows.len().saturating_mul(cols.len());
    if cells > MAX_ASSIGNMENT_CELLS {
        return Err(Error::invalid(
            "accuracy",
            format!(
                "{} classes and {} clusters are tied together by shared points: too many for \
                 the optimal one-to-one assignment (at most {MAX_ASSIGNMENT_CELLS} cells); \
                 NMI and ARI have no such limit",
                rows.len(),
                cols.len(),
            ),
        ));
    }
    // cost is (rows, cols): maximising matched counts = minimising their negatives.
    let mut cost = vec![0.0f64; cells];
    for c in block {
        let i = rows.binary_search(&c.class).expect("the block's own class");
        let j = cols
            .binary_search(&c.cluster)
            .expect("the block's own cluster");
        cost[i * cols.len() + j] = -(c.count as f64);
    }
    Ok(hungarian(&cost, rows.len(), cols.len())
        .into_iter()
        .map(|(i, j)| -cost[i * cols.len() + j] as u64)
        .sum())
}
