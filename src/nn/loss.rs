//! Losses: the autoencoder's mean squared error and DEC's KL divergence KL(P || Q).
//!
//! Both follow Keras: `mse` averages over every element of the batch, `kld` sums over the
//! clusters j and averages over the batch rows i. Sums are accumulated in f64, in a
//! fixed order, so a loss is deterministic and does not lose digits over 200,000 terms.

use rayon::prelude::*;

use crate::linalg::{MatMut, MatRef, rows_per_task};

#[track_caller]
fn same_shape(a: &MatRef<'_>, b: &MatRef<'_>, what: &str) {
    assert_eq!(a.shape(), b.shape(), "{what}: shapes differ");
}

/// L = 1/(B D) sum_ij (pred_ij - target_ij)^2. pred and target are (B, D).
///
/// The threads take fixed blocks of rows (`rows_per_task`); the blocks' sums are added in
/// block order, so the loss is the same for any thread count.
#[track_caller]
pub fn mse_forward<'a, 'b>(pred: impl Into<MatRef<'a>>, target: impl Into<MatRef<'b>>) -> f32 {
    let (pred, target) = (pred.into(), target.into());
    same_shape(&pred, &target, "mse_forward");
    let (rows, cols) = pred.shape();
    let per_task = rows_per_task(cols);
    let partial: Vec<f64> = (0..rows.div_ceil(per_task))
        .into_par_iter()
        .map(|t| {
            let mut sum = 0.0f64;
            for i in t * per_task..rows.min((t + 1) * per_task) {
                for (&p, &t) in pred.row(i).iter().zip(target.row(i)) {
                    let e = (p - t) as f64;
                    sum += e * e;
                }
            }
            sum
        })
        .collect();
    (partial.iter().sum::<f64>() / (rows * cols) as f64) as f32
}

/// dL/dpred = 2/(B D) (pred - target), overwriting dpred (its old values are never read).
/// dpred, pred and target are (B, D).
#[track_caller]
pub fn mse_backward<'a, 'b, 'c>(
    dpred: impl Into<MatMut<'a>>,
    pred: impl Into<MatRef<'b>>,
    target: impl Into<MatRef<'c>>,
) {
    let (dpred, pred, target) = (dpred.into(), pred.into(), target.into());
    same_shape(&pred, &target, "mse_backward");
    assert_eq!(dpred.shape(), pred.shape(), "mse_backward: dpred shape");
    let scale = 2.0 / (pred.rows() * pred.cols()) as f32;
    let per_task = rows_per_task(pred.cols());
    dpred
        .par_row_blocks(per_task)
        .enumerate()
        .for_each(|(t, mut block)| {
            for r in 0..block.rows() {
                let i = t * per_task + r;
                let d = block.row_mut(r);
                for ((d, &p), &t) in d.iter_mut().zip(pred.row(i)).zip(target.row(i)) {
                    *d = scale * (p - t);
                }
            }
        });
}

/// L = KL(P || Q) = 1/B sum_i sum_j p_ij log(p_ij / q_ij). p and q are (B, K).
/// A term with p_ij = 0 contributes 0 (the limit of p log p). Keras clips p and q to
/// [1e-7, 1] first; that only changes anything when an entry is exactly zero.
#[track_caller]
pub fn kl_divergence<'a, 'b>(p: impl Into<MatRef<'a>>, q: impl Into<MatRef<'b>>) -> f32 {
    let (p, q) = (p.into(), q.into());
    same_shape(&p, &q, "kl_divergence");
    let mut sum = 0.0f64;
    for i in 0..p.rows() {
        for (&pij, &qij) in p.row(i).iter().zip(q.row(i)) {
            if pij > 0.0 {
                sum += pij as f64 * (pij as f64 / qij as f64).ln();
            }
        }
    }
    (sum / p.rows() as f64) as f32
}

/// dq = dL/dq = -p / (B q), overwriting dq, holding P fixed (DEC recomputes P only between updates).
/// dq, p and q are (B, K).
#[track_caller]
pub fn kl_divergence_backward<'a, 'b, 'c>(
    dq: impl Into<MatMut<'a>>,
    p: impl Into<MatRef<'b>>,
    q: impl Into<MatRef<'c>>,
) {
    let (mut dq, p, q) = (dq.into(), p.into(), q.into());
    same_shape(&p, &q, "kl_divergence_backward");
    assert_eq!(dq.shape(), q.shape(), "kl_divergence_backward: dq shape");
    // forward: L = 1/B sum p log p - p log q
    let inv_b = 1.0 / p.rows() as f32;
    for i in 0..p.rows() {
        let d = dq.row_mut(i);
        d.fill(0.0);
        for ((d, &pij), &qij) in d.iter_mut().zip(p.row(i)).zip(q.row(i)) {
            *d -= inv_b * pij / qij;
        }
    }
}
