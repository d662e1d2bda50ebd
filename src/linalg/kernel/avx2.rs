//! The AVX2 + FMA micro-kernel: a 6 x 16 tile of C in 12 `ymm` accumulators.
//!
//! Each step of the shared dimension loads one row of the B~ panel (16 floats, two `ymm`),
//! broadcasts each of the 6 values of the A~ panel's column, and issues 12 FMAs. 12
//! independent accumulators cover Zen 3's and Haswell's 2 FMA units x 4 cycles of latency,
//! and 12 + 2 + 1 registers fit the 16 `ymm` registers without spilling.

use std::arch::x86_64::*;

use super::{Blocking, Kernel, MicroKernel, write_back_edge};

/// Rows of the tile.
const MR: usize = 6;
/// Columns of the tile.
const NR: usize = 16;
/// `ymm` vectors per row of the tile.
const NV: usize = NR / 8;

/// The AVX2 + FMA kernel family, see `MicroKernel`.
pub(crate) struct Avx2;

impl MicroKernel for Avx2 {
    const KERNEL: Kernel = Kernel::Avx2;
    // 6 x 16 = 12 ymm accumulators + 2 for B + 1 broadcast of the 16 ymm registers.
    // KC = 512: the textbook choice keeps the B~ micro-panel (KC x 16 x 4 B) in half of a
    // 32 KiB L1, KC = 256, but on Zen 3 (fast L2, good prefetch) fewer passes over C won:
    // k = 500 and 784 as 1 and 2 blocks, not 2 and 4, measured 5-12% faster for the
    // batch-256 layers. MC = 120: A~ is up to 240 KiB of a 512 KiB (Zen 3) to 1 MiB L2.
    const BLOCKING: Blocking = Blocking {
        mr: MR,
        nr: NR,
        mc: 120,
        kc: 512,
        nc: 4080,
    };

    /// See `kernel::microkernel` for the contract.
    ///
    /// # Safety
    /// The CPU must have avx2 and fma; `a` must hold `kc * MR` floats, `b` `kc * NR`, and
    /// `c[i * rs_c + j]` must be writable for `i < m <= MR`, `j < n <= NR`.
    #[target_feature(enable = "avx2,fma")]
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

    /// See `kernel::dot_rows` for the contract.
    ///
    /// # Safety
    /// The CPU must have avx2 and fma; `a[i * rs_a + p]` readable for i < m, p < k;
    /// `bt[j * k + p]` for j < n; `c[i * rs_c + j]` writable for i < m, j < n.
    #[target_feature(enable = "avx2,fma")]
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
        let mut i = 0;
        while i < m {
            let rows = DOT_ROWS.min(m - i);
            let mut j = 0;
            while j < n {
                let cols = DOT_COLS.min(n - j);
                // SAFETY: rows i..i+rows < m and columns j..j+cols < n are inside the caller's
                // ranges; the block body reads k floats from each.
                unsafe {
                    let ai = a.add(i * rs_a);
                    let btj = bt.add(j * k);
                    let cij = c.add(i * rs_c + j);
                    match (rows, cols) {
                        (2, 5) => dot_block::<2, 5>(k, alpha, ai, rs_a, btj, beta, cij, rs_c),
                        (2, 4) => dot_block::<2, 4>(k, alpha, ai, rs_a, btj, beta, cij, rs_c),
                        (2, 3) => dot_block::<2, 3>(k, alpha, ai, rs_a, btj, beta, cij, rs_c),
                        (2, 2) => dot_block::<2, 2>(k, alpha, ai, rs_a, btj, beta, cij, rs_c),
                        (2, 1) => dot_block::<2, 1>(k, alpha, ai, rs_a, btj, beta, cij, rs_c),
                        (1, 5) => dot_block::<1, 5>(k, alpha, ai, rs_a, btj, beta, cij, rs_c),
                        (1, 4) => dot_block::<1, 4>(k, alpha, ai, rs_a, btj, beta, cij, rs_c),
                        (1, 3) => dot_block::<1, 3>(k, alpha, ai, rs_a, btj, beta, cij, rs_c),
                        (1, 2) => dot_block::<1, 2>(k, alpha, ai, rs_a, btj, beta, cij, rs_c),
                        _ => dot_block::<1, 1>(k, alpha, ai, rs_a, btj, beta, cij, rs_c),
                    }
                }
                j += cols;
            }
            i += rows;
        }
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
    // m x n tile of C (the caller's contract); the intrinsics need avx2 + fma, which the
    // `#[target_feature]` wrapper's caller guarantees.
    unsafe {
        // Bring the C tile towards L1 while the loop below runs: its rows are far apart.
        // A prefetch never faults, so the edge of C is harmless.
        for i in 0..m {
            let ci = c.wrapping_add(i * rs_c);
            _mm_prefetch::<_MM_HINT_T0>(ci.cast());
            _mm_prefetch::<_MM_HINT_T0>(ci.wrapping_add(NR - 1).cast());
        }
        let mut acc = [[_mm256_setzero_ps(); NV]; MR];
        for p in 0..kc {
            let bp = b.add(p * NR);
            let bv = [_mm256_loadu_ps(bp), _mm256_loadu_ps(bp.add(8))];
            let ap = a.add(p * MR);
            for (i, acc_i) in acc.iter_mut().enumerate() {
                let ai = _mm256_broadcast_ss(&*ap.add(i));
                for (acc_iv, bvv) in acc_i.iter_mut().zip(bv) {
                    *acc_iv = _mm256_fmadd_ps(ai, bvv, *acc_iv);
                }
            }
        }

        let va = _mm256_set1_ps(alpha);
        if m == MR && n == NR {
            // A full tile: update C straight from the registers.
            for (i, acc_i) in acc.iter().enumerate() {
                let ci = c.add(i * rs_c);
                for (v, acc_iv) in acc_i.iter().enumerate() {
                    let ab = _mm256_mul_ps(va, *acc_iv);
                    let out = if beta == 0.0 {
                        ab
                    } else {
                        _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_loadu_ps(ci.add(8 * v)), ab)
                    };
                    _mm256_storeu_ps(ci.add(8 * v), out);
                }
            }
        } else {
            // An edge tile: spill the block, write back only what lies inside C.
            let mut tile = [[0.0f32; NR]; MR];
            for (row, acc_i) in tile.iter_mut().zip(&acc) {
                for (v, acc_iv) in acc_i.iter().enumerate() {
                    _mm256_storeu_ps(row.as_mut_ptr().add(8 * v), _mm256_mul_ps(va, *acc_iv));
                }
            }
            write_back_edge(&tile, beta, c, rs_c, m, n);
        }
    }
}

/// Rows of A handled together by the skinny path: each B^T row loaded is used twice.
const DOT_ROWS: usize = 2;
/// Columns of C handled together: 2 x 5 = 10 accumulators (the code layer's and K-Means'
/// n = 10 in one pass), + 2 A vectors + 1 B vector of the 16 registers.
const DOT_COLS: usize = 5;
/// How far ahead in a row of A the skinny path prefetches, in floats (1 KiB).
const PREFETCH_AHEAD: usize = 256;

/// R rows of A against C rows of B^T: R x C dot products of length k, 8 lanes at a time,
/// summed across lanes at the end, then the k % 8 tail.
#[inline(always)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn dot_block<const R: usize, const C: usize>(
    k: usize,
    alpha: f32,
    a: *const f32,
    rs_a: usize,
    bt: *const f32,
    beta: f32,
    c: *mut f32,
    rs_c: usize,
) {
    // SAFETY: reads a[r * rs_a + p], bt[col * k + p] for p < k, writes c[r * rs_c + col],
    // r < R, col < C: inside the caller's ranges. avx2 + fma from the wrapper.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); C]; R];
        let k8 = k / 8 * 8;
        let mut p = 0;
        while p < k8 {
            let av: [__m256; R] = std::array::from_fn(|r| _mm256_loadu_ps(a.add(r * rs_a + p)));
            // A streams from memory once (34,300 x 784 for K-Means): ask for it early.
            // A prefetch never faults, so running past the row's end is harmless.
            for r in 0..R {
                let ahead = a.wrapping_add(r * rs_a + p + PREFETCH_AHEAD);
                _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
            }
            for col in 0..C {
                let bv = _mm256_loadu_ps(bt.add(col * k + p));
                for r in 0..R {
                    acc[r][col] = _mm256_fmadd_ps(av[r], bv, acc[r][col]);
                }
            }
            p += 8;
        }
        for r in 0..R {
            for col in 0..C {
                let mut dot = hsum(acc[r][col]);
                for q in k8..k {
                    dot = (*a.add(r * rs_a + q)).mul_add(*bt.add(col * k + q), dot);
                }
                let cij = c.add(r * rs_c + col);
                let ab = alpha * dot;
                *cij = if beta == 0.0 {
                    ab
                } else {
                    beta.mul_add(*cij, ab)
                };
            }
        }
    }
}

/// The sum of a vector's 8 lanes, in a fixed order (pairs of halves).
#[inline(always)]
unsafe fn hsum(v: __m256) -> f32 {
    // SAFETY: register-only intrinsics; avx2 from the wrapper.
    unsafe {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }
}
