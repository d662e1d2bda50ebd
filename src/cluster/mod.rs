//! Clustering: K-Means++ and Deep Embedded Clustering.

pub mod kmeans;

pub use kmeans::{KMeans, KMeansParams};
