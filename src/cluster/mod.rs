//! Clustering: K-Means++ and Deep Embedded Clustering.

pub mod dec;
pub mod kmeans;

pub use dec::{Dec, DecParams, DecState, Stop, TargetUpdate};
pub use kmeans::{KMeans, KMeansParams};
