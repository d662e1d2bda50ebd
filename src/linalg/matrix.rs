//! `Matrix`: a dense, row-major `f32` matrix that owns its storage, and the borrowed views
//! `MatRef` / `MatMut` that the GEMM and the layers take.
//!
//! Notation used throughout the crate: a buffer "is (R, C)" when it holds R rows of C
//! contiguous `f32`s. Element (i, j) of a view lives at `data[i * row_stride + j]`; the
//! row stride (BLAS's "leading dimension") lets a view address a block of rows or columns
//! of a larger matrix without copying.

use std::ops::Range;

use rayon::prelude::*;

/// Whether a GEMM operand (`gemm.rs`, `pack.rs`) is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transpose {
    /// op(X) = X.
    No,
    /// op(X) = X^T.
    Yes,
}

/// About how many values one task of a parallel pass over a matrix handles: enough that
/// handing it to rayon (microseconds) is small against its work, few enough that a
/// batch-256 layer gives each thread several tasks.
pub const TASK_VALUES: usize = 1 << 14;

/// Rows per task for a parallel pass over a matrix of `cols` columns: whole rows, about
/// `TASK_VALUES` values. It depends on the shape alone, never on the pool, so a pass that
/// sums over rows (a loss, a bias gradient) adds in the same order for any thread count.
pub fn rows_per_task(cols: usize) -> usize {
    (TASK_VALUES / cols.max(1)).max(1)
}

/// A dense row-major matrix of `f32`, (rows, cols).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

/// A borrowed, read-only view of a (rows, cols) block with row stride `row_stride`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    rows: usize,
    cols: usize,
    row_stride: usize,
    data: &'a [f32],
}

/// A borrowed, mutable view of a (rows, cols) block with row stride `row_stride`.
#[derive(Debug)]
pub struct MatMut<'a> {
    rows: usize,
    cols: usize,
    row_stride: usize,
    data: &'a mut [f32],
}

/// The number of `f32`s a (rows, cols) view with this stride must be able to address.
fn span(rows: usize, cols: usize, row_stride: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * row_stride + cols
    }
}

impl Matrix {
    /// A (rows, cols) matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// A (rows, cols) matrix filled with `value`.
    pub fn filled(rows: usize, cols: usize, value: f32) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![value; rows * cols],
        }
    }

    /// Wraps row-major `data` as a (rows, cols) matrix.
    #[track_caller]
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f32>) -> Self {
        assert_eq!(
            data.len(),
            rows * cols,
            "Matrix::from_vec: {} values cannot be shaped ({rows}, {cols})",
            data.len()
        );
        Matrix { rows, cols, data }
    }

    /// Builds a (rows, cols) matrix from `f(i, j)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f32) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Matrix { rows, cols, data }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// (rows, cols).
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Row i, (cols,).
    #[track_caller]
    pub fn row(&self, i: usize) -> &[f32] {
        assert!(i < self.rows, "row {i} of a matrix with {} rows", self.rows);
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    #[track_caller]
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        assert!(i < self.rows, "row {i} of a matrix with {} rows", self.rows);
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Element (i, j).
    #[track_caller]
    pub fn get(&self, i: usize, j: usize) -> f32 {
        assert!(
            i < self.rows && j < self.cols,
            "({i}, {j}) outside a ({}, {}) matrix",
            self.rows,
            self.cols
        );
        self.data[i * self.cols + j]
    }

    #[track_caller]
    pub fn set(&mut self, i: usize, j: usize, value: f32) {
        assert!(
            i < self.rows && j < self.cols,
            "({i}, {j}) outside a ({}, {}) matrix",
            self.rows,
            self.cols
        );
        self.data[i * self.cols + j] = value;
    }

    /// Iterator over the rows, each (cols,).
    pub fn iter_rows(&self) -> impl ExactSizeIterator<Item = &[f32]> {
        (0..self.rows).map(move |i| &self.data[i * self.cols..(i + 1) * self.cols])
    }

    pub fn view(&self) -> MatRef<'_> {
        MatRef {
            rows: self.rows,
            cols: self.cols,
            row_stride: self.cols,
            data: &self.data,
        }
    }

    pub fn view_mut(&mut self) -> MatMut<'_> {
        MatMut {
            rows: self.rows,
            cols: self.cols,
            row_stride: self.cols,
            data: &mut self.data,
        }
    }

    /// The rows in `range`, (range.len(), cols), without copying.
    #[track_caller]
    pub fn rows_range(&self, range: Range<usize>) -> MatRef<'_> {
        self.view().rows_range(range)
    }

    /// A new matrix holding rows `indices` in that order, (indices.len(), cols): a gather,
    /// used to assemble a mini-batch from a shuffled index list.
    #[track_caller]
    pub fn select_rows(&self, indices: &[usize]) -> Matrix {
        let mut out = Matrix::zeros(indices.len(), self.cols);
        self.select_rows_into(indices, &mut out);
        out
    }

    /// Like `select_rows`, into an existing (indices.len(), cols) buffer, so a training loop
    /// allocates its batch once.
    #[track_caller]
    pub fn select_rows_into(&self, indices: &[usize], out: &mut Matrix) {
        assert_eq!(
            out.shape(),
            (indices.len(), self.cols),
            "select_rows_into: output is {:?}, expected ({}, {})",
            out.shape(),
            indices.len(),
            self.cols
        );
        for (k, &i) in indices.iter().enumerate() {
            out.row_mut(k).copy_from_slice(self.row(i));
        }
    }

    /// The transpose, (cols, rows). Only for tests and set-up: the GEMM never needs it.
    pub fn transpose(&self) -> Matrix {
        Matrix::from_fn(self.cols, self.rows, |i, j| self.data[j * self.cols + i])
    }

    /// Reshapes in place, keeping the data (for reusing a buffer at a new batch size the
    /// caller must have sized `data` itself; this only reinterprets).
    #[track_caller]
    pub fn reshape(&mut self, rows: usize, cols: usize) {
        assert_eq!(
            rows * cols,
            self.data.len(),
            "reshape ({}, {}) -> ({rows}, {cols})",
            self.rows,
            self.cols
        );
        self.rows = rows;
        self.cols = cols;
    }
}

impl<'a> MatRef<'a> {
    /// A (rows, cols) view of `data` with row stride `row_stride`.
    #[track_caller]
    pub fn new(data: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        assert!(
            row_stride >= cols || rows <= 1,
            "row stride {row_stride} < cols {cols}"
        );
        assert!(
            data.len() >= span(rows, cols, row_stride),
            "a ({rows}, {cols}) view with row stride {row_stride} needs {} values, got {}",
            span(rows, cols, row_stride),
            data.len()
        );
        MatRef {
            rows,
            cols,
            row_stride,
            data,
        }
    }

    /// A contiguous (rows, cols) view of `data`.
    #[track_caller]
    pub fn from_slice(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert_eq!(
            data.len(),
            rows * cols,
            "{} values viewed as ({rows}, {cols})",
            data.len()
        );
        MatRef {
            rows,
            cols,
            row_stride: cols,
            data,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
    pub fn row_stride(&self) -> usize {
        self.row_stride
    }
    /// The underlying storage from element (0, 0) on.
    pub fn as_slice(&self) -> &'a [f32] {
        self.data
    }

    /// Element (i, j).
    #[inline]
    pub fn at(&self, i: usize, j: usize) -> f32 {
        debug_assert!(i < self.rows && j < self.cols);
        self.data[i * self.row_stride + j]
    }

    /// Row i, (cols,).
    #[track_caller]
    pub fn row(&self, i: usize) -> &'a [f32] {
        assert!(i < self.rows, "row {i} of a view with {} rows", self.rows);
        &self.data[i * self.row_stride..i * self.row_stride + self.cols]
    }

    /// Rows `range`, (range.len(), cols).
    #[track_caller]
    pub fn rows_range(&self, range: Range<usize>) -> MatRef<'a> {
        assert!(
            range.start <= range.end && range.end <= self.rows,
            "rows {range:?} of {}",
            self.rows
        );
        let rows = range.end - range.start;
        let start = (range.start * self.row_stride).min(self.data.len());
        MatRef {
            rows,
            cols: self.cols,
            row_stride: self.row_stride,
            data: &self.data[start..],
        }
    }

    /// Columns `range`, (rows, range.len()), sharing the row stride.
    #[track_caller]
    pub fn cols_range(&self, range: Range<usize>) -> MatRef<'a> {
        assert!(
            range.start <= range.end && range.end <= self.cols,
            "cols {range:?} of {}",
            self.cols
        );
        let cols = range.end - range.start;
        let start = range.start.min(self.data.len());
        MatRef {
            rows: self.rows,
            cols,
            row_stride: self.row_stride,
            data: &self.data[start..],
        }
    }

    /// Copies the view into an owned matrix.
    pub fn to_matrix(&self) -> Matrix {
        Matrix::from_fn(self.rows, self.cols, |i, j| self.at(i, j))
    }
}

impl<'a> MatMut<'a> {
    /// A mutable (rows, cols) view of `data` with row stride `row_stride`.
    #[track_caller]
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        assert!(
            row_stride >= cols || rows <= 1,
            "row stride {row_stride} < cols {cols}"
        );
        assert!(
            data.len() >= span(rows, cols, row_stride),
            "a ({rows}, {cols}) view with row stride {row_stride} needs {} values, got {}",
            span(rows, cols, row_stride),
            data.len()
        );
        MatMut {
            rows,
            cols,
            row_stride,
            data,
        }
    }

    /// A contiguous mutable (rows, cols) view of `data`.
    #[track_caller]
    pub fn from_slice(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        assert_eq!(
            data.len(),
            rows * cols,
            "{} values viewed as ({rows}, {cols})",
            data.len()
        );
        MatMut {
            rows,
            cols,
            row_stride: cols,
            data,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
    pub fn row_stride(&self) -> usize {
        self.row_stride
    }
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        self.data
    }

    /// A read-only reborrow.
    pub fn as_ref(&self) -> MatRef<'_> {
        MatRef {
            rows: self.rows,
            cols: self.cols,
            row_stride: self.row_stride,
            data: self.data,
        }
    }

    /// A shorter-lived mutable reborrow, to pass the view on without giving it up.
    pub fn reborrow(&mut self) -> MatMut<'_> {
        MatMut {
            rows: self.rows,
            cols: self.cols,
            row_stride: self.row_stride,
            data: self.data,
        }
    }

    #[inline]
    pub fn at(&self, i: usize, j: usize) -> f32 {
        debug_assert!(i < self.rows && j < self.cols);
        self.data[i * self.row_stride + j]
    }

    #[inline]
    pub fn at_mut(&mut self, i: usize, j: usize) -> &mut f32 {
        debug_assert!(i < self.rows && j < self.cols);
        &mut self.data[i * self.row_stride + j]
    }

    /// Row i, (cols,).
    #[track_caller]
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        assert!(i < self.rows, "row {i} of a view with {} rows", self.rows);
        &mut self.data[i * self.row_stride..i * self.row_stride + self.cols]
    }

    /// Rows `range`, (range.len(), cols).
    #[track_caller]
    pub fn rows_range(self, range: Range<usize>) -> MatMut<'a> {
        assert!(
            range.start <= range.end && range.end <= self.rows,
            "rows {range:?} of {}",
            self.rows
        );
        let rows = range.end - range.start;
        let start = (range.start * self.row_stride).min(self.data.len());
        MatMut {
            rows,
            cols: self.cols,
            row_stride: self.row_stride,
            data: &mut self.data[start..],
        }
    }

    /// The view cut into blocks of `rows` rows (the last may be shorter), in order, as
    /// disjoint mutable views that rayon can hand to different threads.
    #[track_caller]
    pub fn par_row_blocks(self, rows: usize) -> impl IndexedParallelIterator<Item = MatMut<'a>> {
        assert!(rows > 0, "par_row_blocks: blocks of 0 rows");
        let (total, cols) = (self.rows, self.cols);
        // A single row may have a stride below its width; a block then holds that row alone.
        let stride = self.row_stride.max(cols);
        let span = span(total, cols, self.row_stride);
        self.data[..span]
            .par_chunks_mut(rows * stride)
            .enumerate()
            .map(move |(b, chunk)| MatMut::new(chunk, rows.min(total - b * rows), cols, stride))
    }

    /// Columns `range`, (rows, range.len()), sharing the row stride.
    #[track_caller]
    pub fn cols_range(self, range: Range<usize>) -> MatMut<'a> {
        assert!(
            range.start <= range.end && range.end <= self.cols,
            "cols {range:?} of {}",
            self.cols
        );
        let cols = range.end - range.start;
        let start = range.start.min(self.data.len());
        MatMut {
            rows: self.rows,
            cols,
            row_stride: self.row_stride,
            data: &mut self.data[start..],
        }
    }
}

impl<'a> From<&'a Matrix> for MatRef<'a> {
    fn from(m: &'a Matrix) -> Self {
        m.view()
    }
}

impl<'a> From<&'a mut Matrix> for MatMut<'a> {
    fn from(m: &'a mut Matrix) -> Self {
        m.view_mut()
    }
}
