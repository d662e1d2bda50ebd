//! Linear algebra: the `Matrix` type and the GEMM every other module runs on, and the
//! crate's one argmin / argmax.

pub mod argmin;
pub mod gemm;
pub mod kernel;
pub mod matrix;
mod pack;

pub use argmin::{argmax, argmax_rows, argmin};
pub use gemm::{gemm, gemm_naive, gemm_with};
pub use kernel::{Blocking, Caches, Kernel};
pub use matrix::{MatMut, MatRef, Matrix, TASK_VALUES, Transpose, rows_per_task};
