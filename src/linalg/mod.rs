//! Linear algebra: the `Matrix` type and the GEMM every other module runs on.

pub mod gemm;
pub mod matrix;

pub use gemm::{Transpose, gemm, gemm_naive};
pub use matrix::{MatMut, MatRef, Matrix};
