//! The fully connected layer: y = x W + b.
//!
//! W is (in, out), Keras's kernel layout, so that a row of x times W gives a row of y and
//! exported weights match a Keras model's. All three products backpropagation needs run
//! on the project's GEMM: x W (forward), x^T dy (weight gradient), dy W^T (input gradient).

use rand::Rng;

use super::init::Init;
use super::params::{Parameters, TensorSource};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::linalg::{MatMut, MatRef, Matrix, Transpose, gemm, rows_per_task};

/// A Dense layer's parameters and their gradients, side by side.
#[derive(Clone, Debug)]
pub struct Dense {
    /// W is (in, out).
    pub weight: Matrix,
    /// b is (1, out); as a tensor its shape is [out].
    pub bias: Matrix,
    /// dL/dW, (in, out).
    pub dweight: Matrix,
    /// dL/db, (1, out).
    pub dbias: Matrix,
}

impl Dense {
    /// A layer from `input` to `output` features: W drawn by `init`, b = 0, gradients 0.
    pub fn new(input: usize, output: usize, init: Init, rng: &mut impl Rng) -> Self {
        Dense {
            weight: init.weight(input, output, rng),
            bias: Matrix::zeros(1, output),
            dweight: Matrix::zeros(input, output),
            dbias: Matrix::zeros(1, output),
        }
    }

    pub fn input_dim(&self) -> usize {
        self.weight.rows()
    }

    pub fn output_dim(&self) -> usize {
        self.weight.cols()
    }

    /// The name of W among the layer's parameters.
    pub const WEIGHT: &str = "weight";
    /// The name of b.
    pub const BIAS: &str = "bias";

    /// A layer from its parameters W (in, out) and b (1, out), gradients 0; an error
    /// naming the bias when its shape does not fit W.
    pub fn from_parts(weight: Matrix, bias: Matrix) -> Result<Self> {
        let (input, output) = weight.shape();
        if input == 0 || output == 0 {
            return Err(Error::invalid(
                Self::WEIGHT,
                format!("shape {:?} has no values", weight.shape()),
            ));
        }
        if bias.shape() != (1, output) {
            return Err(Error::invalid(
                Self::BIAS,
                format!(
                    "shape {:?} does not fit a weight of shape {:?}, expected (1, {output})",
                    bias.shape(),
                    weight.shape()
                ),
            ));
        }
        Ok(Dense {
            weight,
            bias,
            dweight: Matrix::zeros(input, output),
            dbias: Matrix::zeros(1, output),
        })
    }

    /// The layer `input` -> `output` whose W and b `source` holds as `prefix` + "weight"
    /// and `prefix` + "bias" (the names `visit` gives them).
    pub fn from_source(
        source: &mut dyn TensorSource,
        prefix: &str,
        input: usize,
        output: usize,
    ) -> Result<Self> {
        let weight = source.matrix(&format!("{prefix}{}", Self::WEIGHT), input, output)?;
        let bias = source.matrix(&format!("{prefix}{}", Self::BIAS), 1, output)?;
        Dense::from_parts(weight, bias)
    }
}

impl Parameters for Dense {
    /// W then b.
    fn visit<'a>(&'a self, prefix: &str, f: &mut dyn FnMut(String, &'a Matrix, &'a Matrix)) {
        f(
            format!("{prefix}{}", Self::WEIGHT),
            &self.weight,
            &self.dweight,
        );
        f(format!("{prefix}{}", Self::BIAS), &self.bias, &self.dbias);
    }

    fn visit_mut<'a>(
        &'a mut self,
        prefix: &str,
        f: &mut dyn FnMut(String, &'a mut Matrix, &'a Matrix),
    ) {
        let Dense {
            weight,
            bias,
            dweight,
            dbias,
        } = self;
        f(format!("{prefix}{}", Self::WEIGHT), weight, dweight);
        f(format!("{prefix}{}", Self::BIAS), bias, dbias);
    }
}

/// y = x W + b.
/// y is (B, out), x is (B, in), weight is (in, out), bias is (out,).
#[track_caller]
pub fn dense_forward(y: MatMut<'_>, x: MatRef<'_>, weight: MatRef<'_>, bias: &[f32]) {
    assert_eq!(bias.len(), weight.cols(), "dense_forward: bias length");
    let mut y = y;
    // beta = 0: y's old contents are never read.
    gemm(
        1.0,
        x,
        Transpose::No,
        weight,
        Transpose::No,
        0.0,
        y.reborrow(),
    );
    let rows = rows_per_task(y.cols());
    y.par_row_blocks(rows).for_each(|mut block| {
        for i in 0..block.rows() {
            for (v, &b) in block.row_mut(i).iter_mut().zip(bias) {
                *v += b;
            }
        }
    });
}

/// Backward of `y = x W + b`, overwriting the gradients (their old values are never read):
/// dW = x^T dy, db = sum over rows of dy, and (when `dx` is given) dx = dy W^T.
/// dx is (B, in), dweight is (in, out), dbias is (out,), dy is (B, out), x is (B, in),
/// weight is (in, out). The first layer of a network passes `None`: nobody needs dL/dx there.
#[track_caller]
pub fn dense_backward(
    dx: Option<MatMut<'_>>,
    dweight: MatMut<'_>,
    dbias: &mut [f32],
    dy: MatRef<'_>,
    x: MatRef<'_>,
    weight: MatRef<'_>,
) {
    assert_eq!(dbias.len(), dy.cols(), "dense_backward: dbias length");
    // y_ij = sum_k x_ik W_kj + b_j  =>  dL/dW_kj = sum_i x_ik dy_ij
    gemm(1.0, x, Transpose::Yes, dy, Transpose::No, 0.0, dweight);
    // dL/db_j = sum_i dy_ij. Threads take blocks of columns (B rows by `cols_per_task`
    // columns: about TASK_VALUES values, the same arithmetic as rows_per_task with the
    // axes swapped); each column is summed row after row, a fixed order, so the result
    // does not depend on the pool.
    let cols_per_task = rows_per_task(dy.rows());
    dbias
        .par_chunks_mut(cols_per_task)
        .enumerate()
        .for_each(|(t, db)| {
            let j0 = t * cols_per_task;
            db.fill(0.0);
            for i in 0..dy.rows() {
                for (d, &g) in db.iter_mut().zip(&dy.row(i)[j0..]) {
                    *d += g;
                }
            }
        });
    // dL/dx_ik = sum_j dy_ij W_kj
    if let Some(dx) = dx {
        gemm(1.0, dy, Transpose::No, weight, Transpose::Yes, 0.0, dx);
    }
}
