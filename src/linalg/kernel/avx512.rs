//! The AVX-512F micro-kernel: a 6 x 32 tile of C in 12 `zmm` accumulators.
//!
//! The AVX2 kernel (`avx2.rs`) with vectors twice as wide: each step of the shared dimension
//! loads one row of the B~ panel (32 floats, two `zmm`), broadcasts each of the 6 values of
//! the A~ panel's column and issues 12 FMAs, enough independent accumulators for two 512-bit
//! FMA units x 4 cycles of latency. The skinny path (few columns of C) reuses AVX2's.

use std::arch::x86_64::*;

use super::{Blocking, Kernel, MicroKernel, write_back_edge};

/// Rows of the tile.
const MR: usize = 6;
/// Columns of the tile.
const NR: usize = 32;
/// `zmm` vectors per row of the tile.
const NV: usize = NR / 16;

/// The AVX-512F kernel family, see `MicroKernel`.
pub(crate) struct Avx512;

impl MicroKernel for Avx512 {
    const KERNEL: Kernel = Kernel::Avx512;
    // 6 x 32 = 12 zmm accumulators, the AVX2 tile widened to 16 lanes. KC = 256: the B~
    // micro-panel is 32 KiB of a 48 KiB (Ice Lake and later) L1.
    const BLOCKING: Blocking = Blocking {
        mr: MR,
        nr: NR,
        mc: 144,
        kc: 256,
        nc: 4096,
    };

    /// See `kernel::microkernel` for the contract.
    ///
    /// # Safety
    /// The CPU must have avx512f; `a` must hold `kc * MR` floats, `b` `kc * NR`, and
    /// `c[i * rs_c + j]` must be writable for `i < m <= MR`, `j < n <= NR`.
    #[target_feature(enable = "avx512f")]
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

    /// AVX2's skinny path (the tile of the AVX-512 kernel gains nothing on 10 columns).
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
        // SAFETY: the caller's contract; every AVX-512 CPU has avx2 + fma, and
        // `Kernel::is_available` checks them for this kernel.
        unsafe { super::Avx2::dot_rows(m, n, k, alpha, a, rs_a, bt, beta, c, rs_c) }
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
    // m x n tile of C (the caller's contract); the intrinsics need avx512f, which the
    // `#[target_feature]` wrapper's caller guarantees.
    unsafe {
        // Bring the C tile towards L1 while the loop below runs: its rows are far apart.
        // A prefetch never faults, so the edge of C is harmless.
        for i in 0..m {
            let ci = c.wrapping_add(i * rs_c);
            _mm_prefetch::<_MM_HINT_T0>(ci.cast());
            _mm_prefetch::<_MM_HINT_T0>(ci.wrapping_add(NR - 1).cast());
        }
        let mut acc = [[_mm512_setzero_ps(); NV]; MR];
        for p in 0..kc {
            let bp = b.add(p * NR);
            let bv = [_mm512_loadu_ps(bp), _mm512_loadu_ps(bp.add(16))];
            let ap = a.add(p * MR);
            for (i, acc_i) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(*ap.add(i));
                for (acc_iv, bvv) in acc_i.iter_mut().zip(bv) {
                    *acc_iv = _mm512_fmadd_ps(ai, bvv, *acc_iv);
                }
            }
        }

        let va = _mm512_set1_ps(alpha);
        if m == MR && n == NR {
            // A full tile: update C straight from the registers.
            for (i, acc_i) in acc.iter().enumerate() {
                let ci = c.add(i * rs_c);
                for (v, acc_iv) in acc_i.iter().enumerate() {
                    let ab = _mm512_mul_ps(va, *acc_iv);
                    let out = if beta == 0.0 {
                        ab
                    } else {
                        _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_loadu_ps(ci.add(16 * v)), ab)
                    };
                    _mm512_storeu_ps(ci.add(16 * v), out);
                }
            }
        } else {
            // An edge tile: spill the block, write back only what lies inside C.
            let mut tile = [[0.0f32; NR]; MR];
            for (row, acc_i) in tile.iter_mut().zip(&acc) {
                for (v, acc_iv) in acc_i.iter().enumerate() {
                    _mm512_storeu_ps(row.as_mut_ptr().add(16 * v), _mm512_mul_ps(va, *acc_iv));
                }
            }
            write_back_edge(&tile, beta, c, rs_c, m, n);
        }
    }
}
