//! `deepcluster predict DATA_DIR --model DIR` as a library call: the organised gallery the
//! article asks for.
//!
//! [`predict`] clusters the unlabelled images of a data folder (`test.csv`, the IDX
//! layout's last 21,000 images, or every image of a folder of images, brought to the
//! model's size and colour mode, subfolder labels ignored) with a model an earlier run
//! saved: DEC's, IDEC's or N2D's ([`Config::method`]; by default DEC's, else IDEC's, else
//! N2D's; [`Config::model`] may also name one file), and writes `predictions.csv`
//! (`filename,cluster`), one folder of thumbnails per cluster, a montage per cluster and an
//! overview into the output folder. It returns what it wrote; it prints nothing (its notes
//! go to the [`Observer`]).

use std::path::{Path, PathBuf};

use crate::cluster::Dec;
use crate::data::{self, Colour, Dataset, FolderOptions, Layout};
use crate::experiment::Observer;
use crate::experiment::identity::RUN_ID_KEY;
use crate::experiment::methods::n2d::{self, N2dModel};
use crate::format::csv;
use crate::io::weights::{self, ImageShape};
use crate::io::{safetensors, write_atomic};
use crate::linalg::Matrix;
use crate::nn::Mlp;
use crate::report::gallery::write_gallery;
use crate::report::montage::ClusterPictures;
use crate::report::tiles::unreadable_warning;
use crate::{Error, Result};

/// What `predict` clusters, with which model, and where it writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The images: the article's layout, MNIST's IDX files or a folder of images.
    pub data_dir: PathBuf,
    /// A model file, or the output folder of an earlier run (its weights and centres).
    pub model: PathBuf,
    /// Where `predictions.csv` and `gallery/` go.
    pub out: PathBuf,
    /// A folder's images are brought to this (width, height); None: the model's size.
    pub image_size: Option<(usize, usize)>,
    /// A folder's images are read in this colour mode; None: the model's.
    pub colour: Option<Colour>,
    /// Skip a folder's unreadable images (with a warning) rather than fail.
    pub skip_unreadable: bool,
    /// Which of the folder's models; None: dec, else idec, else n2d.
    pub method: Option<PredictMethod>,
}

/// The saved models `predict` can cluster with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PredictMethod {
    /// `dec.safetensors`: DEC's encoder, centres and alpha.
    Dec,
    /// `idec.safetensors`: IDEC's (its encoder and centres; the decoder is not needed).
    Idec,
    /// `n2d.safetensors` (UMAP and the mixture) with the run's `ae.safetensors`.
    N2d,
}

impl PredictMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PredictMethod::Dec => "dec",
            PredictMethod::Idec => "idec",
            PredictMethod::N2d => "n2d",
        }
    }
}

/// What [`predict`] wrote.
pub struct Prediction {
    /// The model file used.
    pub model: PathBuf,
    /// `predictions.csv` in the output folder.
    pub predictions: PathBuf,
    /// The `gallery/` folder.
    pub gallery: PathBuf,
    /// The number of images in each cluster, (K,).
    pub cluster_sizes: Vec<usize>,
}

/// Clusters the images of `config.data_dir` with the model `config.model` names and
/// writes `predictions.csv` and the gallery into `config.out`. Images of another shape than
/// the model's are refused, naming the model file.
pub fn predict(config: &Config, observer: &mut dyn Observer) -> Result<Prediction> {
    let (model_path, model, trained_on) = load_model(config)?;
    let (images, originals) = load_images(config, &model_path, trained_on, observer)?;
    let got = ImageShape::of(&images);
    let inputs = model.input_dim();
    let refused = match trained_on {
        // The shape, not only the number of values: a 16x49 image is not a 28x28 one.
        Some(shape) => got != shape,
        // A model saved before the shape was recorded: only its input width is known.
        None => got.values() != inputs,
    };
    if refused {
        let model = match trained_on {
            Some(shape) => format!("was trained on {} images", shape.describe()),
            None => format!("takes {inputs} values per image"),
        };
        return Err(Error::data(
            &model_path,
            format!(
                "the model {model}, the images of {} are {} ({} values)",
                config.data_dir.display(),
                got.describe(),
                got.values()
            ),
        ));
    }
    observer.note(&format!(
        "clustering {} images from {} with {}",
        images.len(),
        config.data_dir.display(),
        model_path.display()
    ));
    let (assignment, confidence) = model.assign(&images.images)?; // (N,), (N,)

    std::fs::create_dir_all(&config.out).map_err(|e| Error::io(&config.out, e))?;
    let _lock = crate::io::lock::FolderLock::acquire(&config.out)?;
    let predictions = config.out.join("predictions.csv");
    let mut csv = csv::Writer::new(&["filename", "cluster"]);
    for (name, cluster) in images.filenames.iter().zip(&assignment) {
        csv.row(&[name.as_str(), &cluster.to_string()]);
    }
    write_atomic(&predictions, csv.text().as_bytes())?;
    let pictures = ClusterPictures {
        images: &images.images,
        height: images.height,
        width: images.width,
        // A row is (height, width, channels): 1 for grey, 3 for a folder loaded in RGB.
        channels: images.channels(),
        assignment: &assignment,
        confidence: &confidence,
        labels: None,
        clusters: model.clusters(),
        // A folder's gallery shows its photos, not the model's inputs.
        originals: originals.as_deref(),
    };
    let gallery_dir = config.out.join("gallery");
    let gallery = write_gallery(&gallery_dir, &pictures, &images.filenames)?;
    if let Some(warning) = unreadable_warning(&gallery.unreadable) {
        observer.note(&warning);
    }
    Ok(Prediction {
        model: model_path,
        predictions,
        gallery: gallery_dir,
        cluster_sizes: gallery.montages.clusters.iter().map(|c| c.size).collect(),
    })
}

/// The unlabelled images of `config.data_dir`: test.csv's, the IDX layout's last 30 %,
/// or every image of a folder (labels ignored), brought to the model's size and colour
/// mode `trained_on` unless `image_size` / `colour` say otherwise (which must then be
/// the model's: anything else is refused here, naming the option). With them, for a
/// folder of images, each image's source file (the gallery's originals).
fn load_images(
    config: &Config,
    model_path: &Path,
    trained_on: Option<ImageShape>,
    observer: &mut dyn Observer,
) -> Result<(Dataset, Option<Vec<PathBuf>>)> {
    let dir = &config.data_dir;
    let layout = data::detect_layout(dir)?;
    let model_colour = match trained_on.map(|s| s.channels) {
        None => None,
        Some(1) => Some(Colour::Grey),
        Some(3) => Some(Colour::Rgb),
        Some(c) => {
            return Err(Error::data(
                model_path,
                format!(
                    "the model takes {c} channels per pixel; only 1 (grey) or 3 (rgb) images can be read"
                ),
            ));
        }
    };
    let model_size = trained_on.map(|s| (s.width, s.height));
    if let (Some(asked), Some(shape)) = (config.colour, trained_on)
        && Some(asked) != model_colour
    {
        return Err(Error::invalid(
            "--colour",
            format!(
                "the model in {} was trained on {} images; leave --colour out to use its mode",
                config.model.display(),
                shape.describe()
            ),
        ));
    }
    if let (Some(asked), Some(shape)) = (config.image_size, trained_on)
        && Some(asked) != model_size
    {
        return Err(Error::invalid(
            "--image-size",
            format!(
                "{}x{}, but the model in {} was trained on {} images; leave --image-size out \
                 to use its size",
                asked.0,
                asked.1,
                config.model.display(),
                shape.describe()
            ),
        ));
    }
    let folder_options = FolderOptions {
        size: config.image_size.or(model_size),
        colour: config.colour.or(model_colour).unwrap_or_default(),
        skip_unreadable: config.skip_unreadable,
    };
    if layout != Layout::Folder {
        // The article's PNGs and IDX files are read as they are; the shape check follows.
        let user_options = FolderOptions {
            size: config.image_size,
            colour: config.colour.unwrap_or_default(),
            skip_unreadable: config.skip_unreadable,
        };
        data::check_folder_options(dir, layout, &user_options)?;
        return Ok((data::load_unlabelled(dir)?, None));
    }
    let folder = data::load_folder(dir, &folder_options)?;
    if let Some(skipped) = folder.skipped_summary() {
        observer.note(&format!("warning: {skipped}"));
    }
    let mut images = folder.dataset;
    images.labels = None; // predict clusters; subfolder names are not used
    Ok((images, Some(folder.sources)))
}

/// A saved model that clusters images.
enum Model {
    /// DEC's soft assignment (also IDEC's: its encoder and centres).
    Dec(Dec),
    /// N2D: the run's encoder, then UMAP's transform and the mixture (boxed: it is the
    /// larger by far).
    N2d { encoder: Mlp, n2d: Box<N2dModel> },
}

impl Model {
    /// Values per image the model takes.
    fn input_dim(&self) -> usize {
        match self {
            Model::Dec(dec) => dec.encoder.input_dim(),
            Model::N2d { encoder, .. } => encoder.input_dim(),
        }
    }

    fn clusters(&self) -> usize {
        match self {
            Model::Dec(dec) => dec.clusters(),
            Model::N2d { n2d, .. } => n2d.clusters(),
        }
    }

    /// Each image of `x` (N, D) to a cluster, with how surely: DEC's largest q_ij, or the
    /// mixture's posterior probability of the component chosen.
    fn assign(&self, x: &Matrix) -> Result<(Vec<usize>, Vec<f32>)> {
        match self {
            Model::Dec(dec) => Ok(dec.assign(x)),
            Model::N2d { encoder, n2d } => {
                let codes = encoder.predict(x); // (N, code dimension)
                n2d.predict(codes.view())
            }
        }
    }
}

/// The model `--model` and `--method` name, its file, and the shape of the images it was
/// trained on (None for a file written before shapes were recorded). `--model` is a model
/// file itself, or a run's output folder, whose `--method` file is taken (by default its
/// dec.safetensors, else its idec.safetensors, else its n2d.safetensors).
fn load_model(config: &Config) -> Result<(PathBuf, Model, Option<ImageShape>)> {
    let model = &config.model;
    let file_of = |m: PredictMethod| {
        model.join(match m {
            PredictMethod::Dec => weights::DEC_FILE,
            PredictMethod::Idec => weights::IDEC_FILE,
            PredictMethod::N2d => n2d::MODEL_FILE,
        })
    };
    let path = if model.is_file() {
        model.to_path_buf()
    } else if let Some(m) = config.method {
        let path = file_of(m);
        if !path.is_file() {
            return Err(Error::data(
                &path,
                format!(
                    "no {} model here; run `deepcluster DATA_DIR --method {} --out DIR` first",
                    m.as_str(),
                    m.as_str()
                ),
            ));
        }
        path
    } else {
        let found = [PredictMethod::Dec, PredictMethod::Idec, PredictMethod::N2d]
            .into_iter()
            .map(file_of)
            .find(|p| p.is_file());
        found.ok_or_else(|| {
            Error::data(
                file_of(PredictMethod::Dec),
                "no DEC, IDEC or N2D model here; run `deepcluster DATA_DIR --method dec \
                 --out DIR` first",
            )
        })?
    };
    // Read once: its metadata says which kind of model it is.
    let file = safetensors::load(&path)?;
    if file.metadata("method") != Some("n2d") {
        // DEC's encoder and centres, or IDEC's (its decoder is not needed to cluster).
        let (dec, shape) = weights::dec_with_image_from(&path, &file)?;
        return Ok((path, Model::Dec(dec), shape));
    }
    // N2D clusters the codes of the encoder saved beside it, by the same run.
    let n2d = N2dModel::from_file(&path, &file)?;
    let ae_path = path.with_file_name(weights::AE_FILE);
    let ae_file = safetensors::load(&ae_path)?;
    let ae = weights::autoencoder_from(&ae_path, &ae_file, "")?;
    if ae_file.metadata(RUN_ID_KEY) != file.metadata(RUN_ID_KEY) {
        return Err(Error::data(
            &ae_path,
            format!(
                "is not the encoder of the run that wrote {} (their `{RUN_ID_KEY}` differ)",
                path.display()
            ),
        ));
    }
    let code_dim = n2d.umap.fit_data().cols();
    if ae.encoder.output_dim() != code_dim {
        return Err(Error::data(
            &ae_path,
            format!(
                "the encoder makes {}-value codes, {} was fitted on {code_dim}",
                ae.encoder.output_dim(),
                path.display()
            ),
        ));
    }
    let shape = weights::image_shape(&ae_path, &ae_file, ae.encoder.input_dim())?;
    Ok((
        path,
        Model::N2d {
            encoder: ae.encoder,
            n2d: Box::new(n2d),
        },
        shape,
    ))
}
