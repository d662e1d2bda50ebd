//! Weight initialisers. Biases always start at zero.
//!
//! Both draw each weight from U(-limit, limit); they differ only in the limit, which is
//! chosen so that activations keep roughly the same variance from layer to layer.

use rand::Rng;

use crate::linalg::Matrix;

/// How a Dense layer's weight matrix W (in, out) is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Keras's default `glorot_uniform`: limit = sqrt(6 / (fan_in + fan_out)).
    GlorotUniform,
    /// Keras's `VarianceScaling(scale, mode='fan_in', distribution='uniform')`:
    /// limit = sqrt(3 * scale / fan_in). The reference DEC code uses scale = 1/3, which
    /// gives limit = 1 / sqrt(fan_in).
    VarianceScalingFanInUniform { scale: f32 },
}

impl Init {
    /// The reference DEC implementation's initialiser.
    pub const DEC: Init = Init::VarianceScalingFanInUniform { scale: 1.0 / 3.0 };

    /// The half-width of the uniform distribution for a (fan_in, fan_out) weight.
    pub fn limit(self, fan_in: usize, fan_out: usize) -> f32 {
        match self {
            Init::GlorotUniform => (6.0 / (fan_in + fan_out) as f64).sqrt() as f32,
            Init::VarianceScalingFanInUniform { scale } => {
                (3.0 * scale as f64 / fan_in as f64).sqrt() as f32
            }
        }
    }

    /// A fresh W (fan_in, fan_out), drawn in row-major order from `rng`.
    pub fn weight(self, fan_in: usize, fan_out: usize, rng: &mut impl Rng) -> Matrix {
        let limit = self.limit(fan_in, fan_out);
        Matrix::from_fn(fan_in, fan_out, |_, _| rng.random_range(-limit..limit))
    }
}
