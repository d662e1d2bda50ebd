//! Packing: copying blocks of op(A) and op(B) into the order the micro-kernel reads them.
//!
//! The micro-kernel walks the shared dimension p and at each step wants MR consecutive
//! values of op(A)'s column p and NR consecutive values of op(B)'s row p. Packing puts
//! exactly those next to each other in memory (contiguous, aligned, zero-padded to whole
//! panels), so the kernel streams through both with unit stride whatever the original layout
//! (row stride, transposed or not): the transpose is absorbed here, never materialised.
//!
//! ```text
//! A~ (mc x kc block of op(A)):  panel 0 = rows 0..MR, stored column by column:
//!   [a(0,0) a(1,0) .. a(MR-1,0)] [a(0,1) .. a(MR-1,1)] ... [.. a(MR-1,kc-1)], panel 1 ...
//! B~ (kc x nc block of op(B)):  panel 0 = columns 0..NR, stored row by row:
//!   [b(0,0) b(0,1) .. b(0,NR-1)] [b(1,0) .. b(1,NR-1)] ... , panel 1 ...
//! ```

use std::cell::Cell;
use std::thread::LocalKey;

use super::matrix::{MatRef, Transpose};

/// op(X) as strides over X's storage: op(X)(i, j) = data[i * rs + j * cs].
/// `Transpose::Yes` just swaps the strides.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Operand<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Operand<'a> {
    pub fn new(x: MatRef<'a>, op: Transpose) -> Self {
        let (rs, cs) = match op {
            Transpose::No => (x.row_stride(), 1),
            Transpose::Yes => (1, x.row_stride()),
        };
        Operand {
            data: x.as_slice(),
            rs,
            cs,
        }
    }

    #[inline]
    fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.rs + j * self.cs]
    }
}

/// Packs one MR-row panel of A~: rows i0..i0+rows (rows <= mr) and columns p0..p0+kc of
/// op(A), column by column into `dst` (kc * mr), zero-padding rows beyond `rows`.
pub(crate) fn pack_a_panel(
    a: Operand<'_>,
    i0: usize,
    rows: usize,
    p0: usize,
    kc: usize,
    mr: usize,
    dst: &mut [f32],
) {
    let dst = &mut dst[..kc * mr];
    if rows < mr {
        dst.fill(0.0);
    }
    if a.rs == 1 {
        // op(A)'s columns are contiguous (A stored transposed): copy MR at a time.
        let src = &a.data[p0 * a.cs + i0..];
        if rows == mr && copy_rows_fixed(mr, dst, src, a.cs) {
            return;
        }
        for (p, col) in dst.chunks_exact_mut(mr).enumerate() {
            let start = (p0 + p) * a.cs + i0;
            col[..rows].copy_from_slice(&a.data[start..start + rows]);
        }
    } else if a.cs == 1 {
        // op(A)'s rows are contiguous: interleave MR rows, element p of each in turn.
        let src = &a.data[i0 * a.rs + p0..];
        if rows == mr && interleave_fixed(mr, dst, src, a.rs, kc) {
            return;
        }
        for ii in 0..rows {
            let start = (i0 + ii) * a.rs + p0;
            let row = &a.data[start..start + kc];
            for (col, &x) in dst.chunks_exact_mut(mr).zip(row) {
                col[ii] = x;
            }
        }
    } else {
        for (p, col) in dst.chunks_exact_mut(mr).enumerate() {
            for (ii, x) in col[..rows].iter_mut().enumerate() {
                *x = a.at(i0 + ii, p0 + p);
            }
        }
    }
}

/// Packs one NR-column panel of B~: rows p0..p0+kc and columns j0..j0+cols (cols <= nr) of
/// op(B), row by row into `dst` (kc * nr), zero-padding columns beyond `cols`.
pub(crate) fn pack_b_panel(
    b: Operand<'_>,
    p0: usize,
    kc: usize,
    j0: usize,
    cols: usize,
    nr: usize,
    dst: &mut [f32],
) {
    let dst = &mut dst[..kc * nr];
    if cols < nr {
        dst.fill(0.0);
    }
    if b.cs == 1 {
        // op(B)'s rows are contiguous (the forward pass's weights): NR-wide copies, of a
        // length known at compile time for whole panels (a call to memcpy per row of 16
        // floats would cost more than the copy).
        let src = &b.data[p0 * b.rs + j0..];
        if cols == nr && copy_rows_fixed(nr, dst, src, b.rs) {
            return;
        }
        for (p, row) in dst.chunks_exact_mut(nr).enumerate() {
            let start = (p0 + p) * b.rs + j0;
            row[..cols].copy_from_slice(&b.data[start..start + cols]);
        }
    } else if b.rs == 1 {
        // op(B)'s columns are contiguous (B stored transposed): interleave NR columns.
        let src = &b.data[j0 * b.cs + p0..];
        if cols == nr && interleave_fixed(nr, dst, src, b.cs, kc) {
            return;
        }
        for jj in 0..cols {
            let start = (j0 + jj) * b.cs + p0;
            let column = &b.data[start..start + kc];
            for (row, &x) in dst.chunks_exact_mut(nr).zip(column) {
                row[jj] = x;
            }
        }
    } else {
        for (p, row) in dst.chunks_exact_mut(nr).enumerate() {
            for (jj, x) in row[..cols].iter_mut().enumerate() {
                *x = b.at(p0 + p, j0 + jj);
            }
        }
    }
}

/// `copy_rows::<N>` for the tile widths the kernels use; false (nothing done) for others.
/// A copy whose length is known at compile time is a few vector moves, where a call to
/// memcpy per 6 or 16 floats would cost more than the copy.
fn copy_rows_fixed(n: usize, dst: &mut [f32], src: &[f32], rs: usize) -> bool {
    match n {
        4 => copy_rows::<4>(dst, src, rs),
        6 => copy_rows::<6>(dst, src, rs),
        8 => copy_rows::<8>(dst, src, rs),
        16 => copy_rows::<16>(dst, src, rs),
        32 => copy_rows::<32>(dst, src, rs),
        _ => return false,
    }
    true
}

/// `interleave::<N>` for the tile widths the kernels use; false (nothing done) for others.
fn interleave_fixed(n: usize, dst: &mut [f32], src: &[f32], stride: usize, len: usize) -> bool {
    match n {
        4 => interleave::<4>(dst, src, stride, len),
        6 => interleave::<6>(dst, src, stride, len),
        8 => interleave::<8>(dst, src, stride, len),
        16 => interleave::<16>(dst, src, stride, len),
        32 => interleave::<32>(dst, src, stride, len),
        _ => return false,
    }
    true
}

/// `dst[p * N + t] = src[t * stride + p]` for t < N, p < len: N sequences of `len` floats,
/// `stride` apart, interleaved (a transpose of an N x len block).
fn interleave<const N: usize>(dst: &mut [f32], src: &[f32], stride: usize, len: usize) {
    let seqs: [&[f32]; N] = std::array::from_fn(|t| &src[t * stride..t * stride + len]);
    for (p, out) in dst.chunks_exact_mut(N).take(len).enumerate() {
        for (x, seq) in out.iter_mut().zip(&seqs) {
            *x = seq[p];
        }
    }
}

/// Copies N floats from each row of `src` (row stride `rs`) into consecutive N-wide rows
/// of `dst`.
fn copy_rows<const N: usize>(dst: &mut [f32], src: &[f32], rs: usize) {
    for (p, row) in dst.chunks_exact_mut(N).enumerate() {
        let from: &[f32; N] = src[p * rs..p * rs + N].try_into().expect("N floats");
        let to: &mut [f32; N] = row.try_into().expect("N floats");
        *to = *from;
    }
}

/// Packs op(B) (k x n) transposed for the skinny path: `dst[j * k + p] = op(B)(p, j)`, so
/// each column of op(B) is one contiguous row, read along with a row of A.
pub(crate) fn pack_b_transposed(b: Operand<'_>, k: usize, n: usize, dst: &mut [f32]) {
    for (j, column) in dst[..n * k].chunks_exact_mut(k).enumerate() {
        if b.rs == 1 {
            let start = j * b.cs;
            column.copy_from_slice(&b.data[start..start + k]);
        } else {
            for (p, x) in column.iter_mut().enumerate() {
                *x = b.at(p, j);
            }
        }
    }
}

/// Alignment of packed buffers in bytes: one cache line, and one AVX-512 vector.
const ALIGN_BYTES: usize = 64;

thread_local! {
    /// A~ of the block this thread is working on.
    pub(crate) static A_BUF: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// B~ (and the skinny path's B^T) of the GEMM this thread called.
    pub(crate) static B_BUF: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` on a 64-byte aligned scratch slice of `len` floats from a thread-local buffer,
/// so that steady-state GEMM calls do not allocate.
///
/// The buffer is taken out of its cell while in use: a nested call on the same thread
/// (rayon may run another task here while this one waits) finds it empty and allocates
/// its own instead of aliasing this one.
pub(crate) fn with_scratch<R>(
    key: &'static LocalKey<Cell<Vec<f32>>>,
    len: usize,
    f: impl FnOnce(&mut [f32]) -> R,
) -> R {
    let mut buf = key.take();
    let pad = ALIGN_BYTES / size_of::<f32>();
    if buf.len() < len + pad {
        buf = vec![0.0; len + pad];
    }
    let offset = buf.as_ptr().align_offset(ALIGN_BYTES).min(pad);
    let result = f(&mut buf[offset..offset + len]);
    key.set(buf);
    result
}
