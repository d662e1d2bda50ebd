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
//! never read (so NaN or garbage in C does not leak into the result); when `alpha == 0` or
//! k == 0, A and B are not read at all.
//!
//! # How it is fast: the BLIS algorithm
//!
//! ```text
//! LOOP 5  for jc in 0..n step NC
//! LOOP 4   for pc in 0..k step KC          B~ = pack(op(B)[pc.., jc..]) (KC x NC, L2/L3)
//! LOOP 3    for ic in 0..m step MC         A~ = pack(op(A)[ic.., pc..]) (MC x KC, L2)
//!                                          (blocks of rows of C: shared by the threads)
//! LOOP 2     for jr in 0..NC step NR      one B~ panel (KC x NR, L1)
//! LOOP 1      for ir in 0..MC step MR     one A~ panel (MR x KC)
//!               micro-kernel: C[ir.., jr..] (MR x NR, registers) += A~ panel * B~ panel
//! ```
//!
//! Each loop keeps one operand in one level of the memory hierarchy while the loop inside
//! it sweeps the other past it; only the micro-kernel (`kernel/`) is written per
//! instruction set, and carries its own block sizes (`MicroKernel::BLOCKING` in each kernel
//! file). Packing: `pack.rs`. `gemm_with` matches on the kernel once; everything below it is
//! generic over `K: MicroKernel`, compiled once per kernel.
//!
//! The threads meet twice per KC block (pack B~, then LOOP 3). Packing B~ for all of k at
//! once would save those meetings but makes B~ k / KC times larger, out of L2 for the
//! batch-256 shapes (196 x 500 floats is 392 KiB), and was not measurably faster here.
//!
//! C with very few columns (n <= 12: the code layer, the K-Means distances) takes a second,
//! simpler path: one dot product per element, 8 values of k at a time (see
//! `gemm_skinny`), because a tile of 16 or 32 columns would mostly compute padding. Where
//! op(A) is stored transposed, the blocked algorithm computes C^T instead
//! (`gemm_skinny_transposed`).
//!
//! Threads (rayon) share LOOP 3's blocks of rows of C. Every split depends on the shape
//! only, and no element's sum over k is ever divided between threads, so the result is
//! bit-identical for any number of threads.

use rayon::prelude::*;

#[cfg(target_arch = "aarch64")]
use super::kernel::Neon;
#[cfg(target_arch = "x86_64")]
use super::kernel::{Avx2, Avx512};
use super::kernel::{Blocking, Caches, Kernel, MicroKernel, Portable, dot_rows, microkernel};
pub use super::matrix::Transpose;
use super::matrix::{MatMut, MatRef};
use super::pack::{
    A_BUF, B_BUF, Operand, pack_a_panel, pack_b_panel, pack_b_transposed, with_scratch,
};

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

/// `C = alpha * op(A) * op(B) + beta * C`, with the kernel chosen for this CPU
/// ([`Kernel::selected`]).
///
/// Runs on the current rayon pool; the result is bit-identical for any number of threads.
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
    gemm_with(Kernel::selected(), alpha, a, op_a, b, op_b, beta, c);
}

/// Like [`gemm`] with a given micro-kernel: for tests and comparisons.
///
/// Panics if this CPU cannot run `kernel` (see [`Kernel::is_available`]).
#[track_caller]
#[allow(clippy::too_many_arguments)]
pub fn gemm_with(
    kernel: Kernel,
    alpha: f32,
    a: MatRef<'_>,
    op_a: Transpose,
    b: MatRef<'_>,
    op_b: Transpose,
    beta: f32,
    mut c: MatMut<'_>,
) {
    let (m, k, n) = check_shapes(&a, op_a, &b, op_b, &c);
    assert!(
        kernel.is_available(),
        "gemm: the {} kernel needs {}, which this CPU lacks",
        kernel.name(),
        kernel.features()
    );
    if m == 0 || n == 0 {
        return;
    }
    let rs_c = c.row_stride();
    // C's storage from (0, 0) to (m - 1, n - 1): nothing past it is ever touched.
    let c_data = &mut c.as_mut_slice()[..(m - 1) * rs_c + n];
    if k == 0 || alpha == 0.0 {
        // BLAS: op(A) * op(B) is not computed (nor A and B read) when it cannot contribute.
        scale(beta, c_data, rs_c, m, n);
        return;
    }
    let a = Operand::new(a, op_a);
    let b = Operand::new(b, op_b);
    let shape = Shape { m, k, n };
    // The one dispatch: the rest of the GEMM is compiled for the chosen kernel.
    match kernel {
        Kernel::Portable => gemm_paths::<Portable>(shape, alpha, a, b, beta, c_data, rs_c),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => gemm_paths::<Avx2>(shape, alpha, a, b, beta, c_data, rs_c),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => gemm_paths::<Avx512>(shape, alpha, a, b, beta, c_data, rs_c),
        #[cfg(target_arch = "aarch64")]
        Kernel::Neon => gemm_paths::<Neon>(shape, alpha, a, b, beta, c_data, rs_c),
        #[allow(unreachable_patterns)]
        _ => unreachable!("kernel {kernel:?} is not compiled for this architecture"),
    }
}

/// The choice of path for a non-empty GEMM, with the kernel K fixed.
fn gemm_paths<K: MicroKernel>(
    shape: Shape,
    alpha: f32,
    a: Operand<'_>,
    b: Operand<'_>,
    beta: f32,
    c: &mut [f32],
    rs_c: usize,
) {
    debug_assert!(K::KERNEL.is_available(), "gemm_with checks the CPU first");
    if shape.n <= SKINNY_MAX_N && a.cs == 1 {
        gemm_skinny::<K>(shape, alpha, a, b, beta, c, rs_c);
    } else if shape.n <= SKINNY_MAX_N {
        gemm_skinny_transposed::<K>(shape, alpha, a, b, beta, c, rs_c);
    } else {
        gemm_blis::<K>(shape, alpha, a, b, beta, c, rs_c);
    }
}

/// op(A) is (m, k), op(B) is (k, n), C is (m, n).
#[derive(Clone, Copy, Debug)]
struct Shape {
    m: usize,
    k: usize,
    n: usize,
}

/// C with at most this many columns takes a skinny path (`gemm_skinny` or
/// `gemm_skinny_transposed`): a tile of NR = 16 or 32 columns would mostly compute padding.
const SKINNY_MAX_N: usize = 12;

/// Below this many multiply-adds a GEMM runs on the calling thread: handing work to rayon
/// costs a few microseconds.
const PARALLEL_MIN_MACS: usize = 1 << 18;

/// Rows of C per task on the skinny path: fixed, so the split never depends on the pool.
const SKINNY_ROWS_PER_TASK: usize = 64;

/// `C = beta * C` on the (m, n) block, without reading C when beta == 0.
fn scale(beta: f32, c: &mut [f32], rs_c: usize, m: usize, n: usize) {
    for i in 0..m {
        let row = &mut c[i * rs_c..i * rs_c + n];
        if beta == 0.0 {
            row.fill(0.0);
        } else if beta != 1.0 {
            row.iter_mut().for_each(|x| *x *= beta);
        }
    }
}

/// The block length that splits `len` into as few blocks of at most `max` as possible, all
/// nearly equal, rounded up to a multiple of `unit` (so it may exceed `max` by < `unit`).
/// Equal blocks avoid a thin last block (e.g. k = 784 as 4 x 196, not 3 x 256 + 16).
fn balanced_block(len: usize, max: usize, unit: usize) -> usize {
    let blocks = len.div_ceil(max).max(1);
    len.div_ceil(blocks).div_ceil(unit) * unit
}

/// LOOP 3's blocks of rows of C: as few as MC allows, but their count rounded up to a
/// multiple of `ROW_BLOCK_MULTIPLE`, and all of nearly the same size in whole MR panels.
/// Threads take whole blocks, so 5 blocks on 2 threads would leave one thread idle a fifth
/// of the time (m = 500 rows at MC = 120); 8 blocks of 60-66 rows divide evenly over 2 or 4.
/// The blocks depend on the shape alone, never on the number of threads.
struct RowBlocks {
    m: usize,
    mr: usize,
    panels: usize,
    count: usize,
}

/// See `RowBlocks`: 2 and 4 threads (and 1) share this many blocks evenly.
const ROW_BLOCK_MULTIPLE: usize = 4;

impl RowBlocks {
    fn new(m: usize, mc: usize, mr: usize) -> Self {
        let panels = m.div_ceil(mr);
        let count = m
            .div_ceil(mc)
            .next_multiple_of(ROW_BLOCK_MULTIPLE)
            .min(panels)
            .max(1);
        RowBlocks {
            m,
            mr,
            panels,
            count,
        }
    }

    /// The first row of block b (b = count: m).
    fn start(&self, b: usize) -> usize {
        (b * self.panels / self.count * self.mr).min(self.m)
    }

    /// C's storage cut into the blocks, as (first row, rows, the block's rows of C).
    fn split<'c>(&self, mut c: &'c mut [f32], rs_c: usize) -> Vec<(usize, usize, &'c mut [f32])> {
        let mut blocks = Vec::with_capacity(self.count);
        for b in 0..self.count {
            let (start, end) = (self.start(b), self.start(b + 1));
            let block;
            if b + 1 == self.count {
                block = std::mem::take(&mut c);
            } else {
                (block, c) = c.split_at_mut((end - start) * rs_c);
            }
            blocks.push((start, end - start, block));
        }
        blocks
    }
}

/// The BLIS algorithm (Van Zee and van de Geijn, 2015): five loops around a micro-kernel.
///
/// The split of every loop depends only on the shape and the kernel's block sizes, never
/// on the number of threads, and each C element is summed over k in the same order (KC
/// blocks in turn, p ascending inside the micro-kernel): results are bit-identical for any
/// pool size. Threads share LOOP 3 (blocks of rows of C, disjoint slices); k is never split.
#[allow(clippy::too_many_arguments)]
fn gemm_blis<K: MicroKernel>(
    Shape { m, k, n }: Shape,
    alpha: f32,
    a: Operand<'_>,
    b: Operand<'_>,
    beta: f32,
    c: &mut [f32],
    rs_c: usize,
) {
    let blocking = K::BLOCKING.for_l2(Caches::detected().l2);
    gemm_blis_blocked::<K>(blocking, Shape { m, k, n }, alpha, a, b, beta, c, rs_c);
}

/// `gemm_blis` with the block sizes given: MC and NC may be anything (the results do not
/// depend on them); `blocking.mr`, `.nr` must be K's and KC decides the rounding.
#[allow(clippy::too_many_arguments)]
fn gemm_blis_blocked<K: MicroKernel>(
    blocking: Blocking,
    Shape { m, k, n }: Shape,
    alpha: f32,
    a: Operand<'_>,
    b: Operand<'_>,
    beta: f32,
    c: &mut [f32],
    rs_c: usize,
) {
    let Blocking { mr, nr, mc, kc, nc } = blocking;
    debug_assert!(mr == K::BLOCKING.mr && nr == K::BLOCKING.nr);
    let nc = balanced_block(n, nc, nr);
    let kc = balanced_block(k, kc, 1);
    let row_blocks = RowBlocks::new(m, mc, mr);
    let parallel = m * n * k >= PARALLEL_MIN_MACS;

    with_scratch(&B_BUF, kc * nc, |b_packed| {
        // LOOP 5: columns of C, NC at a time.
        for jc in (0..n).step_by(nc) {
            let ncb = nc.min(n - jc);
            // LOOP 4: the shared dimension, KC at a time. Later blocks add onto C.
            for pc in (0..k).step_by(kc) {
                let kcb = kc.min(k - pc);
                let beta_pc = if pc == 0 { beta } else { 1.0 };

                // B~: op(B)[pc.., jc..] as ncb / NR panels of kcb x NR.
                let b_packed = &mut b_packed[..ncb.div_ceil(nr) * kcb * nr];
                let pack_b = |(jp, panel): (usize, &mut [f32])| {
                    let j0 = jc + jp * nr;
                    pack_b_panel(b, pc, kcb, j0, nr.min(n - j0), nr, panel);
                };
                if parallel {
                    b_packed
                        .par_chunks_mut(kcb * nr)
                        .enumerate()
                        .for_each(pack_b);
                } else {
                    b_packed.chunks_mut(kcb * nr).enumerate().for_each(pack_b);
                }
                let b_packed = &*b_packed;

                // LOOP 3: rows of C, about MC at a time; each block owns its rows of C.
                let row_block = |(ic, mcb, c_block): (usize, usize, &mut [f32])| {
                    with_scratch(&A_BUF, mcb.div_ceil(mr) * kcb * mr, |a_packed| {
                        // A~: op(A)[ic.., pc..] as mcb / MR panels of MR x kcb.
                        for (ip, panel) in a_packed.chunks_mut(kcb * mr).enumerate() {
                            let i0 = ic + ip * mr;
                            pack_a_panel(a, i0, mr.min(m - i0), pc, kcb, mr, panel);
                        }
                        // LOOP 2: NR columns of the block at a time (one B~ panel, in L1).
                        for (jp, b_panel) in b_packed.chunks(kcb * nr).enumerate() {
                            let jr = jp * nr;
                            // LOOP 1: MR rows at a time (one A~ panel, from L2).
                            for (ip, a_panel) in a_packed.chunks(kcb * mr).enumerate() {
                                let ir = ip * mr;
                                microkernel::<K>(
                                    kcb,
                                    alpha,
                                    a_panel,
                                    b_panel,
                                    beta_pc,
                                    &mut c_block[ir * rs_c + jc + jr..],
                                    rs_c,
                                    mr.min(mcb - ir),
                                    nr.min(ncb - jr),
                                );
                            }
                        }
                    });
                };
                let blocks = row_blocks.split(&mut *c, rs_c);
                if parallel {
                    blocks.into_par_iter().for_each(row_block);
                } else {
                    blocks.into_iter().for_each(row_block);
                }
            }
        }
    });
}

/// Few columns of C but op(A) stored transposed (the code layer's weight gradient
/// x^T dy, (2000, 256) (256, 10)): compute C^T = op(B)^T op(A)^T (n x m, few *rows*, where a
/// tile's MR rows waste little) with the blocked algorithm into a small buffer, then
/// C = alpha * (C^T)^T + beta * C. op(A)^T is then A as stored: its rows pack by plain copies.
#[allow(clippy::too_many_arguments)]
fn gemm_skinny_transposed<K: MicroKernel>(
    Shape { m, k, n }: Shape,
    alpha: f32,
    a: Operand<'_>,
    b: Operand<'_>,
    beta: f32,
    c: &mut [f32],
    rs_c: usize,
) {
    let b_t = Operand {
        data: b.data,
        rs: b.cs,
        cs: b.rs,
    };
    let a_t = Operand {
        data: a.data,
        rs: a.cs,
        cs: a.rs,
    };
    // c_t is (n, m): at most SKINNY_MAX_N x m floats.
    let mut c_t = vec![0.0f32; n * m];
    let shape_t = Shape { m: n, k, n: m };
    gemm_blis::<K>(shape_t, 1.0, b_t, a_t, 0.0, &mut c_t, m);
    for i in 0..m {
        let row = &mut c[i * rs_c..i * rs_c + n];
        for (j, cij) in row.iter_mut().enumerate() {
            let ab = alpha * c_t[j * m + i];
            *cij = if beta == 0.0 { ab } else { ab + beta * *cij };
        }
    }
}

/// The skinny path, for C with few columns (the code layer's 10 units, 10 K-Means centroids):
/// each C element is one dot product of a row of op(A) with a column of op(B), and op(B)^T
/// (n x k, small) is packed once so both are read with unit stride. Rows of C are split into
/// fixed blocks of `SKINNY_ROWS_PER_TASK`; every element's sum is independent of the split.
#[allow(clippy::too_many_arguments)]
fn gemm_skinny<K: MicroKernel>(
    Shape { m, k, n }: Shape,
    alpha: f32,
    a: Operand<'_>,
    b: Operand<'_>,
    beta: f32,
    c: &mut [f32],
    rs_c: usize,
) {
    debug_assert!(a.cs == 1);
    with_scratch(&B_BUF, n * k, |bt| {
        pack_b_transposed(b, k, n, bt);
        let bt = &*bt;
        let rows_task = |(t, c_rows): (usize, &mut [f32])| {
            let i0 = t * SKINNY_ROWS_PER_TASK;
            let rows = SKINNY_ROWS_PER_TASK.min(m - i0);
            let a_rows = &a.data[i0 * a.rs..];
            dot_rows::<K>(rows, n, k, alpha, a_rows, a.rs, bt, beta, c_rows, rs_c);
        };
        let chunk = SKINNY_ROWS_PER_TASK * rs_c;
        if m * n * k >= PARALLEL_MIN_MACS {
            c.par_chunks_mut(chunk).enumerate().for_each(rows_task);
        } else {
            c.chunks_mut(chunk).enumerate().for_each(rows_task);
        }
    });
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

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::linalg::Matrix;

    /// C = A B through the blocked path with the given block sizes.
    fn blis<K: MicroKernel>(blocking: Blocking, a: &Matrix, b: &Matrix) -> Vec<f32> {
        let (m, k, n) = (a.rows(), a.cols(), b.cols());
        let mut c = vec![0.0f32; m * n];
        let (a, b) = (
            Operand::new(a.view(), Transpose::No),
            Operand::new(b.view(), Transpose::No),
        );
        gemm_blis_blocked::<K>(blocking, Shape { m, k, n }, 1.0, a, b, 0.0, &mut c, n);
        c
    }

    /// MC and NC change no bit (so MC may follow the L2); KC does (so it must not).
    fn check<K: MicroKernel>() {
        let mut rng = StdRng::seed_from_u64(5);
        // Random floats (not integers): any change of summation order shows in the bits.
        let a = Matrix::from_fn(300, 700, |_, _| rng.random_range(-1.0f32..1.0));
        let b = Matrix::from_fn(700, 90, |_, _| rng.random_range(-1.0f32..1.0));
        let own = K::BLOCKING;
        let reference = blis::<K>(own, &a, &b);
        for l2 in [256 << 10, 512 << 10, 1 << 20, 2 << 20] {
            assert_eq!(
                blis::<K>(own.for_l2(Some(l2)), &a, &b),
                reference,
                "L2 {l2}"
            );
        }
        let (mr, nr) = (own.mr, own.nr);
        for (mc, nc) in [(mr, nr), (3 * mr, 2 * nr), (1000, 10_000)] {
            let other = Blocking { mc, nc, ..own };
            assert_eq!(blis::<K>(other, &a, &b), reference, "MC {mc}, NC {nc}");
        }
        let other_kc = Blocking { kc: 64, ..own };
        assert_ne!(
            blis::<K>(other_kc, &a, &b),
            reference,
            "KC changes the rounding"
        );
    }

    #[test]
    fn the_results_do_not_depend_on_mc_or_nc() {
        check::<Portable>();
        #[cfg(target_arch = "x86_64")]
        if Kernel::Avx2.is_available() {
            check::<Avx2>();
        }
        #[cfg(target_arch = "x86_64")]
        if Kernel::Avx512.is_available() {
            check::<Avx512>();
        }
        #[cfg(target_arch = "aarch64")]
        check::<Neon>();
    }
}
