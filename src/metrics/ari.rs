//! The adjusted Rand index, as scikit-learn's `adjusted_rand_score`.
//!
//! Count ordered pairs of distinct points: tp = pairs together in both labelings, fp =
//! together in pred only, fn = together in truth only, tn = apart in both. Then
//!   ARI = 2 (tp tn - fn fp) / ((tp + fn)(fn + tn) + (tp + fp)(fp + tn)),
//! 1 for identical partitions, about 0 for independent ones, negative below chance.

use super::contingency::Contingency;
use crate::Result;

/// ARI of `pred` against `truth`, in [-0.5, 1]; symmetric in its two arguments.
///
/// Special case (scikit-learn's): when no pair is split differently by the two labelings
/// (fn = fp = 0: a single point, both constant, or both all singletons) the score is 1.0.
pub fn ari(truth: &[usize], pred: &[usize]) -> Result<f64> {
    Ok(ari_of(&Contingency::new(truth, pred)?))
}

pub(crate) fn ari_of(t: &Contingency) -> f64 {
    // Products of pair counts reach n^4 (2.4e19 for 70,000 points), past i64: use i128.
    let n = t.n as i128;
    let sum_sq = |v: &[u64]| v.iter().map(|&c| (c as i128) * (c as i128)).sum::<i128>();
    let cells: i128 = t
        .cells
        .iter()
        .map(|c| (c.count as i128) * (c.count as i128))
        .sum();
    let classes = sum_sq(&t.class_sizes);
    let clusters = sum_sq(&t.cluster_sizes);
    let tp = cells - n;
    let fp = clusters - cells;
    let fn_ = classes - cells;
    let tn = n * n - tp - fp - fn_ - n;
    if fn_ == 0 && fp == 0 {
        return 1.0;
    }
    let num = 2 * (tp * tn - fn_ * fp);
    let den = (tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn);
    num as f64 / den as f64
}
