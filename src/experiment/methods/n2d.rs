//! Method 4: N2D (McConville et al., ICPR 2020), "(Not Too) Deep Clustering via Clustering
//! the Local Manifold of an Autoencoded Embedding": the pretrained encoder's codes, UMAP
//! (`manifold`) to a few dimensions, then a full-covariance Gaussian mixture
//! (`cluster::gmm`) on the embedding.
//!
//! The split protocol: UMAP and the mixture are fitted on the fit images' codes; the
//! validation codes are placed by UMAP's `transform` (kNN among the fit codes, a short
//! optimisation with the fit embedding held fixed) and assigned by the mixture's
//! `predict_proba`. Saves `n2d.safetensors`: what `transform` needs (the fit codes, their
//! embedding, a, b, the parameters) and the mixture.

use crate::Result;
use crate::cluster::GaussianMixtureParams;
use crate::cluster::dec::argmax_rows;
use crate::experiment::methods::{Clustering, Pretrained};
use crate::experiment::{Context, choose_k};
use crate::io::safetensors;

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
    let mixture = GaussianMixtureParams {
        k: config.k(),
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
    Ok(Clustering {
        assignment,
        confidence,
        seconds: pretrained.started.elapsed().as_secs_f64(),
    })
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
