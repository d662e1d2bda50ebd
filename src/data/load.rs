//! Loading either layout into `Dataset`s, decoding PNGs in parallel straight into the rows
//! of the final matrices (no per-image `Vec<f32>`, no copy afterwards), so that the peak
//! memory of a load is the f32 pixels plus a little per thread.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

use super::listing::{Listing, read_listing};
use super::png_grey::{self, Size};
use super::{Dataset, Labelled, Protocol, idx, labelled_count, split_point, to_unit};
use crate::linalg::Matrix;
use crate::{Error, Result};

/// An image file larger than this is refused before being read whole (MNIST's are 900
/// bytes; a 4096 x 4096 RGBA PNG stored uncompressed is 64 MiB).
pub const MAX_FILE_BYTES: u64 = 80 << 20;

/// One image of the article's layout: its file, and the list line that named it.
struct ImageRef {
    path: PathBuf,
    list: PathBuf,
    line: usize,
}

impl ImageRef {
    /// An error about this image: "train.csv, line 12: train/11.png: <problem>".
    fn error(&self, problem: impl std::fmt::Display) -> Error {
        Error::data_row(
            &self.list,
            self.line,
            format!("{}: {problem}", self.path.display()),
        )
    }

    /// Reads the file into `bytes`, reusing its allocation (one buffer per thread rather
    /// than a fresh `Vec` per image). At most `MAX_FILE_BYTES` are read, so a huge file
    /// in the folder is an error rather than an allocation of its size.
    fn read_into(&self, bytes: &mut Vec<u8>) -> Result<()> {
        crate::io::read::read_capped_into(&self.path, MAX_FILE_BYTES, "an image", bytes)
            .map_err(|e| self.error(problem_of(e)))
    }
}

/// `part` is "train" or "test": reads `dir/<part>.csv` and the images in `dir/<part>/`.
fn listing(dir: &Path, part: &str) -> Result<(Listing, Vec<ImageRef>)> {
    let list = dir.join(format!("{part}.csv"));
    let listing = read_listing(&list)?;
    let images = listing
        .filenames
        .iter()
        .zip(&listing.lines)
        .map(|(name, &line)| ImageRef {
            path: dir.join(part).join(name),
            list: list.clone(),
            line,
        })
        .collect();
    Ok((listing, images))
}

/// The size every image of the set must have: the first image's.
fn set_size(images: &[ImageRef]) -> Result<Size> {
    let first = &images[0];
    let mut bytes = Vec::new();
    first.read_into(&mut bytes)?;
    png_grey::read_size(&first.path, &bytes).map_err(|e| first.error(problem_of(e)))
}

/// The problem part of a `Data` error about an image (its path is added again by
/// `ImageRef::error`, together with the list line).
pub(super) fn problem_of(e: Error) -> String {
    match e {
        Error::Data { problem, .. } => problem,
        Error::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// A (rows, cols) matrix of zeros, or an error instead of an abort when memory is short.
///
/// The zeros are the operating system's: `vec![0.0; n]` asks for zeroed pages, which cost
/// nothing until a row is written. So a set whose first image is a PNG bomb (a 16 KB file
/// claiming 4096 x 4096 pixels, which then sets the size of every row) costs the rows that
/// decode, not N x 64 MB, before the next image is found to disagree.
pub(super) fn alloc_matrix(rows: usize, cols: usize, what: &Path) -> Result<Matrix> {
    let n = rows
        .checked_mul(cols)
        .ok_or_else(|| Error::data(what, "image set too large"))?;
    // `vec!` aborts when memory is short; asking first turns that into an error.
    let mut probe: Vec<f32> = Vec::new();
    probe.try_reserve_exact(n).map_err(|_| {
        Error::data(
            what,
            format!("not enough memory for {rows} images of {cols} pixels"),
        )
    })?;
    drop(probe);
    Ok(Matrix::from_vec(rows, cols, vec![0.0; n]))
}

/// `alloc_matrix` for `rows` images of the size the first image set: when memory is short,
/// the message names that first image and its size, the likely culprit (one oversized
/// image), rather than only the count of images.
fn alloc_images(images: &[ImageRef], rows: usize, (height, width): Size) -> Result<Matrix> {
    alloc_matrix(rows, height * width, &images[0].list).map_err(|_| {
        images[0].error(format!(
            "image is {width}x{height}, and the first image sets every image's size: \
             {rows} images of that size do not fit in memory"
        ))
    })
}

/// Decodes `images` in parallel into the rows of `out`, which is (images.len(), h * w).
/// On failure the error of the first failing image (in list order) is returned, so the
/// message does not depend on thread timing.
fn decode_into(images: &[ImageRef], size: Size, out: &mut Matrix) -> Result<()> {
    let pixels = size.0 * size.1;
    assert_eq!(out.shape(), (images.len(), pixels), "out is (N, h * w)");
    let first_error: Mutex<Option<(usize, Error)>> = Mutex::new(None);
    out.as_mut_slice()
        .par_chunks_mut(pixels.max(1))
        .zip(images.par_iter())
        .enumerate()
        .for_each_init(
            || (Vec::new(), Vec::new(), vec![0u8; pixels]),
            |(bytes, scratch, grey), (i, (row, image))| {
                // row is (h * w,), grey is (h * w,) bytes.
                let result = image.read_into(bytes).and_then(|()| {
                    png_grey::decode_grey(&image.path, bytes, size, scratch, grey)
                        .map_err(|e| image.error(problem_of(e)))
                });
                match result {
                    Ok(()) => {
                        for (x, &g) in row.iter_mut().zip(grey.iter()) {
                            *x = to_unit(g);
                        }
                    }
                    Err(e) => {
                        let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
                        if slot.as_ref().is_none_or(|(j, _)| i < *j) {
                            *slot = Some((i, e));
                        }
                    }
                }
            },
        );
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// All images of `dir/<part>.csv`, unsplit (the unlabelled test set).
pub fn article_set(dir: &Path, part: &str) -> Result<Dataset> {
    let (listing, images) = listing(dir, part)?;
    let (height, width) = set_size(&images)?;
    let mut matrix = alloc_images(&images, images.len(), (height, width))?;
    decode_into(&images, (height, width), &mut matrix)?;
    Ok(Dataset {
        images: matrix,
        labels: listing.labels,
        filenames: listing.filenames,
        height,
        width,
    })
}

/// train.csv's images and labels, divided by `protocol`.
pub fn article_labelled(dir: &Path, protocol: Protocol) -> Result<Labelled> {
    let (listing, images) = listing(dir, "train")?;
    let list = &images[0].list;
    let labels = listing
        .labels
        .ok_or_else(|| Error::data(list, "no `label` column: the labelled set needs one"))?;
    let n = images.len();
    let fit_end = match protocol {
        Protocol::Split => split_point(n),
        Protocol::All => n,
    };
    check_split(list, n, fit_end, protocol)?;
    let (height, width) = set_size(&images)?;

    // Decode the fitted rows and the validation rows straight into their own matrices.
    let mut fit = alloc_images(&images, fit_end, (height, width))?;
    decode_into(&images[..fit_end], (height, width), &mut fit)?;
    let fit = Dataset {
        images: fit,
        labels: Some(labels[..fit_end].to_vec()),
        filenames: listing.filenames[..fit_end].to_vec(),
        height,
        width,
    };
    let validation = match protocol {
        Protocol::All => fit.clone(),
        Protocol::Split => {
            let mut val = alloc_images(&images, n - fit_end, (height, width))?;
            decode_into(&images[fit_end..], (height, width), &mut val)?;
            Dataset {
                images: val,
                labels: Some(labels[fit_end..].to_vec()),
                filenames: listing.filenames[fit_end..].to_vec(),
                height,
                width,
            }
        }
    };
    Ok(Labelled { fit, validation })
}

fn check_split(list: &Path, n: usize, fit_end: usize, protocol: Protocol) -> Result<()> {
    if fit_end == 0 || (protocol == Protocol::Split && fit_end == n) {
        return Err(Error::data(
            list,
            format!("{n} labelled images are too few for a 70/30 split"),
        ));
    }
    Ok(())
}

/// Rows `range` of the IDX images as a `Dataset` named like make-dataset names them.
/// The f32 matrix is four times the bytes it comes from, so it is asked for fallibly: a
/// small `.gz` that inflates to a gigabyte of pixels is an error, not an abort.
fn idx_rows(
    all: &idx::IdxImages,
    range: std::ops::Range<usize>,
    labels: bool,
    dir: &Path,
) -> Result<Dataset> {
    let pixels = all.height * all.width;
    let mut matrix = alloc_matrix(range.len(), pixels, dir)?;
    // matrix is (range.len(), h * w); the source rows are u8 (count, h * w).
    let source = &all.pixels[range.start * pixels..range.end * pixels];
    matrix
        .as_mut_slice()
        .par_chunks_mut(65536)
        .zip(source.par_chunks(65536))
        .for_each(|(dst, src)| {
            for (x, &v) in dst.iter_mut().zip(src) {
                *x = to_unit(v);
            }
        });
    Ok(Dataset {
        images: matrix,
        labels: labels.then(|| all.labels[range.clone()].to_vec()),
        filenames: range.map(|i| format!("{i}.png")).collect(),
        height: all.height,
        width: all.width,
    })
}

/// The labelled 70% of an IDX folder, divided by `protocol`.
pub fn idx_labelled(dir: &Path, protocol: Protocol) -> Result<Labelled> {
    let all = idx::read_dir(dir)?;
    let n = labelled_count(all.count);
    let fit_end = match protocol {
        Protocol::Split => split_point(n),
        Protocol::All => n,
    };
    check_split(dir, n, fit_end, protocol)?;
    let fit = idx_rows(&all, 0..fit_end, true, dir)?;
    let validation = match protocol {
        // The same rows again, fallibly (a `clone` would abort when memory is short).
        Protocol::All => idx_rows(&all, 0..fit_end, true, dir)?,
        Protocol::Split => idx_rows(&all, fit_end..n, true, dir)?,
    };
    Ok(Labelled { fit, validation })
}

/// The unlabelled 30% of an IDX folder (MNIST: images 49,000..69,999).
pub fn idx_unlabelled(dir: &Path) -> Result<Dataset> {
    let all = idx::read_dir(dir)?;
    let n = labelled_count(all.count);
    if n == all.count {
        return Err(Error::data(dir, "too few images for an unlabelled set"));
    }
    idx_rows(&all, n..all.count, false, dir)
}
