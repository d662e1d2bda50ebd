//! File formats, safe reading and safe writing shared by the whole crate.

pub mod atomic;
pub mod lock;
pub mod read;
pub mod safetensors;
pub mod weights;

pub use atomic::{write_atomic, write_atomic_with};
