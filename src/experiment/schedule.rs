//! Training schedules: what `--preset quick` and `--preset paper` mean, in one place.

use crate::cluster::{DecParams, IdecParams};
use crate::nn::{Activation, Adam, Init, Nesterov, Optimizer, Param, Sgd};

/// The named schedules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// A short schedule that finishes all three methods in minutes on two cores.
    Quick,
    /// The reference implementation's schedule (300 pretraining epochs, SGD lr 1).
    Paper,
}

impl Preset {
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Quick => "quick",
            Preset::Paper => "paper",
        }
    }
}

/// How the autoencoder is pretrained.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PretrainOptimizer {
    Adam { lr: f32 },
    Sgd { lr: f32, momentum: f32 },
}

/// A pretraining optimiser with its state, which a checkpoint saves and restores.
#[derive(Clone, Debug)]
pub enum TrainOptimizer {
    Adam(Adam),
    Sgd(Sgd),
}

impl Optimizer for TrainOptimizer {
    fn step(&mut self, params: &mut [Param<'_>]) {
        match self {
            TrainOptimizer::Adam(adam) => adam.step(params),
            TrainOptimizer::Sgd(sgd) => sgd.step(params),
        }
    }
}

impl PretrainOptimizer {
    pub fn build(self) -> TrainOptimizer {
        match self {
            PretrainOptimizer::Adam { lr } => TrainOptimizer::Adam(Adam::new(lr)),
            PretrainOptimizer::Sgd { lr, momentum } => {
                TrainOptimizer::Sgd(Sgd::new(lr, momentum, Nesterov::No))
            }
        }
    }

    pub fn describe(self) -> String {
        match self {
            PretrainOptimizer::Adam { lr } => format!("Adam lr {lr}"),
            PretrainOptimizer::Sgd { lr, momentum } => format!("SGD lr {lr} momentum {momentum}"),
        }
    }
}

/// Everything a run's training depends on besides the data and the seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// Encoder layer sizes after the input: the paper's d-500-500-2000-10.
    pub hidden: Vec<usize>,
    pub init: Init,
    pub code_activation: Activation,
    pub output_activation: Activation,
    pub pretrain_epochs: usize,
    pub pretrain_batch: usize,
    pub pretrain_optimizer: PretrainOptimizer,
    /// AE+K-Means is scored on the validation set every this many pretraining epochs
    /// (for the log and the curve); 0 = only at the end.
    pub score_every: usize,
    /// K-Means restarts, on pixels and on codes (the tutorial and the paper: 20).
    pub kmeans_n_init: usize,
    pub dec: DecParams,
    /// IDEC (`--method idec`): DEC-DA's FcIDEC, SGD lr 1.0, gamma 0.1; the batch size and
    /// step limit follow `dec`'s (`--batch-size`, `--max-iter`).
    pub idec: IdecParams,
}

impl Schedule {
    /// Minutes on two cores. Adam reaches a useful embedding in far fewer epochs than the
    /// reference's SGD with lr 1; DEC then follows the reference exactly.
    pub fn quick() -> Self {
        Schedule {
            hidden: vec![500, 500, 2000, 10],
            init: Init::GlorotUniform,
            code_activation: Activation::Identity,
            output_activation: Activation::Identity,
            pretrain_epochs: 30,
            pretrain_batch: 256,
            pretrain_optimizer: PretrainOptimizer::Adam { lr: 0.001 },
            score_every: 10,
            kmeans_n_init: 20,
            dec: DecParams::default(),
            idec: IdecParams::default(),
        }
    }

    /// The reference DEC implementation's schedule (DEC-keras, MNIST): VarianceScaling(1/3,
    /// fan_in, uniform) initialisation, 300 epochs of SGD lr 1 momentum 0.9 with batch 256,
    /// then DEC with SGD lr 0.01 momentum 0.9, update interval 140, tol 0.1%, 20,000 steps.
    pub fn paper() -> Self {
        Schedule {
            init: Init::VarianceScalingFanInUniform { scale: 1.0 / 3.0 },
            pretrain_epochs: 300,
            pretrain_optimizer: PretrainOptimizer::Sgd {
                lr: 1.0,
                momentum: 0.9,
            },
            score_every: 25,
            ..Schedule::quick()
        }
    }

    /// The named preset's schedule.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Quick => Schedule::quick(),
            Preset::Paper => Schedule::paper(),
        }
    }

    /// [input, hidden...].
    pub fn dims(&self, input: usize) -> Vec<usize> {
        std::iter::once(input)
            .chain(self.hidden.iter().copied())
            .collect()
    }
}
