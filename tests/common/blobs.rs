//! Blobs for the DEC and IDEC tests: three well-separated ones in 6-D, and four wide ones
//! big enough for the parallel paths.

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

/// Four blobs in d dimensions, n points (point i in blob i mod 4), centres uniform in
/// [-2, 2)^d, each coordinate jittered uniformly in +-1; x is (n, d). Sized by the caller
/// above the parallel thresholds (the thread-count tests).
pub fn wide_blobs(n: usize, d: usize) -> Matrix {
    let mut rng = StdRng::seed_from_u64(17);
    let centres: Vec<Vec<f32>> = (0..4)
        .map(|_| (0..d).map(|_| rng.random_range(-2.0f32..2.0)).collect())
        .collect();
    let data: Vec<f32> = (0..n)
        .flat_map(|i| centres[i % 4].clone())
        .map(|v| v + rng.random_range(-1.0f32..1.0))
        .collect();
    Matrix::from_vec(n, d, data)
}
