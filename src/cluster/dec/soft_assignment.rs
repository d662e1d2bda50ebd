//! DEC's clustering layer (Xie, Girshick, Farhadi 2016, section 3.1): the Student's t
//! soft assignment q of embeddings z to centres mu, the sharpened target distribution p,
//! and the gradients of KL(P || Q) with respect to z and mu.
//!
//! Notation: z is (B, D) (a batch of embeddings), mu is (K, D) (the cluster centres),
//! q and p are (B, K). alpha is the Student's t degrees of freedom (1 in the paper).
//! K and D are small (10 and 10 for MNIST), so the distances are plain loops.

use crate::linalg::{MatMut, MatRef, Matrix};

/// ||a - b||^2.
fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(&x, &y)| (x - y) * (x - y)).sum()
}

#[track_caller]
fn check_shapes(b: usize, k: usize, z: &MatRef<'_>, mu: &MatRef<'_>, what: &str) {
    assert!(
        z.rows() == b && mu.rows() == k && z.cols() == mu.cols(),
        "{what}: q/p is ({b}, {k}), z is {:?}, mu is {:?}",
        z.shape(),
        mu.shape()
    );
}

/// Sets every entry of m to 0 (row by row: m may be a strided view).
fn zero_rows(m: &mut MatMut<'_>) {
    for i in 0..m.rows() {
        m.row_mut(i).fill(0.0);
    }
}

/// q_ij = (1 + ||z_i - mu_j||^2 / alpha)^(-(alpha+1)/2) / sum_j' (same for j')  (eq. 1).
/// q is (B, K), z is (B, D), mu is (K, D).
#[track_caller]
pub fn soft_assignment_forward<'a, 'b, 'c>(
    q: impl Into<MatMut<'a>>,
    z: impl Into<MatRef<'b>>,
    mu: impl Into<MatRef<'c>>,
    alpha: f32,
) {
    let (mut q, z, mu) = (q.into(), z.into(), mu.into());
    check_shapes(q.rows(), q.cols(), &z, &mu, "soft_assignment_forward");
    let exponent = -(alpha + 1.0) / 2.0;
    for i in 0..z.rows() {
        let zi = z.row(i);
        let qi = q.row_mut(i);
        let mut sum = 0.0f32;
        for (j, qij) in qi.iter_mut().enumerate() {
            // The unnormalised Student's t kernel is at most 1, so the sum cannot overflow.
            *qij = (1.0 + squared_distance(zi, mu.row(j)) / alpha).powf(exponent);
            sum += *qij;
        }
        for qij in qi.iter_mut() {
            *qij /= sum;
        }
    }
}

/// Given dL/dq, sets `dz` to dL/dz and `dmu` to dL/dmu (any loss of q, not only KL),
/// overwriting both.
/// dz is (B, D), dmu is (K, D), dq and q are (B, K), z is (B, D), mu is (K, D).
///
/// With d_ij = ||z_i - mu_j||^2, u_ij = 1 + d_ij / alpha and s_ij = u_ij^(-(alpha+1)/2):
/// the normalisation q_ij = s_ij / sum_j' s_ij' gives dL/ds_ij = (dq_ij - sum_j' dq_ij' q_ij') / S_i,
/// the kernel gives ds_ij/dd_ij = -(alpha+1)/(2 alpha) s_ij / u_ij, and
/// dd_ij/dz_i = 2 (z_i - mu_j) = -dd_ij/dmu_j.
#[track_caller]
pub fn soft_assignment_backward<'a, 'b, 'c, 'd, 'e, 'f>(
    dz: impl Into<MatMut<'a>>,
    dmu: impl Into<MatMut<'b>>,
    dq: impl Into<MatRef<'c>>,
    q: impl Into<MatRef<'d>>,
    z: impl Into<MatRef<'e>>,
    mu: impl Into<MatRef<'f>>,
    alpha: f32,
) {
    let (mut dz, mut dmu, dq, q, z, mu) = (
        dz.into(),
        dmu.into(),
        dq.into(),
        q.into(),
        z.into(),
        mu.into(),
    );
    check_shapes(q.rows(), q.cols(), &z, &mu, "soft_assignment_backward");
    assert!(
        dq.shape() == q.shape() && dz.shape() == z.shape() && dmu.shape() == mu.shape(),
        "soft_assignment_backward: gradient shapes"
    );
    // Overwrite, as every backward does: zero, then sum the terms of each i and j.
    zero_rows(&mut dz);
    zero_rows(&mut dmu);
    let c = -(alpha + 1.0) / alpha;
    for i in 0..z.rows() {
        let (zi, qi, dqi) = (z.row(i), q.row(i), dq.row(i));
        // forward: q_ij = s_ij / sum_j' s_ij'
        let dot: f32 = dqi.iter().zip(qi).map(|(&g, &q)| g * q).sum();
        for j in 0..mu.rows() {
            let muj = mu.row(j);
            // forward: s_ij = (1 + d_ij / alpha)^(-(alpha+1)/2)
            let u = 1.0 + squared_distance(zi, muj) / alpha;
            // g = 2 dL/dd_ij
            let g = c * qi[j] * (dqi[j] - dot) / u;
            let dzi = dz.row_mut(i);
            for (d, (&zv, &mv)) in dzi.iter_mut().zip(zi.iter().zip(muj)) {
                *d += g * (zv - mv);
            }
            let dmuj = dmu.row_mut(j);
            for (d, (&zv, &mv)) in dmuj.iter_mut().zip(zi.iter().zip(muj)) {
                *d -= g * (zv - mv);
            }
        }
    }
}

/// The target distribution (eq. 3): p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j'), with
/// the soft cluster frequencies f_j = sum_i q_ij. Squaring sharpens confident assignments;
/// dividing by f_j keeps large clusters from swallowing the rest. q and p are (N, K), over
/// the whole fit set.
pub fn target_distribution<'a>(q: impl Into<MatRef<'a>>) -> Matrix {
    let q = q.into();
    let (n, k) = q.shape();
    let mut f = vec![0.0f64; k];
    for i in 0..n {
        for (fj, &qij) in f.iter_mut().zip(q.row(i)) {
            *fj += qij as f64;
        }
    }
    let mut p = Matrix::zeros(n, k);
    for i in 0..n {
        let pi = p.row_mut(i);
        let mut sum = 0.0f64;
        for ((pij, &qij), &fj) in pi.iter_mut().zip(q.row(i)).zip(&f) {
            let w = qij as f64 * qij as f64 / fj;
            *pij = w as f32;
            sum += w;
        }
        for pij in pi.iter_mut() {
            *pij = (*pij as f64 / sum) as f32;
        }
    }
    p
}

/// DEC's loss gradient in closed form (eqs. 4 and 5), for L = KL(P || Q) averaged over the
/// batch as Keras's `kld` does (hence the 1/B the paper's per-sum formulas lack):
///   dL/dz_i  =  (alpha+1)/alpha / B * sum_j u_ij^-1 (p_ij - q_ij)(z_i - mu_j)
///   dL/dmu_j = -(alpha+1)/alpha / B * sum_i u_ij^-1 (p_ij - q_ij)(z_i - mu_j)
/// with u_ij = 1 + ||z_i - mu_j||^2 / alpha. Overwrites dz (B, D) and dmu (K, D); p and q
/// are (B, K) and each row of p must sum to 1 (true of `target_distribution`'s rows).
/// It equals `kl_divergence_backward` followed by `soft_assignment_backward`.
#[track_caller]
pub fn dec_loss_backward<'a, 'b, 'c, 'd, 'e, 'f>(
    dz: impl Into<MatMut<'a>>,
    dmu: impl Into<MatMut<'b>>,
    p: impl Into<MatRef<'c>>,
    q: impl Into<MatRef<'d>>,
    z: impl Into<MatRef<'e>>,
    mu: impl Into<MatRef<'f>>,
    alpha: f32,
) {
    let (mut dz, mut dmu, p, q, z, mu) = (
        dz.into(),
        dmu.into(),
        p.into(),
        q.into(),
        z.into(),
        mu.into(),
    );
    check_shapes(q.rows(), q.cols(), &z, &mu, "dec_loss_backward");
    assert!(
        p.shape() == q.shape() && dz.shape() == z.shape() && dmu.shape() == mu.shape(),
        "dec_loss_backward: shapes"
    );
    // Overwrite, as every backward does: zero, then sum the terms of each i and j.
    zero_rows(&mut dz);
    zero_rows(&mut dmu);
    let c = (alpha + 1.0) / alpha / z.rows() as f32;
    for i in 0..z.rows() {
        let (zi, pi, qi) = (z.row(i), p.row(i), q.row(i));
        for j in 0..mu.rows() {
            let muj = mu.row(j);
            let u = 1.0 + squared_distance(zi, muj) / alpha;
            let g = c * (pi[j] - qi[j]) / u;
            let dzi = dz.row_mut(i);
            for (d, (&zv, &mv)) in dzi.iter_mut().zip(zi.iter().zip(muj)) {
                *d += g * (zv - mv);
            }
            let dmuj = dmu.row_mut(j);
            for (d, (&zv, &mv)) in dmuj.iter_mut().zip(zi.iter().zip(muj)) {
                *d -= g * (zv - mv);
            }
        }
    }
}
