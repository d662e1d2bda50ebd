//! Data in: the article's CSV + PNG layout and MNIST's IDX files, as `Matrix` (N, D) in [0, 1].
//!
//! Three folder layouts are understood, and told apart by their contents:
//!
//! - **the article's** ("Identify the Digits"): `train.csv` (`filename,label`), `test.csv`
//!   (`filename`), and the images `train/<filename>`, `test/<filename>`, PNGs of any colour
//!   type and bit depth ([`png_grey`]), all of one size;
//! - **IDX**: MNIST's four original files, raw or `.gz` ([`idx`]). Their 70,000 images are
//!   taken in IDX order (training file, then t10k); the first 70% (49,000) are the labelled
//!   set and the rest the unlabelled one, named `<i>.png` as [`make_dataset`] would write
//!   them. Both layouts of MNIST therefore give identical matrices, labels and filenames;
//! - **any folder of images** ([`folder`]), when it has neither: every `.png` / `.jpg` /
//!   `.jpeg` found recursively, in sorted path order, of any sizes, brought to one size,
//!   grey or RGB; labelled by first-level subfolder as torchvision's `ImageFolder` when
//!   every image sits in one.
//!
//! The labelled set is then split by a [`Protocol`]: the article's ordered 70/30 split, or
//! the DEC paper's "use everything". The unlabelled images can join the fit set
//! ([`append_unlabelled`]): clustering never reads the labels of what it fits.
//!
//! A pixel byte v becomes `v as f32 / 255.0` ([`to_unit`]) in both layouts.

pub mod augment;
pub mod decode;
pub mod folder;
pub mod idx;
pub mod jpeg;
pub mod listing;
mod load;
mod make;
pub mod png_grey;
pub mod resize;

use std::path::Path;

use crate::linalg::Matrix;
use crate::{Error, Result};

pub use decode::Colour;
pub use folder::{Folder, FolderOptions, load_folder};
pub use load::MAX_FILE_BYTES;
pub use make::make_dataset;

/// A set of images of one size, one image per row.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// (N, height * width), f32 in [0, 1], row-major, one image per row; for a folder
    /// loaded in RGB, (N, height * width * 3), channels interleaved ([`Folder::channels`]).
    pub images: Matrix,
    /// One label per image; None when the list has no `label` column (test.csv).
    pub labels: Option<Vec<u8>>,
    /// The image's name in the article's layout, e.g. "123.png" (for IDX, the name
    /// `make-dataset` gives it).
    pub filenames: Vec<String>,
    pub height: usize,
    pub width: usize,
}

impl Dataset {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.images.rows()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Channels per pixel: 1 (grey) or 3 (RGB), from the row width.
    pub fn channels(&self) -> usize {
        self.images.cols() / (self.height * self.width).max(1)
    }
}

/// How the labelled set is used for fitting and for scoring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    /// The article's: the labelled set split in order, the first 70% fitted, the last 30%
    /// scored (34,300 / 14,700 for MNIST).
    #[default]
    Split,
    /// The DEC paper's: fit and score on every labelled image (`validation` is then a copy
    /// of `fit`).
    All,
}

/// The labelled set, divided according to a [`Protocol`].
#[derive(Clone, Debug, PartialEq)]
pub struct Labelled {
    pub fit: Dataset,
    pub validation: Dataset,
}

/// Which layout a folder holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `train.csv`, `test.csv`, `train/*.png`, `test/*.png`.
    Article,
    /// The four MNIST IDX files, raw or `.gz`.
    Idx,
    /// Neither, but images (`*.png`, `*.jpg`, `*.jpeg`) in the folder or its subfolders.
    Folder,
}

/// The number of images fitted under the article's 70/30 split of `n` labelled images.
pub fn split_point(n: usize) -> usize {
    n * 7 / 10
}

/// The number of labelled images among the `count` images of an IDX folder: the first 70%,
/// which is 49,000 of MNIST's 70,000 (the article's train.csv).
pub fn labelled_count(count: usize) -> usize {
    count * 7 / 10
}

/// A pixel byte as the network sees it, in [0, 1].
#[inline]
pub fn to_unit(v: u8) -> f32 {
    v as f32 / 255.0
}

/// Tells the three layouts apart by the files in `dir`: a `train.csv` or `test.csv` makes
/// it the article's, else MNIST's IDX files, else any image found makes it a folder.
pub fn detect_layout(dir: &Path) -> Result<Layout> {
    if !dir.exists() {
        return Err(Error::data(dir, "no such data folder"));
    }
    if !dir.is_dir() {
        return Err(Error::data(dir, "not a folder"));
    }
    if dir.join("train.csv").is_file() || dir.join("test.csv").is_file() {
        Ok(Layout::Article)
    } else if idx::looks_like_idx(dir) {
        Ok(Layout::Idx)
    } else if folder::has_images(dir) {
        Ok(Layout::Folder)
    } else {
        Err(Error::data(
            dir,
            format!(
                "no data found: expected the article's layout (train.csv, test.csv, train/, \
                 test/), MNIST's IDX files ({}, each raw or .gz), or images (*.{}) in \
                 the folder or its subfolders",
                idx::FILES.join(", "),
                folder::EXTENSIONS.join(", *.")
            ),
        ))
    }
}

/// Loads the labelled images of `dir` (any layout) and divides them by `protocol`; a
/// folder of images with [`FolderOptions::default`] ([`folder::folder_labelled`]: the
/// split takes 7 of every 10 images, so that each class is divided about 70/30).
pub fn load_labelled(dir: &Path, protocol: Protocol) -> Result<Labelled> {
    match detect_layout(dir)? {
        Layout::Article => load::article_labelled(dir, protocol),
        Layout::Idx => load::idx_labelled(dir, protocol),
        Layout::Folder => folder::folder_labelled(dir, protocol),
    }
}

/// Appends `extra`'s images to `fit`, for fitting on unlabelled images as well.
///
/// Clustering never reads the fit set's labels, so images without labels (test.csv's) can
/// be fitted too: the DEC paper fits on all 70,000 MNIST images. The result has no labels;
/// the validation set, and so every score, is untouched. `extra` must have `fit`'s image
/// size; `dir` names the data folder in the error otherwise.
pub fn append_unlabelled(fit: Dataset, extra: Dataset, dir: &Path) -> Result<Dataset> {
    if (extra.height, extra.width) != (fit.height, fit.width) {
        return Err(Error::data(
            dir,
            format!(
                "the unlabelled images are {}x{} but the labelled ones {}x{}",
                extra.height, extra.width, fit.height, fit.width
            ),
        ));
    }
    let (n_fit, n_extra, d) = (fit.len(), extra.len(), fit.images.cols());
    let mut pixels = fit.images.into_vec(); // (N_fit, D), then (N_fit + N_extra, D)
    pixels.extend_from_slice(extra.images.as_slice());
    let mut filenames = fit.filenames;
    filenames.extend(extra.filenames);
    Ok(Dataset {
        images: Matrix::from_vec(n_fit + n_extra, d, pixels),
        labels: None,
        filenames,
        height: fit.height,
        width: fit.width,
    })
}

/// What a run clusters, as [`load_images`] gives it.
#[derive(Clone, Debug, PartialEq)]
pub enum Images {
    /// The images have labels: fitted and scored as the [`Protocol`] divides them.
    Labelled(Labelled),
    /// A folder of images without class subfolders: every image is fitted and clustered,
    /// and there is nothing to score against (labels None).
    Unlabelled(Dataset),
}

/// The images of a run and what the report says about them.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    pub images: Images,
    pub layout: Layout,
    /// 1 (grey) or 3 (RGB, a folder loaded with [`Colour::Rgb`]).
    pub channels: usize,
    /// [`Folder::skipped_summary`]: the one-line warning about left-out files, if any.
    pub skipped: Option<String>,
    /// For a folder of images, the source file of each image that is scored and drawn
    /// (the validation set's rows, or every row of an unlabelled folder), so that the
    /// pictures show the originals; None for the article's layout and IDX, whose
    /// pictures are the matrix rows themselves.
    pub validation_sources: Option<Vec<std::path::PathBuf>>,
}

/// Refuses folder options that a layout other than [`Layout::Folder`] cannot honour:
/// the article's PNGs and IDX files are used as they are (one size, grey, every file must
/// read), so `--image-size`, `--colour rgb` or `--skip-unreadable` there would be silently
/// ignored. `--colour grey`, the default, is what they are and is accepted.
pub fn check_folder_options(dir: &Path, layout: Layout, options: &FolderOptions) -> Result<()> {
    if layout == Layout::Folder {
        return Ok(());
    }
    let option = if options.size.is_some() {
        "--image-size"
    } else if options.colour != Colour::Grey {
        "--colour"
    } else if options.skip_unreadable {
        "--skip-unreadable"
    } else {
        return Ok(());
    };
    let what = match layout {
        Layout::Article => "the article's layout (train.csv)",
        _ => "MNIST's IDX files",
    };
    Err(Error::invalid(
        option,
        format!(
            "only for a folder of images; {} holds {what}, whose grey images are used as              they are",
            dir.display()
        ),
    ))
}

/// Loads what a run clusters from `dir`, any layout: the labelled images divided by
/// `protocol` ([`load_labelled`]), or, for a folder of images without class subfolders,
/// every image unlabelled. `options` applies to a folder of images (refused for the
/// other layouts by [`check_folder_options`]).
pub fn load_images(dir: &Path, protocol: Protocol, options: &FolderOptions) -> Result<Loaded> {
    let layout = detect_layout(dir)?;
    check_folder_options(dir, layout, options)?;
    if layout != Layout::Folder {
        return Ok(Loaded {
            images: Images::Labelled(load_labelled(dir, protocol)?),
            layout,
            channels: 1,
            skipped: None,
            validation_sources: None,
        });
    }
    let mut folder = load_folder(dir, options)?;
    let (channels, skipped) = (folder.channels, folder.skipped_summary());
    let mut sources = std::mem::take(&mut folder.sources);
    let images = if folder.classes.is_some() {
        let (_, validation_rows) = folder::split_rows(sources.len(), protocol);
        sources = validation_rows
            .iter()
            .map(|&i| sources[i].clone())
            .collect();
        Images::Labelled(folder::split(folder, protocol)?)
    } else {
        Images::Unlabelled(folder.dataset)
    };
    Ok(Loaded {
        images,
        layout,
        channels,
        skipped,
        validation_sources: Some(sources),
    })
}

/// Loads the unlabelled images of `dir`: test.csv's, the last 30% of an IDX folder, or
/// every image of a folder of images ([`FolderOptions::default`], labels dropped).
pub fn load_unlabelled(dir: &Path) -> Result<Dataset> {
    match detect_layout(dir)? {
        Layout::Article => load::article_set(dir, "test"),
        Layout::Idx => load::idx_unlabelled(dir),
        Layout::Folder => {
            let mut data = load_folder(dir, &FolderOptions::default())?.dataset;
            data.labels = None;
            Ok(data)
        }
    }
}
