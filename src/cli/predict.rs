//! `deepcluster predict DATA_DIR --model DIR`: the organised gallery the article asks for.
//!
//! Clusters the unlabelled images of DATA_DIR (`test.csv`, the IDX layout's last 21,000
//! images, or every image of a folder of images, brought to the model's size and colour
//! mode, subfolder labels ignored) with a model an earlier run saved in DIR: DEC's, IDEC's
//! or N2D's (`--method`; by default DEC's, else IDEC's, else N2D's; `--model FILE` names
//! one file), and writes `predictions.csv` (`filename,cluster`), one folder of thumbnails
//! per cluster, a montage per cluster and an overview into the output folder.

use std::path::{Path, PathBuf};

use crate::cli::args::{self, Parsed, PredictMethod, PredictOptions};
use crate::cli::run::in_pool;
use crate::cluster::Dec;
use crate::data::{self, Colour, Dataset, FolderOptions, Layout};
use crate::experiment::identity::RUN_ID_KEY;
use crate::experiment::methods::n2d::{self, N2dModel};
use crate::format::csv;
use crate::io::weights::{self, ImageShape};
use crate::io::{safetensors, write_atomic};
use crate::linalg::Matrix;
use crate::linalg::argmax_rows;
use crate::nn::Mlp;
use crate::report::gallery::write_gallery;
use crate::report::montage::ClusterPictures;
use crate::report::progress::Progress;
use crate::report::tiles::unreadable_warning;
use crate::{Error, Result};

pub fn main(args: &[String]) -> Result<()> {
    match args::parse_predict(args)? {
        Parsed::Predict(options) => in_pool(options.threads, || predict(&options)),
        Parsed::Help(text) => crate::cli::print_stdout(&text),
        Parsed::Run(_) => unreachable!("parse_predict only parses predict"),
    }
}

fn predict(options: &PredictOptions) -> Result<()> {
    let mut progress = Progress::new(options.quiet);
    let (model_path, model, trained_on) = load_model(options)?;
    let (images, originals) = load_images(options, &model_path, trained_on, &mut progress)?;
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
                options.data_dir.display(),
                got.describe(),
                got.values()
            ),
        ));
    }
    progress.note(&format!(
        "clustering {} images from {} with {}",
        images.len(),
        options.data_dir.display(),
        model_path.display()
    ));
    let (assignment, confidence) = model.assign(&images.images)?;

    std::fs::create_dir_all(&options.out).map_err(|e| Error::io(&options.out, e))?;
    let _lock = crate::io::lock::FolderLock::acquire(&options.out)?;
    let mut csv = csv::Writer::new(&["filename", "cluster"]);
    for (name, cluster) in images.filenames.iter().zip(&assignment) {
        csv.row(&[name.as_str(), &cluster.to_string()]);
    }
    write_atomic(options.out.join("predictions.csv"), csv.text().as_bytes())?;
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
    let gallery = write_gallery(options.out.join("gallery"), &pictures, &images.filenames)?;
    if let Some(warning) = unreadable_warning(&gallery.unreadable) {
        progress.note(&warning);
    }
    let sizes: Vec<String> = gallery
        .montages
        .clusters
        .iter()
        .map(|c| c.size.to_string())
        .collect();
    progress.note(&format!(
        "wrote {} and the gallery in {} (cluster sizes {})",
        options.out.join("predictions.csv").display(),
        options.out.join("gallery").display(),
        sizes.join(" ")
    ));
    Ok(())
}

/// The unlabelled images of `options.data_dir`: test.csv's, the IDX layout's last 30 %,
/// or every image of a folder (labels ignored), brought to the model's size and colour
/// mode `trained_on` unless `--image-size` / `--colour` say otherwise (which must then be
/// the model's: anything else is refused here, naming the option). With them, for a
/// folder of images, each image's source file (the gallery's originals).
fn load_images(
    options: &PredictOptions,
    model_path: &Path,
    trained_on: Option<ImageShape>,
    progress: &mut Progress,
) -> Result<(Dataset, Option<Vec<PathBuf>>)> {
    let dir = &options.data_dir;
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
    if let (Some(asked), Some(shape)) = (options.colour, trained_on)
        && Some(asked) != model_colour
    {
        return Err(Error::invalid(
            "--colour",
            format!(
                "the model in {} was trained on {} images; leave --colour out to use its mode",
                options.model.display(),
                shape.describe()
            ),
        ));
    }
    if let (Some(asked), Some(shape)) = (options.image_size, trained_on)
        && Some(asked) != model_size
    {
        return Err(Error::invalid(
            "--image-size",
            format!(
                "{}x{}, but the model in {} was trained on {} images; leave --image-size out \
                 to use its size",
                asked.0,
                asked.1,
                options.model.display(),
                shape.describe()
            ),
        ));
    }
    let folder_options = FolderOptions {
        size: options.image_size.or(model_size),
        colour: options.colour.or(model_colour).unwrap_or_default(),
        skip_unreadable: options.skip_unreadable,
    };
    if layout != Layout::Folder {
        // The article's PNGs and IDX files are read as they are; the shape check follows.
        let user_options = FolderOptions {
            size: options.image_size,
            colour: options.colour.unwrap_or_default(),
            skip_unreadable: options.skip_unreadable,
        };
        data::check_folder_options(dir, layout, &user_options)?;
        return Ok((data::load_unlabelled(dir)?, None));
    }
    let folder = data::load_folder(dir, &folder_options)?;
    if let Some(skipped) = folder.skipped_summary() {
        progress.note(&format!("warning: {skipped}"));
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
            Model::Dec(dec) => {
                let q = dec.soft_assign(x); // (N, K)
                let assignment = argmax_rows(&q);
                let confidence = q
                    .iter_rows()
                    .zip(&assignment)
                    .map(|(row, &j)| row[j])
                    .collect();
                Ok((assignment, confidence))
            }
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
fn load_model(options: &PredictOptions) -> Result<(PathBuf, Model, Option<ImageShape>)> {
    let model = &options.model;
    let file_of = |m: PredictMethod| {
        model.join(match m {
            PredictMethod::Dec => weights::DEC_FILE,
            PredictMethod::Idec => weights::IDEC_FILE,
            PredictMethod::N2d => n2d::MODEL_FILE,
        })
    };
    let path = if model.is_file() {
        model.to_path_buf()
    } else if let Some(m) = options.method {
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
