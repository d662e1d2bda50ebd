//! UMAP (McInnes, Healy & Melville 2018), as umap-learn computes it: the manifold step of
//! N2D (encoder codes -> UMAP -> Gaussian mixture).
//!
//! Follow the points through the files in this order:
//!
//! 1. [`knn`]: the k nearest neighbours of every point, by blocked GEMM distances.
//! 2. [`fuzzy`]: each point's local metric (rho_i, sigma_i), the membership strengths of
//!    its kNN edges, and their fuzzy union, a symmetric sparse graph A.
//! 3. [`spectral`]: the initial layout from the eigenvectors of A's normalised Laplacian.
//! 4. [`curve`]: a and b of the low-dimensional similarity 1 / (1 + a d^(2b)).
//! 5. [`layout`]: SGD on the fuzzy cross-entropy, by edge and negative sampling.
//! 6. [`Umap::transform`]: new points placed among the fitted ones, which stay fixed.
//!
//! Everything is a function of the data and the seed: the parallel parts (kNN, the
//! eigensolver, the layout's chunks of head vertices) split work by shape only.

pub mod curve;
pub mod fuzzy;
pub mod knn;
pub mod layout;
pub mod spectral;

use crate::linalg::{MatRef, Matrix};
use crate::{Error, Result};

use fuzzy::{Csr, Neighbours};
use layout::{Edges, Schedule, Tails};
pub use spectral::InitKind;

/// Hyper-parameters of UMAP; `fit` validates them against the data. Defaults: N2D's
/// (10 neighbours, 10 dimensions, min_dist 0) and umap-learn's for the rest.
#[derive(Clone, Debug, PartialEq)]
pub struct UmapParams {
    /// k of the kNN graph, the point itself included (umap-learn's n_neighbors).
    pub n_neighbors: usize,
    /// The embedding's dimension.
    pub n_components: usize,
    /// The distance below which embedded points count as identical neighbours.
    pub min_dist: f32,
    /// The scale of the embedded similarity's decay.
    pub spread: f32,
    /// SGD epochs; None: 200 above 10,000 points, else 500 (umap-learn's rule).
    pub n_epochs: Option<usize>,
    /// alpha at epoch 0 (transform uses a quarter of it).
    pub learning_rate: f32,
    /// Negative samples per positive sample.
    pub negative_sample_rate: usize,
    /// gamma, the weight of the repulsion.
    pub repulsion_strength: f32,
    pub seed: u64,
}

impl Default for UmapParams {
    fn default() -> Self {
        UmapParams {
            n_neighbors: 10,
            n_components: 10,
            min_dist: 0.0,
            spread: 1.0,
            n_epochs: None,
            learning_rate: 1.0,
            negative_sample_rate: 5,
            repulsion_strength: 1.0,
            seed: 0,
        }
    }
}

/// Points above which umap-learn uses fewer epochs (its "small data" rule).
const SMALL_DATA: usize = 10_000;

/// A fitted UMAP: what `transform` needs, and what a checkpoint would save.
#[derive(Clone, Debug, PartialEq)]
pub struct Umap {
    params: UmapParams,
    /// fit_data is (N, D): the points the model was fitted on.
    fit_data: Matrix,
    /// embedding is (N, n_components).
    embedding: Matrix,
    a: f32,
    b: f32,
    init: InitKind,
}

/// The first non-finite value of `x`, as an error naming `phase`, e.g.
/// "UMAP input: row 17 has a NaN".
fn check_finite(phase: &str, x: MatRef<'_>) -> Result<()> {
    for i in 0..x.rows() {
        if let Some(v) = x.row(i).iter().find(|v| !v.is_finite()) {
            let what = if v.is_nan() {
                "a NaN"
            } else {
                "an infinite value"
            };
            return Err(Error::invalid(phase, format!("row {i} has {what}")));
        }
    }
    Ok(())
}

impl UmapParams {
    /// Checks the parameters against data with `n` points of dimension `d`.
    fn validate(&self, n: usize, d: usize) -> Result<()> {
        let bad =
            |what: &str, problem: String| Err(Error::invalid(format!("UMAP {what}"), problem));
        if self.n_neighbors < 2 {
            return bad(
                "n_neighbors",
                format!("must be at least 2, got {}", self.n_neighbors),
            );
        }
        if n < 2 || self.n_neighbors > n - 1 {
            return bad(
                "n_neighbors",
                format!(
                    "{} neighbours need at least {} points, got {n}",
                    self.n_neighbors,
                    self.n_neighbors + 1
                ),
            );
        }
        if d == 0 {
            return bad("input", "the points have no features".to_string());
        }
        if self.n_components == 0 {
            return bad("n_components", "must be at least 1".to_string());
        }
        if !(self.spread.is_finite() && self.spread > 0.0) {
            return bad(
                "spread",
                format!("must be positive and finite, got {}", self.spread),
            );
        }
        if !(self.min_dist.is_finite() && self.min_dist >= 0.0 && self.min_dist <= self.spread) {
            return bad(
                "min_dist",
                format!(
                    "must be in [0, spread = {}], got {}",
                    self.spread, self.min_dist
                ),
            );
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(
                "learning_rate",
                format!("must be positive and finite, got {}", self.learning_rate),
            );
        }
        if !(self.repulsion_strength.is_finite() && self.repulsion_strength >= 0.0) {
            return bad(
                "repulsion_strength",
                format!(
                    "must be non-negative and finite, got {}",
                    self.repulsion_strength
                ),
            );
        }
        Ok(())
    }

    /// The SGD epochs of a fit on `n` points.
    pub fn fit_epochs(&self, n: usize) -> usize {
        self.n_epochs
            .unwrap_or(if n <= SMALL_DATA { 500 } else { 200 })
    }

    /// Fits UMAP to the rows of `x` (N, D).
    ///
    /// Errors (`Error::Invalid`): n_neighbors < 2 or > N - 1, n_components = 0, D = 0,
    /// spread <= 0, min_dist outside [0, spread], learning_rate <= 0, a negative
    /// repulsion_strength, or a non-finite value in `x`.
    pub fn fit(&self, x: MatRef<'_>) -> Result<Umap> {
        let (n, d) = x.shape();
        self.validate(n, d)?;
        check_finite("UMAP input", x)?;
        let dim = self.n_components;
        // Steps 1-3: the fuzzy simplicial set.
        let graph = self.fuzzy_graph(x);
        let n_epochs = self.fit_epochs(n);
        // umap-learn: edges too weak to be sampled even once in n_epochs are dropped.
        let default_epochs = if n <= SMALL_DATA { 500 } else { 200 };
        let threshold_epochs = if n_epochs > 10 {
            n_epochs
        } else {
            default_epochs
        };
        let graph = graph.drop_below(graph.max_value() / threshold_epochs as f32);
        // Step 4: the initial layout.
        let (coords, init) = spectral::spectral_layout(&graph, dim, self.seed);
        let mut y = spectral::scale_initial(&coords, n, dim, self.seed);
        // Steps 5-6: the curve and the SGD.
        let (a, b) = curve::find_ab_params(self.min_dist as f64, self.spread as f64);
        let (a, b) = (a as f32, b as f32);
        let edges =
            Edges::from_weights((0..n).flat_map(|i| graph.row(i).map(move |(j, w)| (i, j, w))));
        let schedule = Schedule {
            n_epochs,
            a,
            b,
            repulsion_strength: self.repulsion_strength,
            initial_alpha: self.learning_rate,
            negative_sample_rate: self.negative_sample_rate,
            seed: self.seed,
        };
        layout::optimize_layout(&mut y, Tails::Same, dim, &edges, &schedule);
        Ok(Umap {
            params: self.clone(),
            fit_data: x.to_matrix(),
            embedding: Matrix::from_vec(n, dim, y),
            a,
            b,
            init,
        })
    }

    /// Steps 1-3: kNN, local metrics, memberships, their fuzzy union (N, N).
    pub fn fuzzy_graph(&self, x: MatRef<'_>) -> Csr {
        let knn = knn::knn_self(x, self.n_neighbors);
        let metric = fuzzy::smooth_knn_dist(&knn, 1.0);
        let w = fuzzy::membership_strengths(&knn, &metric, Neighbours::SelfSet);
        fuzzy::fuzzy_union(&knn, &w)
    }
}

impl Umap {
    /// A fitted model from its parts (for loading a saved one). `fit_data` is (N, D),
    /// `embedding` (N, n_components).
    pub fn from_parts(
        params: UmapParams,
        fit_data: Matrix,
        embedding: Matrix,
        a: f32,
        b: f32,
    ) -> Result<Umap> {
        if fit_data.rows() != embedding.rows() || embedding.cols() != params.n_components {
            return Err(Error::invalid(
                "UMAP model",
                format!(
                    "fit data is {:?} but the embedding is {:?} with n_components {}",
                    fit_data.shape(),
                    embedding.shape(),
                    params.n_components
                ),
            ));
        }
        params.validate(fit_data.rows(), fit_data.cols())?;
        Ok(Umap {
            params,
            fit_data,
            embedding,
            a,
            b,
            init: InitKind::Spectral,
        })
    }

    /// The embedding of the fit points, (N, n_components).
    pub fn embedding(&self) -> &Matrix {
        &self.embedding
    }

    /// The points the model was fitted on, (N, D).
    pub fn fit_data(&self) -> &Matrix {
        &self.fit_data
    }

    pub fn params(&self) -> &UmapParams {
        &self.params
    }

    /// (a, b) of the similarity curve 1 / (1 + a d^(2b)).
    pub fn ab(&self) -> (f32, f32) {
        (self.a, self.b)
    }

    /// How the fit's initial layout was made (Spectral, or the Random fallback).
    pub fn init_kind(&self) -> InitKind {
        self.init
    }

    /// Embeds new points `x` (M, D) among the fitted ones (umap-learn's `transform`): their
    /// kNN among the fit points, memberships with rho = 0 (local_connectivity 0), a start at
    /// the membership-weighted mean of the neighbours' positions (exactly at a neighbour
    /// with membership 1, a duplicate), then n_epochs / 3 epochs of SGD (100 for at most
    /// 10,000 new points, else 30, when n_epochs is None) at a quarter of the learning rate,
    /// moving only the new points. Returns (M, n_components).
    ///
    /// Errors: D differs from the fit data's, or a non-finite value in `x`.
    pub fn transform(&self, x: MatRef<'_>) -> Result<Matrix> {
        let (m, d) = x.shape();
        if d != self.fit_data.cols() {
            return Err(Error::invalid(
                "UMAP transform input",
                format!(
                    "points have {d} features, the model was fitted on {}",
                    self.fit_data.cols()
                ),
            ));
        }
        check_finite("UMAP transform input", x)?;
        let dim = self.params.n_components;
        if m == 0 {
            return Ok(Matrix::zeros(0, dim));
        }
        let k = self.params.n_neighbors;
        let knn = knn::knn_query(x, self.fit_data.view(), k);
        let metric = fuzzy::smooth_knn_dist(&knn, 0.0);
        let w = fuzzy::membership_strengths(&knn, &metric, Neighbours::Bipartite);
        let mut y = self.initial_transform(&knn, &w);
        let n_epochs = match self.params.n_epochs {
            None if m <= SMALL_DATA => 100,
            None => 30,
            Some(e) => e / 3,
        };
        if n_epochs == 0 {
            return Ok(Matrix::from_vec(m, dim, y));
        }
        let w_max = w.iter().copied().fold(0.0f32, f32::max);
        let threshold = w_max / n_epochs as f32;
        let edges = Edges::from_weights((0..m).flat_map(|i| {
            let (idx, wr) = (knn.row_indices(i), &w[i * k..(i + 1) * k]);
            idx.iter()
                .zip(wr)
                .filter(move |&(_, &v)| v > 0.0 && v >= threshold)
                .map(move |(&j, &v)| (i, j, v))
        }));
        let schedule = Schedule {
            n_epochs,
            a: self.a,
            b: self.b,
            repulsion_strength: self.params.repulsion_strength,
            initial_alpha: self.params.learning_rate / 4.0,
            negative_sample_rate: self.params.negative_sample_rate,
            seed: self.params.seed ^ 0x7a5f_0000_0000_0003,
        };
        layout::optimize_layout(
            &mut y,
            Tails::Fixed(self.embedding.as_slice()),
            dim,
            &edges,
            &schedule,
        );
        Ok(Matrix::from_vec(m, dim, y))
    }

    /// The start of each new point (umap-learn's `init_graph_transform`): its neighbours'
    /// positions weighted by membership; the first neighbour with membership 1 exactly; the
    /// plain mean when every membership is 0. Returns (M, dim) row-major.
    fn initial_transform(&self, knn: &knn::Knn, w: &[f32]) -> Vec<f32> {
        let (k, dim) = (knn.k, self.params.n_components);
        let m = knn.rows();
        let mut y = vec![0f32; m * dim];
        for i in 0..m {
            let (idx, wr) = (knn.row_indices(i), &w[i * k..(i + 1) * k]);
            let out = &mut y[i * dim..(i + 1) * dim];
            if let Some(t) = wr.iter().position(|&v| v == 1.0) {
                out.copy_from_slice(self.embedding.row(idx[t]));
                continue;
            }
            let sum: f32 = wr.iter().sum();
            for (&j, &v) in idx.iter().zip(wr) {
                let weight = if sum > 0.0 { v / sum } else { 1.0 / k as f32 };
                for (o, e) in out.iter_mut().zip(self.embedding.row(j)) {
                    *o += weight * e;
                }
            }
        }
        y
    }
}
