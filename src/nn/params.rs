//! The parameter protocol: every model walks its parameter tensors once, by name, in one
//! fixed order, and everything that touches parameters goes through that walk.
//!
//! - An optimiser steps `params_mut()`: the tensors in the walk's order, each value beside
//!   its gradient. Its state (SGD's velocities, Adam's m and v) is matched by position, so
//!   a checkpoint saves state i beside the walk's tensor i (`optim.m.3` is the m of the
//!   fourth tensor of `named_params()`).
//! - A weights file or a checkpoint writes `named_params()`: the walk's names and values.
//! - Loading builds the network from its parts: each model's `from_source` asks a
//!   [`TensorSource`] (a file's tensors) for every tensor under the same names the walk
//!   gives, with the shape the architecture expects. Nothing is drawn at random and then
//!   overwritten.
//!
//! The names are composed, never listed: a Dense layer's tensors are `weight` and `bias`
//! (`Dense::WEIGHT`, `Dense::BIAS`), an Mlp prefixes layer l's with `l.`, an autoencoder
//! its two halves with `encoder.` and `decoder.`, DEC adds `centres`. The walk and the
//! builder of each model sit side by side in its file and share these constants.
//!
//! Rust lends a value either shared or exclusive, so each model has two walks, `visit`
//! (for saving) and `visit_mut` (for the optimiser); they give the same names in the same
//! order, which `tests/weights_roundtrip.rs` checks for every model.

use super::optim::Param;
use crate::linalg::Matrix;
use crate::{Error, Result};

/// A model's parameter tensors, walked in one fixed order. A bias is stored (1, out).
pub trait Parameters {
    /// Calls `f(name, value, grad)` for every parameter tensor, its name prefixed by
    /// `prefix`, in the model's order.
    fn visit<'a>(&'a self, prefix: &str, f: &mut dyn FnMut(String, &'a Matrix, &'a Matrix));

    /// The same walk as `visit` (same names, same order) with the values writable.
    fn visit_mut<'a>(
        &'a mut self,
        prefix: &str,
        f: &mut dyn FnMut(String, &'a mut Matrix, &'a Matrix),
    );

    /// (name, value) of every parameter tensor, in the walk's order.
    fn named_params(&self) -> Vec<(String, &Matrix)> {
        let mut out = Vec::new();
        self.visit("", &mut |name, value, _| out.push((name, value)));
        out
    }

    /// The gradients, named and ordered as in `named_params`.
    fn named_grads(&self) -> Vec<(String, &Matrix)> {
        let mut out = Vec::new();
        self.visit("", &mut |name, _, grad| out.push((name, grad)));
        out
    }

    /// Every value with its gradient, in the walk's order: what an optimiser steps.
    fn params_mut(&mut self) -> Vec<Param<'_>> {
        let mut out = Vec::new();
        self.visit_mut("", &mut |_, value, grad| {
            out.push(Param {
                value: value.as_mut_slice(),
                grad: grad.as_slice(),
            })
        });
        out
    }

    /// Replaces the parameter `name` ("encoder.2.weight", ...) by `value` of the same
    /// shape; an error naming it when there is no such tensor or the shape differs.
    fn set_param(&mut self, name: &str, value: Matrix) -> Result<()> {
        let mut target = None;
        self.visit_mut("", &mut |n, v, _| {
            if n == name {
                target = Some(v);
            }
        });
        let target = target.ok_or_else(|| Error::invalid(name, "no such parameter"))?;
        if target.shape() != value.shape() {
            return Err(Error::invalid(
                name,
                format!(
                    "shape {:?} does not match the network's {:?}",
                    tensor_shape(name, &value),
                    tensor_shape(name, target)
                ),
            ));
        }
        *target = value;
        Ok(())
    }
}

/// Where the tensors of a network being built come from (a file's, when loading).
pub trait TensorSource {
    /// The tensor `name` as a (rows, cols) matrix; an error naming it when it is missing
    /// or has another shape.
    fn matrix(&mut self, name: &str, rows: usize, cols: usize) -> Result<Matrix>;
}

/// The tensor shape under which a named parameter is saved: [out] for a bias (stored as a
/// (1, out) matrix), [rows, cols] for anything else.
pub fn tensor_shape(name: &str, value: &Matrix) -> Vec<usize> {
    tensor_dims(name, value.rows(), value.cols())
}

/// [`tensor_shape`] of a (rows, cols) parameter not yet built.
pub fn tensor_dims(name: &str, rows: usize, cols: usize) -> Vec<usize> {
    if name.ends_with("bias") && rows == 1 {
        vec![cols]
    } else {
        vec![rows, cols]
    }
}
