//! Improved Deep Embedded Clustering (Guo, Gao, Liu, Yin, IJCAI 2017).
//!
//! DEC (`cluster::dec`) throws the decoder away and trains the encoder on the clustering
//! loss alone, which may distort the embedding until it no longer describes the images.
//! IDEC keeps the decoder and trains encoder, decoder and centres together on
//!
//! ```text
//! L = gamma * L_c + L_r,   L_c = KL(P || Q),   L_r = MSE(x, g(f(x)))        (IDEC, eq. 7)
//! ```
//!
//! so the reconstruction keeps the codes' local structure. The scaling is that of DEC-DA's
//! FcIDEC (Keras `loss=['kld', 'mse'], loss_weights=[0.1, 1.0]`): L_c summed over the
//! clusters and averaged over the batch rows, L_r averaged over every element of the batch,
//! gamma = 0.1. Its optimiser is SGD with lr 1.0 and momentum 0.9 (DEC-DA's `run_exp.py`).
//! Everything else is DEC's loop: the target P over the whole fit set every
//! `update_interval` steps, the 0.1 % stop rule, batches in order.
//!
//! With augmentation (DEC-DA, FcIDEC-DA) a step's batch is augmented and the decoder
//! reconstructs the augmented images themselves (`train_on_batch(x, [p, x])` on the
//! augmented x); P and the stop rule still come from the clean images.
//!
//! The backward: the decoder's backward of the MSE gives dL_r/dz; DEC's closed form gives
//! dL_c/dz and dL_c/dmu; [`combine_code_gradients`] forms dL/dz = gamma dL_c/dz + dL_r/dz
//! and dL/dmu = gamma dL_c/dmu, and the encoder's backward carries dL/dz on.

use std::ops::ControlFlow;

use crate::cluster::dec::{
    Dec, DecParams, DecState, SelfTrained, Stop, TargetUpdate, dec_loss_backward, self_train,
    soft_assignment_forward,
};
use crate::data::augment::Augmenter;
use crate::linalg::{MatMut, MatRef, Matrix};
use crate::nn::{
    Activation, Autoencoder, Mlp, Parameters, TensorSource, Workspace, kl_divergence, mse_backward,
    mse_forward,
};
use crate::{Error, Result};

/// The weight of the clustering loss: 0.1 in IDEC and DEC-DA.
pub const GAMMA: f32 = 0.1;

/// IDEC's hyper-parameters: DEC's loop with its own optimiser, and gamma.
#[derive(Clone, Debug, PartialEq)]
pub struct IdecParams {
    /// SGD, batch size, update interval, tolerance and step limit, as DEC's.
    pub dec: DecParams,
    /// The weight of KL(P || Q) against the reconstruction MSE.
    pub gamma: f32,
}

impl Default for IdecParams {
    /// DEC-DA's FcIDEC: SGD lr 1.0 momentum 0.9, batch 256, target every 140 steps,
    /// tol 0.1 %, at most 20,000 steps, gamma 0.1.
    fn default() -> Self {
        IdecParams {
            dec: DecParams {
                learning_rate: 1.0,
                ..DecParams::default()
            },
            gamma: GAMMA,
        }
    }
}

impl IdecParams {
    /// Rejects values under which training cannot run (one-line `Error::Invalid`).
    pub fn validate(&self) -> Result<()> {
        self.dec.validate()?;
        if !(self.gamma >= 0.0 && self.gamma.is_finite()) {
            return Err(Error::invalid(
                "IDEC gamma",
                "must be a non-negative number",
            ));
        }
        Ok(())
    }
}

/// The IDEC model: DEC's encoder, centres and alpha, and the decoder.
#[derive(Clone, Debug)]
pub struct Idec {
    pub dec: Dec,
    /// D -> ... -> d0, the mirror of the encoder.
    pub decoder: Mlp,
}

impl Idec {
    /// The pretrained autoencoder with centres mu (K, D) in its code space.
    #[track_caller]
    pub fn new(ae: Autoencoder, centres: Matrix, alpha: f32) -> Self {
        assert!(
            ae.decoder.input_dim() == ae.encoder.output_dim()
                && ae.decoder.output_dim() == ae.encoder.input_dim(),
            "IDEC: the decoder {:?} does not mirror the encoder {:?}",
            ae.decoder.dims(),
            ae.encoder.dims()
        );
        Idec {
            dec: Dec::new(ae.encoder, centres, alpha),
            decoder: ae.decoder,
        }
    }

    /// [`Idec::new`] as an error instead of a panic (see `Dec::from_parts`).
    pub fn from_parts(ae: Autoencoder, centres: Matrix, alpha: f32) -> Result<Self> {
        let Autoencoder { encoder, decoder } = ae;
        let ae = Autoencoder::from_parts(encoder, decoder)?;
        let dec = Dec::from_parts(ae.encoder, centres, alpha)?;
        Ok(Idec {
            dec,
            decoder: ae.decoder,
        })
    }

    /// The IDEC model of an autoencoder `dims` (activations as in `Autoencoder::new`) and K
    /// centres whose tensors `source` holds under `prefix` + the names `visit` gives
    /// ("encoder.0.weight", ..., "decoder.0.weight", ..., "centres").
    pub fn from_source(
        source: &mut dyn TensorSource,
        prefix: &str,
        dims: &[usize],
        (code, output): (Activation, Activation),
        (k, alpha): (usize, f32),
    ) -> Result<Self> {
        let ae = Autoencoder::from_source(source, prefix, dims, code, output)?;
        let centres = Dec::centres_from_source(source, prefix, k, ae.encoder.output_dim())?;
        Idec::from_parts(ae, centres, alpha)
    }

    /// K, the number of clusters.
    pub fn clusters(&self) -> usize {
        self.dec.clusters()
    }

    /// q (N, K) for every row of x (N, d0): the encoder and centres, as DEC's.
    pub fn soft_assign<'x>(&self, x: impl Into<MatRef<'x>>) -> Matrix {
        self.dec.soft_assign(x)
    }

    /// The hard clustering argmax_j q_ij of every row of x (N, d0).
    pub fn predict<'x>(&self, x: impl Into<MatRef<'x>>) -> Vec<usize> {
        self.dec.predict(x)
    }

    /// The reconstructions (N, d0) of x (N, d0).
    pub fn reconstruct<'x>(&self, x: impl Into<MatRef<'x>>) -> Matrix {
        self.decoder.predict(&self.dec.encoder.predict(x))
    }

    /// Trains encoder, decoder and centres on the rows of x (N, d0) until convergence,
    /// `max_iter` steps or a `Break` from `on_update`; see `Dec::fit`.
    pub fn fit(
        &mut self,
        x: &Matrix,
        params: &IdecParams,
        state: &mut DecState,
        on_update: &mut dyn FnMut(&TargetUpdate<'_, Idec>) -> ControlFlow<()>,
    ) -> Result<Stop> {
        self.fit_augmented(x, params, state, None, on_update, &|| false)
    }

    /// Like `fit`, asking `stop` after every step (`Stop::Interrupted`, resumable from
    /// `state`), and with `augment` each step's batch freshly augmented; see
    /// `Dec::fit_augmented`.
    pub fn fit_augmented(
        &mut self,
        x: &Matrix,
        params: &IdecParams,
        state: &mut DecState,
        augment: Option<&Augmenter>,
        on_update: &mut dyn FnMut(&TargetUpdate<'_, Idec>) -> ControlFlow<()>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Stop> {
        params.validate()?;
        let mut ws = IdecWorkspace::new(self, params.dec.batch_size.min(x.rows()), params.gamma);
        self_train(
            self,
            &mut ws,
            x,
            &params.dec,
            state,
            augment,
            on_update,
            stop,
        )
    }

    /// Like `SelfTrained::batch_gradient`, with `combine` in place of
    /// [`combine_code_gradients`] (so that a test can run the backward with a wrong one).
    pub fn batch_gradient_with(
        &mut self,
        ws: &mut IdecWorkspace,
        x_b: MatRef<'_>,
        p_b: MatRef<'_>,
        combine: CombineCodeGradients,
    ) -> f32 {
        let b = x_b.rows();
        let dec = &mut self.dec;
        let ((k, d), alpha) = (dec.centres.shape(), dec.alpha);
        // forward: z = f(x_b) (b, D), x_hat = g(z) (b, d0), q = soft_assignment(z, mu)
        let out = dec.encoder.forward(&mut ws.encoder, x_b);
        for i in 0..b {
            ws.z.row_mut(i).copy_from_slice(out.row(i));
        }
        let z_b = ws.z.rows_range(0..b);
        let x_hat = self.decoder.forward(&mut ws.decoder, z_b);
        let reconstruction = mse_forward(x_hat, x_b);
        let mut q_b = MatMut::from_slice(&mut ws.q.as_mut_slice()[..b * k], b, k);
        soft_assignment_forward(q_b.reborrow(), z_b, &dec.centres, alpha);
        let q_b = q_b.as_ref();
        let clustering = kl_divergence(p_b, q_b);
        let loss = ws.gamma * clustering + reconstruction;
        ws.last = (clustering, reconstruction);
        if !loss.is_finite() {
            return loss;
        }
        // backward of L_r: dL_r/dx_hat (b, d0), then through the decoder to dL_r/dz (b, D)
        let dx_hat = ws.dx_hat.view_mut().rows_range(0..b);
        mse_backward(dx_hat, x_hat, x_b);
        let dz_reconstruction = self
            .decoder
            .backward_to_input(&mut ws.decoder, ws.dx_hat.rows_range(0..b));
        // backward of L_c: dL_c/dz (b, D) and dL_c/dmu (K, D) in closed form
        let mut dz_b = MatMut::from_slice(&mut ws.dz.as_mut_slice()[..b * d], b, d);
        dec_loss_backward(
            dz_b.reborrow(),
            &mut dec.dcentres,
            p_b,
            q_b,
            z_b,
            &dec.centres,
            alpha,
        );
        // the weighted sum, then through the encoder
        combine(
            &mut ws.dz.as_mut_slice()[..b * d],
            dec.dcentres.as_mut_slice(),
            &dz_reconstruction.as_slice()[..b * d],
            ws.gamma,
        );
        dec.encoder
            .backward(&mut ws.encoder, ws.dz.rows_range(0..b));
        loss
    }
}

/// (dL_c/dz -> dL/dz, dL_c/dmu -> dL/dmu, dL_r/dz, gamma): how the two losses' gradients
/// at the codes are combined, in place.
pub type CombineCodeGradients = fn(&mut [f32], &mut [f32], &[f32], f32);

/// dL/dz = gamma dL_c/dz + dL_r/dz and dL/dmu = gamma dL_c/dmu (the reconstruction does
/// not depend on the centres), written over the clustering gradients `dz` (b * D) and
/// `dmu` (K * D); `dz_reconstruction` is (b * D).
pub fn combine_code_gradients(
    dz: &mut [f32],
    dmu: &mut [f32],
    dz_reconstruction: &[f32],
    gamma: f32,
) {
    for (g, &r) in dz.iter_mut().zip(dz_reconstruction) {
        *g = gamma * *g + r;
    }
    for g in dmu.iter_mut() {
        *g *= gamma;
    }
}

/// IDEC's step buffers: z, q, dz are (B, D) or (B, K); dx_hat is (B, d0).
pub struct IdecWorkspace {
    encoder: Workspace,
    decoder: Workspace,
    z: Matrix,
    q: Matrix,
    dz: Matrix,
    dx_hat: Matrix,
    gamma: f32,
    /// (L_c, L_r) of the last batch.
    last: (f32, f32),
}

impl IdecWorkspace {
    /// Buffers for batches of up to `batch_size` rows, and the loss weight gamma.
    pub fn new(idec: &Idec, batch_size: usize, gamma: f32) -> Self {
        let (k, d) = idec.dec.centres.shape();
        IdecWorkspace {
            encoder: Workspace::new(&idec.dec.encoder),
            decoder: Workspace::new(&idec.decoder),
            z: Matrix::zeros(batch_size, d),
            q: Matrix::zeros(batch_size, k),
            dz: Matrix::zeros(batch_size, d),
            dx_hat: Matrix::zeros(batch_size, idec.decoder.output_dim()),
            gamma,
            last: (f32::NAN, f32::NAN),
        }
    }

    /// KL(P || Q) and the reconstruction MSE of the last batch.
    pub fn last_losses(&self) -> (f32, f32) {
        self.last
    }
}

impl SelfTrained for Idec {
    type Workspace = IdecWorkspace;
    const NAME: &'static str = "IDEC";

    fn dec(&self) -> &Dec {
        &self.dec
    }

    fn batch_gradient(&mut self, ws: &mut IdecWorkspace, x_b: MatRef<'_>, p_b: MatRef<'_>) -> f32 {
        self.batch_gradient_with(ws, x_b, p_b, combine_code_gradients)
    }
}

impl Parameters for Idec {
    /// The encoder's tensors ("encoder.0.weight", ...), the decoder's ("decoder.0.weight",
    /// ...), then the centres ("centres"): `idec.safetensors`'s names, and SGD's order.
    fn visit<'a>(&'a self, prefix: &str, f: &mut dyn FnMut(String, &'a Matrix, &'a Matrix)) {
        let encoder = format!("{prefix}{}", Autoencoder::ENCODER);
        self.dec.encoder.visit(&encoder, f);
        let decoder = format!("{prefix}{}", Autoencoder::DECODER);
        self.decoder.visit(&decoder, f);
        self.dec.visit_centres(prefix, f);
    }

    fn visit_mut<'a>(
        &'a mut self,
        prefix: &str,
        f: &mut dyn FnMut(String, &'a mut Matrix, &'a Matrix),
    ) {
        let Idec { dec, decoder } = self;
        let Dec {
            encoder,
            centres,
            dcentres,
            ..
        } = dec;
        encoder.visit_mut(&format!("{prefix}{}", Autoencoder::ENCODER), f);
        decoder.visit_mut(&format!("{prefix}{}", Autoencoder::DECODER), f);
        f(format!("{prefix}{}", Dec::CENTRES), centres, dcentres);
    }
}
