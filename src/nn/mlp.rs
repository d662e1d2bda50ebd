//! A multilayer perceptron: Dense layers, each followed by an activation.
//!
//! The model's backward calls the layers' backwards in reverse order (no autograd graph).
//! Forward keeps every layer's output (after its activation) in a `Workspace`, because each
//! layer's backward needs its input (the previous output) and its own output (for f').
//! Buffers hold `capacity` rows and a batch uses the first B of them, so a last, smaller
//! batch reuses the same memory: nothing is allocated per step.

use rand::Rng;
use rayon::prelude::*;

use super::activation::{Activation, activation_backward, activation_forward};
use super::dense::{Dense, dense_backward, dense_forward};
use super::init::Init;
use super::params::{Parameters, TensorSource};
use crate::error::{Error, Result};
use crate::linalg::{MatRef, Matrix, rows_per_task};

/// Rows per forward pass in `predict`.
const PREDICT_BATCH: usize = 256;

/// Whether backward goes on to dL/dx for the network's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InputGrad {
    Skip,
    Compute,
}

/// Dense layers with an activation after each: dims [d0, d1, ..., dL] make L layers.
/// The model is its parameters and their gradients; the activations a training step keeps
/// for its backward live in a [`Workspace`], so scoring (`predict(&self)`) needs no copy.
#[derive(Clone, Debug)]
pub struct Mlp {
    layers: Vec<Dense>,
    activations: Vec<Activation>,
}

/// What a forward pass keeps for the backward that follows it, and the backward's
/// scratch, for one `Mlp`.
#[derive(Clone, Debug)]
pub struct Workspace {
    /// B, the rows of the last forward.
    rows: usize,
    /// (capacity, d0): a copy of the last forward's input x, needed for dW of layer 0.
    input: Matrix,
    /// outs[l] is (capacity, d(l+1)): layer l's output after its activation.
    outs: Vec<Matrix>,
    /// dpre[l] is (capacity, d(l+1)): dL/d(layer l's output before its activation).
    dpre: Vec<Matrix>,
    /// douts[l] is (capacity, d(l+1)): dL/d outs[l], for l < L-1 (the caller supplies the last).
    douts: Vec<Matrix>,
    /// (capacity, d0): dL/dx, when asked for.
    dinput: Matrix,
}

impl Workspace {
    /// Empty buffers for `mlp`'s shapes; they grow to the largest batch on first use.
    pub fn new(mlp: &Mlp) -> Self {
        let dims = mlp.dims();
        Workspace {
            rows: 0,
            input: Matrix::zeros(0, dims[0]),
            outs: dims[1..].iter().map(|&d| Matrix::zeros(0, d)).collect(),
            dpre: dims[1..].iter().map(|&d| Matrix::zeros(0, d)).collect(),
            douts: dims[1..dims.len() - 1]
                .iter()
                .map(|&d| Matrix::zeros(0, d))
                .collect(),
            dinput: Matrix::zeros(0, dims[0]),
        }
    }
}

/// At least two positive sizes, and one activation per layer.
fn check_architecture(dims: &[usize], activations: &[Activation]) -> Result<()> {
    if dims.len() < 2 || dims.contains(&0) {
        return Err(Error::invalid(
            "dims",
            format!("need at least two positive layer sizes, got {dims:?}"),
        ));
    }
    if activations.len() != dims.len() - 1 {
        return Err(Error::invalid(
            "activations",
            format!(
                "{} layers need {} activations, got {}",
                dims.len() - 1,
                dims.len() - 1,
                activations.len()
            ),
        ));
    }
    Ok(())
}

/// The prefix of layer l's tensors: "l." after the network's own prefix.
fn layer_prefix(prefix: &str, l: usize) -> String {
    format!("{prefix}{l}.")
}

/// Makes `m` hold at least `rows` rows, keeping its width. Only grows, so a training
/// loop allocates once, at its largest batch.
fn reserve_rows(m: &mut Matrix, rows: usize) {
    if m.rows() < rows {
        *m = Matrix::zeros(rows, m.cols());
    }
}

impl Mlp {
    /// Layers dims[0] -> dims[1] -> ... with `activations[l]` after layer l; W drawn by
    /// `init` (layer after layer, from `rng`), biases zero.
    pub fn new(
        dims: &[usize],
        activations: &[Activation],
        init: Init,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        check_architecture(dims, activations)?;
        let layers: Vec<Dense> = dims
            .windows(2)
            .map(|w| Dense::new(w[0], w[1], init, rng))
            .collect();
        Mlp::from_layers(layers, activations.to_vec())
    }

    /// The network of these layers, `activations[l]` after layer l; an error when a
    /// layer's input is not the previous layer's output or the counts differ.
    pub fn from_layers(layers: Vec<Dense>, activations: Vec<Activation>) -> Result<Self> {
        let mut dims: Vec<usize> = layers.first().map(Dense::input_dim).into_iter().collect();
        for (l, layer) in layers.iter().enumerate() {
            if l > 0 && layer.input_dim() != dims[l] {
                return Err(Error::invalid(
                    format!("layer {l}"),
                    format!(
                        "takes {} values, the layer before gives {}",
                        layer.input_dim(),
                        dims[l]
                    ),
                ));
            }
            dims.push(layer.output_dim());
        }
        check_architecture(&dims, &activations)?;
        Ok(Mlp {
            layers,
            activations,
        })
    }

    /// The network dims[0] -> ... -> dims[L] whose layer l `source` holds under
    /// `prefix` + "l." (the names `visit` gives it), `activations[l]` after it.
    pub fn from_source(
        source: &mut dyn TensorSource,
        prefix: &str,
        dims: &[usize],
        activations: &[Activation],
    ) -> Result<Self> {
        check_architecture(dims, activations)?;
        let layers = dims
            .windows(2)
            .enumerate()
            .map(|(l, w)| Dense::from_source(source, &layer_prefix(prefix, l), w[0], w[1]))
            .collect::<Result<Vec<Dense>>>()?;
        Mlp::from_layers(layers, activations.to_vec())
    }

    /// [d0, d1, ..., dL].
    pub fn dims(&self) -> Vec<usize> {
        let mut dims = vec![self.layers[0].input_dim()];
        dims.extend(self.layers.iter().map(Dense::output_dim));
        dims
    }

    pub fn input_dim(&self) -> usize {
        self.layers[0].input_dim()
    }

    pub fn output_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].output_dim()
    }

    pub fn activations(&self) -> &[Activation] {
        &self.activations
    }

    pub fn layers(&self) -> &[Dense] {
        &self.layers
    }

    pub fn layers_mut(&mut self) -> &mut [Dense] {
        &mut self.layers
    }

    /// Runs x (B, d0) through every layer; returns the output (B, dL), which stays valid
    /// until the next forward with `ws`. Saves in `ws` what backward needs.
    #[track_caller]
    pub fn forward<'w>(&self, ws: &'w mut Workspace, x: MatRef<'_>) -> MatRef<'w> {
        assert_eq!(x.cols(), self.input_dim(), "Mlp::forward: input width");
        let b = x.rows();
        ws.rows = b;
        reserve_rows(&mut ws.input, b);
        let rows = rows_per_task(x.cols());
        let input = ws.input.view_mut().rows_range(0..b);
        input
            .par_row_blocks(rows)
            .enumerate()
            .for_each(|(t, mut block)| {
                for i in 0..block.rows() {
                    block.row_mut(i).copy_from_slice(x.row(t * rows + i));
                }
            });
        for l in 0..self.layers.len() {
            let (before, after) = ws.outs.split_at_mut(l);
            // x_l is (B, d_l): the network's input or the previous layer's output
            let x_l = if l == 0 {
                ws.input.rows_range(0..b)
            } else {
                before[l - 1].rows_range(0..b)
            };
            let y = &mut after[0];
            reserve_rows(y, b);
            let n = y.cols();
            let layer = &self.layers[l];
            // y is (B, d_(l+1))
            dense_forward(
                y.view_mut().rows_range(0..b),
                x_l,
                layer.weight.view(),
                layer.bias.as_slice(),
            );
            activation_forward(&mut y.as_mut_slice()[..b * n], self.activations[l]);
        }
        ws.outs[self.layers.len() - 1].rows_range(0..b)
    }

    /// Backpropagates dL/d(output) `dout` (B, dL) from the last forward, SETTING every
    /// layer's dweight and dbias to the gradient of this batch (no accumulation across
    /// calls, as in Keras: nothing needs zeroing first). dL/dx is not computed.
    #[track_caller]
    pub fn backward(&mut self, ws: &mut Workspace, dout: MatRef<'_>) {
        self.backward_impl(ws, dout, InputGrad::Skip);
    }

    /// Like `backward`, and also returns dL/dx (B, d0) for the input of the last forward
    /// (the decoder hands this to the encoder; DEC does not need it).
    #[track_caller]
    pub fn backward_to_input<'w>(&mut self, ws: &'w mut Workspace, dout: MatRef<'_>) -> MatRef<'w> {
        self.backward_impl(ws, dout, InputGrad::Compute);
        ws.dinput.rows_range(0..ws.rows)
    }

    #[track_caller]
    fn backward_impl(&mut self, ws: &mut Workspace, dout: MatRef<'_>, input_grad: InputGrad) {
        let b = ws.rows;
        assert_eq!(
            dout.shape(),
            (b, self.output_dim()),
            "Mlp::backward: dout must match the last forward's output"
        );
        let last = self.layers.len() - 1;
        for l in (0..=last).rev() {
            // dpre = dy * f'(a): the activation's backward; y = outs[l] is (B, d(l+1))
            let dpre = &mut ws.dpre[l];
            reserve_rows(dpre, b);
            let n = dpre.cols();
            let y = &ws.outs[l].as_slice()[..b * n];
            let dpre = &mut dpre.as_mut_slice()[..b * n];
            if l == last && dout.row_stride() != n {
                // A strided dout: row by row (the network's own buffers are contiguous).
                for i in 0..b {
                    let rows = i * n..(i + 1) * n;
                    let act = self.activations[l];
                    activation_backward(&mut dpre[rows.clone()], dout.row(i), &y[rows], act);
                }
            } else {
                let dy = if l == last {
                    &dout.as_slice()[..b * n]
                } else {
                    &ws.douts[l].as_slice()[..b * n]
                };
                activation_backward(dpre, dy, y, self.activations[l]);
            }
            // The Dense backward: x_l is layer l's input, dx_l (B, d_l) its gradient.
            let x_l = if l == 0 {
                ws.input.rows_range(0..b)
            } else {
                ws.outs[l - 1].rows_range(0..b)
            };
            let dx_l = if l > 0 {
                let d = &mut ws.douts[l - 1];
                reserve_rows(d, b);
                Some(d.view_mut().rows_range(0..b))
            } else if input_grad == InputGrad::Compute {
                let d = &mut ws.dinput;
                reserve_rows(d, b);
                Some(d.view_mut().rows_range(0..b))
            } else {
                None
            };
            let Dense {
                weight,
                dweight,
                dbias,
                ..
            } = &mut self.layers[l];
            dense_backward(
                dx_l,
                dweight.view_mut(),
                dbias.as_mut_slice(),
                ws.dpre[l].rows_range(0..b),
                x_l,
                weight.view(),
            );
        }
    }

    /// The network's output for every row of x (N, d0), as (N, dL), computed
    /// `PREDICT_BATCH` rows at a time.
    pub fn predict<'x>(&self, x: impl Into<MatRef<'x>>) -> Matrix {
        let x = x.into();
        let mut out = Matrix::zeros(x.rows(), self.output_dim());
        let mut ws = Workspace::new(self);
        let mut start = 0;
        while start < x.rows() {
            let end = (start + PREDICT_BATCH).min(x.rows());
            let y = self.forward(&mut ws, x.rows_range(start..end));
            for i in 0..end - start {
                out.row_mut(start + i).copy_from_slice(y.row(i));
            }
            start = end;
        }
        out
    }
}

impl Parameters for Mlp {
    /// ("0.weight", W0 (d0, d1)), ("0.bias", b0 (1, d1)), ("1.weight", ...), ...
    fn visit<'a>(&'a self, prefix: &str, f: &mut dyn FnMut(String, &'a Matrix, &'a Matrix)) {
        for (l, layer) in self.layers.iter().enumerate() {
            layer.visit(&layer_prefix(prefix, l), f);
        }
    }

    fn visit_mut<'a>(
        &'a mut self,
        prefix: &str,
        f: &mut dyn FnMut(String, &'a mut Matrix, &'a Matrix),
    ) {
        for (l, layer) in self.layers.iter_mut().enumerate() {
            layer.visit_mut(&layer_prefix(prefix, l), f);
        }
    }
}
