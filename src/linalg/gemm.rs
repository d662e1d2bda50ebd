//! GEMM: `C = alpha * op(A) * op(B) + beta * C`, the one routine every layer and every
//! K-Means assignment step runs on.
//!
//! op(X) is X or its transpose, chosen by `Transpose`; a transpose is never materialised,
//! the kernel reads the other way instead. Backpropagation needs all of A*B (forward),
//! A^T*B (weight gradient) and A*B^T (input gradient).
//!
//! Shapes: op(A) is (m, k), op(B) is (k, n), C is (m, n).
//!
//! BLAS semantics for beta: when `beta == 0`, C is overwritten and its old contents are
//! never read (so NaN or garbage in C does not leak into the result).

use super::matrix::{MatMut, MatRef};

/// Whether a GEMM operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transpose {
    /// op(X) = X.
    No,
    /// op(X) = X^T.
    Yes,
}

/// The shape of op(X) for a stored (rows, cols) X.
fn op_shape(x: &MatRef<'_>, t: Transpose) -> (usize, usize) {
    match t {
        Transpose::No => (x.rows(), x.cols()),
        Transpose::Yes => (x.cols(), x.rows()),
    }
}

/// Checks that op(A) (m, k), op(B) (k, n) and C (m, n) agree; returns (m, k, n).
#[track_caller]
pub(crate) fn check_shapes(
    a: &MatRef<'_>,
    op_a: Transpose,
    b: &MatRef<'_>,
    op_b: Transpose,
    c: &MatMut<'_>,
) -> (usize, usize, usize) {
    let (m, k) = op_shape(a, op_a);
    let (kb, n) = op_shape(b, op_b);
    assert!(
        k == kb && c.rows() == m && c.cols() == n,
        "gemm: op(A) is ({m}, {k}) [A {:?}, {op_a:?}], op(B) is ({kb}, {n}) [B {:?}, {op_b:?}], C is {:?}",
        a.shape(),
        b.shape(),
        c.shape()
    );
    (m, k, n)
}

/// `C = alpha * op(A) * op(B) + beta * C`.
#[track_caller]
pub fn gemm(
    alpha: f32,
    a: MatRef<'_>,
    op_a: Transpose,
    b: MatRef<'_>,
    op_b: Transpose,
    beta: f32,
    c: MatMut<'_>,
) {
    check_shapes(&a, op_a, &b, op_b, &c);
    gemm_naive(alpha, a, op_a, b, op_b, beta, c);
}

/// The reference: the textbook triple loop, summing over k in increasing order.
/// Kept as the oracle in tests and as the fallback every fast path must agree with.
#[track_caller]
pub fn gemm_naive(
    alpha: f32,
    a: MatRef<'_>,
    op_a: Transpose,
    b: MatRef<'_>,
    op_b: Transpose,
    beta: f32,
    mut c: MatMut<'_>,
) {
    let (m, k, n) = check_shapes(&a, op_a, &b, op_b, &c);
    let a_at = |i: usize, p: usize| match op_a {
        Transpose::No => a.at(i, p),
        Transpose::Yes => a.at(p, i),
    };
    let b_at = |p: usize, j: usize| match op_b {
        Transpose::No => b.at(p, j),
        Transpose::Yes => b.at(j, p),
    };
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0f32;
            for p in 0..k {
                acc += a_at(i, p) * b_at(p, j);
            }
            let old = if beta == 0.0 { 0.0 } else { beta * c.at(i, j) };
            *c.at_mut(i, j) = alpha * acc + old;
        }
    }
}
