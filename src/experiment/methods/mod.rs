//! The table of methods: each is one function from the data (and, where it needs one, the
//! pretrained autoencoder) to a clustering of the validation images.
//!
//! Adding a method is one new file here and one line in [`METHODS`]. A method reads the
//! fit and validation images from its [`Context`], reports progress, asks whether to stop
//! and hands over checkpoints through `ctx.observer`, writes its own logs and weights into
//! the output folder (`ctx.out(name)`), and returns the validation images' clusters; the
//! experiment scores them, adds the table row and draws the montages.

use std::time::Instant;

use crate::Result;
use crate::cluster::{KMeans, KMeansParams};
use crate::experiment::Context;
use crate::linalg::{Matrix, argmin};
use crate::manifold::{Umap, UmapParams};
use crate::nn::Autoencoder;

pub mod ae_kmeans;
pub mod dec;
pub mod idec;
pub mod kmeans;
pub mod n2d;

/// What a method needs besides the images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Only the pixels.
    Pixels,
    /// The pretrained autoencoder (trained, or loaded with `--ae-weights`, first).
    Autoencoder,
}

/// A method's entry in the table.
pub struct Method {
    /// The name in the results table, the logs and the output folder (`+` becomes `_`).
    pub name: &'static str,
    /// The name the command line's `--method` takes.
    pub option: &'static str,
    pub needs: Needs,
    /// Whether the command line's `--method all` (its default) runs it.
    pub in_all: bool,
    /// Runs the method; `pretrained` is `Some` exactly when `needs` is `Autoencoder`.
    pub run: fn(&mut Context<'_>, Option<&mut Pretrained>) -> Result<Clustering>,
}

/// Every method: the article's three in the order it compares them, N2D, then IDEC (which
/// the command line's `all` leaves out: it keeps the default run's time). The command
/// line's `--method` takes its names, its help and its errors list them, from here.
pub const METHODS: &[Method] = &[
    Method {
        name: "kmeans",
        option: "kmeans",
        needs: Needs::Pixels,
        in_all: true,
        run: kmeans::run,
    },
    Method {
        name: "ae+kmeans",
        option: "ae",
        needs: Needs::Autoencoder,
        in_all: true,
        run: ae_kmeans::run,
    },
    Method {
        name: "dec",
        option: "dec",
        needs: Needs::Autoencoder,
        in_all: true,
        run: dec::run,
    },
    Method {
        name: "n2d",
        option: "n2d",
        needs: Needs::Autoencoder,
        in_all: true,
        run: n2d::run,
    },
    Method {
        name: "idec",
        option: "idec",
        needs: Needs::Autoencoder,
        in_all: false,
        run: idec::run,
    },
];

/// The table's entry called `name`.
pub fn find(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.name == name)
}

/// The table's entry that the command line's `--method` calls `option`.
pub fn by_option(option: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.option == option)
}

/// What one method produced on the validation images.
pub struct Clustering {
    /// The cluster of each validation image, (N_val,).
    pub assignment: Vec<usize>,
    /// How surely each image belongs to its cluster (higher = surer), (N_val,).
    pub confidence: Vec<f32>,
    /// Wall-clock seconds the method took (for the methods built on the autoencoder,
    /// counting its pretraining).
    pub seconds: f64,
}

/// The pretrained autoencoder that the `Needs::Autoencoder` methods share, with its codes.
pub struct Pretrained {
    pub ae: Autoencoder,
    /// The codes of the fit images, (N_fit, D).
    pub fit_codes: Matrix,
    /// The codes of the validation images, (N_val, D).
    pub validation_codes: Matrix,
    /// K-Means on `fit_codes`, once fitted (pretraining's last score fits it already).
    pub(crate) kmeans: Option<KMeans>,
    /// UMAP of `fit_codes`, once `--clusters auto` has fitted it (`choose_k`), for N2D.
    pub(crate) umap: Option<Umap>,
    /// When pretraining (or loading) began.
    pub started: Instant,
    /// Whether the autoencoder was loaded (`--ae-weights`) rather than trained here.
    pub loaded: bool,
}

impl Pretrained {
    /// K-Means (the schedule's restarts) on the fit images' codes, fitted once and shared:
    /// method 2's clustering and DEC's initial centres (the DEC paper's section 3.2).
    pub fn kmeans(&mut self, params: &KMeansParams) -> Result<&KMeans> {
        if self.kmeans.is_none() {
            self.kmeans = Some(params.fit(self.fit_codes.view())?);
        }
        Ok(self.kmeans.as_ref().expect("fitted just above"))
    }

    /// UMAP of `fit_codes` with `params`: the one kept by [`Pretrained::keep_umap`] when it
    /// was fitted with the same parameters (so that `--clusters auto` and N2D do not fit
    /// the same embedding twice), else a new fit. Taken, not shared: the caller owns it.
    pub fn take_umap(&mut self, params: &UmapParams) -> Result<Umap> {
        match self.umap.take() {
            Some(umap) if umap.params() == params => Ok(umap),
            _ => params.fit(self.fit_codes.view()),
        }
    }

    /// Keeps a UMAP of `fit_codes` for a later [`Pretrained::take_umap`].
    pub fn keep_umap(&mut self, umap: Umap) {
        self.umap = Some(umap);
    }
}

/// Each row of `features` (N, D) assigned to its nearest K-Means centre; the confidence is
/// minus the squared distance to that centre.
pub fn nearest_centre(model: &KMeans, features: &Matrix) -> (Vec<usize>, Vec<f32>) {
    let distances = model.distances(features.view()); // (N, k)
    let mut assignment = Vec::with_capacity(distances.rows());
    let mut confidence = Vec::with_capacity(distances.rows());
    for row in distances.iter_rows() {
        let (j, d) = argmin(row.iter().copied()).unwrap_or((0, f32::INFINITY));
        assignment.push(j);
        confidence.push(-d);
    }
    (assignment, confidence)
}
