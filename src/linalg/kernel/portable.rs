//! The portable micro-kernel: plain Rust, a 4 x 8 tile of C in 32 scalar accumulators.
//!
//! It runs on any CPU and is the fallback of the dispatch. The loops have constant bounds,
//! so the compiler unrolls them and may vectorise them with the baseline SIMD (SSE2 on
//! x86-64). It multiplies and adds separately: without a hardware FMA, `f32::mul_add` is a
//! slow library call.

use super::{Blocking, Kernel, MicroKernel};

/// Rows of the tile.
const MR: usize = 4;
/// Columns of the tile.
const NR: usize = 8;

/// The portable kernel family, see `MicroKernel`.
pub(crate) struct Portable;

impl MicroKernel for Portable {
    const KERNEL: Kernel = Kernel::Portable;
    const BLOCKING: Blocking = Blocking {
        mr: MR,
        nr: NR,
        mc: 64,
        kc: 256,
        nc: 4096,
    };

    unsafe fn tile(
        kc: usize,
        alpha: f32,
        a: *const f32,
        b: *const f32,
        beta: f32,
        c: *mut f32,
        rs_c: usize,
        m: usize,
        n: usize,
    ) {
        // SAFETY: the caller's contract: the pointers address these lengths.
        let (a, b, c) = unsafe {
            (
                std::slice::from_raw_parts(a, kc * MR),
                std::slice::from_raw_parts(b, kc * NR),
                std::slice::from_raw_parts_mut(c, (m - 1) * rs_c + n),
            )
        };
        microkernel(kc, alpha, a, b, beta, c, rs_c, m, n)
    }

    unsafe fn dot_rows(
        m: usize,
        n: usize,
        k: usize,
        alpha: f32,
        a: *const f32,
        rs_a: usize,
        bt: *const f32,
        beta: f32,
        c: *mut f32,
        rs_c: usize,
    ) {
        // SAFETY: the caller's contract: the pointers address these lengths.
        let (a, bt, c) = unsafe {
            (
                std::slice::from_raw_parts(a, (m - 1) * rs_a + k),
                std::slice::from_raw_parts(bt, n * k),
                std::slice::from_raw_parts_mut(c, (m - 1) * rs_c + n),
            )
        };
        dot_rows(m, n, k, alpha, a, rs_a, bt, beta, c, rs_c, |x, y, z| {
            x * y + z
        })
    }
}

/// See `kernel::microkernel` for the contract (the slices are already checked there).
#[allow(clippy::too_many_arguments)]
pub(super) fn microkernel(
    kc: usize,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
    rs_c: usize,
    m: usize,
    n: usize,
) {
    let mut acc = [[0.0f32; NR]; MR];
    for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)).take(kc) {
        for (acc_i, &ai) in acc.iter_mut().zip(ap) {
            for (acc_ij, &bj) in acc_i.iter_mut().zip(bp) {
                *acc_ij += ai * bj;
            }
        }
    }
    for (i, acc_i) in acc.iter().enumerate().take(m) {
        let ci = &mut c[i * rs_c..i * rs_c + n];
        for (cij, &ab) in ci.iter_mut().zip(acc_i) {
            *cij = if beta == 0.0 {
                alpha * ab
            } else {
                alpha * ab + beta * *cij
            };
        }
    }
}

/// Lanes of the skinny path's partial sums: 8 independent accumulators per dot product, the
/// same shape the SIMD kernels use, so the compiler can keep them in vector registers.
const LANES: usize = 8;

/// See `kernel::dot_rows` for the contract. `madd(x, y, z) = x * y + z`, fused or not.
#[allow(clippy::too_many_arguments)]
pub(super) fn dot_rows(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    rs_a: usize,
    bt: &[f32],
    beta: f32,
    c: &mut [f32],
    rs_c: usize,
    madd: impl Fn(f32, f32, f32) -> f32 + Copy,
) {
    let k8 = k / LANES * LANES;
    for i in 0..m {
        let ai = &a[i * rs_a..i * rs_a + k];
        for j in 0..n {
            let btj = &bt[j * k..(j + 1) * k];
            let mut acc = [0.0f32; LANES];
            for (x, y) in ai[..k8]
                .chunks_exact(LANES)
                .zip(btj[..k8].chunks_exact(LANES))
            {
                for l in 0..LANES {
                    acc[l] = madd(x[l], y[l], acc[l]);
                }
            }
            // Fixed-order reduction of the lanes, then the k % 8 tail.
            let mut dot =
                ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
            for (&x, &y) in ai[k8..].iter().zip(&btj[k8..]) {
                dot = madd(x, y, dot);
            }
            let cij = &mut c[i * rs_c + j];
            *cij = if beta == 0.0 {
                alpha * dot
            } else {
                alpha * dot + beta * *cij
            };
        }
    }
}
