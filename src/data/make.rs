//! Building the article's layout from MNIST's IDX files (`deepcluster make-dataset`).
//!
//! The construction fixed by `../shared/data/mnist/README.md`: the images in IDX order
//! (training file, then t10k); image i is written as `<i>.png`; the first 70% (49,000 of
//! 70,000) go to `train/` with a row `<i>.png,<label>` in train.csv, the rest to `test/`
//! with a row `<i>.png` in test.csv.
//!
//! The output is deterministic, so a rebuild gives byte-identical files: PNGs are 8-bit grey
//! with fixed encoder settings ([`png::Compression::Stored`]: no timestamps or other
//! metadata), lists and README are plain text with LF line ends, and every file is written
//! atomically.

use std::path::Path;

use rayon::prelude::*;

use super::{idx, labelled_count};
use crate::format::{csv, png};
use crate::io::write_atomic;
use crate::{Error, Result};

/// Threads writing PNG files (I/O-bound; see `make_dataset`).
const WRITE_THREADS: usize = 16;

/// Builds the article's layout in `out_dir` from the IDX files in `idx_dir`.
pub fn make_dataset(idx_dir: &Path, out_dir: &Path) -> Result<()> {
    if !idx_dir.is_dir() {
        return Err(Error::data(idx_dir, "no such IDX folder"));
    }
    let all = idx::read_dir(idx_dir)?;
    let n_labelled = labelled_count(all.count);
    let pixels = all.height * all.width;
    for part in ["train", "test"] {
        let dir = out_dir.join(part);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }

    // The PNGs, in parallel; each is encoded in memory, then written atomically. The
    // atomic write waits for an fsync per file, so the time goes to waiting on the disk,
    // not to the CPU: a pool with more threads than cores keeps more writes in flight.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(WRITE_THREADS)
        .build()
        .map_err(|e| Error::invalid("make-dataset", format!("cannot start threads: {e}")))?;
    // pixels of image i are all.pixels[i * h * w..(i + 1) * h * w].
    pool.install(|| {
        (0..all.count).into_par_iter().try_for_each(|i| {
            let part = if i < n_labelled { "train" } else { "test" };
            let path = out_dir.join(part).join(format!("{i}.png"));
            let png = png::encode(
                &all.pixels[i * pixels..(i + 1) * pixels],
                all.width,
                all.height,
                1,
                png::Compression::Stored,
            )
            .map_err(|problem| Error::data(&path, problem))?;
            write_atomic(&path, &png)
        })
    })?;

    let mut train = csv::Writer::new(&["filename", "label"]);
    for i in 0..n_labelled {
        train.row(&[format!("{i}.png"), all.labels[i].to_string()]);
    }
    let mut test = csv::Writer::new(&["filename"]);
    for i in n_labelled..all.count {
        test.row(&[format!("{i}.png")]);
    }
    write_atomic(out_dir.join("train.csv"), train.text().as_bytes())?;
    write_atomic(out_dir.join("test.csv"), test.text().as_bytes())?;
    let readme = readme(n_labelled, all.count - n_labelled, all.height, all.width);
    write_atomic(out_dir.join("README.md"), readme.as_bytes())?;
    Ok(())
}

fn readme(n_train: usize, n_test: usize, height: usize, width: usize) -> String {
    format!(
        "# MNIST in the \"Identify the Digits\" layout

The MNIST database of handwritten digits, by Yann LeCun, Corinna Cortes and Christopher J. C.
Burges, licensed under CC BY-SA 3.0 (https://creativecommons.org/licenses/by-sa/3.0/). These
files are derived from it and are shared under the same licence, crediting its authors.

Built by `deepcluster make-dataset IDX_DIR OUT_DIR` from the four IDX files, deterministically
(a rebuild gives byte-identical files):

- the images are taken in IDX order: the training file, then the t10k file;
- image i (0-based) is written as `<i>.png`, {height}x{width} 8-bit grey;
- the first {n_train} go to `train/`, with a row `<i>.png,<label>` in `train.csv`;
- the other {n_test} go to `test/`, with a row `<i>.png` in `test.csv`.

The article splits `train.csv` in order, 70/30: the first 70% of its rows are fitted, the last
30% are the validation set on which NMI and accuracy are reported.
"
    )
}
