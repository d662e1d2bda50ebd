//! The aarch64 NEON micro-kernel: an 8 x 8 tile of C in 16 `q` (4-lane) accumulators.
//!
//! Each step of the shared dimension loads one row of the B~ panel (8 floats, two `q`),
//! broadcasts each of the 8 values of the A~ panel's column and issues 16 FMAs (`fmla`).
//! 16 accumulators + 2 B + 1 broadcast use 19 of the 32 NEON registers.

use std::arch::aarch64::*;

pub(super) const MR: usize = super::NEON_MR;
pub(super) const NR: usize = super::NEON_NR;
/// `q` vectors per row of the tile.
const NV: usize = NR / 4;

/// See `kernel::microkernel` for the contract.
///
/// # Safety
/// The CPU must have neon; `a` must hold `kc * MR` floats, `b` `kc * NR`, and
/// `c[i * rs_c + j]` must be writable for `i < m <= MR`, `j < n <= NR`.
#[target_feature(enable = "neon")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn microkernel(
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
    // SAFETY: forwarded from this function's contract.
    unsafe { microkernel_body(kc, alpha, a, b, beta, c, rs_c, m, n) }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn microkernel_body(
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
    // SAFETY: all loads stay within the kc * MR and kc * NR panels, all stores within the
    // m x n tile of C (the caller's contract); neon from the wrapper's caller.
    unsafe {
        let mut acc = [[vdupq_n_f32(0.0); NV]; MR];
        for p in 0..kc {
            let bp = b.add(p * NR);
            let bv = [vld1q_f32(bp), vld1q_f32(bp.add(4))];
            let ap = a.add(p * MR);
            for (i, acc_i) in acc.iter_mut().enumerate() {
                let ai = vdupq_n_f32(*ap.add(i));
                for (acc_iv, bvv) in acc_i.iter_mut().zip(bv) {
                    // acc + ai * b, fused.
                    *acc_iv = vfmaq_f32(*acc_iv, ai, bvv);
                }
            }
        }

        // Always through a spilled tile: simple, and the write-back is a small part of the
        // work when kc is large.
        let mut tile = [[0.0f32; NR]; MR];
        for (row, acc_i) in tile.iter_mut().zip(&acc) {
            for (v, acc_iv) in acc_i.iter().enumerate() {
                vst1q_f32(row.as_mut_ptr().add(4 * v), *acc_iv);
            }
        }
        for (i, row) in tile.iter().enumerate().take(m) {
            let ci = c.add(i * rs_c);
            for (j, &ab) in row.iter().enumerate().take(n) {
                let cij = ci.add(j);
                *cij = if beta == 0.0 {
                    alpha * ab
                } else {
                    beta.mul_add(*cij, alpha * ab)
                };
            }
        }
    }
}
