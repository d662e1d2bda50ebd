//! Deep Embedded Clustering (Xie, Girshick, Farhadi, ICML 2016).
//!
//! DEC keeps a pretrained encoder f and adds K cluster centres mu_j in its embedding space.
//! Each image x_i is embedded as z_i = f(x_i) and softly assigned to every centre by a
//! Student's t kernel (section 3.1.1, eq. 1):
//!
//! ```text
//! q_ij = (1 + ||z_i - mu_j||^2 / alpha)^(-(alpha+1)/2) / sum_j' (same for j')
//! ```
//!
//! The network then learns from its own confident guesses. A sharpened *target distribution*
//! (eq. 3), computed over the whole fit set and held fixed for `update_interval` steps,
//!
//! ```text
//! p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j'),   f_j = sum_i q_ij,
//! ```
//!
//! is the training target of the loss L = KL(P || Q) (eq. 2), minimised by SGD with
//! momentum over the encoder's weights and the centres together (eqs. 4 and 5). Training
//! stops when fewer than `tol` of the labels argmax_j q_ij changed between two target
//! updates (section 3.1.3), or after `max_iter` steps.
//!
//! This follows the reference Keras implementation (DEC-keras): centres start from K-Means
//! with 20 restarts on the embeddings, batches are taken in order (not shuffled), SGD has
//! lr 0.01 and momentum 0.9, batch 256, the target is refreshed every 140 steps, and
//! tol = 0.1%.

use std::ops::ControlFlow;

use crate::cluster::{KMeans, KMeansParams};
use crate::data::augment::Augmenter;
use crate::linalg::{MatMut, MatRef, Matrix, argmax_rows};
use crate::nn::{
    Activation, Mlp, Nesterov, Optimizer, Parameters, Sgd, TensorSource, Workspace, kl_divergence,
    stack_activations,
};
use crate::{Error, Result};

pub mod soft_assignment;

pub use soft_assignment::{
    dec_loss_backward, soft_assignment_backward, soft_assignment_forward, target_distribution,
};

/// The degrees of freedom of the Student's t kernel: 1 in the paper (no cross-validation
/// without labels).
pub const ALPHA: f32 = 1.0;

/// DEC's training hyper-parameters; `Default` is the reference implementation's.
#[derive(Clone, Debug, PartialEq)]
pub struct DecParams {
    /// SGD learning rate.
    pub learning_rate: f32,
    /// SGD momentum.
    pub momentum: f32,
    pub batch_size: usize,
    /// Steps between two recomputations of the target distribution p.
    pub update_interval: usize,
    /// Stop when at most this fraction of labels changed between two updates.
    pub tol: f64,
    /// The most SGD steps to take.
    pub max_iter: usize,
}

impl Default for DecParams {
    fn default() -> Self {
        DecParams {
            learning_rate: 0.01,
            momentum: 0.9,
            batch_size: 256,
            update_interval: 140,
            tol: 0.001,
            max_iter: 20_000,
        }
    }
}

impl DecParams {
    /// Rejects values under which training cannot run (one-line `Error::Invalid`).
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, problem: &str| Err(Error::invalid(what, problem));
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad("DEC learning rate", "must be a positive number");
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("DEC momentum", "must be in [0, 1)");
        }
        if self.batch_size == 0 {
            return bad("batch size", "must be at least 1");
        }
        if self.update_interval == 0 {
            return bad("DEC update interval", "must be at least 1");
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return bad("DEC tolerance", "must be a non-negative number");
        }
        Ok(())
    }
}

/// The DEC model, one unit: the encoder f, the cluster centres mu and the kernel's alpha.
#[derive(Clone, Debug)]
pub struct Dec {
    pub encoder: Mlp,
    /// mu is (K, D), D the encoder's output width.
    pub centres: Matrix,
    /// The Student's t kernel's degrees of freedom (eq. 1).
    pub alpha: f32,
    /// dL/dmu (K, D) of the last batch, beside mu as a Dense layer keeps dW beside W.
    pub dcentres: Matrix,
}

/// Where a DEC run stands; everything a checkpoint needs besides the model, so that a
/// resumed run continues exactly as an uninterrupted one would.
#[derive(Clone, Debug)]
pub struct DecState {
    /// SGD steps taken so far.
    pub iter: usize,
    /// argmax_j q_ij at the last target update, (N,); empty before the first.
    pub last_labels: Vec<usize>,
    /// The target distribution p of the current interval, (N, K); empty before the first
    /// update. A run stopped between two updates keeps it to resume with.
    pub target: Matrix,
    /// SGD with its momentum (velocity) buffers.
    pub optimizer: Sgd,
}

impl DecState {
    /// A fresh run's state.
    pub fn new(params: &DecParams) -> Self {
        DecState {
            iter: 0,
            last_labels: Vec::new(),
            target: Matrix::zeros(0, 0),
            optimizer: Sgd::new(params.learning_rate, params.momentum, Nesterov::No),
        }
    }
}

/// What `Dec::fit` reports at each target update (`M`: the model trained, DEC or IDEC).
pub struct TargetUpdate<'a, M = Dec> {
    /// SGD steps taken before this update.
    pub iter: usize,
    /// KL(P || Q) over the fit set with the new target P: how far the model still is
    /// from its own sharpened assignments.
    pub loss: f32,
    /// Labels that changed since the previous update (all N at the first).
    pub changed: usize,
    /// argmax_j q_ij on the fit set, (N,).
    pub labels: &'a [usize],
    /// The model as it is now (to evaluate on held-out data, or to checkpoint).
    pub model: &'a M,
    /// The run's state just before this update (to checkpoint: resuming from it redoes
    /// this update and continues exactly as an uninterrupted run).
    pub state: &'a DecState,
}

/// Why `Dec::fit` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Fewer than `tol` of the labels changed between two updates.
    Converged,
    /// `max_iter` steps were taken.
    MaxIter,
    /// The caller's `on_update` returned `Break`.
    Stopped,
    /// `stop` said yes after a step (Ctrl-C); `state` resumes from there.
    Interrupted,
}

impl Dec {
    /// The name of the centres among DEC's tensors (the encoder's come first).
    pub const CENTRES: &str = "centres";

    /// Wraps an encoder (d0 -> D), centres mu (K, D) and alpha; panics when the shapes
    /// disagree (a programming error here; a file goes through `from_parts`).
    #[track_caller]
    pub fn new(encoder: Mlp, centres: Matrix, alpha: f32) -> Self {
        assert_eq!(
            centres.cols(),
            encoder.output_dim(),
            "DEC: centres are {:?}, the encoder outputs {} values",
            centres.shape(),
            encoder.output_dim()
        );
        let dcentres = Matrix::zeros(centres.rows(), centres.cols());
        Dec {
            encoder,
            centres,
            alpha,
            dcentres,
        }
    }

    /// [`Dec::new`] as an error instead of a panic: at least one centre, of the
    /// encoder's output width, and alpha a positive number.
    pub fn from_parts(encoder: Mlp, centres: Matrix, alpha: f32) -> Result<Self> {
        if centres.rows() == 0 || centres.cols() != encoder.output_dim() {
            return Err(Error::invalid(
                Self::CENTRES,
                format!(
                    "shape {:?}, expected (K, {}) with K at least 1",
                    centres.shape(),
                    encoder.output_dim()
                ),
            ));
        }
        if !(alpha > 0.0 && alpha.is_finite()) {
            return Err(Error::invalid("DEC alpha", "must be a positive number"));
        }
        Ok(Dec::new(encoder, centres, alpha))
    }

    /// The DEC model of an encoder `dims` (ReLU inside, `code` on the code layer) and K
    /// centres whose tensors `source` holds under `prefix` + the names `visit` gives
    /// ("0.weight", ..., "centres").
    pub fn from_source(
        source: &mut dyn TensorSource,
        prefix: &str,
        dims: &[usize],
        code: Activation,
        (k, alpha): (usize, f32),
    ) -> Result<Self> {
        let layers = dims.len().saturating_sub(1);
        let encoder = Mlp::from_source(source, prefix, dims, &stack_activations(layers, code))?;
        let centres = Dec::centres_from_source(source, prefix, k, encoder.output_dim())?;
        Dec::from_parts(encoder, centres, alpha)
    }

    /// The centres (K, D) under `prefix` + "centres".
    pub fn centres_from_source(
        source: &mut dyn TensorSource,
        prefix: &str,
        k: usize,
        d: usize,
    ) -> Result<Matrix> {
        source.matrix(&format!("{prefix}{}", Self::CENTRES), k, d)
    }

    /// The walk's last entry: ("centres", mu (K, D), dL/dmu).
    pub(crate) fn visit_centres<'a>(
        &'a self,
        prefix: &str,
        f: &mut dyn FnMut(String, &'a Matrix, &'a Matrix),
    ) {
        f(
            format!("{prefix}{}", Self::CENTRES),
            &self.centres,
            &self.dcentres,
        );
    }

    /// The paper's initialisation (section 3.2): embed the fit set and take the centres of
    /// K-Means (with `kmeans.n_init` restarts) on the embeddings. Returns the K-Means fit too.
    pub fn init_with_kmeans(
        encoder: Mlp,
        x: &Matrix,
        kmeans: &KMeansParams,
        alpha: f32,
    ) -> Result<(Dec, KMeans)> {
        let z = encoder.predict(x); // z is (N, D)
        let fitted = kmeans.fit(z.view())?;
        Ok((Dec::new(encoder, fitted.centroids.clone(), alpha), fitted))
    }

    /// K, the number of clusters.
    pub fn clusters(&self) -> usize {
        self.centres.rows()
    }

    /// q for every row of x (N, d0), as (N, K).
    pub fn soft_assign<'x>(&self, x: impl Into<MatRef<'x>>) -> Matrix {
        let z = self.encoder.predict(x); // z is (N, D)
        let mut q = Matrix::zeros(z.rows(), self.clusters());
        soft_assignment_forward(&mut q, &z, &self.centres, self.alpha);
        q
    }

    /// The hard clustering argmax_j q_ij of every row of x (N, d0).
    pub fn predict<'x>(&self, x: impl Into<MatRef<'x>>) -> Vec<usize> {
        argmax_rows(&self.soft_assign(x))
    }

    /// Each row of x (N, d0) to its cluster argmax_j q_ij, with how surely: that largest
    /// q_ij. Both (N,). What the experiment scores and what `predict` writes.
    pub fn assign<'x>(&self, x: impl Into<MatRef<'x>>) -> (Vec<usize>, Vec<f32>) {
        let q = self.soft_assign(x); // (N, K)
        let assignment = argmax_rows(&q);
        let confidence = q
            .iter_rows()
            .zip(&assignment)
            .map(|(row, &j)| row[j])
            .collect();
        (assignment, confidence)
    }

    /// Trains encoder and centres on the rows of x (N, d0) until convergence, `max_iter`
    /// steps, or until `on_update` returns `Break`; continues from `state` (a fresh
    /// `DecState::new` or one restored from a checkpoint taken at an update).
    ///
    /// A NaN or infinite loss stops at once with `Error::Diverged`, before the update that
    /// would spread it into the weights.
    pub fn fit(
        &mut self,
        x: &Matrix,
        params: &DecParams,
        state: &mut DecState,
        on_update: &mut dyn FnMut(&TargetUpdate<'_>) -> ControlFlow<()>,
    ) -> Result<Stop> {
        self.fit_until(x, params, state, on_update, &|| false)
    }

    /// Like `fit`, and `stop` is asked after every SGD step (Ctrl-C): when it says yes,
    /// training returns `Stop::Interrupted` with `state` ready to resume from that step.
    pub fn fit_until(
        &mut self,
        x: &Matrix,
        params: &DecParams,
        state: &mut DecState,
        on_update: &mut dyn FnMut(&TargetUpdate<'_>) -> ControlFlow<()>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Stop> {
        self.fit_augmented(x, params, state, None, on_update, stop)
    }

    /// Like `fit_until`, and with `augment` every SGD step sees its batch freshly
    /// augmented (DEC-DA: Guo et al. 2018), while the target P and the stop rule are
    /// computed on the clean images. Without it, exactly `fit_until`.
    pub fn fit_augmented(
        &mut self,
        x: &Matrix,
        params: &DecParams,
        state: &mut DecState,
        augment: Option<&Augmenter>,
        on_update: &mut dyn FnMut(&TargetUpdate<'_>) -> ControlFlow<()>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Stop> {
        let mut ws = DecWorkspace::new(self, params.batch_size.min(x.rows()));
        self_train(self, &mut ws, x, params, state, augment, on_update, stop)
    }
}

/// A model that DEC's self-training loop can train: a soft assignment of the images to
/// K clusters (through the encoder and the centres of a [`Dec`]), and the gradient of its
/// loss on one batch against that batch's rows of the target P. DEC itself (loss
/// KL(P || Q)) is one; IDEC (`cluster::idec`, KL plus the decoder's reconstruction) is
/// the other.
pub trait SelfTrained: Parameters {
    /// The buffers of one step, allocated once per run.
    type Workspace;
    /// The phase's name in errors ("DEC", "IDEC").
    const NAME: &'static str;

    /// The clustering part: encoder, centres, alpha.
    fn dec(&self) -> &Dec;

    /// Sets every gradient to that of the loss on the batch x_b (b, d0) with target
    /// p_b (b, K), and returns the loss. Updates nothing.
    fn batch_gradient(&mut self, ws: &mut Self::Workspace, x_b: MatRef<'_>, p_b: MatRef<'_>)
    -> f32;
}

/// DEC's step buffers: z, q, dz are (B, D) or (B, K).
pub struct DecWorkspace {
    encoder: Workspace,
    z: Matrix,
    q: Matrix,
    dz: Matrix,
}

impl DecWorkspace {
    /// Buffers for batches of up to `batch_size` rows.
    pub fn new(dec: &Dec, batch_size: usize) -> Self {
        let (k, d) = dec.centres.shape();
        DecWorkspace {
            encoder: Workspace::new(&dec.encoder),
            z: Matrix::zeros(batch_size, d),
            q: Matrix::zeros(batch_size, k),
            dz: Matrix::zeros(batch_size, d),
        }
    }
}

impl SelfTrained for Dec {
    type Workspace = DecWorkspace;
    const NAME: &'static str = "DEC";

    fn dec(&self) -> &Dec {
        self
    }

    fn batch_gradient(&mut self, ws: &mut DecWorkspace, x_b: MatRef<'_>, p_b: MatRef<'_>) -> f32 {
        let (b, (k, d), alpha) = (x_b.rows(), self.centres.shape(), self.alpha);
        // forward: z = f(x_b), q = soft_assignment(z, mu), L = KL(p || q)
        let out = self.encoder.forward(&mut ws.encoder, x_b); // (b, D)
        for i in 0..b {
            ws.z.row_mut(i).copy_from_slice(out.row(i));
        }
        let z_b = ws.z.rows_range(0..b); // (b, D)
        let mut q_b = MatMut::from_slice(&mut ws.q.as_mut_slice()[..b * k], b, k);
        soft_assignment_forward(q_b.reborrow(), z_b, &self.centres, alpha);
        let q_b = q_b.as_ref();
        let loss = kl_divergence(p_b, q_b);
        if !loss.is_finite() {
            return loss;
        }
        // backward: dL/dz and dL/dmu in closed form (eqs. 4, 5), then dL/dz through f
        let mut dz_b = MatMut::from_slice(&mut ws.dz.as_mut_slice()[..b * d], b, d);
        dec_loss_backward(
            dz_b.reborrow(),
            &mut self.dcentres,
            p_b,
            q_b,
            z_b,
            &self.centres,
            alpha,
        );
        self.encoder.backward(&mut ws.encoder, dz_b.as_ref());
        loss
    }
}

impl Parameters for Dec {
    /// The encoder's tensors ("0.weight", ...), then the centres ("centres").
    fn visit<'a>(&'a self, prefix: &str, f: &mut dyn FnMut(String, &'a Matrix, &'a Matrix)) {
        self.encoder.visit(prefix, f);
        self.visit_centres(prefix, f);
    }

    fn visit_mut<'a>(
        &'a mut self,
        prefix: &str,
        f: &mut dyn FnMut(String, &'a mut Matrix, &'a Matrix),
    ) {
        let Dec {
            encoder,
            centres,
            dcentres,
            ..
        } = self;
        encoder.visit_mut(prefix, f);
        f(format!("{prefix}{}", Self::CENTRES), centres, dcentres);
    }
}

/// DEC's loop (section 3.1.3), for any [`SelfTrained`] model: the target distribution
/// over the whole fit set x (N, d0) every `update_interval` steps, the stop rule, and
/// between updates one SGD step per batch. Continues from `state`; see `Dec::fit_until`
/// and `Dec::fit_augmented` for the callbacks and `augment`.
#[allow(clippy::too_many_arguments)]
pub fn self_train<M: SelfTrained>(
    model: &mut M,
    ws: &mut M::Workspace,
    x: &Matrix,
    params: &DecParams,
    state: &mut DecState,
    augment: Option<&Augmenter>,
    on_update: &mut dyn FnMut(&TargetUpdate<'_, M>) -> ControlFlow<()>,
    stop: &dyn Fn() -> bool,
) -> Result<Stop> {
    params.validate()?;
    let alpha = model.dec().alpha;
    if !(alpha > 0.0 && alpha.is_finite()) {
        return Err(Error::invalid(
            format!("{} alpha", M::NAME),
            "must be a positive number",
        ));
    }
    let n = x.rows();
    if n == 0 {
        return Err(Error::invalid(M::NAME, "no images to cluster"));
    }
    let k = model.dec().clusters();
    let batch_size = params.batch_size.min(n);
    // Batches are taken in order, wrapping round: step t uses batch t mod ceil(N / B),
    // the last one of a pass being the smaller remainder. Deriving the batch from the
    // step count alone is what lets a resumed run pick up exactly where it stopped.
    let batches_per_pass = n.div_ceil(batch_size);
    if state.target.rows() != 0 && state.target.shape() != (n, k) {
        return Err(Error::invalid(
            M::NAME,
            format!(
                "the saved target is {:?}, expected ({n}, {k})",
                state.target.shape()
            ),
        ));
    }
    // With augmentation, the batch's images are transformed into this (B, d0) buffer,
    // allocated once; `rows` (B,) names the images of the batch.
    let mut augmented = augment.map(|_| Matrix::zeros(batch_size, x.cols()));
    let mut rows: Vec<usize> = Vec::with_capacity(batch_size);

    loop {
        // p_all (N, K) is the target of the current interval, kept in the state.
        if state.iter.is_multiple_of(params.update_interval) || state.target.rows() == 0 {
            // The target distribution over the whole fit set (eq. 3), held fixed until
            // the next update so that the network chases a stable target. Always of the
            // clean images, augmented or not.
            let q_all = model.dec().soft_assign(x);
            let target = target_distribution(&q_all);
            let labels = argmax_rows(&q_all);
            let changed = if state.last_labels.len() == n {
                labels
                    .iter()
                    .zip(&state.last_labels)
                    .filter(|(a, b)| a != b)
                    .count()
            } else {
                n
            };
            let loss = kl_divergence(&target, &q_all);
            let converged = state.iter > 0 && (changed as f64) < params.tol * n as f64;
            // The caller sees the state as it was before this update (a checkpoint
            // taken here resumes by redoing this very update), and the new labels.
            let report = TargetUpdate {
                iter: state.iter,
                loss,
                changed,
                labels: &labels,
                model: &*model,
                state,
            };
            let flow = on_update(&report);
            state.last_labels = labels;
            state.target = target;
            if flow.is_break() {
                return Ok(Stop::Stopped);
            }
            if converged {
                return Ok(Stop::Converged);
            }
        }
        if state.iter >= params.max_iter {
            return Ok(Stop::MaxIter);
        }

        let start = (state.iter % batches_per_pass) * batch_size;
        let end = (start + batch_size).min(n);
        let b = end - start;
        // x_b is (b, d0): the clean rows, or their augmentations drawn for this step;
        // p_b is (b, K)
        let x_b = match (augment, augmented.as_mut()) {
            (Some(augmenter), Some(buffer)) => {
                rows.clear();
                rows.extend(start..end);
                let out = buffer.view_mut().rows_range(0..b);
                augmenter.augment_batch(x.view(), &rows, state.iter as u64, out);
                buffer.rows_range(0..b)
            }
            _ => x.rows_range(start..end),
        };
        let p_b = state.target.rows_range(start..end);
        let loss = model.batch_gradient(ws, x_b, p_b);
        if !loss.is_finite() {
            return Err(Error::Diverged {
                phase: M::NAME.to_string(),
                epoch: state.iter / batches_per_pass + 1,
                step: state.iter + 1,
                loss,
            });
        }
        // update: one SGD step over every parameter together
        state.optimizer.step(&mut model.params_mut());
        state.iter += 1;
        if stop() {
            return Ok(Stop::Interrupted);
        }
    }
}
