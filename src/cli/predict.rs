//! `deepcluster predict DATA_DIR --model DIR`: the organised gallery the article asks for.
//!
//! Clusters the unlabelled images of DATA_DIR (`test.csv`, the IDX layout's last 21,000
//! images, or every image of a folder of images, brought to the model's size and colour
//! mode, subfolder labels ignored) with the DEC model an earlier run saved in DIR (or its
//! IDEC model when it has no DEC one; `--model FILE` names either file), and writes
//! `predictions.csv`
//! (`filename,cluster`), one folder of thumbnails per cluster, a montage per cluster and an
//! overview into the output folder.

use std::path::{Path, PathBuf};

use crate::cli::args::{self, Parsed, PredictOptions};
use crate::cli::run::in_pool;
use crate::cluster::dec::argmax_rows;

use crate::data::{self, Colour, Dataset, FolderOptions, Layout};
use crate::io::weights::{self, ImageShape};
use crate::io::write_atomic;
use crate::report::gallery::write_gallery;
use crate::report::montage::ClusterPictures;
use crate::report::progress::Progress;
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
    let model_path = model_file(&options.model)?;
    // DEC's encoder and centres, or IDEC's (its decoder is not needed to cluster).
    let (dec, trained_on) = weights::load_dec_with_image(&model_path)?;
    let images = load_images(options, &model_path, trained_on, &mut progress)?;
    let got = ImageShape::of(&images);
    let refused = match trained_on {
        // The shape, not only the number of values: a 16x49 image is not a 28x28 one.
        Some(shape) => got != shape,
        // A model saved before the shape was recorded: only its input width is known.
        None => got.values() != dec.encoder.input_dim(),
    };
    if refused {
        let model = match trained_on {
            Some(shape) => format!("was trained on {} images", shape.describe()),
            None => format!("takes {} values per image", dec.encoder.input_dim()),
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
        "clustering {} images from {}",
        images.len(),
        options.data_dir.display()
    ));
    let q = dec.soft_assign(&images.images); // (N, K)
    let assignment = argmax_rows(&q);
    let confidence: Vec<f32> = q
        .iter_rows()
        .zip(&assignment)
        .map(|(row, &j)| row[j])
        .collect();

    std::fs::create_dir_all(&options.out).map_err(|e| Error::io(&options.out, e))?;
    let _lock = crate::io::lock::FolderLock::acquire(&options.out)?;
    let mut csv = String::from("filename,cluster\n");
    for (name, cluster) in images.filenames.iter().zip(&assignment) {
        csv.push_str(&format!("{},{cluster}\n", csv_field(name)));
    }
    write_atomic(options.out.join("predictions.csv"), csv.as_bytes())?;
    let pictures = ClusterPictures {
        images: &images.images,
        height: images.height,
        width: images.width,
        // A row is (height, width, channels): 1 for grey, 3 for a folder loaded in RGB.
        channels: images.channels(),
        assignment: &assignment,
        confidence: &confidence,
        labels: None,
        clusters: dec.clusters(),
    };
    let gallery = write_gallery(options.out.join("gallery"), &pictures, &images.filenames)?;
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
/// the model's: anything else is refused here, naming the option).
fn load_images(
    options: &PredictOptions,
    model_path: &Path,
    trained_on: Option<ImageShape>,
    progress: &mut Progress,
) -> Result<Dataset> {
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
        return data::load_unlabelled(dir);
    }
    let folder = data::load_folder(dir, &folder_options)?;
    if let Some(skipped) = folder.skipped_summary() {
        progress.note(&format!("warning: {skipped}"));
    }
    let mut images = folder.dataset;
    images.labels = None; // predict clusters; subfolder names are not used
    Ok(images)
}

/// The model `--model` names: a weights file itself, or a run's output folder, whose
/// `dec.safetensors` is taken, else its `idec.safetensors`.
fn model_file(model: &Path) -> Result<PathBuf> {
    if model.is_file() {
        return Ok(model.to_path_buf());
    }
    let dec = model.join(weights::DEC_FILE);
    let idec = model.join(weights::IDEC_FILE);
    if dec.is_file() {
        Ok(dec)
    } else if idec.is_file() {
        Ok(idec)
    } else {
        Err(Error::data(
            &dec,
            "no DEC (or IDEC) model here; run `deepcluster DATA_DIR --method dec --out DIR` first",
        ))
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
