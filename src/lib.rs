//! # deepcluster
//!
//! Unsupervised deep learning on images, from scratch: the three ways of clustering MNIST
//! digits that the tutorial compares, and the pieces they are built from.
//!
//! Read the core first, in the order its ideas build on each other:
//!
//! 1. [`linalg`]: `Matrix`, and `gemm_naive`, the triple loop every product means.
//! 2. [`nn`]: dense layers, activations, losses, optimisers, the one parameter protocol
//!    (`Parameters`) and the stacked autoencoder,
//!    each layer's forward and backward side by side.
//! 3. [`cluster`]: K-Means++ (`kmeans`), then Deep Embedded Clustering (`dec`: the model
//!    and its loop in `dec/mod.rs`, its soft assignment, target distribution and their
//!    gradients beside it in `dec/soft_assignment.rs`; IDEC in `idec`).
//! 4. N2D's two halves: [`manifold`] (UMAP: exact kNN, the fuzzy graph, the spectral
//!    start, the layout's SGD), then the Gaussian mixture ([`cluster::gmm`], also the
//!    BIC of `--clusters auto`).
//! 5. [`metrics`]: NMI, accuracy through the Hungarian algorithm, ARI.
//! 6. [`experiment`]: the comparison as one call: the presets, the table of methods, the
//!    shared pretraining, checkpoints, and the observer through which a run reports;
//!    `predict` clusters new images with a saved model.
//!
//! Then the appendices: the fast GEMM (BLIS loops, packing, micro-kernels) in [`linalg`];
//! [`data`] (PNG files listed in a CSV, or IDX files, become a `Matrix` (N, 784) in [0, 1]);
//! [`report`] and [`io`] (table, logs, pictures, the page; safetensors, weights, atomic
//! writes); [`cli`], the command-line face (arguments -> configuration -> call -> print),
//! which `main.rs` only calls into; and [`format`], the file formats off the clustering
//! path (CSV, the JSON inside safetensors, inflate, CRC-32, PNG encoding): skip it on first
//! reading.

pub mod cli;
pub mod cluster;
pub mod data;
pub mod error;
pub mod experiment;
pub mod format;
pub mod io;
pub mod linalg;
pub mod manifold;
pub mod metrics;
pub mod nn;
pub mod report;

pub use error::{Error, Result};
