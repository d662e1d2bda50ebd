//! Normalised mutual information, as scikit-learn's `normalized_mutual_info_score` with its
//! default `average_method="arithmetic"`:
//!
//! NMI = I(T; P) / ((H(T) + H(P)) / 2), natural logarithms, where for n points with n_ij of
//! class i in cluster j, a_i points in class i and b_j in cluster j,
//!   I(T; P) = sum_ij n_ij/n * ln(n * n_ij / (a_i * b_j)),   H(T) = -sum_i a_i/n * ln(a_i/n).

use super::contingency::Contingency;
use crate::Result;

/// NMI of `pred` against `truth`, in [0, 1]; symmetric in its two arguments.
///
/// Special cases (scikit-learn's): both labelings constant gives 1.0 (they agree perfectly),
/// zero mutual information gives 0.0 (including one constant labeling against a varied one).
pub fn nmi(truth: &[usize], pred: &[usize]) -> Result<f64> {
    Ok(nmi_of(&Contingency::new(truth, pred)?))
}

pub(crate) fn nmi_of(t: &Contingency) -> f64 {
    if t.classes == 1 && t.clusters == 1 {
        return 1.0;
    }
    let mi = mutual_information(t);
    if mi == 0.0 {
        return 0.0;
    }
    let h_truth = entropy(&t.class_sizes, t.n);
    let h_pred = entropy(&t.cluster_sizes, t.n);
    // scikit-learn guards the normaliser with machine epsilon; with mi > 0 both entropies
    // are positive, so this only matters for values at rounding level.
    let normaliser = ((h_truth + h_pred) / 2.0).max(f64::EPSILON);
    // Rounding can push a perfect match a hair above 1.
    (mi / normaliser).min(1.0)
}

/// I(T; P) in nats, clipped at 0 as scikit-learn does (rounding can make it slightly negative).
fn mutual_information(t: &Contingency) -> f64 {
    if t.classes == 1 || t.clusters == 1 {
        return 0.0;
    }
    let n = t.n as f64;
    let mut mi = 0.0;
    // Only non-zero cells: a zero cell adds 0 ln 0 = 0.
    for cell in &t.cells {
        let nij = cell.count as f64;
        let a = t.class_sizes[cell.class] as f64;
        let b = t.cluster_sizes[cell.cluster] as f64;
        let term = nij / n * (n * nij / (a * b)).ln();
        // Terms at rounding level are zeroed, as scikit-learn does.
        if term.abs() >= f64::EPSILON {
            mi += term;
        }
    }
    mi.max(0.0)
}

/// Entropy in nats of a labeling given its group sizes (summing to n).
fn entropy(sizes: &[u64], n: u64) -> f64 {
    let n = n as f64;
    -sizes
        .iter()
        .filter(|&&s| s > 0)
        .map(|&s| {
            let p = s as f64 / n;
            p * p.ln()
        })
        .sum::<f64>()
}
