//! The third layout: any folder of images, no list, no labels needed (torchvision's
//! `ImageFolder`, or a photo manager's "import a folder").
//!
//! **Which files.** Every file found recursively whose name ends in `.png`, `.jpg` or
//! `.jpeg`, in any case ([`EXTENSIONS`]), as `ImageFolder` takes files by extension. Other
//! files (`.txt`, `.csv`, no extension) are ignored, and so is every hidden file or folder
//! (a name starting with `.`: `.DS_Store`, macOS's `._photo.png`, `.thumbnails/`).
//! Symbolic links to files are followed (by [`open_regular`](crate::io::read::open_regular));
//! links to folders are not, so a link loop cannot make the walk endless. A FIFO or a
//! device named like an image is an unreadable image (io::read refuses it), not a hang.
//!
//! **Order.** Sorted by relative path, component by component, each compared as bytes
//! (Rust's `Path` order): the images of one subfolder stay together, the subfolders in
//! `ImageFolder`'s class order, the files in byte order within. Never the directory's order.
//!
//! **Labels.** The folder is labelled when every image sits directly in a first-level
//! subfolder (`DIR/<class>/<file>`, no image at the top or deeper) and there are at least
//! two such subfolders: the class names are those subfolders' names sorted (byte order),
//! and an image's label is its class's position, as `ImageFolder`'s `class_to_idx`.
//! Otherwise (any image at the top level or two levels down, or a single subfolder) the
//! folder is unlabelled. At most 256 classes (labels are u8).
//!
//! **Size** ([`FolderOptions::size`]). Every image is brought to one (width, height) by
//! Resize + CenterCrop ([`resize`](super::resize)). By default the target is the most
//! common size among the images, found from their headers alone (a first pass that reads
//! at most [`HEADER_BYTES`] of each file): the size shared by most images; on a tie, the
//! smaller area (width x height), then the smaller width.
//!
//! **Colour** ([`Colour`]): grey (one channel, BT.601 luma, as the article's loader) or
//! RGB (three interleaved channels: row i is (height, width, 3), so h x w x 3 columns).
//!
//! **Memory.** The matrix (N, h x w x c) f32 is allocated once (zero pages the system
//! fills on first write), and the images are decoded and resized in parallel straight into
//! its rows. Each thread keeps one file buffer, one pixel buffer and one [`Resizer`],
//! reused from image to image, so the peak is the matrix plus, per thread, the largest
//! file and 4 bytes per pixel of the largest image (at most 80 MB + 64 MB, the caps on a
//! file and on an image's pixels), whatever the number of images.
//!
//! **Unreadable images.** A file taken by its name that cannot be read or decoded (not a
//! PNG, truncated, a JPEG for now, a FIFO) stops the load with one line naming it: the
//! first such file in path order (header problems, found by the first pass, before
//! pixel problems). With [`FolderOptions::skip_unreadable`] every such file is left out
//! instead and listed in [`Folder::skipped`], in path order. Which files fail depends only
//! on the files, never on thread timing, so the result is the same on any thread count.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::decode::{self, Colour, HEADER_BYTES};
use super::load::{MAX_FILE_BYTES, alloc_matrix, problem_of};
use super::png_grey::Size;
use super::resize::{Image, Resizer};
use super::{Dataset, Labelled, Protocol};
use crate::linalg::Matrix;
use crate::{Error, Result};

/// The file name endings taken as images, compared without regard to case.
pub const EXTENSIONS: &[&str] = &["png", "jpg", "jpeg"];

/// How many names [`Folder::skipped_summary`] lists before "...".
const SUMMARY_NAMES: usize = 5;

/// How a folder of images is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FolderOptions {
    /// The size every image is brought to, **(width, height)** as `--image-size WxH`;
    /// None: the most common size among the images (see the module's documentation).
    pub size: Option<(usize, usize)>,
    /// Grey (1 channel) or RGB (3).
    pub colour: Colour,
    /// Leave unreadable images out (listed in [`Folder::skipped`]) instead of failing.
    pub skip_unreadable: bool,
}

/// An image left out by [`FolderOptions::skip_unreadable`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Relative to the folder, e.g. `cats/07.png`.
    pub path: PathBuf,
    /// Why, in a few words ("not a readable PNG: ...").
    pub problem: String,
}

/// A loaded folder of images: the dataset and what a report needs to describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct Folder {
    /// The folder that was loaded.
    pub root: PathBuf,
    /// images is (N, height x width x channels) f32 in [0, 1], channels interleaved;
    /// labels are class indices into `classes` when labelled; filenames are the relative
    /// paths with `/` between components (e.g. `cats/07.png`).
    pub dataset: Dataset,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// The class names (first-level subfolders, sorted) when the folder is labelled.
    pub classes: Option<Vec<String>>,
    /// Each row's source file (`root` joined with its relative path), (N,): for montages
    /// of the original images.
    pub sources: Vec<PathBuf>,
    /// The images left out, in path order (empty unless `skip_unreadable`).
    pub skipped: Vec<Skipped>,
}

impl Folder {
    /// "skipped 3 unreadable images: a.png, b/c.png, d.png", the first few names and then
    /// "... (N more)"; None when nothing was skipped. One line, for the caller to print
    /// once.
    pub fn skipped_summary(&self) -> Option<String> {
        let n = self.skipped.len();
        if n == 0 {
            return None;
        }
        let names: Vec<String> = self
            .skipped
            .iter()
            .take(SUMMARY_NAMES)
            .map(|s| relative_name(&s.path))
            .collect();
        let more = if n > SUMMARY_NAMES {
            format!(", ... ({} more)", n - SUMMARY_NAMES)
        } else {
            String::new()
        };
        let noun = if n == 1 { "image" } else { "images" };
        Some(format!(
            "skipped {n} unreadable {noun}: {}{more}",
            names.join(", ")
        ))
    }

    /// An error unless there are at least `clusters` images to put into `clusters`
    /// clusters (`--clusters`).
    pub fn check_clusters(&self, clusters: usize) -> Result<()> {
        let n = self.dataset.len();
        if n < clusters {
            return Err(Error::data(
                &self.root,
                format!("{n} images are fewer than the {clusters} clusters asked for"),
            ));
        }
        Ok(())
    }
}

/// Whether `name` ends in one of the [`EXTENSIONS`] (any case) and is not hidden.
pub fn is_image_name(name: &OsStr) -> bool {
    let bytes = name.as_encoded_bytes();
    if bytes.starts_with(b".") {
        return false;
    }
    let Some(dot) = bytes.iter().rposition(|&b| b == b'.') else {
        return false;
    };
    let ext = &bytes[dot + 1..];
    EXTENSIONS
        .iter()
        .any(|e| ext.eq_ignore_ascii_case(e.as_bytes()))
}

/// A relative path as the filenames show it: components joined by `/`.
fn relative_name(rel: &Path) -> String {
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// Every image under `dir` (see the module's rules), relative to it, sorted.
pub fn find_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    walk(dir, Path::new(""), &mut found, false)?;
    found.sort();
    Ok(found)
}

/// Whether `dir` holds at least one image (stops at the first), for
/// [`detect_layout`](super::detect_layout). A folder that cannot be listed holds none.
pub fn has_images(dir: &Path) -> bool {
    let mut found = Vec::new();
    walk(dir, Path::new(""), &mut found, true).is_ok() && !found.is_empty()
}

/// Adds the images of `root/rel` and its subfolders to `found` (relative to `root`); with
/// `first_only`, returns as soon as one is found.
fn walk(root: &Path, rel: &Path, found: &mut Vec<PathBuf>, first_only: bool) -> Result<()> {
    let here = root.join(rel);
    let entries = std::fs::read_dir(&here).map_err(|e| Error::io(&here, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&here, e))?;
        let name = entry.file_name();
        if name.as_encoded_bytes().starts_with(b".") {
            continue; // hidden
        }
        let path = rel.join(&name);
        // The entry's own type: a symbolic link is reported as a link, not followed.
        let kind = entry
            .file_type()
            .map_err(|e| Error::io(root.join(&path), e))?;
        if kind.is_dir() {
            walk(root, &path, found, first_only)?;
        } else if is_image_name(&name) {
            // A link to a folder is neither descended into (no loops) nor an image.
            if kind.is_symlink() && root.join(&path).is_dir() {
                continue;
            }
            found.push(path);
        }
        if first_only && !found.is_empty() {
            return Ok(());
        }
    }
    Ok(())
}

/// The class names and each image's class index, when every image sits directly in a
/// first-level subfolder and there are at least two of them (the module's rule).
fn classes_of(dir: &Path, files: &[PathBuf]) -> Result<Option<(Vec<String>, Vec<u8>)>> {
    let mut names: Vec<&OsStr> = Vec::with_capacity(files.len());
    for f in files {
        let parts: Vec<&OsStr> = f.components().map(|c| c.as_os_str()).collect();
        if parts.len() != 2 {
            return Ok(None);
        }
        names.push(parts[0]);
    }
    let mut classes = names.clone();
    classes.sort();
    classes.dedup();
    if classes.len() < 2 {
        return Ok(None);
    }
    if classes.len() > 256 {
        return Err(Error::data(
            dir,
            format!(
                "{} class subfolders, more than the 256 supported",
                classes.len()
            ),
        ));
    }
    let labels = names
        .iter()
        .map(|n| classes.binary_search(n).expect("a class of the list") as u8)
        .collect();
    let classes = classes
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    Ok(Some((classes, labels)))
}

/// The most common of `sizes`, each (width, height): most images first, then the smaller
/// area, then the smaller width. None for no sizes.
pub fn most_common_size(sizes: &[(usize, usize)]) -> Option<(usize, usize)> {
    let mut sorted = sizes.to_vec();
    sorted.sort_unstable();
    // (count, size) of each run of equal sizes.
    let mut runs: Vec<(usize, (usize, usize))> = Vec::new();
    for s in sorted {
        match runs.last_mut() {
            Some((count, last)) if *last == s => *count += 1,
            _ => runs.push((1, s)),
        }
    }
    runs.into_iter()
        .min_by_key(|&(count, (w, h))| (std::cmp::Reverse(count), w * h, w))
        .map(|(_, size)| size)
}

/// What one image's failure is called: its path relative to the folder, and the problem.
fn skipped(rel: &Path, e: Error) -> Skipped {
    Skipped {
        path: rel.to_path_buf(),
        problem: problem_of(e),
    }
}

/// Reads each file's header in parallel: its (height, width), or why not. In path order.
fn read_sizes(dir: &Path, files: &[PathBuf]) -> Vec<Result<Size>> {
    files
        .par_iter()
        .map_init(Vec::new, |bytes, rel| {
            let path = dir.join(rel);
            crate::io::read::read_head_into(&path, HEADER_BYTES, bytes)?;
            decode::read_size(&path, bytes)
        })
        .collect()
}

/// Reads, decodes and resizes the image `path` into `row`, (dst_h, dst_w, channels).
/// `bytes`, `pixels` and `resizer` are the calling thread's reusable buffers.
#[allow(clippy::too_many_arguments)]
fn load_one(
    path: &Path,
    colour: Colour,
    (dst_w, dst_h): (usize, usize),
    bytes: &mut Vec<u8>,
    pixels: &mut Vec<u8>,
    resizer: &mut Resizer,
    row: &mut [f32],
) -> Result<()> {
    crate::io::read::read_capped_into(path, MAX_FILE_BYTES, "an image", bytes)?;
    let (height, width) = decode::decode(path, bytes, colour, (dst_w, dst_h), pixels)?;
    if height == 0 || width == 0 {
        return Err(Error::data(path, "image has no pixels"));
    }
    let image = Image {
        pixels,
        width,
        height,
        channels: colour.channels(),
    };
    resizer.resize_into(image, row, dst_w, dst_h);
    Ok(())
}

/// Decodes `files` in parallel into the rows of `out`, (files.len(), h x w x c). Returns
/// the failures, (index, error) in index order. Unless `keep_going`, images after the
/// first failure known so far are not decoded: every image before the first failing one
/// still is, so the first failure returned does not depend on thread timing.
fn decode_rows(
    dir: &Path,
    files: &[PathBuf],
    options: &FolderOptions,
    size: (usize, usize),
    out: &mut Matrix,
) -> Vec<(usize, Error)> {
    let d = out.cols();
    assert_eq!(out.rows(), files.len(), "out is (N, h * w * c)");
    let failures: Mutex<Vec<(usize, Error)>> = Mutex::new(Vec::new());
    let first_failure = AtomicUsize::new(usize::MAX);
    let keep_going = options.skip_unreadable;
    out.as_mut_slice()
        .par_chunks_mut(d)
        .zip(files.par_iter())
        .enumerate()
        .for_each_init(
            || (Vec::new(), Vec::new(), Resizer::new()),
            |(bytes, pixels, resizer), (i, (row, rel))| {
                // row is (h * w * c,).
                if !keep_going && i > first_failure.load(Ordering::Relaxed) {
                    return;
                }
                let path = dir.join(rel);
                let result = load_one(&path, options.colour, size, bytes, pixels, resizer, row);
                if let Err(e) = result {
                    first_failure.fetch_min(i, Ordering::Relaxed);
                    let mut list = failures.lock().unwrap_or_else(|p| p.into_inner());
                    list.push((i, e));
                }
            },
        );
    let mut list = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    list.sort_by_key(|&(i, _)| i);
    list
}

/// Loads every image of the folder `dir` (see the module's rules) as one [`Folder`].
pub fn load_folder(dir: &Path, options: &FolderOptions) -> Result<Folder> {
    if let Some((w, h)) = options.size
        && (w == 0 || h == 0)
    {
        return Err(Error::invalid(
            "--image-size",
            format!("{w}x{h}: width and height must be at least 1"),
        ));
    }
    let found = find_images(dir)?;
    if found.is_empty() {
        return Err(Error::data(
            dir,
            format!(
                "no images found (files named *.{} in the folder or its subfolders)",
                EXTENSIONS.join(", *.")
            ),
        ));
    }
    let classes = classes_of(dir, &found)?;
    let mut skipped_files: Vec<Skipped> = Vec::new();

    // Pass 1, only for the default size: the headers. A file whose header is unreadable
    // is an error now, or left out of both passes.
    let (files, size) = match options.size {
        Some(size) => (found.clone(), size),
        None => {
            let mut files = Vec::with_capacity(found.len());
            let mut sizes = Vec::with_capacity(found.len());
            for (rel, result) in found.iter().zip(read_sizes(dir, &found)) {
                match result {
                    Ok((h, w)) => {
                        files.push(rel.clone());
                        sizes.push((w, h));
                    }
                    Err(e) if options.skip_unreadable => skipped_files.push(skipped(rel, e)),
                    Err(e) => return Err(e),
                }
            }
            match most_common_size(&sizes) {
                Some(size) => (files, size),
                None => return Err(none_readable(dir, found.len())),
            }
        }
    };

    // Pass 2: every image decoded and resized into its row.
    let channels = options.colour.channels();
    let d = size
        .0
        .checked_mul(size.1)
        .and_then(|p| p.checked_mul(channels))
        .ok_or_else(|| Error::invalid("--image-size", "too large"))?;
    let mut matrix = alloc_matrix(files.len(), d, dir)?;
    let failures = decode_rows(dir, &files, options, size, &mut matrix);
    let mut failed = vec![false; files.len()];
    for (i, e) in failures {
        if !options.skip_unreadable {
            return Err(e);
        }
        failed[i] = true;
        skipped_files.push(skipped(&files[i], e));
    }
    // Both passes' lists are in path order; together they must be too.
    skipped_files.sort_by(|a, b| a.path.cmp(&b.path));

    // Leave the failed rows out, moving the others up in place (no second matrix).
    let mut pixels = matrix.into_vec(); // (N, d), then (kept, d)
    let mut kept_files = Vec::with_capacity(files.len());
    for (i, rel) in files.into_iter().enumerate() {
        if failed[i] {
            continue;
        }
        let k = kept_files.len();
        if k != i {
            pixels.copy_within(i * d..(i + 1) * d, k * d);
        }
        kept_files.push(rel);
    }
    if kept_files.is_empty() {
        return Err(none_readable(dir, found.len()));
    }
    pixels.truncate(kept_files.len() * d);

    let (class_names, labels) = match classes {
        Some((names, all_labels)) => {
            // Labels were computed for `found`; keep those of the kept files.
            let labels = kept_files
                .iter()
                .map(|rel| all_labels[found.binary_search(rel).expect("a found file")])
                .collect();
            (Some(names), Some(labels))
        }
        None => (None, None),
    };
    let (width, height) = size;
    Ok(Folder {
        root: dir.to_path_buf(),
        dataset: Dataset {
            images: Matrix::from_vec(kept_files.len(), d, pixels),
            labels,
            filenames: kept_files.iter().map(|r| relative_name(r)).collect(),
            height,
            width,
        },
        channels,
        classes: class_names,
        sources: kept_files.iter().map(|r| dir.join(r)).collect(),
        skipped: skipped_files,
    })
}

fn none_readable(dir: &Path, n: usize) -> Error {
    Error::data(dir, format!("none of the {n} images could be read"))
}

/// A folder as [`load_labelled`](super::load_labelled) gives it: default options, and the
/// labelled images divided by `protocol`. Its rows are sorted by class, so the article's
/// ordered 70/30 split would fit some classes and score others: here
/// [`Protocol::Split`] takes 7 images of every 10 in path order (row i mod 10 < 7) for
/// fitting and the rest for scoring, so each class (its rows consecutive) is divided
/// about 70/30. (This copies the rows: twice
/// the matrix's memory, unlike [`load_folder`].)
pub fn folder_labelled(dir: &Path, protocol: Protocol) -> Result<Labelled> {
    split(load_folder(dir, &FolderOptions::default())?, protocol)
}

/// The rows of a labelled folder of `n` images that [`split`] fits and scores: for
/// [`Protocol::Split`] 7 of every 10 (row i mod 10 < 7) and the other 3; for
/// [`Protocol::All`] every row, twice.
pub fn split_rows(n: usize, protocol: Protocol) -> (Vec<usize>, Vec<usize>) {
    match protocol {
        Protocol::All => ((0..n).collect(), (0..n).collect()),
        Protocol::Split => (0..n).partition(|i| i % 10 < 7),
    }
}

/// A loaded labelled folder divided by `protocol`, as [`folder_labelled`] describes; an
/// error for an unlabelled one.
pub fn split(folder: Folder, protocol: Protocol) -> Result<Labelled> {
    let dir = folder.root.as_path();
    let data = folder.dataset;
    let Some(labels) = &data.labels else {
        return Err(Error::data(
            dir,
            "the images are not sorted into class subfolders (DIR/<class>/<image>), so \
             there are no labels to score against",
        ));
    };
    let n = data.len();
    let (fit_rows, val_rows) = split_rows(n, protocol);
    if fit_rows.is_empty() || val_rows.is_empty() {
        return Err(Error::data(
            dir,
            format!("{n} labelled images are too few for a 70/30 split"),
        ));
    }
    let part = |rows: &[usize]| Dataset {
        images: data.images.select_rows(rows),
        labels: Some(rows.iter().map(|&i| labels[i]).collect()),
        filenames: rows.iter().map(|&i| data.filenames[i].clone()).collect(),
        height: data.height,
        width: data.width,
    };
    Ok(Labelled {
        fit: part(&fit_rows),
        validation: part(&val_rows),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_by_extension_any_case_not_hidden() {
        for name in ["a.png", "b.PNG", "c.Jpg", "d.jpeg", "e.JPEG", "x.y.png"] {
            assert!(is_image_name(OsStr::new(name)), "{name}");
        }
        for name in [
            "a.txt",
            "png",
            "a.png.txt",
            ".png",
            "._a.png",
            "a.gif",
            "a",
            "a.",
        ] {
            assert!(!is_image_name(OsStr::new(name)), "{name}");
        }
    }

    #[test]
    fn the_most_common_size_breaks_ties_by_area_then_width() {
        assert_eq!(most_common_size(&[]), None);
        assert_eq!(
            most_common_size(&[(5, 5), (2, 3), (5, 5), (2, 3), (2, 3)]),
            Some((2, 3))
        );
        // Two each: 4x4 (16) loses to 3x5 (15), which ties 5x3 (15) and wins on width.
        let sizes = [(4, 4), (5, 3), (3, 5), (4, 4), (5, 3), (3, 5), (9, 9)];
        assert_eq!(most_common_size(&sizes), Some((3, 5)));
    }
}
