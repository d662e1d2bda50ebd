//! IDEC (Guo et al., IJCAI 2017; `cluster::idec`): DEC that keeps training the decoder,
//! on 0.1 KL(P || Q) + the reconstruction MSE, with DEC-DA's SGD lr 1.0. Started like DEC
//! (the pretrained autoencoder, the K-Means centres of its codes) and run through DEC's
//! experiment loop (`methods::dec::train`): logs `idec_log.csv` (the validation scores at
//! every target update), saves `idec.safetensors` (encoder, decoder and centres; `predict`
//! reads its encoder and centres) and draws `idec_scores.png`. Not part of `--method all`.

use std::ops::ControlFlow;
use std::path::Path;

use crate::Result;
use crate::cluster::dec::ALPHA;
use crate::cluster::{DecParams, DecState, Idec, Stop, TargetUpdate};
use crate::data::augment::Augmenter;
use crate::experiment::augmentation::Phase;
use crate::experiment::checkpoint::{Checkpoint, Snapshot};
use crate::experiment::identity::RunId;
use crate::experiment::methods::dec::{SelfTrainedMethod, train};
use crate::experiment::methods::{Clustering, Pretrained};
use crate::experiment::{Context, Schedule};
use crate::io::weights;
use crate::linalg::Matrix;

pub fn run(ctx: &mut Context<'_>, pretrained: Option<&mut Pretrained>) -> Result<Clustering> {
    train::<Idec>(ctx, pretrained.expect("idec needs the autoencoder"))
}

impl SelfTrainedMethod for Idec {
    const METHOD: &'static str = "idec";
    const WEIGHTS: &'static str = weights::IDEC_FILE;
    const PHASE: Phase = Phase::Idec;

    fn params(schedule: &Schedule) -> DecParams {
        schedule.idec.dec.clone()
    }

    fn start(pretrained: &Pretrained, centres: Matrix) -> Self {
        Idec::new(pretrained.ae.clone(), centres, ALPHA)
    }

    /// The checkpoint keeps SGD's velocities; its learning rate and momentum are IDEC's
    /// from the schedule (the checkpoint's loader knows only DEC's).
    fn resume(checkpoint: Checkpoint, schedule: &Schedule) -> Option<(Self, DecState)> {
        match checkpoint {
            Checkpoint::Idec {
                idec, mut state, ..
            } => {
                state.optimizer.lr = schedule.idec.dec.learning_rate;
                state.optimizer.momentum = schedule.idec.dec.momentum;
                Some((idec, state))
            }
            _ => None,
        }
    }

    fn snapshot<'a>(&'a self, state: &'a DecState, run: &'a RunId) -> Snapshot<'a> {
        Snapshot::Idec {
            idec: self,
            state,
            run,
        }
    }

    fn fit(
        &mut self,
        x: &Matrix,
        schedule: &Schedule,
        state: &mut DecState,
        augment: Option<&Augmenter>,
        on_update: &mut dyn FnMut(&TargetUpdate<'_, Self>) -> ControlFlow<()>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Stop> {
        self.fit_augmented(x, &schedule.idec, state, augment, on_update, stop)
    }

    fn save(&self, path: &Path, extra: Vec<(String, String)>) -> Result<()> {
        let (tensors, mut metadata) = weights::idec_tensors(self);
        metadata.extend(extra);
        weights::save_tensors(path, &tensors, &metadata)
    }
}
