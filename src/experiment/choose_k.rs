//! `--clusters auto`: the number of clusters chosen by the Bayesian information criterion of
//! N2D's Gaussian mixture on the manifold embedding of the autoencoder's codes.
//!
//! For each k of the range (2..=20 unless `auto:MIN-MAX`), a full-covariance Gaussian mixture
//! (`cluster::gmm`, scikit-learn's EM, one K-Means start, the run's seed) is fitted to the UMAP
//! embedding of the fit images' codes, and scored by
//!
//! BIC(k) = -2 ln L(k) + p(k) ln N,   p(k) = k D + k D (D + 1) / 2 + k - 1
//!
//! (Schwarz 1978; scikit-learn's `GaussianMixture.bic`), where ln L is the log-likelihood of
//! the N embedded points and p the mixture's free parameters in D dimensions. The lowest BIC
//! wins; on an exact tie the smaller k (the simpler model, as the criterion itself prefers).
//! A k whose mixture cannot be fitted (a component collapsed, see `gmm`) stays in the curve
//! without scores and cannot win.
//!
//! The choice needs the codes, so with `auto` the autoencoder is pretrained (or loaded with
//! `--ae-weights`) before the first method, even when that method is K-Means on the pixels;
//! every method then uses the chosen k. The embedding is handed on to N2D, which reuses it
//! when it asks for the same UMAP (its dimension is then the chosen k = [`AUTO_DIMS`]).
//!
//! Outputs: `bic.csv` (`k,bic,aic,log_likelihood`, written atomically) and `bic.png`, the
//! curve with the chosen k marked, shown on the page.

use std::ops::RangeInclusive;

use crate::cluster::GaussianMixtureParams;
use crate::experiment::Context;
use crate::experiment::methods::Pretrained;
use crate::experiment::methods::n2d::MIXTURE_RESTARTS;
use crate::linalg::{MatRef, argmin};
use crate::manifold::UmapParams;
use crate::report::html::Figure;
use crate::report::plot::{Series, line_chart};
use crate::report::table::{Cell, CsvLog};
use crate::{Error, Result};

/// The range `--clusters auto` compares when none is given.
pub const DEFAULT_MIN: usize = 2;
pub const DEFAULT_MAX: usize = 20;

/// The dimension of the embedding the mixtures are compared on.
///
/// N2D embeds in as many dimensions as there are clusters, which is what is not known yet,
/// so the dimension is fixed: 10, N2D's own setting on MNIST, Fashion-MNIST, USPS and
/// pendigits (10 classes each) and this crate's `UmapParams` default. It also keeps the
/// comparison fair: every k is scored on the same points, and a mixture in 10 dimensions
/// has 66 parameters per component, few enough next to tens of thousands of points that
/// the penalty does not swamp the likelihood, many enough that surplus components cost.
/// When the chosen k is 10 (or `--umap-dims 10` is given), N2D reuses this embedding.
pub const AUTO_DIMS: usize = 10;

/// How many clusters the methods use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clusters {
    /// `--clusters K`.
    Fixed(usize),
    /// `--clusters auto` or `auto:MIN-MAX`: chosen by BIC over k = min..=max, min >= 2.
    Auto { min: usize, max: usize },
}

impl Clusters {
    /// `auto` over the default range.
    pub const AUTO: Clusters = Clusters::Auto {
        min: DEFAULT_MIN,
        max: DEFAULT_MAX,
    };

    /// The number of clusters, when it is fixed already.
    pub fn fixed(self) -> Option<usize> {
        match self {
            Clusters::Fixed(k) => Some(k),
            Clusters::Auto { .. } => None,
        }
    }

    /// The largest k this asks for (checked against the number of images).
    pub fn max(self) -> usize {
        match self {
            Clusters::Fixed(k) => k,
            Clusters::Auto { max, .. } => max,
        }
    }
}

/// One point of the curve: the mixture with k components on the embedding.
#[derive(Clone, Debug, PartialEq)]
pub struct BicPoint {
    pub k: usize,
    /// None when the mixture could not be fitted (the reason is in `failure`).
    pub criteria: Option<Criteria>,
    pub failure: Option<String>,
}

/// What the mixture with k components scores on the N points it was fitted to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Criteria {
    /// -2 ln L + p ln N; lower is better.
    pub bic: f64,
    /// -2 ln L + 2 p (Akaike), for comparison; lower is better.
    pub aic: f64,
    /// ln L, the total log-likelihood of the N points (not the mean).
    pub log_likelihood: f64,
}

/// The mixture's criteria for every k of `ks` on the rows of `points` (N, D), each mixture
/// fitted as N2D fits it (full covariances, scikit-learn's defaults, `seed`), one entry per
/// k in order. Deterministic for a seed whatever the thread count (as `gmm` is).
pub fn bic_curve(points: MatRef<'_>, ks: RangeInclusive<usize>, seed: u64) -> Vec<BicPoint> {
    ks.map(|k| {
        let params = GaussianMixtureParams {
            k,
            // As N2D fits it: a mixture stuck with two clusters merged scores a worse BIC
            // than the k deserves.
            n_init: MIXTURE_RESTARTS,
            seed,
            ..GaussianMixtureParams::default()
        };
        match params.fit(points) {
            Ok(mixture) => {
                let n = points.rows() as f64;
                BicPoint {
                    k,
                    criteria: Some(Criteria {
                        bic: mixture.bic(points),
                        aic: mixture.aic(points),
                        log_likelihood: mixture.score(points) * n,
                    }),
                    failure: None,
                }
            }
            Err(e) => BicPoint {
                k,
                criteria: None,
                failure: Some(e.to_string()),
            },
        }
    })
    .collect()
}

/// The k of lowest BIC; on a tie the smaller k. None when no mixture was fitted, or every
/// BIC is NaN.
pub fn lowest_bic(curve: &[BicPoint]) -> Option<usize> {
    let fitted: Vec<(usize, f64)> = curve
        .iter()
        .filter_map(|p| p.criteria.map(|c| (p.k, c.bic)))
        .collect();
    // argmin passes NaN over and keeps the first (smallest) k of a tie.
    argmin(fitted.iter().map(|&(_, bic)| bic)).map(|(i, _)| fitted[i].0)
}

/// Chooses k for `--clusters auto:min-max`: UMAP of the fit codes to [`AUTO_DIMS`]
/// dimensions (N2D's neighbours and the run's seed), the BIC curve over min..=max, the
/// note, `bic.csv`, `bic.png` and its figure. The embedding is left in `pretrained` for N2D.
pub fn choose(
    ctx: &mut Context<'_>,
    pretrained: &mut Pretrained,
    min: usize,
    max: usize,
) -> Result<usize> {
    let params = umap_params(ctx, AUTO_DIMS);
    ctx.observer.phase("choose k", 1, false);
    let umap = pretrained.take_umap(&params)?;
    let curve = bic_curve(umap.embedding().view(), min..=max, ctx.config.seed);
    pretrained.keep_umap(umap);
    let chosen = lowest_bic(&curve).ok_or_else(|| {
        Error::invalid(
            "--clusters",
            format!(
                "auto: no Gaussian mixture with {min} to {max} components could be fitted \
                 ({})",
                curve
                    .iter()
                    .find_map(|p| p.failure.as_deref())
                    .unwrap_or("no scores")
            ),
        )
    })?;
    ctx.observer.finish(&format!(
        "{} mixtures on a {AUTO_DIMS}-dimensional UMAP embedding",
        curve.len()
    ));
    for p in &curve {
        if let Some(why) = &p.failure {
            ctx.observer
                .note(&format!("k = {}: no mixture ({why}), left out", p.k));
        }
    }
    ctx.observer
        .note(&format!("chose k = {chosen} by BIC over k = {min}..{max}"));
    if chosen == max {
        // The minimum may lie beyond the range; on MNIST it does (README).
        ctx.observer.note(&format!(
            "k = {max} is the end of the range: the BIC may fall further (read bic.png's \
             knee, or widen it with --clusters auto:{min}-MAX)"
        ));
    }
    write_csv(ctx, &curve)?;
    plot(ctx, &curve, chosen, min, max)?;
    Ok(chosen)
}

/// The UMAP that N2D fits with `dims` output dimensions; the selection uses the same one.
pub fn umap_params(ctx: &Context<'_>, dims: usize) -> UmapParams {
    UmapParams {
        n_neighbors: ctx.config.umap_neighbors,
        n_components: dims,
        seed: ctx.config.seed,
        ..UmapParams::default()
    }
}

/// `bic.csv`: `k,bic,aic,log_likelihood`, one row per k, empty cells where the mixture
/// failed.
fn write_csv(ctx: &Context<'_>, curve: &[BicPoint]) -> Result<()> {
    let mut csv = CsvLog::new(ctx.out("bic.csv"), &["k", "bic", "aic", "log_likelihood"]);
    for p in curve {
        let cells = match p.criteria {
            Some(c) => [
                Cell::Fixed(c.bic, 3),
                Cell::Fixed(c.aic, 3),
                Cell::Fixed(c.log_likelihood, 3),
            ],
            None => [Cell::Empty, Cell::Empty, Cell::Empty],
        };
        csv.push(&[&[Cell::Int(p.k as u64)][..], &cells].concat());
    }
    csv.save()
}

/// `bic.png`: BIC against k, with a vertical line at the chosen k. (AIC stays in the CSV:
/// on tens of thousands of points the two differ by under 1 % and one line hides the other.)
fn plot(
    ctx: &mut Context<'_>,
    curve: &[BicPoint],
    chosen: usize,
    min: usize,
    max: usize,
) -> Result<()> {
    let path = ctx.out("bic.png");
    let bic: Vec<(f64, f64)> = curve
        .iter()
        .map(|p| (p.k as f64, p.criteria.map_or(f64::NAN, |c| c.bic)))
        .collect();
    let values = || bic.iter().map(|p| p.1).filter(|v| v.is_finite());
    let lo = values().fold(f64::INFINITY, f64::min);
    let hi = values().fold(f64::NEG_INFINITY, f64::max);
    let chosen_line = vec![(chosen as f64, lo), (chosen as f64, hi)];
    line_chart(
        &path,
        "Gaussian mixture on the UMAP embedding",
        "k (number of clusters)",
        &[
            Series::new("BIC", bic),
            Series::new(&format!("chosen k = {chosen}"), chosen_line),
        ],
    )?;
    ctx.curves.push(Figure {
        caption: format!("--clusters auto: BIC over k = {min}..{max}, chose k = {chosen}"),
        path,
    });
    Ok(())
}
