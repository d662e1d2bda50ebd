//! Property tests for K-Means: Lloyd's inertia never increases, and after the fit no point
//! is closer to another centre than to its own.

use deepcluster::cluster::KMeansParams;
use deepcluster::linalg::Matrix;
use proptest::prelude::*;

/// (data (N, D), k): small values on a coarse grid, so duplicates, ties and empty clusters
/// are frequent, or spread continuously.
fn problems() -> impl Strategy<Value = (Matrix, usize)> {
    (1usize..80, 1usize..5, any::<bool>()).prop_flat_map(|(n, d, grid)| {
        let value = if grid {
            (0u8..4).prop_map(f32::from).boxed()
        } else {
            (-50.0f32..50.0).boxed()
        };
        (
            proptest::collection::vec(value, n * d).prop_map(move |v| Matrix::from_vec(n, d, v)),
            1..=n.min(7),
        )
    })
}

fn sq_dist(x: &[f32], c: &[f32]) -> f64 {
    x.iter()
        .zip(c)
        .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn inertia_never_increases((x, k) in problems(), seed in any::<u64>(), tol in prop_oneof![Just(0.0f32), Just(1e-4f32)]) {
        let km = KMeansParams { k, n_init: 2, max_iter: 300, tol, seed }.fit(x.view()).unwrap();
        let h = &km.inertia_history;
        prop_assert!(!h.is_empty() && km.n_iter >= 1);
        // One history entry per iteration, plus the final E-step unless the labels stopped changing.
        prop_assert!(h.len() == km.n_iter || h.len() == km.n_iter + 1);
        let scale = h[0].max(1.0);
        for w in h.windows(2) {
            // f32 GEMM distances: allow rounding at the level of f32 epsilon times the scale.
            prop_assert!(w[1] <= w[0] + 1e-5 * scale, "inertia rose: {h:?}");
        }
        // The last assignment's inertia is the reported one, up to the GEMM's rounding.
        prop_assert!((h[h.len() - 1] - km.inertia).abs() <= 1e-5 * scale, "{h:?} vs {}", km.inertia);
    }

    #[test]
    fn no_point_is_closer_to_another_centre((x, k) in problems(), seed in any::<u64>()) {
        let km = KMeansParams { k, n_init: 1, max_iter: 300, tol: 1e-4, seed }.fit(x.view()).unwrap();
        prop_assert_eq!(km.centroids.shape(), (k, x.cols()));
        prop_assert_eq!(km.labels.len(), x.rows());
        for (i, &own) in km.labels.iter().enumerate() {
            let d_own = sq_dist(x.row(i), km.centroids.row(own));
            for j in 0..k {
                let d = sq_dist(x.row(i), km.centroids.row(j));
                prop_assert!(d_own <= d + 1e-4 * (1.0 + d), "point {i}: own {own} at {d_own}, centre {j} at {d}");
            }
        }
        let exact: f64 = km.labels.iter().enumerate().map(|(i, &l)| sq_dist(x.row(i), km.centroids.row(l))).sum();
        prop_assert!((exact - km.inertia).abs() <= 1e-9 * (1.0 + exact));
    }
}
