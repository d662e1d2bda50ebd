//! Elementwise activations, applied in place to a Dense layer's output.
//!
//! Backward needs only the activation's *output* y: for ReLU f'(a) = [y > 0], for the
//! sigmoid f'(a) = y (1 - y), for the identity 1. So the pre-activation a is never stored.

use std::str::FromStr;

use rayon::prelude::*;

use crate::error::Error;
use crate::linalg::TASK_VALUES;

/// The nonlinearity after a Dense layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// f(a) = a ("linear" in Keras).
    Identity,
    /// f(a) = max(0, a).
    Relu,
    /// f(a) = 1 / (1 + exp(-a)).
    Sigmoid,
}

impl Activation {
    /// The Keras name ("linear", "relu", "sigmoid").
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
        }
    }
}

impl FromStr for Activation {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "linear" | "identity" => Ok(Activation::Identity),
            "relu" => Ok(Activation::Relu),
            "sigmoid" => Ok(Activation::Sigmoid),
            _ => Err(Error::invalid(
                "activation",
                format!("unknown activation '{s}' (expected linear, relu or sigmoid)"),
            )),
        }
    }
}

/// y = f(a), in place: `y` holds a on entry and f(a) on return. y is (B * C,).
///
/// Elementwise, so the threads share it in fixed chunks without changing any value.
pub fn activation_forward(y: &mut [f32], act: Activation) {
    let apply = |y: &mut [f32]| match act {
        Activation::Identity => {}
        Activation::Relu => {
            for v in y.iter_mut() {
                *v = v.max(0.0);
            }
        }
        Activation::Sigmoid => {
            for v in y.iter_mut() {
                *v = 1.0 / (1.0 + (-*v).exp());
            }
        }
    };
    if act != Activation::Identity {
        y.par_chunks_mut(TASK_VALUES).for_each(apply);
    }
}

/// da = dy * f'(a), with f'(a) recovered from the forward's output y. da is overwritten
/// (its old values are never read); da, dy and y are (B * C,).
#[track_caller]
pub fn activation_backward(da: &mut [f32], dy: &[f32], y: &[f32], act: Activation) {
    assert!(
        da.len() == dy.len() && dy.len() == y.len(),
        "activation_backward: da {}, dy {}, y {} values",
        da.len(),
        dy.len(),
        y.len()
    );
    let apply = |((da, dy), y): ((&mut [f32], &[f32]), &[f32])| match act {
        // forward: y = a
        Activation::Identity => da.copy_from_slice(dy),
        // forward: y = max(0, a); y > 0 exactly where a > 0
        Activation::Relu => {
            for ((d, &g), &y) in da.iter_mut().zip(dy).zip(y) {
                *d = if y > 0.0 { g } else { 0.0 };
            }
        }
        // forward: y = 1 / (1 + exp(-a)); dy/da = y (1 - y)
        Activation::Sigmoid => {
            for ((d, &g), &y) in da.iter_mut().zip(dy).zip(y) {
                *d = g * y * (1.0 - y);
            }
        }
    };
    da.par_chunks_mut(TASK_VALUES)
        .zip(dy.par_chunks(TASK_VALUES))
        .zip(y.par_chunks(TASK_VALUES))
        .for_each(apply);
}
