//! The aarch64 NEON micro-kernel: an 8 x 8 tile of C in 16 `q` (4-lane) accumulators.
//!
//! Each step of the shared dimension loads one row of the B~ panel (8 floats, two `q`),
//! broadcasts each of the 8 values of the A~ panel's column and issues 16 FMAs (`fmla`).
//! 16 accumulators + 2 B + 1 broadcast use 19 of the 32 NEON registers.

use std::arch::aarch64::*;

use super::{Blocking, Kernel, MicroKernel, write_back_edge};

/// Rows of the tile.
const MR: usize = 8;
/// Columns of the tile.
const NR: usize = 8;
/// `q` vectors per row of the tile.
const NV: usize = NR / 4;

/// The NEON kernel family, see `MicroKernel`.
pub(crate) struct Neon;

impl MicroKernel for Neon {
    const KERNEL: Kernel = Kernel::Neon;
    // 8 x 8 = 16 q-register accumulators of the 32 NEON registers.
    const BLOCKING: Blocking = Blocking {
        mr: MR,
        nr: NR,
        mc: 128,
        kc: 256,
        nc: 4096,
    };

    /// See `kernel::microkernel` for the contract.
    ///
    /// # Safety
    /// The CPU must have neon; `a` must hold `kc * MR` floats, `b` `kc * NR`, and
    /// `c[i * rs_c + j]` must be writable for `i < m <= MR`, `j < n <= NR`.
    #[target_feature(enable = "neon")]
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
        // SAFETY: forwarded from this function's contract.
        unsafe { microkernel_body(kc, alpha, a, b, beta, c, rs_c, m, n) }
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
        // NEON is baseline on aarch64, so the compiler already vectorises the portable
        // loops with it (and `mul_add` is one instruction there).
        super::portable::dot_rows(m, n, k, alpha, a, rs_a, bt, beta, c, rs_c, f32::mul_add)
    }
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
        // work when kc is large. alpha * AB is rounded once, as before the fused add.
        let va = vdupq_n_f32(alpha);
        let mut tile = [[0.0f32; NR]; MR];
        for (row, acc_i) in tile.iter_mut().zip(&acc) {
            for (v, acc_iv) in acc_i.iter().enumerate() {
                vst1q_f32(row.as_mut_ptr().add(4 * v), vmulq_f32(va, *acc_iv));
            }
        }
        write_back_edge(&tile, beta, c, rs_c, m, n);
    }
}
