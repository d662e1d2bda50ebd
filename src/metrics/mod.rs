//! Clustering metrics: NMI, accuracy through the Hungarian algorithm, ARI.
//!
//! All three compare a ground truth `truth` (class of each point) with a clustering `pred`
//! (cluster of each point). Label values are arbitrary names: renaming the classes or the
//! clusters never changes a score, and the two labelings may have different numbers of
//! distinct values. Each metric follows scikit-learn's definition, special cases included,
//! because those are the numbers people compare with.
//!
//! - [`nmi`]: normalised mutual information, arithmetic-mean normalisation, natural log.
//! - [`accuracy`]: the fraction of points whose cluster maps to their class under the best
//!   one-to-one map of clusters to classes, found by [`hungarian`].
//! - [`ari`]: the adjusted Rand index, the pair-counting agreement corrected for chance.

mod accuracy;
mod ari;
mod contingency;
mod hungarian;
mod nmi;

pub use accuracy::{MAX_ASSIGNMENT_CELLS, accuracy};
pub use ari::ari;
pub use contingency::{Cell, Contingency};
pub use hungarian::hungarian;
pub use nmi::nmi;

use crate::Result;

/// The three scores the project reports for one clustering.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scores {
    pub nmi: f64,
    pub acc: f64,
    pub ari: f64,
}

/// NMI, accuracy and ARI of `pred` against `truth`, from one contingency table.
pub fn score(truth: &[usize], pred: &[usize]) -> Result<Scores> {
    let table = Contingency::new(truth, pred)?;
    Ok(Scores {
        nmi: nmi::nmi_of(&table),
        acc: accuracy::accuracy_of(&table)?,
        ari: ari::ari_of(&table),
    })
}
