//! IDEC's training loop: it separates well-apart blobs while its combined loss
//! gamma KL(P || Q) + MSE falls against every fixed target (a learning rate of 0 fails),
//! the same seed gives the same bits for one, two and three threads where the work
//! really splits, and a run stopped between
//! two updates and continued from its state ends exactly where an uninterrupted one does.

mod common;

use std::ops::ControlFlow;

use deepcluster::cluster::{DecState, Idec, IdecParams, KMeansParams, Stop, TargetUpdate};
use deepcluster::linalg::Matrix;
use deepcluster::metrics;
use deepcluster::nn::{Activation, Autoencoder, Init, Parameters, kl_divergence, mse_forward};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Three blobs in 6-D, 60 points each, far apart; returns (x (180, 6), truth).
fn blobs() -> (Matrix, Vec<usize>) {
    common::blobs::blobs(1.0, 0.5)
}

/// An untrained 6-16-3 autoencoder and the K-Means centres of its codes.
fn model(x: &Matrix) -> Idec {
    let mut rng = StdRng::seed_from_u64(3);
    let ae = Autoencoder::new(
        &[6, 16, 3],
        Activation::Identity,
        Activation::Identity,
        Init::GlorotUniform,
        &mut rng,
    )
    .unwrap();
    let kmeans = KMeansParams {
        k: 3,
        n_init: 5,
        seed: 11,
        ..KMeansParams::default()
    };
    let centres = kmeans.fit(ae.encoder.predict(x).view()).unwrap().centroids;
    Idec::new(ae, centres, 1.0)
}

fn params(learning_rate: f32) -> IdecParams {
    let mut p = IdecParams::default();
    p.dec.learning_rate = learning_rate;
    p.dec.batch_size = 32;
    p.dec.update_interval = 10;
    p.dec.max_iter = 120;
    p.dec.tol = 0.0;
    p
}

/// gamma KL(P || Q) + MSE(x_hat, x) over all of x with target p (N, K).
fn combined_loss(idec: &Idec, x: &Matrix, p: &Matrix, gamma: f32) -> f32 {
    gamma * kl_divergence(p, &idec.soft_assign(x)) + mse_forward(&idec.reconstruct(x), x)
}

/// (loss at the update that set P, loss against that P at the next update), per interval.
fn intervals(learning_rate: f32) -> (Idec, Vec<(f32, f32)>) {
    let (x, _) = blobs();
    let p = params(learning_rate);
    let mut idec = model(&x);
    let mut state = DecState::new(&p.dec);
    let mut found: Vec<(f32, f32)> = Vec::new();
    let mut target: Option<Matrix> = None;
    let stop = idec
        .fit(&x, &p, &mut state, &mut |u| {
            if let Some(t) = &target {
                found.last_mut().unwrap().1 = combined_loss(u.model, &x, t, p.gamma);
            }
            // The new target is that of the labels' q, computed here as the loop does.
            let q = u.model.soft_assign(&x);
            let t = deepcluster::cluster::dec::target_distribution(&q);
            found.push((combined_loss(u.model, &x, &t, p.gamma), f32::NAN));
            target = Some(t);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(stop, Stop::MaxIter);
    found.pop(); // the last update starts no interval
    (idec, found)
}

#[test]
fn idec_separates_blobs_and_lowers_its_loss_against_each_target() {
    let (x, truth) = blobs();
    let (idec, found) = intervals(0.1);
    assert_eq!(found.len(), 12);
    for (i, &(before, after)) in found.iter().enumerate() {
        assert!(
            after < 0.98 * before,
            "interval {i}: gamma KL + MSE {before} -> {after}: IDEC did not learn"
        );
    }
    let scores = metrics::score(&truth, &idec.predict(&x)).unwrap();
    assert!(scores.acc > 0.95 && scores.nmi > 0.85, "{scores:?}");
}

/// The test above cannot pass on a model that does not move (a learning rate of 0 is
/// refused as invalid, so 1e-9: steps that change nothing visible).
#[test]
fn a_learning_rate_of_nearly_zero_would_fail_the_learning_test() {
    let (_, found) = intervals(1e-9);
    assert!(found.iter().all(|&(before, after)| after >= 0.98 * before));
}

fn bits(idec: &Idec) -> Vec<u32> {
    let mut all: Vec<u32> = idec
        .dec
        .centres
        .as_slice()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    for (_, w) in idec
        .dec
        .encoder
        .named_params()
        .into_iter()
        .chain(idec.decoder.named_params())
    {
        all.extend(w.as_slice().iter().map(|v| v.to_bits()));
    }
    all
}

/// Trains `idec` on x with `p` in a pool of `threads` threads, to `p.dec.max_iter` steps;
/// with `stop_after` Some(n), stopped after n steps first and continued from its state.
fn train(
    x: &Matrix,
    mut idec: Idec,
    p: &IdecParams,
    threads: usize,
    stop_after: Option<usize>,
) -> Vec<u32> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| {
            let mut state = DecState::new(&p.dec);
            let go_on = &mut |_: &TargetUpdate<'_, Idec>| ControlFlow::Continue(());
            if let Some(n) = stop_after {
                let asked = std::cell::Cell::new(0);
                let stop = || {
                    asked.set(asked.get() + 1);
                    asked.get() == n
                };
                let first = idec
                    .fit_augmented(x, p, &mut state, None, go_on, &stop)
                    .unwrap();
                assert_eq!((first, state.iter), (Stop::Interrupted, n));
            }
            let end = idec.fit(x, p, &mut state, go_on).unwrap();
            assert_eq!((end, state.iter), (Stop::MaxIter, p.dec.max_iter));
            bits(&idec)
        })
}

#[test]
fn idec_stopped_and_continued_ends_where_an_uninterrupted_run_does() {
    let (x, _) = blobs();
    let p = params(0.1);
    let whole = train(&x, model(&x), &p, 1, None);
    assert_eq!(whole, train(&x, model(&x), &p, 1, Some(37)));
}

/// The same bits for 1, 2 and 3 threads on sizes where the work really splits (the blobs
/// above are too small for either threshold): a batch's GEMMs through the 64-256-10
/// autoencoder (256 x 64 x 256 = 4.2 M multiply-adds) are above GEMM's parallel threshold
/// (`PARALLEL_MIN_MACS`, 2^18), and the 1,200 rows of 64 values are several
/// `rows_per_task` blocks, as in tests/dec.rs.
#[test]
fn idec_is_bit_identical_for_one_two_and_three_threads_where_the_work_splits() {
    use deepcluster::linalg::rows_per_task;
    let (n, d) = (1200, 64);
    let x = common::blobs::wide_blobs(n, d);
    let mut p = params(0.01);
    p.dec.batch_size = 256;
    p.dec.max_iter = 30;
    assert!(256 * 64 * 256 > 1 << 18 && n > 2 * rows_per_task(d));
    let model = || {
        let mut rng = StdRng::seed_from_u64(5);
        let ae = Autoencoder::new(
            &[d, 256, 10],
            Activation::Identity,
            Activation::Identity,
            Init::GlorotUniform,
            &mut rng,
        )
        .unwrap();
        let kmeans = KMeansParams {
            k: 4,
            n_init: 2,
            seed: 3,
            ..KMeansParams::default()
        };
        let centres = kmeans.fit(ae.encoder.predict(&x).view()).unwrap().centroids;
        Idec::new(ae, centres, 1.0)
    };
    let one = train(&x, model(), &p, 1, None);
    assert_eq!(one, train(&x, model(), &p, 2, None));
    assert_eq!(one, train(&x, model(), &p, 3, None));
}
