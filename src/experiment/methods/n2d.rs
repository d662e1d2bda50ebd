//! Method 4: N2D (McConville et al., ICPR 2020), "(Not Too) Deep Clustering via Clustering
//! the Local Manifold of an Autoencoded Embedding": the pretrained encoder's codes, UMAP
//! (`manifold`) to a few dimensions, then a full-covariance Gaussian mixture
//! (`cluster::gmm`) on the embedding.
//!
//! The split protocol: UMAP and the mixture are fitted on the fit images' codes; the
//! validation codes are placed by UMAP's `transform` (kNN among the fit codes, a short
//! optimisation with the fit embedding held fixed) and assigned by the mixture's
//! `predict_proba`. Saves `n2d.safetensors`: what `transform` needs (the fit codes, their
//! embedding, a, b, the parameters) and the mixture, and draws `map.png`: the validation
//! images on a 2-D UMAP of their codes, coloured by cluster and by class.

use std::path::Path;

use crate::cluster::gmm::Covariance;
use crate::cluster::{GaussianMixture, GaussianMixtureParams};
use crate::experiment::methods::{Clustering, Pretrained};
use crate::experiment::{Context, choose_k, interrupted_before_checkpoint};
use crate::io::safetensors::{self, SafeTensors};
use crate::linalg::argmax_rows;
use crate::linalg::{MatRef, Matrix};
use crate::manifold::{Umap, UmapParams};
use crate::report::html::Figure;
use crate::report::map::{MapInput, thumbnail_points, write_map};
use crate::report::raster::{Channels, Image};
use crate::{Error, Result};

/// Restarts of the Gaussian mixture, each from its own K-Means seeding; the one with the
/// highest log-likelihood is kept (scikit-learn's `n_init`, 1 by default there and in N2D's
/// code). Measured on seeds 1-5 of the default command (`N2D_BENCH_STUDY=1 cargo bench
/// --bench n2d`, RESULTS.md): with one start, 8 of 20 fits (5 seeds, 10 and 20 neighbours,
/// two layouts) merged two digits into one component and split another (validation ACC
/// about 0.82 instead of 0.95); with 4, none did, and 10 chose the same mixture as 4 in all
/// 20. Each start costs about 0.1 s here.
pub const MIXTURE_RESTARTS: usize = 4;

/// The map shows at most this many validation images (evenly spaced through the set): a
/// 2-D UMAP of 5,000 codes takes about a second and shows the structure as well as all.
pub const MAP_POINTS: usize = 5_000;

pub fn run(ctx: &mut Context<'_>, pretrained: Option<&mut Pretrained>) -> Result<Clustering> {
    let pretrained = pretrained.expect("n2d needs the autoencoder");
    let config = ctx.config;
    // N2D embeds in as many dimensions as there are clusters.
    let params = choose_k::umap_params(ctx, config.umap_dims.unwrap_or(config.k()));
    ctx.observer.phase("n2d", 1, false);
    // The embedding `--clusters auto` chose k on, when it has these dimensions.
    let umap = pretrained.take_umap(&params)?;
    // embedding is (N_fit, dims); placed is (N_val, dims).
    let placed = umap.transform(pretrained.validation_codes.view())?;
    // Between UMAP and the mixture, a stop request ends the run: N2D holds nothing worth a
    // checkpoint (a resumed run fits UMAP again), as the pixel K-Means between iterations.
    if ctx.observer.should_abandon() {
        return Err(interrupted_before_checkpoint(config));
    }
    let mixture = GaussianMixtureParams {
        k: config.k(),
        n_init: MIXTURE_RESTARTS,
        seed: config.seed,
        ..GaussianMixtureParams::default()
    }
    .fit(umap.embedding().view())?;
    ctx.observer.finish(&format!(
        "UMAP to {} dimensions ({} neighbours), Gaussian mixture {} EM iterations{}",
        params.n_components,
        params.n_neighbors,
        mixture.n_iter,
        if mixture.converged {
            ""
        } else {
            " (not converged)"
        }
    ));
    save(ctx, &umap, &mixture)?;
    let (assignment, confidence) = assign(&mixture, &placed);
    draw_map(ctx, &pretrained.validation_codes, &assignment)?;
    Ok(Clustering {
        assignment,
        confidence,
        seconds: pretrained.started.elapsed().as_secs_f64(),
    })
}

/// `map.png`: up to [`MAP_POINTS`] validation images, evenly spaced through the set, placed
/// by a 2-D UMAP of their codes (its own fit, with the run's neighbours and seed: the 10-D
/// embedding that the mixture clusters cannot be drawn; min_dist 0.1, umap-learn's default
/// for pictures, since N2D's 0 packs each cluster into a dot), coloured by their n2d cluster and
/// by their class, one thumbnail per cluster at its middle. Added to the method's section
/// of the page. Nothing is drawn for fewer than 3 images (UMAP needs 2 neighbours).
fn draw_map(ctx: &mut Context<'_>, codes: &Matrix, assignment: &[usize]) -> Result<()> {
    let n = codes.rows();
    let m = n.min(MAP_POINTS);
    if m < 3 {
        return Ok(());
    }
    // rows[i] is the validation image shown as point i; codes (N_val, D) -> picked (m, D).
    let rows: Vec<usize> = (0..m).map(|i| i * n / m).collect();
    let mut picked = Matrix::zeros(m, codes.cols());
    for (i, &r) in rows.iter().enumerate() {
        picked.row_mut(i).copy_from_slice(codes.row(r));
    }
    let params = UmapParams {
        n_neighbors: ctx.config.umap_neighbors.min(m - 1),
        n_components: 2,
        min_dist: 0.1,
        seed: ctx.config.seed,
        ..UmapParams::default()
    };
    let positions = params.fit(picked.view())?.embedding().clone(); // (m, 2)
    let clusters: Vec<usize> = rows.iter().map(|&r| assignment[r]).collect();
    let labels: Option<Vec<usize>> = ctx
        .truth
        .map(|truth| rows.iter().map(|&r| truth[r]).collect());
    let (v, k) = (ctx.validation, ctx.config.k());
    // A row is (height, width, channels): grey, or RGB for a folder loaded in colour.
    let channels = Channels::from_count(v.channels()).unwrap_or(Channels::Grey);
    let thumbnails: Vec<(usize, Image)> = thumbnail_points(&positions, &clusters, k)
        .into_iter()
        .map(|i| {
            let row = v.images.row(rows[i]);
            (i, Image::from_unit_pixels(row, v.width, v.height, channels))
        })
        .collect();
    let path = ctx.out("map.png");
    write_map(
        &path,
        &MapInput {
            positions: &positions,
            assignment: &clusters,
            clusters: k,
            labels: labels.as_deref(),
            title: "n2d clusters",
            thumbnails: &thumbnails,
        },
    )?;
    let by = if labels.is_some() {
        "coloured by cluster (left) and by true class (right)"
    } else {
        "coloured by cluster"
    };
    ctx.figures.push(Figure {
        caption: format!(
            "n2d: {m} images on a 2-D UMAP of their codes, {by}; one member per cluster \
             shown at its middle"
        ),
        path,
    });
    Ok(())
}

/// The file name of a saved N2D model in a run's output folder.
pub const MODEL_FILE: &str = "n2d.safetensors";

/// `n2d.safetensors`: the fit codes (N, D) and their embedding (N, dims), which UMAP's
/// transform needs for new images, and the mixture's weights (K,), means (K, dims) and
/// covariances (K, dims, dims); a, b and UMAP's parameters in the metadata. [`N2dModel::load`]
/// reads it back.
fn save(
    ctx: &Context<'_>,
    umap: &crate::manifold::Umap,
    mixture: &crate::cluster::GaussianMixture,
) -> Result<()> {
    let p = umap.params();
    let (a, b) = umap.ab();
    let (codes, embedding) = (umap.fit_data(), umap.embedding());
    let k = mixture.weights.len();
    let dims = embedding.cols();
    let as_f32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let (weights, means, covariances) = (
        as_f32(&mixture.weights),
        as_f32(&mixture.means),
        as_f32(&mixture.covariances),
    );
    // Every f32 as Rust's shortest text that parses back to the same bits.
    let text = |v: f32| format!("{v}");
    let (a, b, min_dist, spread, learning_rate, repulsion) = (
        text(a),
        text(b),
        text(p.min_dist),
        text(p.spread),
        text(p.learning_rate),
        text(p.repulsion_strength),
    );
    let epochs = p.n_epochs.map_or("auto".to_string(), |e| e.to_string());
    let (neighbors, negative, seed) = (
        p.n_neighbors.to_string(),
        p.negative_sample_rate.to_string(),
        p.seed.to_string(),
    );
    safetensors::save(
        ctx.out(MODEL_FILE),
        &[
            (
                "umap.fit_codes",
                &[codes.rows(), codes.cols()],
                codes.as_slice(),
            ),
            (
                "umap.embedding",
                &[embedding.rows(), dims],
                embedding.as_slice(),
            ),
            ("gmm.weights", &[k], &weights),
            ("gmm.means", &[k, dims], &means),
            ("gmm.covariances", &[k, dims, dims], &covariances),
        ],
        &[
            ("method", "n2d"),
            ("umap.a", &a),
            ("umap.b", &b),
            ("umap.min_dist", &min_dist),
            ("umap.spread", &spread),
            ("umap.n_neighbors", &neighbors),
            ("umap.n_epochs", &epochs),
            ("umap.learning_rate", &learning_rate),
            ("umap.negative_sample_rate", &negative),
            ("umap.repulsion_strength", &repulsion),
            ("seed", &seed),
            (crate::experiment::identity::RUN_ID_KEY, &ctx.run.id),
        ],
    )
}

/// A saved N2D model: UMAP, to place new codes among the fit ones, and the mixture that
/// clusters the places. The encoder that makes the codes is the run's `ae.safetensors`.
pub struct N2dModel {
    pub umap: Umap,
    pub mixture: GaussianMixture,
}

impl N2dModel {
    /// Reads `n2d.safetensors` as [`save`] wrote it. A file without the metadata added
    /// after the first version (n_epochs, learning rate, negative samples, repulsion)
    /// takes umap-learn's defaults, which every such file was fitted with. Errors name the
    /// file and the tensor or metadata key that is missing or wrong.
    pub fn load(path: impl AsRef<Path>) -> Result<N2dModel> {
        let path = path.as_ref();
        N2dModel::from_file(path, &safetensors::load(path)?)
    }

    /// [`N2dModel::load`] of a file already read from `path`.
    pub fn from_file(path: &Path, file: &SafeTensors) -> Result<N2dModel> {
        if file.metadata("method") != Some("n2d") {
            return Err(Error::data(
                path,
                "not an N2D model (metadata `method` is not `n2d`)",
            ));
        }
        let shape = |name: &str| -> Result<Vec<usize>> {
            file.get(name)
                .map(|t| t.shape.clone())
                .ok_or_else(|| Error::data(path, format!("no tensor named `{name}`")))
        };
        let two_d = |name: &str| -> Result<(usize, usize)> {
            match shape(name)?[..] {
                [r, c] if r > 0 && c > 0 => Ok((r, c)),
                ref s => Err(Error::data(
                    path,
                    format!("tensor `{name}` has shape {s:?}, expected two non-zero sizes"),
                )),
            }
        };
        let (n, d) = two_d("umap.fit_codes")?;
        let (_, dims) = two_d("umap.embedding")?;
        let (k, _) = two_d("gmm.means")?;
        let matrix = |name: &str, rows: usize, cols: usize| -> Result<Matrix> {
            let v = file.require(path, name, &[rows, cols])?;
            Ok(Matrix::from_vec(rows, cols, v.to_vec()))
        };
        let fit_codes = matrix("umap.fit_codes", n, d)?;
        let embedding = matrix("umap.embedding", n, dims)?;
        let as_f64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
        let weights = as_f64(file.require(path, "gmm.weights", &[k])?);
        let means = as_f64(file.require(path, "gmm.means", &[k, dims])?);
        let covariances = as_f64(file.require(path, "gmm.covariances", &[k, dims, dims])?);

        let meta = |key: &str| -> Result<&str> {
            file.metadata(key)
                .ok_or_else(|| Error::data(path, format!("no metadata `{key}`")))
        };
        fn number<T: std::str::FromStr>(path: &Path, key: &str, text: &str) -> Result<T> {
            text.parse().map_err(|_| {
                Error::data(path, format!("metadata `{key}` = `{text}` is not a number"))
            })
        }
        let get = |key: &str| -> Result<f32> {
            let v: f32 = number(path, key, meta(key)?)?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(Error::data(path, format!("metadata `{key}` is {v}")))
            }
        };
        let defaults = UmapParams::default();
        let or_default = |key: &str, default: f32| -> Result<f32> {
            if file.metadata(key).is_some() {
                get(key)
            } else {
                Ok(default)
            }
        };
        let params = UmapParams {
            n_neighbors: number(path, "umap.n_neighbors", meta("umap.n_neighbors")?)?,
            n_components: dims,
            min_dist: get("umap.min_dist")?,
            spread: get("umap.spread")?,
            n_epochs: match file.metadata("umap.n_epochs") {
                None | Some("auto") => None,
                Some(text) => Some(number(path, "umap.n_epochs", text)?),
            },
            learning_rate: or_default("umap.learning_rate", defaults.learning_rate)?,
            negative_sample_rate: match file.metadata("umap.negative_sample_rate") {
                None => defaults.negative_sample_rate,
                Some(text) => number(path, "umap.negative_sample_rate", text)?,
            },
            repulsion_strength: or_default("umap.repulsion_strength", defaults.repulsion_strength)?,
            seed: number(path, "seed", meta("seed")?)?,
        };
        let in_file = |e: Error| match e {
            Error::Invalid { what, problem } => Error::data(path, format!("{what}: {problem}")),
            other => other,
        };
        let umap = Umap::from_parts(params, fit_codes, embedding, get("umap.a")?, get("umap.b")?)
            .map_err(in_file)?;
        let mixture =
            GaussianMixture::from_parameters(Covariance::Full, weights, means, covariances)
                .map_err(in_file)?;
        Ok(N2dModel { umap, mixture })
    }

    /// The clusters of new codes (M, D): each placed by UMAP's transform and assigned to
    /// its likeliest mixture component; the confidence is that component's posterior.
    pub fn predict(&self, codes: MatRef<'_>) -> Result<(Vec<usize>, Vec<f32>)> {
        let placed = self.umap.transform(codes)?; // (M, dims)
        Ok(assign(&self.mixture, &placed))
    }

    /// K, the number of clusters.
    pub fn clusters(&self) -> usize {
        self.mixture.k()
    }
}

/// Each embedded point (M, dims) to its likeliest component; the confidence is that
/// component's posterior probability.
fn assign(mixture: &GaussianMixture, placed: &Matrix) -> (Vec<usize>, Vec<f32>) {
    let probabilities = mixture.predict_proba(placed.view()); // (M, K)
    let assignment = argmax_rows(&probabilities);
    let confidence = assignment
        .iter()
        .zip(probabilities.iter_rows())
        .map(|(&j, row)| row[j])
        .collect();
    (assignment, confidence)
}
