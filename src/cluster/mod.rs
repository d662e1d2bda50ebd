//! Clustering: K-Means++, Deep Embedded Clustering (and IDEC, which keeps the decoder) and
//! the Gaussian mixture.

pub mod dec;
pub mod gmm;
pub mod idec;
pub mod kmeans;

pub use dec::{Dec, DecParams, DecState, Stop, TargetUpdate};
pub use gmm::{Covariance, GaussianMixture, GaussianMixtureParams};
pub use idec::{Idec, IdecParams};
pub use kmeans::{KMeans, KMeansParams};
