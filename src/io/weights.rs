//! Trained models on disk, as safetensors files that numpy and PyTorch users can open.
//!
//! - `ae.safetensors`: every autoencoder parameter by name (`encoder.0.weight` is (in, out),
//!   Keras's kernel layout; `encoder.0.bias` is (out,)), with the layer sizes and the code
//!   and output activations in the metadata.
//! - `dec.safetensors`: the DEC encoder's parameters under the same names, the cluster
//!   centres `centres` (K, D), and alpha in the metadata.
//!
//! Loading rebuilds the network from the metadata, then checks every tensor's shape against
//! it, so a file for another architecture or a truncated file is a one-line error.

use std::path::Path;

use crate::cluster::Dec;
use crate::io::safetensors::{self, SafeTensors};
use crate::linalg::Matrix;
use crate::nn::{Activation, Autoencoder, Init, Mlp, tensor_shape};
use crate::{Error, Result};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// File name of the pretrained autoencoder in an output folder.
pub const AE_FILE: &str = "ae.safetensors";
/// File name of the trained DEC model in an output folder.
pub const DEC_FILE: &str = "dec.safetensors";

fn dims_text(dims: &[usize]) -> String {
    dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(",")
}

fn parse_dims(path: &Path, file: &SafeTensors) -> Result<Vec<usize>> {
    let text = file
        .metadata("dims")
        .ok_or_else(|| Error::data(path, "metadata has no `dims` (layer sizes)"))?;
    let dims: Vec<usize> = text
        .split(',')
        .map(|d| d.trim().parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::data(path, format!("metadata `dims` is `{text}`, not a list of sizes")))?;
    if dims.len() < 2 || dims.contains(&0) || dims.iter().any(|&d| d > 1 << 20) {
        return Err(Error::data(path, format!("metadata `dims` = {dims:?} is not a network")));
    }
    Ok(dims)
}

fn parse_activation(path: &Path, file: &SafeTensors, key: &str) -> Result<Activation> {
    let text = file
        .metadata(key)
        .ok_or_else(|| Error::data(path, format!("metadata has no `{key}`")))?;
    text.parse().map_err(|e: Error| Error::data(path, format!("metadata `{key}`: {e}")))
}

/// Copies every named tensor of `file` into `set(name, matrix)`, shape-checked against
/// `expected`, the parameters the rebuilt network has.
fn fill(
    path: &Path,
    file: &SafeTensors,
    expected: Vec<(String, Vec<usize>, (usize, usize))>,
    mut set: impl FnMut(&str, Matrix) -> Result<()>,
) -> Result<()> {
    for (name, shape, (rows, cols)) in expected {
        let data = file.require(path, &name, &shape)?;
        set(&name, Matrix::from_vec(rows, cols, data.to_vec()))?;
    }
    Ok(())
}

fn expected_params(named: Vec<(String, &Matrix)>) -> Vec<(String, Vec<usize>, (usize, usize))> {
    named.into_iter().map(|(name, m)| (name.clone(), tensor_shape(&name, m), m.shape())).collect()
}

/// Writes every autoencoder parameter to `path` (atomically).
pub fn save_autoencoder(path: impl AsRef<Path>, ae: &Autoencoder) -> Result<()> {
    let named = ae.named_params();
    let shapes: Vec<Vec<usize>> = named.iter().map(|(n, m)| tensor_shape(n, m)).collect();
    let tensors: Vec<(&str, &[usize], &[f32])> = named
        .iter()
        .zip(&shapes)
        .map(|((n, m), s)| (n.as_str(), s.as_slice(), m.as_slice()))
        .collect();
    let dims = dims_text(&ae.dims());
    let code = ae.encoder.activations().last().map_or("linear", |a| a.name());
    let output = ae.decoder.activations().last().map_or("linear", |a| a.name());
    safetensors::save(
        path,
        &tensors,
        &[("dims", &dims), ("code_activation", code), ("output_activation", output)],
    )
}

/// Reads an autoencoder written by `save_autoencoder`.
pub fn load_autoencoder(path: impl AsRef<Path>) -> Result<Autoencoder> {
    let path = path.as_ref();
    let file = safetensors::load(path)?;
    let dims = parse_dims(path, &file)?;
    let code = parse_activation(path, &file, "code_activation")?;
    let output = parse_activation(path, &file, "output_activation")?;
    // The initial weights are all overwritten; the seed only has to be something.
    let mut ae = Autoencoder::new(&dims, code, output, Init::GlorotUniform, &mut StdRng::seed_from_u64(0))?;
    let expected = expected_params(ae.named_params());
    fill(path, &file, expected, |name, m| ae.set_param(name, m))?;
    Ok(ae)
}

/// Writes DEC's encoder and centres to `path` (atomically).
pub fn save_dec(path: impl AsRef<Path>, dec: &Dec, alpha: f32) -> Result<()> {
    let named = dec.encoder.named_params();
    let mut shapes: Vec<Vec<usize>> = named.iter().map(|(n, m)| tensor_shape(n, m)).collect();
    shapes.push(vec![dec.centres.rows(), dec.centres.cols()]);
    let mut tensors: Vec<(&str, &[usize], &[f32])> = Vec::new();
    for ((n, m), s) in named.iter().zip(&shapes) {
        tensors.push((n.as_str(), s.as_slice(), m.as_slice()));
    }
    tensors.push(("centres", shapes.last().unwrap().as_slice(), dec.centres.as_slice()));
    let dims = dims_text(&dec.encoder.dims());
    let code = dec.encoder.activations().last().map_or("linear", |a| a.name());
    let alpha = alpha.to_string();
    safetensors::save(path, &tensors, &[("dims", &dims), ("code_activation", code), ("alpha", &alpha)])
}

/// Reads a DEC model written by `save_dec`; returns it with its alpha.
pub fn load_dec(path: impl AsRef<Path>) -> Result<(Dec, f32)> {
    let path = path.as_ref();
    let file = safetensors::load(path)?;
    let dims = parse_dims(path, &file)?;
    let code = parse_activation(path, &file, "code_activation")?;
    let alpha: f32 = file
        .metadata("alpha")
        .and_then(|a| a.parse().ok())
        .filter(|a: &f32| *a > 0.0 && a.is_finite())
        .ok_or_else(|| Error::data(path, "metadata `alpha` is missing or not a positive number"))?;
    let layers = dims.len() - 1;
    let mut activations = vec![Activation::Relu; layers];
    activations[layers - 1] = code;
    let mut encoder = Mlp::new(&dims, &activations, Init::GlorotUniform, &mut StdRng::seed_from_u64(0))?;
    let expected = expected_params(encoder.named_params());
    fill(path, &file, expected, |name, m| encoder.set_param(name, m))?;
    let centres = file
        .get("centres")
        .ok_or_else(|| Error::data(path, "no tensor named `centres`"))?;
    let d = dims[layers];
    if centres.shape.len() != 2 || centres.shape[1] != d || centres.shape[0] == 0 {
        return Err(Error::data(
            path,
            format!("tensor `centres` has shape {:?}, expected [K, {d}]", centres.shape),
        ));
    }
    let centres = Matrix::from_vec(centres.shape[0], d, centres.data.clone());
    Ok((Dec::new(encoder, centres), alpha))
}
