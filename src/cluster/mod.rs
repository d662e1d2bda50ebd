//! Clustering: K-Means++, Deep Embedded Clustering and the Gaussian mixture.

pub mod dec;
pub mod gmm;
pub mod kmeans;

pub use dec::{Dec, DecParams, DecState, Stop, TargetUpdate};
pub use gmm::{Covariance, GaussianMixture, GaussianMixtureParams};
pub use kmeans::{KMeans, KMeansParams};
