//! # deepcluster
//!
//! Unsupervised deep learning on images, from scratch: the three ways of clustering MNIST
//! digits that the tutorial compares, and the pieces they are built from.
//!
//! Follow an image through the crate in this order:
//!
//! 1. [`data`]: PNG files listed in a CSV (or IDX files) become a `Matrix` (N, 784) in [0, 1].
//! 2. [`linalg`]: `Matrix` and the GEMM that every layer and every K-Means step runs on.
//! 3. [`nn`]: dense layers, activations, losses, optimisers and the stacked autoencoder,
//!    each layer's forward and backward side by side.
//! 4. [`cluster`]: K-Means++ and Deep Embedded Clustering (DEC).
//! 5. [`metrics`]: NMI, accuracy through the Hungarian algorithm, ARI.
//! 6. [`report`]: the results table, CSV logs, progress lines, pictures.
//! 7. [`cli`]: the command-line front end; `main.rs` only calls into it.

pub mod cli;
pub mod cluster;
pub mod data;
pub mod error;
pub mod experiment;
pub mod io;
pub mod linalg;
pub mod metrics;
pub mod nn;
pub mod report;

pub use error::{Error, Result};
