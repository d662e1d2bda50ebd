//! Three well-separated Gaussian-like blobs in 6-D for the DEC and IDEC tests.

use deepcluster::linalg::Matrix;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Three blobs in 6-D, 60 points each (point i in blob i mod 3), centred at 0 and at two
/// corners `spread` times (2, 2, 0, 0, 2, 0) and (0, -2, 2, 2, 0, -2), each coordinate
/// jittered uniformly in +-`noise`; returns (x (180, 6), truth).
pub fn blobs(spread: f32, noise: f32) -> (Matrix, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(7);
    let centres = [
        [0.0f32; 6],
        [2.0, 2.0, 0.0, 0.0, 2.0, 0.0],
        [0.0, -2.0, 2.0, 2.0, 0.0, -2.0],
    ];
    let mut data = Vec::new();
    let mut truth = Vec::new();
    for i in 0..180 {
        let c = i % 3;
        truth.push(c);
        for v in centres[c] {
            data.push(v * spread + rng.random_range(-noise..noise));
        }
    }
    (Matrix::from_vec(180, 6, data), truth)
}
