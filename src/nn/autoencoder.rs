//! The stacked autoencoder: an encoder dims[0] -> ... -> dims[L] and the mirrored decoder
//! dims[L] -> ... -> dims[0], trained to reproduce its input under the mean squared error.
//! For MNIST, 784-500-500-2000-10: the 10-dimensional code is what K-Means and DEC cluster.
//!
//! ReLU follows every layer except the code layer and the output layer, whose activations
//! are configurable (the DEC paper uses linear for both).

use std::ops::ControlFlow;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use super::activation::Activation;
use super::init::Init;
use super::loss::{mse_backward, mse_forward};
use super::mlp::{Mlp, Workspace};
use super::optim::Optimizer;
use super::params::{Parameters, TensorSource};
use crate::data::augment::Augmenter;
use crate::error::{Error, Result};
use crate::linalg::{MatRef, Matrix, rows_per_task};

/// Mini-batch training settings.
#[derive(Clone, Debug, PartialEq)]
pub struct FitConfig {
    /// The epoch to stop after (counting from 1).
    pub epochs: usize,
    pub batch_size: usize,
    /// Seeds the shuffle; each epoch's order depends only on (seed, epoch).
    pub seed: u64,
    /// Epochs already done (0 for a fresh run): a run resumed from a checkpoint taken
    /// after epoch e sets this to e and sees exactly the batches it would have seen.
    pub start_epoch: usize,
    /// Where inside epoch `start_epoch + 1` a resumed run picks up (None: at its start).
    pub mid_epoch: Option<MidEpoch>,
    /// Train on freshly augmented batches (DEC-DA): the autoencoder reconstructs each
    /// augmented image itself. The draws of step s of epoch e (both from 0) are those of
    /// `Augmenter` step e * steps_per_epoch + s, so a resumed run sees the same images.
    pub augment: Option<Augmenter>,
}

/// A position inside an epoch: the batches already taken and the sum of their losses
/// (each weighted by its batch size), so that the epoch's reported loss comes out the same
/// whether or not training stopped inside it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MidEpoch {
    pub steps: usize,
    pub loss_total: f64,
}

impl FitConfig {
    pub fn new(epochs: usize, batch_size: usize, seed: u64) -> Self {
        FitConfig {
            epochs,
            batch_size,
            seed,
            start_epoch: 0,
            mid_epoch: None,
            augment: None,
        }
    }
}

/// What `fit` reports after each epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochReport {
    /// Counting from 1.
    pub epoch: usize,
    /// The mean MSE over the epoch's batches, weighted by batch size (the loss of each
    /// batch as it was before that batch's update, as Keras and PyTorch report it).
    pub loss: f32,
    /// Wall-clock seconds the epoch took.
    pub seconds: f64,
}

/// Encoder and mirrored decoder (parameters and gradients; the activations of a training
/// step live in an [`AeWorkspace`]).
#[derive(Clone, Debug)]
pub struct Autoencoder {
    pub encoder: Mlp,
    pub decoder: Mlp,
}

/// The buffers of one training step of an `Autoencoder`.
#[derive(Clone, Debug)]
pub struct AeWorkspace {
    pub encoder: Workspace,
    pub decoder: Workspace,
    /// (capacity, dims[0]): dL/d(reconstruction).
    dxhat: Matrix,
}

impl AeWorkspace {
    pub fn new(ae: &Autoencoder) -> Self {
        AeWorkspace {
            encoder: Workspace::new(&ae.encoder),
            decoder: Workspace::new(&ae.decoder),
            dxhat: Matrix::zeros(0, ae.encoder.input_dim()),
        }
    }
}

/// The shuffle seed of one epoch: mixed so that (seed, epoch + 1) and (seed + 1, epoch)
/// do not coincide.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Autoencoder {
    /// Encoder dims[0] -> ... -> dims[L] (ReLU inside, `code` on the last layer) and decoder
    /// dims[L] -> ... -> dims[0] (ReLU inside, `output` on the last layer). Weights drawn by
    /// `init` from `rng`, encoder first; biases zero.
    pub fn new(
        dims: &[usize],
        code: Activation,
        output: Activation,
        init: Init,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        check_dims(dims)?;
        let layers = dims.len() - 1;
        let reversed: Vec<usize> = dims.iter().rev().copied().collect();
        let encoder = Mlp::new(dims, &stack_activations(layers, code), init, rng)?;
        let decoder = Mlp::new(&reversed, &stack_activations(layers, output), init, rng)?;
        Autoencoder::from_parts(encoder, decoder)
    }

    /// The name prefix of the encoder's tensors ("encoder.0.weight").
    pub const ENCODER: &str = "encoder.";
    /// The name prefix of the decoder's tensors.
    pub const DECODER: &str = "decoder.";

    /// The autoencoder of this encoder and decoder; an error when the decoder's sizes do
    /// not mirror the encoder's.
    pub fn from_parts(encoder: Mlp, decoder: Mlp) -> Result<Self> {
        let mirrored: Vec<usize> = encoder.dims().into_iter().rev().collect();
        if decoder.dims() != mirrored {
            return Err(Error::invalid(
                "decoder",
                format!(
                    "sizes {:?} do not mirror the encoder's {:?}",
                    decoder.dims(),
                    encoder.dims()
                ),
            ));
        }
        Ok(Autoencoder { encoder, decoder })
    }

    /// The autoencoder of `dims` (activations as in `new`) whose tensors `source` holds
    /// under `prefix` + the names `visit` gives ("encoder.0.weight", ...).
    pub fn from_source(
        source: &mut dyn TensorSource,
        prefix: &str,
        dims: &[usize],
        code: Activation,
        output: Activation,
    ) -> Result<Self> {
        check_dims(dims)?;
        let layers = dims.len() - 1;
        let reversed: Vec<usize> = dims.iter().rev().copied().collect();
        let encoder = Mlp::from_source(
            source,
            &format!("{prefix}{}", Self::ENCODER),
            dims,
            &stack_activations(layers, code),
        )?;
        let decoder = Mlp::from_source(
            source,
            &format!("{prefix}{}", Self::DECODER),
            &reversed,
            &stack_activations(layers, output),
        )?;
        Autoencoder::from_parts(encoder, decoder)
    }

    /// [dims[0], ..., dims[L]] (the encoder's).
    pub fn dims(&self) -> Vec<usize> {
        self.encoder.dims()
    }

    /// The codes (N, dims[L]) of x (N, dims[0]), computed in batches.
    pub fn encode<'x>(&self, x: impl Into<MatRef<'x>>) -> Matrix {
        self.encoder.predict(x)
    }

    /// The reconstructions (N, dims[0]) of x (N, dims[0]).
    pub fn reconstruct<'x>(&self, x: impl Into<MatRef<'x>>) -> Matrix {
        let codes = self.encoder.predict(x);
        self.decoder.predict(&codes)
    }

    /// One batch x (B, dims[0]): sets the gradients to dL/dparams of the reconstruction MSE
    /// and returns the loss. Does not update anything.
    pub fn forward_backward(&mut self, ws: &mut AeWorkspace, x: MatRef<'_>) -> f32 {
        let b = x.rows();
        let code = self.encoder.forward(&mut ws.encoder, x);
        // xhat is (B, dims[0])
        let xhat = self.decoder.forward(&mut ws.decoder, code);
        let loss = mse_forward(xhat, x);
        if ws.dxhat.rows() < b {
            ws.dxhat = Matrix::zeros(b, ws.dxhat.cols());
        }
        mse_backward(ws.dxhat.view_mut().rows_range(0..b), xhat, x);
        // dcode is (B, dims[L])
        let dcode = self
            .decoder
            .backward_to_input(&mut ws.decoder, ws.dxhat.rows_range(0..b));
        self.encoder.backward(&mut ws.encoder, dcode);
        loss
    }

    /// Mini-batch training on the rows of x (N, dims[0]) to reproduce themselves.
    /// Each epoch shuffles the rows with a `StdRng` seeded from (seed, epoch), runs the
    /// batches (the last one may be smaller), and calls `on_epoch`; returning `Break` stops
    /// training (Ctrl-C, a checkpoint, early stopping). A NaN or infinite batch loss stops
    /// at once with `Error::Diverged`, before the update that would spread it.
    pub fn fit(
        &mut self,
        x: &Matrix,
        cfg: &FitConfig,
        opt: &mut dyn Optimizer,
        on_epoch: &mut dyn FnMut(&EpochReport) -> ControlFlow<()>,
    ) -> Result<()> {
        self.fit_until(x, cfg, opt, on_epoch, &|| false).map(|_| ())
    }

    /// Like `fit`, and `stop` is asked after every step (Ctrl-C): when it says yes,
    /// training returns at once with the position inside the epoch (the epoch in progress
    /// is `last reported epoch + 1`), which `FitConfig::mid_epoch` resumes from exactly.
    pub fn fit_until(
        &mut self,
        x: &Matrix,
        cfg: &FitConfig,
        opt: &mut dyn Optimizer,
        on_epoch: &mut dyn FnMut(&EpochReport) -> ControlFlow<()>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<MidEpoch>> {
        if cfg.batch_size == 0 {
            return Err(Error::invalid("batch size", "must be at least 1"));
        }
        if x.rows() == 0 {
            return Err(Error::invalid("training data", "no rows to train on"));
        }
        if x.cols() != self.encoder.input_dim() {
            return Err(Error::invalid(
                "training data",
                format!(
                    "rows have {} values, the autoencoder expects {}",
                    x.cols(),
                    self.encoder.input_dim()
                ),
            ));
        }
        if let Some(augmenter) = &cfg.augment
            && augmenter.shape().len() != x.cols()
        {
            return Err(Error::invalid(
                "augmentation",
                format!(
                    "images of {:?} are not rows of {} values",
                    augmenter.shape(),
                    x.cols()
                ),
            ));
        }
        let n = x.rows();
        let batch_size = cfg.batch_size.min(n);
        // batch is (batch_size, dims[0]); a last, smaller batch uses its first rows.
        let mut batch = Matrix::zeros(batch_size, x.cols());
        let mut ws = AeWorkspace::new(self);
        let mut order: Vec<usize> = Vec::with_capacity(n);
        let steps_per_epoch = n.div_ceil(batch_size);
        for epoch in cfg.start_epoch + 1..=cfg.epochs {
            let start = Instant::now();
            let mut rng = StdRng::seed_from_u64(epoch_seed(cfg.seed, epoch));
            order.clear();
            order.extend(0..n);
            order.shuffle(&mut rng);
            let resume = cfg.mid_epoch.filter(|_| epoch == cfg.start_epoch + 1);
            let skip = resume.map_or(0, |m| m.steps);
            let mut total = resume.map_or(0.0, |m| m.loss_total);
            for (step, indices) in order.chunks(batch_size).enumerate().skip(skip) {
                let b = indices.len();
                let out = batch.view_mut().rows_range(0..b);
                if let Some(augmenter) = &cfg.augment {
                    // The augmented images, straight into the batch: input and target.
                    let counter = (epoch - 1) * steps_per_epoch + step;
                    augmenter.augment_batch(x.view(), indices, counter as u64, out);
                } else {
                    let rows = rows_per_task(x.cols());
                    out.par_row_blocks(rows)
                        .enumerate()
                        .for_each(|(t, mut block)| {
                            for (r, &i) in indices[t * rows..].iter().take(block.rows()).enumerate()
                            {
                                block.row_mut(r).copy_from_slice(x.row(i));
                            }
                        });
                }
                let loss = self.forward_backward(&mut ws, batch.rows_range(0..b));
                if !loss.is_finite() {
                    return Err(Error::Diverged {
                        phase: "pretraining".to_string(),
                        epoch,
                        step: step + 1,
                        loss,
                    });
                }
                opt.step(&mut self.params_mut());
                total += loss as f64 * b as f64;
                if stop() && step + 1 < steps_per_epoch {
                    return Ok(Some(MidEpoch {
                        steps: step + 1,
                        loss_total: total,
                    }));
                }
            }
            let report = EpochReport {
                epoch,
                loss: (total / n as f64) as f32,
                seconds: start.elapsed().as_secs_f64(),
            };
            if on_epoch(&report).is_break() {
                break;
            }
        }
        Ok(None)
    }
}

/// An autoencoder needs an input and a code size at least: `dims` is (D_in, ..., D_code).
fn check_dims(dims: &[usize]) -> Result<()> {
    if dims.len() < 2 {
        return Err(Error::invalid(
            "dims",
            format!("an autoencoder needs at least two layer sizes, got {dims:?}"),
        ));
    }
    Ok(())
}

/// The activations of one half of the autoencoder with `layers` layers: ReLU after each,
/// `last` after the last (the code or the output activation).
pub fn stack_activations(layers: usize, last: Activation) -> Vec<Activation> {
    let mut activations = vec![Activation::Relu; layers];
    if let Some(a) = activations.last_mut() {
        *a = last;
    }
    activations
}

impl Parameters for Autoencoder {
    /// ("encoder.0.weight", W (in, out)), ("encoder.0.bias", b (1, out)), ...,
    /// ("decoder.3.bias", ...): the encoder's tensors, then the decoder's. A bias's tensor
    /// shape is [out]: see `nn::tensor_shape`.
    fn visit<'a>(&'a self, prefix: &str, f: &mut dyn FnMut(String, &'a Matrix, &'a Matrix)) {
        self.encoder.visit(&format!("{prefix}{}", Self::ENCODER), f);
        self.decoder.visit(&format!("{prefix}{}", Self::DECODER), f);
    }

    fn visit_mut<'a>(
        &'a mut self,
        prefix: &str,
        f: &mut dyn FnMut(String, &'a mut Matrix, &'a Matrix),
    ) {
        self.encoder
            .visit_mut(&format!("{prefix}{}", Self::ENCODER), f);
        self.decoder
            .visit_mut(&format!("{prefix}{}", Self::DECODER), f);
    }
}
