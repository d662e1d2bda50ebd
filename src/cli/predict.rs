//! `deepcluster predict DATA_DIR --model DIR`: the organised gallery the article asks for.
//!
//! Clusters the unlabelled images of DATA_DIR (`test.csv`, or the IDX layout's last 21,000
//! images) with the DEC model an earlier run saved in DIR (or its IDEC model when it has
//! no DEC one; `--model FILE` names either file), and writes `predictions.csv`
//! (`filename,cluster`), one folder of thumbnails per cluster, a montage per cluster and an
//! overview into the output folder.

use std::path::{Path, PathBuf};

use crate::cli::args::{self, Parsed, PredictOptions};
use crate::cli::run::in_pool;
use crate::cluster::dec::argmax_rows;
use crate::data;
use crate::io::{weights, write_atomic};
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
    let dec = weights::load_clusterer(&model_path)?;
    let images = data::load_unlabelled(&options.data_dir)?;
    if images.images.cols() != dec.encoder.input_dim() {
        return Err(Error::data(
            &model_path,
            format!(
                "the model takes {} values per image, the images of {} have {}",
                dec.encoder.input_dim(),
                options.data_dir.display(),
                images.images.cols()
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
