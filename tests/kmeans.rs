//! K-Means: parameter validation, hand-worked fits, agreement with scikit-learn,
//! consistency of `predict` / `distances` with the fit, and determinism across thread counts.

use deepcluster::Error;
use deepcluster::cluster::kmeans::reference_lloyd;
use deepcluster::cluster::{KMeans, KMeansParams};
use deepcluster::linalg::Matrix;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn params(k: usize) -> KMeansParams {
    KMeansParams {
        k,
        ..KMeansParams::default()
    }
}

fn fit(p: &KMeansParams, x: &Matrix) -> KMeans {
    p.fit(x.view()).unwrap()
}

/// `blobs` well separated Gaussian-ish blobs of `per` points each in `d` dimensions.
fn blobs(blobs: usize, per: usize, d: usize, seed: u64) -> Matrix {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> = (0..blobs)
        .map(|_| (0..d).map(|_| rng.random_range(-10.0..10.0)).collect())
        .collect();
    Matrix::from_fn(blobs * per, d, |i, j| {
        centres[i % blobs][j] + rng.random_range(-1.0f32..1.0)
    })
}

#[test]
fn defaults_are_scikit_learns() {
    let p = KMeansParams::default();
    assert_eq!((p.k, p.n_init, p.max_iter, p.tol), (10, 20, 300, 1e-4));
}

#[test]
fn invalid_parameters_and_data_are_errors() {
    let x = Matrix::from_fn(5, 2, |i, j| (i * 2 + j) as f32);
    let invalid = |p: KMeansParams, x: &Matrix| {
        let e = p.fit(x.view()).unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{e}");
        e.to_string()
    };
    assert!(invalid(params(0), &x).contains("k = 0"));
    assert!(invalid(params(6), &x).contains("only 5 points"));
    assert!(
        invalid(
            KMeansParams {
                n_init: 0,
                ..params(2)
            },
            &x
        )
        .contains("n_init")
    );
    assert!(
        invalid(
            KMeansParams {
                max_iter: 0,
                ..params(2)
            },
            &x
        )
        .contains("max_iter")
    );
    assert!(
        invalid(
            KMeansParams {
                tol: -1.0,
                ..params(2)
            },
            &x
        )
        .contains("tol")
    );
    assert!(invalid(params(1), &Matrix::zeros(0, 3)).contains("only 0 points"));
    assert!(invalid(params(1), &Matrix::zeros(3, 0)).contains("no features"));
    let mut nan = x.clone();
    nan.set(3, 1, f32::NAN);
    assert!(invalid(params(2), &nan).contains("row 3, column 1"));
    nan.set(3, 1, f32::INFINITY);
    assert!(invalid(params(2), &nan).contains("not finite"));
}

/// 1-D points {0, 1, 2} and {10, 11, 12}: the centres are 1 and 11 and the inertia is
/// 2 * (1 + 0 + 1) = 4, whatever the seeding.
#[test]
fn hand_worked_two_groups_on_a_line() {
    let x = Matrix::from_vec(6, 1, vec![10.0, 0.0, 11.0, 1.0, 12.0, 2.0]);
    let km = fit(&params(2), &x);
    let mut centres = km.centroids.as_slice().to_vec();
    centres.sort_by(f32::total_cmp);
    assert_eq!(centres, vec![1.0, 11.0]);
    assert_eq!(km.inertia, 4.0);
    let a = km.labels[1];
    assert_eq!(km.labels, vec![1 - a, a, 1 - a, a, 1 - a, a]);
}

/// k = N: every point is its own centre, inertia 0; k = 1: the centre is the mean.
#[test]
fn hand_worked_k_equals_n_and_k_equals_one() {
    let x = Matrix::from_vec(4, 2, vec![0.0, 0.0, 4.0, 0.0, 0.0, 2.0, 4.0, 2.0]);
    let km = fit(&params(4), &x);
    assert_eq!(km.inertia, 0.0);
    let mut labels = km.labels.clone();
    labels.sort();
    assert_eq!(labels, vec![0, 1, 2, 3]);
    let km = fit(&params(1), &x);
    assert_eq!(km.centroids.as_slice(), &[2.0, 1.0]);
    // Each point is sqrt(4 + 1) from the mean: inertia 4 * 5.
    assert_eq!(km.inertia, 20.0);
    assert_eq!(km.labels, vec![0; 4]);
}

/// The same 12 points and k = 3 as this snippet; scikit-learn 1.9.1 prints inertia
/// 19.747499465942383 and centres (1.375, 1.35), (7.375, 9.125), (9.125, 2.375), which the
/// hand computation confirms (1.9975 + 14.875 + 2.875):
///
/// ```python
/// KMeans(3, n_init=10, random_state=0).fit(np.array(X, dtype=np.float32)).inertia_
/// ```
#[test]
fn agrees_with_scikit_learn_on_a_small_example() {
    #[rustfmt::skip]
    let x = Matrix::from_vec(12, 2, vec![
        1.0, 2.0, 1.5, 1.8, 5.0, 8.0, 8.0, 8.0, 1.0, 0.6, 9.0, 11.0,
        8.0, 2.0, 10.0, 2.0, 9.0, 3.0, 2.0, 1.0, 7.5, 9.5, 9.5, 2.5,
    ]);
    let km = fit(
        &KMeansParams {
            n_init: 10,
            ..params(3)
        },
        &x,
    );
    assert!(
        (km.inertia - 19.7475).abs() < 1e-5,
        "inertia {}",
        km.inertia
    );
    let mut centres: Vec<(f32, f32)> = km.centroids.iter_rows().map(|r| (r[0], r[1])).collect();
    centres.sort_by(|a, b| a.0.total_cmp(&b.0));
    let want = [(1.375, 1.35), (7.375, 9.125), (9.125, 2.375)];
    for (got, want) in centres.iter().zip(want) {
        assert!(
            (got.0 - want.0).abs() < 1e-5 && (got.1 - want.1).abs() < 1e-5,
            "{got:?}"
        );
    }
    // Points 0, 1, 4, 9 together; 2, 3, 5, 10 together; 6, 7, 8, 11 together.
    let l = &km.labels;
    assert!(l[0] == l[1] && l[0] == l[4] && l[0] == l[9]);
    assert!(l[2] == l[3] && l[2] == l[5] && l[2] == l[10]);
    assert!(l[6] == l[7] && l[6] == l[8] && l[6] == l[11]);
}

#[test]
fn predict_and_distances_agree_with_the_fit() {
    let x = blobs(5, 900, 12, 1);
    let km = fit(
        &KMeansParams {
            n_init: 3,
            ..params(5)
        },
        &x,
    );
    assert_eq!(km.predict(x.view()), km.labels);
    let dist = km.distances(x.view());
    assert_eq!(dist.shape(), (x.rows(), 5));
    let mut inertia = 0.0f64;
    for i in 0..x.rows() {
        for j in 0..5 {
            let exact: f64 = x
                .row(i)
                .iter()
                .zip(km.centroids.row(j))
                .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                .sum();
            // The GEMM trick loses to cancellation about eps * (||x||^2 + ||c||^2).
            assert!(
                (dist.get(i, j) as f64 - exact).abs() <= 1e-4 * (1.0 + exact),
                "{i} {j}"
            );
        }
        inertia += dist.get(i, km.labels[i]) as f64;
    }
    assert!((inertia - km.inertia).abs() <= 1e-4 * km.inertia);
    // Well-separated blobs: each blob is one cluster.
    for i in 5..x.rows() {
        assert_eq!(km.labels[i], km.labels[i % 5]);
    }
}

/// Same seed => bit-identical fits on 1 and 2 threads (several blocks of points, so the
/// block partial sums really are split between threads); another seed => other seeds drawn.
#[test]
fn deterministic_whatever_the_thread_count() {
    let x = blobs(8, 1500, 6, 2);
    let p = KMeansParams {
        n_init: 3,
        seed: 42,
        ..params(8)
    };
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| fit(&p, &x))
    };
    let one = on(1);
    let two = on(2);
    assert_eq!(one, two);
    assert_eq!(one.inertia.to_bits(), two.inertia.to_bits());
    assert_eq!(fit(&p, &x), one);
}

/// max_iter = 1: one Lloyd iteration, then the final E-step (two history entries), and the
/// labels still match the centres.
#[test]
fn max_iter_bounds_the_iterations() {
    let x = blobs(4, 300, 3, 4);
    let km = fit(
        &KMeansParams {
            max_iter: 1,
            n_init: 2,
            ..params(4)
        },
        &x,
    );
    assert_eq!(km.n_iter, 1);
    assert_eq!(km.inertia_history.len(), 2);
    assert!(km.inertia_history[1] <= km.inertia_history[0]);
    assert_eq!(km.predict(x.view()), km.labels);
}

/// The reference Lloyd by hand: points 0, 1, 10, 11 on a line, seeds 0 and 1.
/// Iteration 1 labels [0, 1, 1, 1] (centres 0, 22/3); iteration 2 moves 1 to the first
/// cluster (1 is 1 from 0, 6.33 from 22/3): centres 0.5, 10.5; iteration 3 changes nothing.
#[test]
fn reference_lloyd_by_hand() {
    let x = Matrix::from_vec(4, 1, vec![0.0, 1.0, 10.0, 11.0]);
    let seeds = Matrix::from_vec(2, 1, vec![0.0, 1.0]);
    let fit = reference_lloyd(x.view(), &seeds, 300, 0.0);
    assert_eq!(fit.labels, [0, 0, 1, 1]);
    assert_eq!(fit.centroids.as_slice(), &[0.5, 10.5]);
    assert_eq!(fit.n_iter, 3);
    // The inertia after each E-step, against the centres the labels were drawn from:
    // (0, 1) with labels [0, 1, 1, 1]: 0 + 0 + 81 + 100; (0, 22/3) with [0, 0, 1, 1]:
    // 0 + 1 + (8/3)^2 + (11/3)^2; (0.5, 10.5): 4 * 0.25.
    let h = &fit.inertia_history;
    assert_eq!(h.len(), 3);
    assert_eq!(h[0], 181.0);
    assert!((h[1] - (1.0 + 64.0 / 9.0 + 121.0 / 9.0)).abs() < 1e-5);
    assert_eq!((h[2], fit.inertia), (1.0, 1.0));
    // max_iter = 1 stops after one M-step and draws the labels once more (final E-step).
    let one = reference_lloyd(x.view(), &seeds, 1, 0.0);
    assert_eq!((one.n_iter, one.labels), (1, vec![0, 0, 1, 1]));
}

/// An empty cluster takes the point farthest from its centre: the seed at 100 gets no
/// point; 11 is the farthest from its centre 0 (seed 0 has all four points) and moves to
/// it, giving centres 11/3 and 11; the next iteration moves 10, then nothing changes.
#[test]
fn reference_lloyd_relocates_an_empty_cluster() {
    let x = Matrix::from_vec(4, 1, vec![0.0, 1.0, 10.0, 11.0]);
    let seeds = Matrix::from_vec(2, 1, vec![0.0, 100.0]);
    let fit = reference_lloyd(x.view(), &seeds, 300, 0.0);
    assert_eq!(fit.labels, [0, 0, 1, 1]);
    assert_eq!(fit.centroids.as_slice(), &[0.5, 10.5]);
    assert_eq!(fit.n_iter, 3);
    assert_eq!(fit.inertia_history[0], 1.0 + 100.0 + 121.0);
}

/// The fast path's converged model is a fixed point of the reference: started from the
/// fitted centroids, plain Lloyd changes no label and stops after one iteration.
#[test]
fn the_fit_is_a_fixed_point_of_the_reference() {
    let x = blobs(5, 300, 6, 21);
    let model = fit(&params(5), &x);
    let reference = reference_lloyd(x.view(), &model.centroids, 300, 1e-4);
    assert_eq!(reference.n_iter, 1);
    assert_eq!(reference.labels, model.labels);
    assert!((reference.inertia - model.inertia).abs() <= 1e-6 * model.inertia);
}
