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

use crate::Result;
use crate::cluster::GaussianMixtureParams;
use crate::cluster::dec::argmax_rows;
use crate::experiment::Context;
use crate::experiment::methods::{Clustering, Pretrained};
use crate::io::safetensors;
use crate::linalg::Matrix;
use crate::manifold::UmapParams;
use crate::report::html::Figure;
use crate::report::map::{MapInput, thumbnail_points, write_map};
use crate::report::raster::Image;

/// The map shows at most this many validation images (evenly spaced through the set): a
/// 2-D UMAP of 5,000 codes takes about a second and shows the structure as well as all.
pub const MAP_POINTS: usize = 5_000;

pub fn run(ctx: &mut Context<'_>, pretrained: Option<&mut Pretrained>) -> Result<Clustering> {
    let pretrained = pretrained.expect("n2d needs the autoencoder");
    let config = ctx.config;
    let params = UmapParams {
        n_neighbors: config.umap_neighbors,
        // N2D embeds in as many dimensions as there are clusters.
        n_components: config.umap_dims.unwrap_or(config.clusters),
        seed: config.seed,
        ..UmapParams::default()
    };
    ctx.observer.phase("n2d", 1, false);
    let umap = params.fit(pretrained.fit_codes.view())?;
    // embedding is (N_fit, dims); placed is (N_val, dims).
    let placed = umap.transform(pretrained.validation_codes.view())?;
    let mixture = GaussianMixtureParams {
        k: config.clusters,
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
    // probabilities is (N_val, K): the cluster is the likeliest component, the confidence
    // its posterior probability.
    let probabilities = mixture.predict_proba(placed.view());
    let assignment = argmax_rows(&probabilities);
    let confidence = assignment
        .iter()
        .zip(probabilities.iter_rows())
        .map(|(&j, row)| row[j])
        .collect();
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
    let labels: Vec<usize> = rows.iter().map(|&r| ctx.truth[r]).collect();
    let v = ctx.validation;
    let thumbnails: Vec<(usize, Image)> =
        thumbnail_points(&positions, &clusters, ctx.config.clusters)
            .into_iter()
            .map(|i| {
                (
                    i,
                    Image::from_unit_floats(v.images.row(rows[i]), v.width, v.height),
                )
            })
            .collect();
    let path = ctx.out("map.png");
    write_map(
        &path,
        &MapInput {
            positions: &positions,
            assignment: &clusters,
            clusters: ctx.config.clusters,
            labels: Some(&labels),
            title: "n2d clusters",
            thumbnails: &thumbnails,
        },
    )?;
    ctx.figures.push(Figure {
        caption: format!(
            "n2d: {m} validation images on a 2-D UMAP of their codes, coloured by cluster \
             (left) and by true class (right); one member per cluster shown at its middle"
        ),
        path,
    });
    Ok(())
}

/// `n2d.safetensors`: the fit codes (N, D) and their embedding (N, dims), which UMAP's
/// transform needs for new images, and the mixture's weights (K,), means (K, dims) and
/// covariances (K, dims, dims); a, b and the parameters in the metadata.
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
    let text = |v: f64| format!("{v}");
    let (a, b, min_dist, spread) = (
        text(a as f64),
        text(b as f64),
        text(p.min_dist as f64),
        text(p.spread as f64),
    );
    let (neighbors, seed) = (p.n_neighbors.to_string(), p.seed.to_string());
    safetensors::save(
        ctx.out("n2d.safetensors"),
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
            ("seed", &seed),
        ],
    )
}
