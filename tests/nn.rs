//! The network's behaviour apart from gradients (those are in gradcheck.rs): optimiser
//! steps worked out by hand, initialiser ranges, the DEC layer on hand-worked inputs, and
//! the autoencoder's training loop (it learns, it is deterministic whatever the thread
//! count, it reports, stops, and fails the way its contract says).

use std::ops::ControlFlow;

use deepcluster::Error;
use deepcluster::cluster::dec::{soft_assignment_forward, target_distribution};
use deepcluster::linalg::Matrix;
use deepcluster::nn::{
    Activation, Adam, AeWorkspace, Autoencoder, EpochReport, FitConfig, Init, Mlp, Nesterov,
    Optimizer, Param, Parameters, Sgd, Workspace, kl_divergence, tensor_shape,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Runs `opt` for one step per gradient on a single weight starting at `w`.
fn steps(opt: &mut dyn Optimizer, mut w: f32, grads: &[f32]) -> Vec<f32> {
    let mut trace = Vec::new();
    for &g in grads {
        let mut value = [w];
        opt.step(&mut [Param {
            value: &mut value,
            grad: &[g],
        }]);
        w = value[0];
        trace.push(w);
    }
    trace
}

#[track_caller]
fn assert_close(got: &[f32], want: &[f64], tol: f64) {
    for (g, w) in got.iter().zip(want) {
        assert!((*g as f64 - w).abs() <= tol, "got {got:?}, want {want:?}");
    }
}

#[test]
fn sgd_momentum_matches_hand_worked_steps() {
    // lr 0.1, momentum 0.9, w = 1, g = 0.5 twice:
    // v1 = -0.05, w1 = 0.95; v2 = 0.9 (-0.05) - 0.05 = -0.095, w2 = 0.855.
    let mut sgd = Sgd::new(0.1, 0.9, Nesterov::No);
    assert_close(&steps(&mut sgd, 1.0, &[0.5, 0.5]), &[0.95, 0.855], 1e-7);
}

#[test]
fn sgd_nesterov_matches_hand_worked_steps() {
    // v1 = -0.05, w1 = 1 + 0.9 (-0.05) - 0.05 = 0.905;
    // v2 = -0.095, w2 = 0.905 + 0.9 (-0.095) - 0.05 = 0.7695.
    let mut sgd = Sgd::new(0.1, 0.9, Nesterov::Yes);
    assert_close(&steps(&mut sgd, 1.0, &[0.5, 0.5]), &[0.905, 0.7695], 1e-7);
}

#[test]
fn sgd_without_momentum_is_plain_gradient_descent() {
    let mut sgd = Sgd::new(0.1, 0.0, Nesterov::No);
    assert_close(&steps(&mut sgd, 1.0, &[0.5, -1.0]), &[0.95, 1.05], 1e-7);
}

#[test]
fn adam_matches_hand_worked_steps() {
    // w = 0, g = 0.5 then -0.25, Keras defaults.
    // t = 1: m = 0.05, v = 0.00025, lr_t = 0.001 sqrt(0.001) / 0.1 = 3.16227766e-4,
    //        w = -lr_t 0.05 / (sqrt(0.00025) + 1e-7) = -9.99993675e-4
    //        (PyTorch's epsilon placement would give -9.9999980e-4).
    // t = 2: m = 0.02, v = 0.00031225, lr_t = 0.001 sqrt(0.001999) / 0.19 = 2.35316725e-4,
    //        w = -9.99993675e-4 - lr_t 0.02 / (0.0176705970 + 1e-7) = -1.26632921e-3.
    let mut adam = Adam::default();
    assert_eq!(
        (adam.lr, adam.beta1, adam.beta2, adam.epsilon),
        (0.001, 0.9, 0.999, 1e-7)
    );
    let trace = steps(&mut adam, 0.0, &[0.5, -0.25]);
    assert_close(&trace, &[-9.99993675e-4, -1.26632921e-3], 2e-10);
    assert_eq!(adam.iterations(), 2);
}

#[test]
fn adam_minimises_a_convex_quadratic() {
    // f(w) = 1/2 sum_i a_i (w_i - c_i)^2, badly conditioned (a from 0.01 to 100).
    let a = [0.01f32, 0.1, 1.0, 10.0, 100.0];
    let c = [3.0f32, -2.0, 0.5, 1.0, -1.5];
    let mut w = vec![0.0f32; 5];
    let mut adam = Adam::new(0.01);
    let mut g = vec![0.0f32; 5];
    let f = |w: &[f32]| -> f32 { (0..5).map(|i| 0.5 * a[i] * (w[i] - c[i]).powi(2)).sum() };
    let start = f(&w);
    for step in 0..20_000 {
        for i in 0..5 {
            g[i] = a[i] * (w[i] - c[i]);
        }
        if step == 15_000 {
            adam.lr = 0.001; // a smaller step settles Adam's oscillation around the minimum
        }
        adam.step(&mut [Param {
            value: &mut w,
            grad: &g,
        }]);
    }
    for i in 0..5 {
        assert!((w[i] - c[i]).abs() < 1e-2, "w = {w:?}, minimum at {c:?}");
    }
    assert!(f(&w) < 1e-6 * start, "f went from {start} to {}", f(&w));
}

#[test]
fn optimisers_update_several_tensors_independently() {
    // Two tensors of different lengths, as an encoder's weights and DEC's centres are.
    let (mut w1, mut w2) = (vec![1.0f32; 3], vec![2.0f32; 70_000]);
    let (g1, g2) = (vec![0.5f32; 3], vec![-1.0f32; 70_000]);
    let mut sgd = Sgd::new(0.1, 0.9, Nesterov::No);
    for _ in 0..2 {
        sgd.step(&mut [
            Param {
                value: &mut w1,
                grad: &g1,
            },
            Param {
                value: &mut w2,
                grad: &g2,
            },
        ]);
    }
    assert!(w1.iter().all(|&w| (w - 0.855).abs() < 1e-6));
    assert!(w2.iter().all(|&w| (w - 2.29).abs() < 1e-6));
}

#[test]
fn initialisers_stay_within_their_limits() {
    let mut rng = StdRng::seed_from_u64(0);
    let glorot = Init::GlorotUniform.weight(784, 500, &mut rng);
    let limit = (6.0f32 / 1284.0).sqrt();
    assert_eq!(Init::GlorotUniform.limit(784, 500), limit);
    assert!(glorot.as_slice().iter().all(|w| w.abs() <= limit));
    // U(-l, l) has variance l^2 / 3.
    let var = glorot
        .as_slice()
        .iter()
        .map(|w| (w * w) as f64)
        .sum::<f64>()
        / glorot.as_slice().len() as f64;
    assert!(
        (var / (limit as f64 * limit as f64 / 3.0) - 1.0).abs() < 0.02,
        "variance {var}"
    );
    // VarianceScaling(1/3, fan_in, uniform): limit = sqrt(3 (1/3) / fan_in) = 1 / sqrt(fan_in).
    assert!((Init::DEC.limit(500, 2000) - 1.0 / 500f32.sqrt()).abs() < 1e-7);
    let w = Init::DEC.weight(500, 2000, &mut rng);
    assert!(w.as_slice().iter().all(|w| w.abs() <= 1.0 / 500f32.sqrt()));
    assert!(
        w.as_slice()
            .iter()
            .filter(|w| w.abs() > 0.9 / 500f32.sqrt())
            .count()
            > 1000
    );
}

#[test]
fn soft_assignment_matches_a_hand_worked_case() {
    // z = 0; mu_1 at squared distance 1, mu_2 at 3; alpha = 1: kernels 1/2 and 1/4,
    // so q = (2/3, 1/3).
    let z = Matrix::from_vec(1, 2, vec![0.0, 0.0]);
    let mu = Matrix::from_vec(2, 2, vec![1.0, 0.0, 1.0, 2.0f32.sqrt()]);
    let mut q = Matrix::zeros(1, 2);
    soft_assignment_forward(&mut q, &z, &mu, 1.0);
    assert!((q.get(0, 0) - 2.0 / 3.0).abs() < 1e-6 && (q.get(0, 1) - 1.0 / 3.0).abs() < 1e-6);
}

#[test]
fn target_distribution_matches_a_hand_worked_case() {
    // q = [[0.5, 0.5], [0.9, 0.1]]: f = (1.4, 0.6).
    // Row 1: q^2/f = (0.25/1.4, 0.25/0.6) = (0.178571, 0.416667), normalised (0.3, 0.7).
    // Row 2: (0.81/1.4, 0.01/0.6) = (0.578571, 0.016667), normalised (0.972, 0.028).
    let q = Matrix::from_vec(2, 2, vec![0.5, 0.5, 0.9, 0.1]);
    let p = target_distribution(&q);
    let want = [0.3, 0.7, 0.972, 0.028];
    for (got, want) in p.as_slice().iter().zip(want) {
        assert!((got - want).abs() < 1e-5, "p = {p:?}");
    }
    // Sharpening: the confident row becomes more confident.
    assert!(p.get(1, 0) > q.get(1, 0));
}

#[test]
fn kl_divergence_matches_a_hand_worked_case() {
    let p = Matrix::from_vec(2, 2, vec![0.5, 0.5, 1.0, 0.0]);
    let q = Matrix::from_vec(2, 2, vec![0.25, 0.75, 0.5, 0.5]);
    // Row 1: 0.5 ln 2 + 0.5 ln(2/3); row 2: ln 2 (the 0 ln 0 term is 0); mean of the two.
    let want = ((0.5 * 2f64.ln() + 0.5 * (2.0f64 / 3.0).ln()) + 2f64.ln()) / 2.0;
    assert!((kl_divergence(&p, &q) as f64 - want).abs() < 1e-6);
    assert_eq!(kl_divergence(&q, &q), 0.0);
}

/// 60 rows of 12 values in [0, 1] that lie near a 2-dimensional subspace: learnable.
fn toy_data(rows: usize) -> Matrix {
    let mut rng = StdRng::seed_from_u64(42);
    Matrix::from_fn(rows, 12, |i, j| {
        let (a, b) = ((i as f32 * 0.37).sin(), (i as f32 * 0.11).cos());
        (0.5 + 0.25 * (a * (j as f32 * 0.5).cos() + b * (j as f32 * 0.3).sin())
            + rng.random_range(-0.01..0.01))
        .clamp(0.0, 1.0)
    })
}

fn toy_autoencoder(seed: u64) -> Autoencoder {
    let mut rng = StdRng::seed_from_u64(seed);
    Autoencoder::new(
        &[12, 16, 8, 2],
        Activation::Identity,
        Activation::Identity,
        Init::GlorotUniform,
        &mut rng,
    )
    .unwrap()
}

/// The autoencoder's parameters by name, copied out (to compare two runs).
fn owned_params(ae: &Autoencoder) -> Vec<(String, Matrix)> {
    ae.named_params()
        .into_iter()
        .map(|(n, m)| (n, m.clone()))
        .collect()
}

/// Trains a toy autoencoder; returns the per-epoch reports and the final parameters.
fn train(epochs: usize, batch: usize) -> (Vec<EpochReport>, Vec<(String, Matrix)>) {
    let x = toy_data(60);
    let mut ae = toy_autoencoder(1);
    let mut adam = Adam::new(0.01);
    let mut reports = Vec::new();
    ae.fit(&x, &FitConfig::new(epochs, batch, 7), &mut adam, &mut |r| {
        reports.push(r.clone());
        ControlFlow::Continue(())
    })
    .unwrap();
    let params = owned_params(&ae);
    (reports, params)
}

#[test]
fn autoencoder_learns_the_toy_data() {
    // 60 rows in batches of 16: three full batches and a last one of 12.
    let (reports, _) = train(40, 16);
    assert_eq!(reports.len(), 40);
    assert_eq!(
        reports.iter().map(|r| r.epoch).collect::<Vec<_>>(),
        (1..=40).collect::<Vec<_>>()
    );
    let (first, last) = (reports[0].loss, reports[39].loss);
    assert!(last < 0.2 * first, "loss went from {first} to {last}");
    assert!(reports.iter().all(|r| r.seconds >= 0.0));
}

#[test]
fn training_is_bit_identical_whatever_the_thread_count() {
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| train(5, 16))
    };
    let (r1, p1) = run(1);
    let (r2, p2) = run(2);
    let (r3, p3) = run(3);
    assert_eq!(p1, p2);
    assert_eq!(p1, p3);
    let losses = |r: &[EpochReport]| r.iter().map(|r| r.loss.to_bits()).collect::<Vec<_>>();
    assert_eq!(losses(&r1), losses(&r2));
    assert_eq!(losses(&r1), losses(&r3));
}

/// A model wide enough that every parallel pass (the batch gather, the bias, the
/// activations, the loss, the bias gradient) is cut into several blocks: the thread
/// count must still not change a bit.
#[test]
fn wide_training_is_bit_identical_whatever_the_thread_count() {
    let mut rng = StdRng::seed_from_u64(5);
    let x = Matrix::from_fn(300, 100, |_, _| rng.random_range(0.0..1.0));
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut rng = StdRng::seed_from_u64(6);
            let mut ae = Autoencoder::new(
                &[100, 300, 40],
                Activation::Identity,
                Activation::Sigmoid,
                Init::GlorotUniform,
                &mut rng,
            )
            .unwrap();
            let mut losses = Vec::new();
            let mut adam = Adam::new(0.01);
            ae.fit(&x, &FitConfig::new(2, 200, 3), &mut adam, &mut |r| {
                losses.push(r.loss.to_bits());
                ControlFlow::Continue(())
            })
            .unwrap();
            let params: Vec<Matrix> = ae
                .named_params()
                .into_iter()
                .map(|(_, m)| m.clone())
                .collect();
            (losses, params)
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

/// Backward sets the gradients of this batch; it does not add to the last ones.
#[test]
fn backward_overwrites_the_gradients() {
    let x = toy_data(20);
    let mut ae = toy_autoencoder(2);
    let mut ws = AeWorkspace::new(&ae);
    let mut gradients = || -> Vec<Matrix> {
        ae.forward_backward(&mut ws, x.view());
        ae.named_grads()
            .into_iter()
            .map(|(_, g)| g.clone())
            .collect()
    };
    let first = gradients();
    let second = gradients();
    assert_eq!(first, second);
    assert!(first.iter().any(|g| g.as_slice().iter().any(|&v| v != 0.0)));
}

#[test]
fn a_resumed_run_sees_the_same_batches() {
    // Epochs 1-3 then 4-5 with the optimiser carried over equal epochs 1-5 in one go.
    let x = toy_data(60);
    let (_, straight) = train(5, 16);
    let mut ae = toy_autoencoder(1);
    let mut adam = Adam::new(0.01);
    let mut go_on = |_: &EpochReport| ControlFlow::Continue(());
    ae.fit(&x, &FitConfig::new(3, 16, 7), &mut adam, &mut go_on)
        .unwrap();
    let cfg = FitConfig {
        start_epoch: 3,
        ..FitConfig::new(5, 16, 7)
    };
    ae.fit(&x, &cfg, &mut adam, &mut go_on).unwrap();
    let resumed = owned_params(&ae);
    assert_eq!(resumed, straight);
}

#[test]
fn a_run_stopped_inside_an_epoch_resumes_to_the_same_bits() {
    // Stop after the 6th step (2 steps into epoch 2 of 4-step epochs), resume from there.
    let x = toy_data(60);
    let (straight_reports, straight) = train(5, 16);
    let mut ae = toy_autoencoder(1);
    let mut adam = Adam::new(0.01);
    let mut reports = Vec::new();
    let steps = std::cell::Cell::new(0);
    let stop = || {
        steps.set(steps.get() + 1);
        steps.get() == 6
    };
    let mid = ae
        .fit_until(
            &x,
            &FitConfig::new(5, 16, 7),
            &mut adam,
            &mut |r| {
                reports.push(r.clone());
                ControlFlow::Continue(())
            },
            &stop,
        )
        .unwrap()
        .expect("stopped inside epoch 2");
    assert_eq!((reports.len(), mid.steps), (1, 2));
    let cfg = FitConfig {
        start_epoch: 1,
        mid_epoch: Some(mid),
        ..FitConfig::new(5, 16, 7)
    };
    ae.fit(&x, &cfg, &mut adam, &mut |r| {
        reports.push(r.clone());
        ControlFlow::Continue(())
    })
    .unwrap();
    let resumed = owned_params(&ae);
    assert_eq!(resumed, straight);
    let losses = |r: &[EpochReport]| r.iter().map(|r| r.loss.to_bits()).collect::<Vec<_>>();
    assert_eq!(losses(&reports), losses(&straight_reports));
}

#[test]
fn fit_stops_when_the_callback_breaks() {
    let x = toy_data(60);
    let mut ae = toy_autoencoder(1);
    let mut seen = Vec::new();
    ae.fit(
        &x,
        &FitConfig::new(10, 16, 7),
        &mut Adam::default(),
        &mut |r| {
            seen.push(r.epoch);
            if r.epoch == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )
    .unwrap();
    assert_eq!(seen, [1, 2, 3]);
}

#[test]
fn a_nan_loss_is_reported_as_divergence() {
    let mut x = toy_data(60);
    x.set(20, 3, f32::NAN);
    let mut ae = toy_autoencoder(1);
    let err = ae
        .fit(
            &x,
            &FitConfig::new(2, 16, 7),
            &mut Adam::default(),
            &mut |_| ControlFlow::Continue(()),
        )
        .unwrap_err();
    match err {
        Error::Diverged {
            phase,
            epoch,
            step,
            loss,
        } => {
            assert_eq!((phase.as_str(), epoch), ("pretraining", 1));
            assert!((1..=4).contains(&step));
            assert!(loss.is_nan());
        }
        other => panic!("expected Diverged, got {other}"),
    }
}

#[test]
fn fit_rejects_impossible_settings() {
    let mut ae = toy_autoencoder(1);
    let mut go_on = |_: &EpochReport| ControlFlow::Continue(());
    let wrong_width = Matrix::zeros(10, 11);
    assert!(matches!(
        ae.fit(
            &wrong_width,
            &FitConfig::new(1, 4, 0),
            &mut Adam::default(),
            &mut go_on
        ),
        Err(Error::Invalid { .. })
    ));
    let x = toy_data(10);
    assert!(matches!(
        ae.fit(
            &x,
            &FitConfig::new(1, 0, 0),
            &mut Adam::default(),
            &mut go_on
        ),
        Err(Error::Invalid { .. })
    ));
    let mut rng = StdRng::seed_from_u64(0);
    assert!(
        Autoencoder::new(
            &[12],
            Activation::Identity,
            Activation::Identity,
            Init::GlorotUniform,
            &mut rng
        )
        .is_err()
    );
    assert!(
        Autoencoder::new(
            &[12, 0, 3],
            Activation::Identity,
            Activation::Identity,
            Init::GlorotUniform,
            &mut rng
        )
        .is_err()
    );
}

#[test]
fn parameters_are_named_shaped_and_settable() {
    let mut rng = StdRng::seed_from_u64(0);
    let dims = [784, 500, 500, 2000, 10];
    let mut ae = Autoencoder::new(
        &dims,
        Activation::Identity,
        Activation::Identity,
        Init::DEC,
        &mut rng,
    )
    .unwrap();
    let named: Vec<(String, Vec<usize>)> = ae
        .named_params()
        .iter()
        .map(|(n, m)| (n.clone(), tensor_shape(n, m)))
        .collect();
    assert_eq!(named.len(), 16);
    assert_eq!(named[0], ("encoder.0.weight".to_string(), vec![784, 500]));
    assert_eq!(named[1], ("encoder.0.bias".to_string(), vec![500]));
    assert_eq!(named[7], ("encoder.3.bias".to_string(), vec![10]));
    assert_eq!(named[8], ("decoder.0.weight".to_string(), vec![10, 2000]));
    assert_eq!(named[15], ("decoder.3.bias".to_string(), vec![784]));
    let total: usize = named.iter().map(|(_, s)| s.iter().product::<usize>()).sum();
    // 2 x (784*500 + 500*500 + 500*2000 + 2000*10) weights + 3010 + 3784 biases.
    assert_eq!(total, 3_330_794);
    assert!(
        ae.named_params()
            .iter()
            .filter(|(n, _)| n.ends_with("bias"))
            .all(|(_, b)| b.as_slice().iter().all(|&v| v == 0.0))
    );

    ae.set_param("decoder.3.bias", Matrix::filled(1, 784, 0.5))
        .unwrap();
    assert!(
        ae.decoder.layers()[3]
            .bias
            .as_slice()
            .iter()
            .all(|&v| v == 0.5)
    );
    assert!(
        ae.set_param("encoder.1.weight", Matrix::zeros(500, 499))
            .is_err()
    );
    assert!(
        ae.set_param("encoder.4.weight", Matrix::zeros(1, 1))
            .is_err()
    );
    assert!(
        ae.set_param("middle.0.bias", Matrix::zeros(1, 500))
            .is_err()
    );
}

#[test]
fn encode_batches_internally_and_agrees_with_one_forward() {
    let x = toy_data(600); // 256 + 256 + 88 rows
    let ae = toy_autoencoder(3);
    let codes = ae.encode(&x);
    assert_eq!(codes.shape(), (600, 2));
    let mut rng = StdRng::seed_from_u64(3);
    let mlp = Mlp::new(
        &[12, 16, 8, 2],
        &[Activation::Relu, Activation::Relu, Activation::Identity],
        Init::GlorotUniform,
        &mut rng,
    )
    .unwrap();
    let all_at_once = mlp.forward(&mut Workspace::new(&mlp), x.view()).to_matrix();
    for (a, b) in codes.as_slice().iter().zip(all_at_once.as_slice()) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()));
    }
    assert_eq!(ae.reconstruct(&x).shape(), (600, 12));
}

#[test]
fn a_smaller_batch_after_a_larger_one_reuses_buffers_cleanly() {
    // The buffers keep the larger batch's rows; none of them may leak into the smaller one.
    let x = toy_data(9);
    let small = x.rows_range(0..5);
    let mut fresh = toy_autoencoder(5);
    let want_loss = fresh.forward_backward(&mut AeWorkspace::new(&fresh), small);
    let want: Vec<(String, Matrix)> = fresh
        .named_grads()
        .into_iter()
        .map(|(n, m)| (n, m.clone()))
        .collect();
    let mut reused = toy_autoencoder(5);
    let mut ws = AeWorkspace::new(&reused);
    reused.forward_backward(&mut ws, x.view());
    let got_loss = reused.forward_backward(&mut ws, small);
    let got: Vec<(String, Matrix)> = reused
        .named_grads()
        .into_iter()
        .map(|(n, m)| (n, m.clone()))
        .collect();
    assert_eq!(got_loss.to_bits(), want_loss.to_bits());
    assert_eq!(got, want);
}

#[test]
fn activations_parse_from_their_keras_names() {
    assert_eq!(
        "linear".parse::<Activation>().unwrap(),
        Activation::Identity
    );
    assert_eq!("relu".parse::<Activation>().unwrap(), Activation::Relu);
    assert_eq!(
        "sigmoid".parse::<Activation>().unwrap(),
        Activation::Sigmoid
    );
    assert_eq!(Activation::Identity.name(), "linear");
    assert!(matches!(
        "tanh".parse::<Activation>(),
        Err(Error::Invalid { .. })
    ));
}

/// nn/mod.rs's one convention: every backward overwrites its gradient buffers. Each is run
/// into buffers full of garbage and into zeroed ones; the results must be the same bits.
#[test]
fn every_backward_overwrites_its_gradient_buffers() {
    use deepcluster::cluster::dec::{dec_loss_backward, soft_assignment_backward};
    use deepcluster::nn::{
        activation_backward, dense_backward, kl_divergence_backward, mse_backward,
    };
    let mut rng = StdRng::seed_from_u64(21);
    let mut random = |r: usize, c: usize| {
        Matrix::from_vec(
            r,
            c,
            (0..r * c).map(|_| rng.random_range(0.05..1.0)).collect(),
        )
    };
    let (x, w, dy, y) = (random(6, 5), random(5, 4), random(6, 4), random(6, 4));
    let (z, mu) = (random(6, 3), random(4, 3));
    let mut q = Matrix::zeros(6, 4);
    soft_assignment_forward(&mut q, &z, &mu, 1.0);
    let p = target_distribution(&q);
    let garbage = |m: &Matrix| Matrix::from_vec(m.rows(), m.cols(), vec![7.5; m.rows() * m.cols()]);
    // Runs `backward` into zeroed buffers of these shapes and into garbage-filled ones.
    let both = |shapes: &[(usize, usize)], backward: &dyn Fn(&mut [Matrix])| {
        let mut zeroed: Vec<Matrix> = shapes.iter().map(|&(r, c)| Matrix::zeros(r, c)).collect();
        let mut dirty: Vec<Matrix> = zeroed.iter().map(garbage).collect();
        backward(&mut zeroed);
        backward(&mut dirty);
        assert_eq!(zeroed, dirty);
    };
    both(&[(6, 5), (5, 4), (1, 4)], &|g| {
        let [dx, dw, db] = g else { unreachable!() };
        dense_backward(
            Some(dx.view_mut()),
            dw.view_mut(),
            db.as_mut_slice(),
            dy.view(),
            x.view(),
            w.view(),
        );
    });
    for act in [Activation::Relu, Activation::Sigmoid, Activation::Identity] {
        both(&[(6, 4)], &|g| {
            activation_backward(g[0].as_mut_slice(), dy.as_slice(), y.as_slice(), act)
        });
    }
    both(&[(6, 4)], &|g| {
        mse_backward(g[0].view_mut(), y.view(), dy.view())
    });
    both(&[(6, 4)], &|g| kl_divergence_backward(&mut g[0], &p, &q));
    both(&[(6, 3), (4, 3)], &|g| {
        let (dz, dmu) = g.split_at_mut(1);
        soft_assignment_backward(&mut dz[0], &mut dmu[0], &dy, &q, &z, &mu, 1.0)
    });
    both(&[(6, 3), (4, 3)], &|g| {
        let (dz, dmu) = g.split_at_mut(1);
        dec_loss_backward(&mut dz[0], &mut dmu[0], &p, &q, &z, &mu, 1.0)
    });
}
