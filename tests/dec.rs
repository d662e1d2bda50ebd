//! DEC's training loop: it finds well-separated clusters, the same seed gives the same bits
//! whatever the thread count, and a run stopped at a target update and continued from its
//! state ends exactly where an uninterrupted run ends.

mod common;

use std::ops::ControlFlow;

use deepcluster::cluster::{Dec, DecParams, DecState, KMeansParams, Stop, TargetUpdate};
use deepcluster::linalg::Matrix;
use deepcluster::metrics;
use deepcluster::nn::{Activation, Init, Mlp, Parameters, kl_divergence};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Three blobs in 6-D, 60 points each, far apart; returns (x (180, 6), truth).
fn blobs() -> (Matrix, Vec<usize>) {
    common::blobs::blobs(2.0, 1.0)
}

fn model(x: &Matrix) -> Dec {
    let mut rng = StdRng::seed_from_u64(3);
    let encoder = Mlp::new(
        &[6, 16, 3],
        &[Activation::Relu, Activation::Identity],
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
    Dec::init_with_kmeans(encoder, x, &kmeans, 1.0).unwrap().0
}

fn params() -> DecParams {
    DecParams {
        batch_size: 32,
        update_interval: 10,
        max_iter: 120,
        tol: 0.0,
        ..DecParams::default()
    }
}

fn train(threads: usize, x: &Matrix) -> (Dec, Vec<(usize, usize)>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let mut dec = model(x);
        let p = params();
        let mut state = DecState::new(&p);
        let mut log = Vec::new();
        let stop = fit_logging(&mut dec, x, &p, &mut state, &mut log);
        assert_eq!(stop, Stop::MaxIter);
        (dec, log)
    })
}

/// Runs DEC from `state` to its end (`Dec::fit`), logging (iter, changed labels) at every
/// update.
fn fit_logging(
    dec: &mut Dec,
    x: &Matrix,
    p: &DecParams,
    state: &mut DecState,
    log: &mut Vec<(usize, usize)>,
) -> Stop {
    dec.fit(x, p, state, &mut recorder(log)).unwrap()
}

/// As [`fit_logging`], but interrupted after SGD step `n` (between updates, unless the run
/// ends first) through `fit_until`'s stop question.
fn fit_logging_until_step(
    dec: &mut Dec,
    x: &Matrix,
    p: &DecParams,
    state: &mut DecState,
    log: &mut Vec<(usize, usize)>,
    n: usize,
) -> Stop {
    dec.fit_until(x, p, state, &mut recorder(log), &stop_after(n))
        .unwrap()
}

/// An `on_update` callback that appends (iter, changed labels) to `log` and goes on.
fn recorder(
    log: &mut Vec<(usize, usize)>,
) -> impl FnMut(&TargetUpdate<'_>) -> ControlFlow<()> + '_ {
    |u| {
        log.push((u.iter, u.changed));
        ControlFlow::Continue(())
    }
}

/// A `stop` for `fit_until` that says yes at its `n`-th question (after step n).
fn stop_after(n: usize) -> impl Fn() -> bool {
    let asked = std::cell::Cell::new(0);
    move || {
        asked.set(asked.get() + 1);
        asked.get() == n
    }
}

fn bits(m: &Matrix) -> Vec<u32> {
    m.as_slice().iter().map(|v| v.to_bits()).collect()
}

#[test]
fn dec_separates_blobs_and_updates_every_interval() {
    let (x, truth) = blobs();
    let (dec, log) = train(1, &x);
    let iters: Vec<usize> = log.iter().map(|&(i, _)| i).collect();
    assert_eq!(iters, (0..=120).step_by(10).collect::<Vec<_>>());
    let pred = dec.predict(&x);
    let scores = metrics::score(&truth, &pred).unwrap();
    assert!(scores.acc > 0.95 && scores.nmi > 0.85, "{scores:?}");
}

#[test]
fn dec_is_bit_identical_for_one_and_two_threads() {
    let (x, _) = blobs();
    let (a, log_a) = train(1, &x);
    let (b, log_b) = train(2, &x);
    assert_eq!(log_a, log_b);
    assert_eq!(bits(&a.centres), bits(&b.centres));
    for ((na, wa), (nb, wb)) in a
        .encoder
        .named_params()
        .iter()
        .zip(b.encoder.named_params())
    {
        assert_eq!(na, &nb);
        assert_eq!(bits(wa), bits(wb), "{na}");
    }
}

#[test]
fn a_run_stopped_at_an_update_and_continued_ends_identically() {
    let (x, _) = blobs();
    let (full, full_log) = train(1, &x);

    let p = params();
    let mut dec = model(&x);
    let mut state = DecState::new(&p);
    let mut saved: Option<(Dec, DecState)> = None;
    let mut log = Vec::new();
    // Stop at the update of step 50, keeping what a checkpoint would hold.
    let stop = dec
        .fit(&x, &p, &mut state, &mut |u| {
            if u.iter == 50 {
                saved = Some((u.model.clone(), u.state.clone()));
                return ControlFlow::Break(());
            }
            log.push((u.iter, u.changed));
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(stop, Stop::Stopped);
    let (mut dec, mut state) = saved.unwrap();
    fit_logging(&mut dec, &x, &p, &mut state, &mut log);
    assert_eq!(log, full_log);
    assert_eq!(bits(&dec.centres), bits(&full.centres));
}

#[test]
fn dec_stops_when_labels_settle() {
    let (x, _) = blobs();
    let mut dec = model(&x);
    let p = DecParams {
        tol: 0.01,
        max_iter: 10_000,
        batch_size: 32,
        update_interval: 10,
        ..DecParams::default()
    };
    let mut state = DecState::new(&p);
    let stop = dec
        .fit(&x, &p, &mut state, &mut |_| ControlFlow::Continue(()))
        .unwrap();
    assert_eq!(stop, Stop::Converged);
    assert!(state.iter < 10_000);
}

#[test]
fn impossible_parameters_are_errors() {
    let (x, _) = blobs();
    let mut dec = model(&x);
    for p in [
        DecParams {
            batch_size: 0,
            ..DecParams::default()
        },
        DecParams {
            update_interval: 0,
            ..DecParams::default()
        },
        DecParams {
            learning_rate: f32::NAN,
            ..DecParams::default()
        },
    ] {
        let mut state = DecState::new(&p);
        let err = dec
            .fit(&x, &p, &mut state, &mut |_| ControlFlow::Continue(()))
            .unwrap_err();
        assert!(!err.to_string().is_empty());
    }
    // A kernel with no degrees of freedom.
    dec.alpha = 0.0;
    let p = DecParams::default();
    let err = dec
        .fit(&x, &p, &mut DecState::new(&p), &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap_err();
    assert!(err.to_string().contains("alpha"), "{err}");
}

#[test]
fn an_absurd_learning_rate_is_reported_as_divergence() {
    let (x, _) = blobs();
    let mut dec = model(&x);
    let p = DecParams {
        learning_rate: 1e30,
        momentum: 0.0,
        batch_size: 32,
        update_interval: 10,
        ..DecParams::default()
    };
    let mut state = DecState::new(&p);
    let err = dec
        .fit(&x, &p, &mut state, &mut |_| ControlFlow::Continue(()))
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("DEC diverged") && msg.contains("smaller learning rate"),
        "{msg}"
    );
}

#[test]
fn a_run_stopped_between_updates_resumes_to_the_same_bits() {
    let (x, _) = blobs();
    let (full, full_log) = train(1, &x);

    let p = params();
    let mut dec = model(&x);
    let mut state = DecState::new(&p);
    let mut log = Vec::new();
    // Stop after step 57, between the updates of steps 50 and 60.
    let outcome = fit_logging_until_step(&mut dec, &x, &p, &mut state, &mut log, 57);
    assert_eq!((outcome, state.iter), (Stop::Interrupted, 57));
    let (mut dec, mut state) = (dec.clone(), state.clone());
    fit_logging(&mut dec, &x, &p, &mut state, &mut log);
    assert_eq!(log, full_log);
    assert_eq!(bits(&dec.centres), bits(&full.centres));
}

/// Through the checkpoint file: saved at every kind of stop (the very first update, a later
/// update, between updates), loaded, and continued, DEC ends exactly where it would have.
#[test]
fn checkpoint_files_resume_dec_to_the_same_bits() {
    use deepcluster::experiment::checkpoint::{self, Checkpoint};
    use deepcluster::experiment::schedule::PretrainOptimizer;

    let (x, _) = blobs();
    let (full, full_log) = train(1, &x);
    let p = params();
    let out = std::env::temp_dir().join(format!("deepcluster-dec-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let args = vec!["data".to_string()];
    let resume = |log: &mut Vec<(usize, usize)>| {
        let saved = checkpoint::load(&out, |_| {
            Ok((PretrainOptimizer::Adam { lr: 0.001 }.build(), params()))
        })
        .unwrap();
        let Checkpoint::Dec {
            mut dec, mut state, ..
        } = saved.checkpoint
        else {
            panic!("not a DEC checkpoint")
        };
        fit_logging(&mut dec, &x, &p, &mut state, log);
        dec
    };
    // At an update (the first, and a later one): saved from the callback, before the update.
    for at in [0, 50] {
        let mut dec = model(&x);
        let mut state = DecState::new(&p);
        let mut log = Vec::new();
        dec.fit(&x, &p, &mut state, &mut |u| {
            if u.iter == at {
                checkpoint::save_dec(&out, &args, u.model, u.state).unwrap();
                return ControlFlow::Break(());
            }
            log.push((u.iter, u.changed));
            ControlFlow::Continue(())
        })
        .unwrap();
        let dec = resume(&mut log);
        assert_eq!(log, full_log, "stopped at update {at}");
        assert_eq!(
            bits(&dec.centres),
            bits(&full.centres),
            "stopped at update {at}"
        );
    }
    // Between two updates: saved after `fit_until` returns.
    let mut dec = model(&x);
    let mut state = DecState::new(&p);
    let mut log = Vec::new();
    let outcome = fit_logging_until_step(&mut dec, &x, &p, &mut state, &mut log, 33);
    assert_eq!(outcome, Stop::Interrupted);
    checkpoint::save_dec(&out, &args, &dec, &state).unwrap();
    let dec = resume(&mut log);
    assert_eq!(log, full_log);
    assert_eq!(bits(&dec.centres), bits(&full.centres));
    std::fs::remove_dir_all(&out).unwrap();
}

/// DEC learns: over every interval, the loss it minimises, KL(P || Q) against the target P
/// held fixed since the last update, falls clearly (by over 5 %) from the update that set P
/// to the next one. A DEC whose steps change nothing (learning rate 0 or nearly, a lost
/// update, a gradient of the wrong sign) fails here.
#[test]
fn dec_lowers_kl_against_each_fixed_target() {
    let (x, _) = blobs();
    let p = params();
    let mut dec = model(&x);
    let mut state = DecState::new(&p);
    // (KL at the update that set P, KL against that same P at the next update)
    let mut intervals: Vec<(f32, f32)> = Vec::new();
    dec.fit(&x, &p, &mut state, &mut |u| {
        if u.iter > 0 {
            // u.state.target is still the P of the interval that just ended.
            let q = u.model.soft_assign(&x);
            let after = kl_divergence(&u.state.target, &q);
            intervals.last_mut().unwrap().1 = after;
        }
        intervals.push((u.loss, f32::NAN));
        ControlFlow::Continue(())
    })
    .unwrap();
    intervals.pop(); // the last update starts no interval
    assert_eq!(intervals.len(), 12);
    for (i, &(before, after)) in intervals.iter().enumerate() {
        assert!(
            after < 0.95 * before,
            "interval {i}: KL(P || Q) {before} -> {after}: DEC did not learn"
        );
    }
}

/// The same bits for 1, 2 and 3 threads on sizes where the work really splits: the
/// encoder's GEMMs (256 x 64 x 256 = 4.2 M multiply-adds a step) are above GEMM's parallel
/// threshold (2^18), and the fit set's 1,200 rows of 64 values are several
/// `rows_per_task` blocks (the blobs above are too small for either).
#[test]
fn dec_is_bit_identical_for_one_two_and_three_threads_where_the_work_splits() {
    use deepcluster::linalg::rows_per_task;
    let (n, d) = (1200, 64);
    let x = common::blobs::wide_blobs(n, d);
    let p = DecParams {
        batch_size: 256,
        update_interval: 10,
        max_iter: 30,
        tol: 0.0,
        ..DecParams::default()
    };
    assert!(256 * 64 * 256 > 1 << 18 && n > 2 * rows_per_task(d));
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut rng = StdRng::seed_from_u64(5);
            let encoder = Mlp::new(
                &[d, 256, 10],
                &[Activation::Relu, Activation::Identity],
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
            let mut dec = Dec::init_with_kmeans(encoder, &x, &kmeans, 1.0).unwrap().0;
            let mut log = Vec::new();
            fit_logging(&mut dec, &x, &p, &mut DecState::new(&p), &mut log);
            let mut all = bits(&dec.centres);
            for (_, w) in dec.encoder.named_params() {
                all.extend(bits(w));
            }
            (all, log)
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}
