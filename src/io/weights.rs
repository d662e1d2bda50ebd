//! Trained models on disk, as safetensors files that numpy and PyTorch users can open.
//!
//! - `ae.safetensors`: every autoencoder parameter by name (`encoder.0.weight` is (in, out),
//!   Keras's kernel layout; `encoder.0.bias` is (out,)), with the layer sizes and the code
//!   and output activations in the metadata.
//! - `dec.safetensors`: the DEC encoder's parameters under the same names, the cluster
//!   centres `centres` (K, D), and alpha in the metadata.
//! - `idec.safetensors`: IDEC's whole autoencoder as in `ae.safetensors` (so
//!   `load_autoencoder` reads it too), `centres` (K, D), and alpha; `load_clusterer`
//!   reads its encoder and centres as a DEC model, which is what `predict` needs.
//!
//! Both also record the images the model was trained on, `image_height`, `image_width`
//! and `image_channels` in the metadata ([`ImageShape`]), so that `predict` can bring a
//! folder's images to that size and colour mode and refuse others by shape, not only by
//! their number of values. Files written before these keys existed still load
//! ([`load_dec_with_image`] gives None; the input width is then the only check).
//!
//! Loading builds the network from the file: the metadata gives the architecture, and each
//! model's `from_source` takes every tensor from a [`FileTensors`] under the names its
//! `Parameters` walk gives them, shape-checked (no random network is drawn first). A
//! missing tensor, one of another shape, or one the model does not have is a one-line
//! error naming the file and the tensor.

use std::path::Path;

use crate::cluster::{Dec, Idec};
use crate::data::Dataset;
use crate::io::safetensors::{self, SafeTensors, Tensor};
use crate::linalg::Matrix;
use crate::nn::{
    Activation, Autoencoder, Mlp, Parameters, TensorSource, tensor_dims, tensor_shape,
};
use crate::{Error, Result};

/// File name of the pretrained autoencoder in an output folder.
pub const AE_FILE: &str = "ae.safetensors";
/// File name of the trained DEC model in an output folder.
pub const DEC_FILE: &str = "dec.safetensors";
/// File name of the trained IDEC model (autoencoder and centres) in an output folder.
pub const IDEC_FILE: &str = "idec.safetensors";

/// The images a model takes: height x width pixels of `channels` interleaved channels, so
/// height x width x channels input values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageShape {
    pub height: usize,
    pub width: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
}

/// The metadata keys of [`ImageShape`].
const IMAGE_KEYS: [&str; 3] = ["image_height", "image_width", "image_channels"];

impl ImageShape {
    /// The shape of `data`'s images: its height and width, and the channels its row width
    /// implies (a row is height x width x channels values).
    pub fn of(data: &Dataset) -> ImageShape {
        let pixels = (data.height * data.width).max(1);
        ImageShape {
            height: data.height,
            width: data.width,
            channels: data.images.cols() / pixels,
        }
    }

    /// Input values per image: height x width x channels.
    pub fn values(&self) -> usize {
        self.height * self.width * self.channels
    }

    /// `28x28 grey` or `32x32 rgb` (width x height, as `--image-size` writes it).
    pub fn describe(&self) -> String {
        let colour = match self.channels {
            1 => "grey".to_string(),
            3 => "rgb".to_string(),
            c => format!("{c}-channel"),
        };
        format!("{}x{} {colour}", self.width, self.height)
    }

    pub fn metadata(&self) -> Vec<(String, String)> {
        [self.height, self.width, self.channels]
            .iter()
            .zip(IMAGE_KEYS)
            .map(|(v, k)| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// The image shape a file records, None when it has none of the keys (an older file); an
/// error when only some are there, one is not a positive number, or their product is not
/// the network's input width `inputs`.
pub fn image_shape(path: &Path, file: &SafeTensors, inputs: usize) -> Result<Option<ImageShape>> {
    let values: Vec<Option<&str>> = IMAGE_KEYS.iter().map(|k| file.metadata(k)).collect();
    if values.iter().all(Option::is_none) {
        return Ok(None);
    }
    let mut parsed = [0usize; 3];
    for ((slot, value), key) in parsed.iter_mut().zip(&values).zip(IMAGE_KEYS) {
        *slot = value
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&v| v > 0)
            .ok_or_else(|| {
                Error::data(
                    path,
                    format!("metadata `{key}` is missing or not a positive number"),
                )
            })?;
    }
    let shape = ImageShape {
        height: parsed[0],
        width: parsed[1],
        channels: parsed[2],
    };
    let values = shape
        .height
        .checked_mul(shape.width)
        .and_then(|p| p.checked_mul(shape.channels));
    if values != Some(inputs) {
        return Err(Error::data(
            path,
            format!(
                "metadata says {} images, which is not the network's {inputs} inputs",
                shape.describe()
            ),
        ));
    }
    Ok(Some(shape))
}

fn dims_text(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_dims(path: &Path, file: &SafeTensors) -> Result<Vec<usize>> {
    let text = file
        .metadata("dims")
        .ok_or_else(|| Error::data(path, "metadata has no `dims` (layer sizes)"))?;
    let dims: Vec<usize> = text
        .split(',')
        .map(|d| d.trim().parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| {
            Error::data(
                path,
                format!("metadata `dims` is `{text}`, not a list of sizes"),
            )
        })?;
    if dims.len() < 2 || dims.contains(&0) || dims.iter().any(|&d| d > 1 << 20) {
        return Err(Error::data(
            path,
            format!("metadata `dims` = {dims:?} is not a network"),
        ));
    }
    // The network is built from `dims` before its tensors are checked, so `dims` must not
    // ask for more parameters than the file holds: a few bytes of metadata claiming huge
    // layers would otherwise be a huge allocation.
    let stored: usize = file.tensors.iter().map(|t| t.data.len()).sum();
    let needed = dims.windows(2).try_fold(0usize, |acc, w| {
        w[0].checked_mul(w[1])
            .and_then(|weights| acc.checked_add(weights + w[1]))
    });
    if needed.is_none_or(|n| n > stored) {
        return Err(Error::data(
            path,
            format!(
                "metadata `dims` = {} needs more parameters than the file's {stored} values",
                dims_text(&dims)
            ),
        ));
    }
    Ok(dims)
}

fn parse_activation(path: &Path, file: &SafeTensors, key: &str) -> Result<Activation> {
    let text = file
        .metadata(key)
        .ok_or_else(|| Error::data(path, format!("metadata has no `{key}`")))?;
    text.parse()
        .map_err(|e: Error| Error::data(path, format!("metadata `{key}`: {e}")))
}

/// A file's tensors as the source a model is built from: each is handed out by name and
/// shape-checked, and [`FileTensors::finish`] refuses any tensor nobody asked for.
pub struct FileTensors<'a> {
    path: &'a Path,
    file: &'a SafeTensors,
    /// taken[i]: whether `file.tensors[i]` was handed out.
    taken: Vec<bool>,
}

impl<'a> FileTensors<'a> {
    pub fn new(path: &'a Path, file: &'a SafeTensors) -> Self {
        FileTensors {
            path,
            file,
            taken: vec![false; file.tensors.len()],
        }
    }

    pub fn path(&self) -> &'a Path {
        self.path
    }

    pub fn file(&self) -> &'a SafeTensors {
        self.file
    }

    /// The tensor `name` of whatever shape (the caller checks it), marked as used.
    pub fn take(&mut self, name: &str) -> Option<&'a Tensor> {
        let i = self.file.tensors.iter().position(|t| t.name == name)?;
        self.taken[i] = true;
        Some(&self.file.tensors[i])
    }

    /// The values of tensor `name`, which must have exactly `shape` and finite values.
    pub fn require(&mut self, name: &str, shape: &[usize]) -> Result<&'a [f32]> {
        let data = self.file.require(self.path, name, shape)?;
        self.take(name);
        Ok(data)
    }

    /// Every tensor was taken; otherwise an error naming the first that was not.
    pub fn finish(self) -> Result<()> {
        match self.taken.iter().position(|&t| !t) {
            None => Ok(()),
            Some(i) => Err(Error::data(
                self.path,
                format!(
                    "tensor `{}` is not part of the model this file holds",
                    self.file.tensors[i].name
                ),
            )),
        }
    }
}

impl TensorSource for FileTensors<'_> {
    /// A bias (1, out) is stored with shape [out] (`nn::tensor_shape`).
    fn matrix(&mut self, name: &str, rows: usize, cols: usize) -> Result<Matrix> {
        let data = self.require(name, &tensor_dims(name, rows, cols))?;
        Ok(Matrix::from_vec(rows, cols, data.to_vec()))
    }
}

/// Tensors to write: (name, shape, values).
pub type Tensors<'a> = Vec<(String, Vec<usize>, &'a [f32])>;

/// Writes `tensors` and `metadata` as one safetensors file (atomically).
pub fn save_tensors(
    path: impl AsRef<Path>,
    tensors: &Tensors<'_>,
    metadata: &[(String, String)],
) -> Result<()> {
    let t: Vec<(&str, &[usize], &[f32])> = tensors
        .iter()
        .map(|(n, s, v)| (n.as_str(), s.as_slice(), *v))
        .collect();
    let m: Vec<(&str, &str)> = metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    safetensors::save(path, &t, &m)
}

fn named_tensors<'a>(prefix: &str, named: Vec<(String, &'a Matrix)>) -> Tensors<'a> {
    named
        .into_iter()
        .map(|(n, m)| (format!("{prefix}{n}"), tensor_shape(&n, m), m.as_slice()))
        .collect()
}

/// The Keras name of a network's last activation (its code or output activation).
fn last_activation(mlp: &Mlp) -> &'static str {
    mlp.activations().last().map_or("linear", |a| a.name())
}

/// The autoencoder's parameters (names prefixed by `prefix`) and its architecture as
/// metadata.
pub fn autoencoder_tensors<'a>(
    ae: &'a Autoencoder,
    prefix: &str,
) -> (Tensors<'a>, Vec<(String, String)>) {
    let (code, output) = (last_activation(&ae.encoder), last_activation(&ae.decoder));
    let metadata = vec![
        ("dims".to_string(), dims_text(&ae.dims())),
        ("code_activation".to_string(), code.to_string()),
        ("output_activation".to_string(), output.to_string()),
    ];
    (named_tensors(prefix, ae.named_params()), metadata)
}

/// Builds the autoencoder that the tensors named `prefix` + parameter name and the metadata
/// of `autoencoder_tensors` describe. An IDEC file holds an autoencoder too: its centres
/// are skipped when `prefix` is empty (the file is read as an autoencoder, not a checkpoint).
pub fn autoencoder_from(path: &Path, file: &SafeTensors, prefix: &str) -> Result<Autoencoder> {
    let mut source = FileTensors::new(path, file);
    let ae = read_autoencoder(&mut source, prefix)?;
    if prefix.is_empty() {
        source.take(Dec::CENTRES);
    }
    source.finish()?;
    Ok(ae)
}

/// The autoencoder of [`autoencoder_from`], its tensors taken from `source` (which may
/// hold others: a checkpoint's optimiser state).
pub fn read_autoencoder(source: &mut FileTensors<'_>, prefix: &str) -> Result<Autoencoder> {
    let (path, file) = (source.path(), source.file());
    let dims = parse_dims(path, file)?;
    let code = parse_activation(path, file, "code_activation")?;
    let output = parse_activation(path, file, "output_activation")?;
    Autoencoder::from_source(source, prefix, &dims, code, output)
}

/// DEC's encoder parameters, its centres (`centres`) and metadata (dims, alpha).
pub fn dec_tensors(dec: &Dec) -> (Tensors<'_>, Vec<(String, String)>) {
    let tensors = named_tensors("", dec.named_params());
    let code = last_activation(&dec.encoder);
    let metadata = vec![
        ("dims".to_string(), dims_text(&dec.encoder.dims())),
        ("code_activation".to_string(), code.to_string()),
        ("alpha".to_string(), dec.alpha.to_string()),
    ];
    (tensors, metadata)
}

/// Builds the DEC model (alpha included) of the tensors and metadata of `dec_tensors`.
pub fn dec_from(path: &Path, file: &SafeTensors) -> Result<Dec> {
    let mut source = FileTensors::new(path, file);
    let dec = read_dec(&mut source)?;
    source.finish()?;
    Ok(dec)
}

/// The DEC model of [`dec_from`], its tensors taken from `source`.
pub fn read_dec(source: &mut FileTensors<'_>) -> Result<Dec> {
    let (path, file) = (source.path(), source.file());
    let dims = parse_dims(path, file)?;
    let code = parse_activation(path, file, "code_activation")?;
    let alpha = alpha_from(path, file)?;
    let k = clusters_in(path, file, dims[dims.len() - 1])?;
    Dec::from_source(source, "", &dims, code, (k, alpha))
}

/// alpha from the metadata: a positive number.
fn alpha_from(path: &Path, file: &SafeTensors) -> Result<f32> {
    file.metadata("alpha")
        .and_then(|a| a.parse().ok())
        .filter(|a: &f32| *a > 0.0 && a.is_finite())
        .ok_or_else(|| Error::data(path, "metadata `alpha` is missing or not a positive number"))
}

/// K, the rows of the tensor `centres`, which must be (K, d) for codes of d values.
fn clusters_in(path: &Path, file: &SafeTensors, d: usize) -> Result<usize> {
    let centres = file
        .get(Dec::CENTRES)
        .ok_or_else(|| Error::data(path, "no tensor named `centres`"))?;
    if centres.shape.len() != 2 || centres.shape[1] != d || centres.shape[0] == 0 {
        return Err(Error::data(
            path,
            format!(
                "tensor `centres` has shape {:?}, expected [K, {d}]",
                centres.shape
            ),
        ));
    }
    Ok(centres.shape[0])
}

/// IDEC's autoencoder parameters (`encoder.*`, `decoder.*`), its centres (`centres`) and
/// metadata (dims, activations, alpha).
pub fn idec_tensors(idec: &Idec) -> (Tensors<'_>, Vec<(String, String)>) {
    let tensors = named_tensors("", idec.named_params());
    let metadata = vec![
        ("dims".to_string(), dims_text(&idec.dec.encoder.dims())),
        (
            "code_activation".to_string(),
            last_activation(&idec.dec.encoder).to_string(),
        ),
        (
            "output_activation".to_string(),
            last_activation(&idec.decoder).to_string(),
        ),
        ("alpha".to_string(), idec.dec.alpha.to_string()),
    ];
    (tensors, metadata)
}

/// Builds the IDEC model of the tensors and metadata of `idec_tensors`.
pub fn idec_from(path: &Path, file: &SafeTensors) -> Result<Idec> {
    let mut source = FileTensors::new(path, file);
    let idec = read_idec(&mut source)?;
    source.finish()?;
    Ok(idec)
}

/// The IDEC model of [`idec_from`], its tensors taken from `source`.
pub fn read_idec(source: &mut FileTensors<'_>) -> Result<Idec> {
    let (path, file) = (source.path(), source.file());
    let dims = parse_dims(path, file)?;
    let code = parse_activation(path, file, "code_activation")?;
    let output = parse_activation(path, file, "output_activation")?;
    let alpha = alpha_from(path, file)?;
    let k = clusters_in(path, file, dims[dims.len() - 1])?;
    Idec::from_source(source, "", &dims, (code, output), (k, alpha))
}

/// Writes IDEC's autoencoder, centres and alpha to `path` (atomically).
pub fn save_idec(path: impl AsRef<Path>, idec: &Idec) -> Result<()> {
    let (tensors, metadata) = idec_tensors(idec);
    save_tensors(path, &tensors, &metadata)
}

/// Reads an IDEC model written by `save_idec`.
pub fn load_idec(path: impl AsRef<Path>) -> Result<Idec> {
    let path = path.as_ref();
    idec_from(path, &safetensors::load(path)?)
}

/// The soft-assignment model (encoder, centres, alpha) of a DEC file or of an IDEC file
/// (told apart by IDEC's `decoder.*` tensors): everything clustering new images needs.
pub fn load_clusterer(path: impl AsRef<Path>) -> Result<Dec> {
    let path = path.as_ref();
    clusterer_from(path, &safetensors::load(path)?)
}

/// [`load_clusterer`] of a file already read.
fn clusterer_from(path: &Path, file: &SafeTensors) -> Result<Dec> {
    if file
        .tensors
        .iter()
        .any(|t| t.name.starts_with(Autoencoder::DECODER))
    {
        Ok(idec_from(path, file)?.dec)
    } else {
        dec_from(path, file)
    }
}

/// Writes every autoencoder parameter to `path` (atomically).
pub fn save_autoencoder(path: impl AsRef<Path>, ae: &Autoencoder) -> Result<()> {
    let (tensors, metadata) = autoencoder_tensors(ae, "");
    save_tensors(path, &tensors, &metadata)
}

/// Reads an autoencoder written by `save_autoencoder`.
pub fn load_autoencoder(path: impl AsRef<Path>) -> Result<Autoencoder> {
    let path = path.as_ref();
    autoencoder_from(path, &safetensors::load(path)?, "")
}

/// Writes the autoencoder as [`save_autoencoder`] does, with the shape of the images it
/// was trained on.
pub fn save_autoencoder_for(
    path: impl AsRef<Path>,
    ae: &Autoencoder,
    image: &ImageShape,
) -> Result<()> {
    let (tensors, mut metadata) = autoencoder_tensors(ae, "");
    metadata.extend(image.metadata());
    save_tensors(path, &tensors, &metadata)
}

/// Writes DEC as [`save_dec`] does, with the shape of the images it was trained on.
pub fn save_dec_for(path: impl AsRef<Path>, dec: &Dec, image: &ImageShape) -> Result<()> {
    let (tensors, mut metadata) = dec_tensors(dec);
    metadata.extend(image.metadata());
    save_tensors(path, &tensors, &metadata)
}

/// Reads a DEC model (or IDEC's clustering part) and the shape of the images it was trained on, None for a file
/// written without it.
pub fn load_dec_with_image(path: impl AsRef<Path>) -> Result<(Dec, Option<ImageShape>)> {
    let path = path.as_ref();
    dec_with_image_from(path, &safetensors::load(path)?)
}

/// [`load_dec_with_image`] of a file already read from `path`.
pub fn dec_with_image_from(path: &Path, file: &SafeTensors) -> Result<(Dec, Option<ImageShape>)> {
    let dec = clusterer_from(path, file)?;
    let image = image_shape(path, file, dec.encoder.input_dim())?;
    Ok((dec, image))
}

/// Writes DEC's encoder, centres and alpha to `path` (atomically).
pub fn save_dec(path: impl AsRef<Path>, dec: &Dec) -> Result<()> {
    let (tensors, metadata) = dec_tensors(dec);
    save_tensors(path, &tensors, &metadata)
}

/// Reads a DEC model written by `save_dec`.
pub fn load_dec(path: impl AsRef<Path>) -> Result<Dec> {
    let path = path.as_ref();
    dec_from(path, &safetensors::load(path)?)
}
