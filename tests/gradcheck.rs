//! Gradient checks: every backward in `deepcluster::nn` against central finite differences.
//!
//! The analytic gradient is the crate's own f32 backward. The numeric gradient is taken in
//! f64 on an independent f64 re-implementation of the same forward (written below, plain
//! loops), so the difference quotient is not drowned by f32 rounding: with h = 1e-6 its
//! truncation error is ~1e-12 and its rounding error ~1e-10, far below the f32 analytic
//! gradient's own ~1e-6 relative error. Each check also asserts that the crate's f32
//! forward agrees with the f64 reference, so the two forwards are the same function.
//!
//! A check compares whole gradient vectors with the norm-wise relative error
//!     err = ||analytic - numeric|| / max(||analytic||, ||numeric||)
//! and passes when err <= BOUND. A flipped sign gives err = 2, a missing factor of 2
//! gives err = 0.5, so the bound separates right from wrong by more than four orders of magnitude
//! (correct backwards measure 1e-10 to 3e-7 here).
//! The tests at the end run the same checks on deliberately wrong backwards, written out as
//! functions (a missing factor 2, a flipped sign, a missing term, a sum for a mean) and
//! passed to the checker in place of the crate's, and assert that each one is rejected.

use deepcluster::cluster::dec::{
    dec_loss_backward, soft_assignment_backward, soft_assignment_forward, target_distribution,
};
use deepcluster::cluster::idec::{
    CombineCodeGradients, Idec, IdecWorkspace, combine_code_gradients,
};
use deepcluster::linalg::Matrix;
use deepcluster::nn::{
    Activation, AeWorkspace, Autoencoder, Init, Parameters, activation_backward,
    activation_forward, dense_backward, dense_forward, kl_divergence, kl_divergence_backward,
    mse_backward, mse_forward,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The largest norm-wise relative error a correct f32 backward may show.
const BOUND: f64 = 1e-5;
/// Central-difference step, in f64.
const H: f64 = 1e-6;

// ---------------------------------------------------------------------------------------
// The checking machinery.

/// ||a - n|| / max(||a||, ||n||); 0 when both are zero.
fn rel_error(analytic: &[f64], numeric: &[f64]) -> f64 {
    assert_eq!(analytic.len(), numeric.len());
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let diff: Vec<f64> = analytic.iter().zip(numeric).map(|(a, n)| a - n).collect();
    let scale = norm(analytic).max(norm(numeric));
    if scale == 0.0 {
        0.0
    } else {
        norm(&diff) / scale
    }
}

/// dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / 2h for every i.
fn numeric_grad(f: &dyn Fn(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
    let mut x = x.to_vec();
    (0..x.len())
        .map(|i| {
            let x0 = x[i];
            x[i] = x0 + H;
            let plus = f(&x);
            x[i] = x0 - H;
            let minus = f(&x);
            x[i] = x0;
            (plus - minus) / (2.0 * H)
        })
        .collect()
}

/// The outcome of one check.
struct Check {
    name: &'static str,
    analytic: Vec<f64>,
    numeric: Vec<f64>,
}

impl Check {
    fn new(name: &'static str, analytic: &[f32], numeric: Vec<f64>) -> Check {
        let analytic = analytic.iter().map(|&g| g as f64).collect();
        Check {
            name,
            analytic,
            numeric,
        }
    }

    fn error(&self) -> f64 {
        rel_error(&self.analytic, &self.numeric)
    }
}

fn to64(m: &Matrix) -> Vec<f64> {
    m.as_slice().iter().map(|&v| v as f64).collect()
}

fn random(rows: usize, cols: usize, lo: f32, hi: f32, rng: &mut StdRng) -> Matrix {
    Matrix::from_fn(rows, cols, |_, _| rng.random_range(lo..hi))
}

/// Asserts that the crate's f32 forward and the f64 reference compute the same value.
#[track_caller]
fn assert_same_forward(what: &str, f32_value: &[f32], f64_value: &[f64]) {
    let a: Vec<f64> = f32_value.iter().map(|&v| v as f64).collect();
    let err = rel_error(&a, f64_value);
    assert!(
        err < 1e-5,
        "{what}: f32 forward and f64 reference differ by {err:e}"
    );
}

// ---------------------------------------------------------------------------------------
// f64 reference forwards, written independently of the crate.

fn act64(a: f64, act: Activation) -> f64 {
    match act {
        Activation::Identity => a,
        Activation::Relu => a.max(0.0),
        Activation::Sigmoid => 1.0 / (1.0 + (-a).exp()),
    }
}

/// y = x W + b for x (b, i), W (i, o), b (o,); flat row-major.
fn dense64(x: &[f64], w: &[f64], bias: &[f64], rows: usize, i: usize, o: usize) -> Vec<f64> {
    let mut y = vec![0.0; rows * o];
    for r in 0..rows {
        for c in 0..o {
            let mut s = bias[c];
            for k in 0..i {
                s += x[r * i + k] * w[k * o + c];
            }
            y[r * o + c] = s;
        }
    }
    y
}

fn mse64(pred: &[f64], target: &[f64]) -> f64 {
    let s: f64 = pred
        .iter()
        .zip(target)
        .map(|(p, t)| (p - t) * (p - t))
        .sum();
    s / pred.len() as f64
}

fn kl64(p: &[f64], q: &[f64], rows: usize) -> f64 {
    let s: f64 = p.iter().zip(q).map(|(p, q)| p * (p / q).ln()).sum();
    s / rows as f64
}

/// Student's t soft assignment, z (b, d), mu (k, d) -> q (b, k).
fn soft64(z: &[f64], mu: &[f64], b: usize, k: usize, d: usize, alpha: f64) -> Vec<f64> {
    let mut q = vec![0.0; b * k];
    for i in 0..b {
        for j in 0..k {
            let dist: f64 = (0..d).map(|t| (z[i * d + t] - mu[j * d + t]).powi(2)).sum();
            q[i * k + j] = (1.0 + dist / alpha).powf(-(alpha + 1.0) / 2.0);
        }
        let s: f64 = q[i * k..(i + 1) * k].iter().sum();
        for j in 0..k {
            q[i * k + j] /= s;
        }
    }
    q
}

// ---------------------------------------------------------------------------------------
// The checks. Each builds a scalar L from one layer with random upstream weights c
// (L = sum c * output, so dL/doutput = c), unless the layer is itself a loss.

/// The signature of `activation_backward`, so a check can be run on a wrong one.
type ActivationBackward = fn(&mut [f32], &[f32], &[f32], Activation);

fn check_activation(act: Activation, name: &'static str) -> Check {
    check_activation_with(activation_backward, act, name)
}

fn check_activation_with(
    backward: ActivationBackward,
    act: Activation,
    name: &'static str,
) -> Check {
    let mut rng = StdRng::seed_from_u64(1);
    let n = 24;
    // Keep ReLU's inputs away from its kink at 0, where no derivative exists.
    let a: Vec<f32> = (0..n)
        .map(|i| {
            let m = rng.random_range(0.1f32..2.0);
            if i % 2 == 0 { m } else { -m }
        })
        .collect();
    let c: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let mut y = a.clone();
    activation_forward(&mut y, act);
    let mut da = vec![0.0f32; n];
    backward(&mut da, &c, &y, act);
    let a64: Vec<f64> = a.iter().map(|&v| v as f64).collect();
    assert_same_forward(
        name,
        &y,
        &a64.iter().map(|&v| act64(v, act)).collect::<Vec<_>>(),
    );
    let c64: Vec<f64> = c.iter().map(|&v| v as f64).collect();
    let f = |a: &[f64]| {
        a.iter()
            .zip(&c64)
            .map(|(&a, c)| c * act64(a, act))
            .sum::<f64>()
    };
    Check::new(name, &da, numeric_grad(&f, &a64))
}

/// Which input of the Dense layer a check differentiates.
#[derive(Clone, Copy)]
enum DenseInput {
    Weight,
    Bias,
    X,
}

fn check_dense(wrt: DenseInput, name: &'static str) -> Check {
    let mut rng = StdRng::seed_from_u64(2);
    let (b, i, o) = (3, 4, 5);
    let x = random(b, i, -1.0, 1.0, &mut rng);
    let w = random(i, o, -1.0, 1.0, &mut rng);
    let bias = random(1, o, -1.0, 1.0, &mut rng);
    let c = random(b, o, -1.0, 1.0, &mut rng);
    let mut y = Matrix::zeros(b, o);
    dense_forward(y.view_mut(), x.view(), w.view(), bias.as_slice());
    let (mut dx, mut dw, mut db) = (Matrix::zeros(b, i), Matrix::zeros(i, o), vec![0.0; o]);
    dense_backward(
        Some(dx.view_mut()),
        dw.view_mut(),
        &mut db,
        c.view(),
        x.view(),
        w.view(),
    );
    let (x64, w64, b64, c64) = (to64(&x), to64(&w), to64(&bias), to64(&c));
    assert_same_forward(name, y.as_slice(), &dense64(&x64, &w64, &b64, b, i, o));
    let loss = |x: &[f64], w: &[f64], bias: &[f64]| -> f64 {
        let y = dense64(x, w, bias, b, i, o);
        y.iter().zip(&c64).map(|(y, c)| y * c).sum()
    };
    match wrt {
        DenseInput::Weight => {
            let f = |w: &[f64]| loss(&x64, w, &b64);
            Check::new(name, dw.as_slice(), numeric_grad(&f, &w64))
        }
        DenseInput::Bias => {
            let f = |bias: &[f64]| loss(&x64, &w64, bias);
            Check::new(name, &db, numeric_grad(&f, &b64))
        }
        DenseInput::X => {
            let f = |x: &[f64]| loss(x, &w64, &b64);
            Check::new(name, dx.as_slice(), numeric_grad(&f, &x64))
        }
    }
}

fn check_mse() -> Check {
    check_mse_with(|d, p, t| mse_backward(d, p, t))
}

/// The signature of `mse_backward` on matrices, so a check can be run on a wrong one.
type MseBackward = fn(&mut Matrix, &Matrix, &Matrix);

fn check_mse_with(backward: MseBackward) -> Check {
    let mut rng = StdRng::seed_from_u64(3);
    let pred = random(4, 6, -1.0, 1.0, &mut rng);
    let target = random(4, 6, 0.0, 1.0, &mut rng);
    let loss = mse_forward(&pred, &target);
    let mut dpred = Matrix::zeros(4, 6);
    backward(&mut dpred, &pred, &target);
    let t64 = to64(&target);
    assert_same_forward("mse", &[loss], &[mse64(&to64(&pred), &t64)]);
    let f = |p: &[f64]| mse64(p, &t64);
    Check::new("mse", dpred.as_slice(), numeric_grad(&f, &to64(&pred)))
}

/// A random (rows, k) matrix whose rows are probability distributions.
fn random_distribution(rows: usize, k: usize, rng: &mut StdRng) -> Matrix {
    let mut m = random(rows, k, 0.05, 1.0, rng);
    for i in 0..rows {
        let s: f32 = m.row(i).iter().sum();
        m.row_mut(i).iter_mut().for_each(|v| *v /= s);
    }
    m
}

fn check_kl() -> Check {
    check_kl_with(|dq, p, q| kl_divergence_backward(dq, p, q))
}

/// The signature of `kl_divergence_backward` on matrices.
type KlBackward = fn(&mut Matrix, &Matrix, &Matrix);

fn check_kl_with(backward: KlBackward) -> Check {
    let mut rng = StdRng::seed_from_u64(4);
    let p = random_distribution(5, 4, &mut rng);
    let q = random_distribution(5, 4, &mut rng);
    let loss = kl_divergence(&p, &q);
    let mut dq = Matrix::zeros(5, 4);
    backward(&mut dq, &p, &q);
    let p64 = to64(&p);
    assert_same_forward("kl", &[loss], &[kl64(&p64, &to64(&q), 5)]);
    let f = |q: &[f64]| kl64(&p64, q, 5);
    Check::new("kl", dq.as_slice(), numeric_grad(&f, &to64(&q)))
}

/// Which input of DEC's layer a check differentiates.
#[derive(Clone, Copy)]
enum DecInput {
    Z,
    Mu,
}

const B: usize = 6;
const K: usize = 3;
const D: usize = 4;

/// z (B, D), mu (K, D) and alpha for the DEC checks; alpha != 1 so that the exponent
/// -(alpha+1)/2 and the 1/alpha factors are exercised.
fn dec_inputs() -> (Matrix, Matrix, f32) {
    let mut rng = StdRng::seed_from_u64(5);
    (
        random(B, D, -2.0, 2.0, &mut rng),
        random(K, D, -2.0, 2.0, &mut rng),
        1.5,
    )
}

/// (dz, dmu, dq or p, q, z, mu, alpha): the signature of `soft_assignment_backward` and
/// `dec_loss_backward`, so a check can be run on a wrong one.
type DecBackward = fn(&mut Matrix, &mut Matrix, &Matrix, &Matrix, &Matrix, &Matrix, f32);

fn check_soft_assignment(wrt: DecInput, name: &'static str) -> Check {
    let backward: DecBackward =
        |dz, dmu, dq, q, z, mu, alpha| soft_assignment_backward(dz, dmu, dq, q, z, mu, alpha);
    check_soft_assignment_with(backward, wrt, name)
}

fn check_soft_assignment_with(backward: DecBackward, wrt: DecInput, name: &'static str) -> Check {
    let (z, mu, alpha) = dec_inputs();
    let c = random(B, K, -1.0, 1.0, &mut StdRng::seed_from_u64(6));
    let mut q = Matrix::zeros(B, K);
    soft_assignment_forward(&mut q, &z, &mu, alpha);
    let (mut dz, mut dmu) = (Matrix::zeros(B, D), Matrix::zeros(K, D));
    backward(&mut dz, &mut dmu, &c, &q, &z, &mu, alpha);
    let (z64, mu64, c64, a) = (to64(&z), to64(&mu), to64(&c), alpha as f64);
    assert_same_forward(name, q.as_slice(), &soft64(&z64, &mu64, B, K, D, a));
    let loss = |z: &[f64], mu: &[f64]| -> f64 {
        let q = soft64(z, mu, B, K, D, a);
        q.iter().zip(&c64).map(|(q, c)| q * c).sum()
    };
    match wrt {
        DecInput::Z => {
            let f = |z: &[f64]| loss(z, &mu64);
            Check::new(name, dz.as_slice(), numeric_grad(&f, &z64))
        }
        DecInput::Mu => {
            let f = |mu: &[f64]| loss(&z64, mu);
            Check::new(name, dmu.as_slice(), numeric_grad(&f, &mu64))
        }
    }
}

/// DEC's loss as a whole, L(z, mu) = KL(P || Q(z, mu)) with P held fixed, differentiated
/// by the closed form `dec_loss_backward`.
fn check_dec_loss(wrt: DecInput, name: &'static str) -> Check {
    let backward: DecBackward =
        |dz, dmu, p, q, z, mu, alpha| dec_loss_backward(dz, dmu, p, q, z, mu, alpha);
    check_dec_loss_with(backward, wrt, name)
}

fn check_dec_loss_with(backward: DecBackward, wrt: DecInput, name: &'static str) -> Check {
    let (z, mu, alpha) = dec_inputs();
    let mut q = Matrix::zeros(B, K);
    soft_assignment_forward(&mut q, &z, &mu, alpha);
    // P from a perturbed z, as if computed before the last few updates.
    let z_old = Matrix::from_fn(B, D, |i, j| z.get(i, j) + 0.3 * ((i + 2 * j) as f32).sin());
    let mut q_old = Matrix::zeros(B, K);
    soft_assignment_forward(&mut q_old, &z_old, &mu, alpha);
    let p = target_distribution(&q_old);
    let (mut dz, mut dmu) = (Matrix::zeros(B, D), Matrix::zeros(K, D));
    backward(&mut dz, &mut dmu, &p, &q, &z, &mu, alpha);
    let (z64, mu64, p64, a) = (to64(&z), to64(&mu), to64(&p), alpha as f64);
    let loss = |z: &[f64], mu: &[f64]| kl64(&p64, &soft64(z, mu, B, K, D, a), B);
    assert_same_forward(name, &[kl_divergence(&p, &q)], &[loss(&z64, &mu64)]);
    match wrt {
        DecInput::Z => {
            let f = |z: &[f64]| loss(z, &mu64);
            Check::new(name, dz.as_slice(), numeric_grad(&f, &z64))
        }
        DecInput::Mu => {
            let f = |mu: &[f64]| loss(&z64, mu);
            Check::new(name, dmu.as_slice(), numeric_grad(&f, &mu64))
        }
    }
}

/// The autoencoder's reconstruction MSE in f64, from its named parameters (in
/// `named_params` order: encoder layers then decoder layers, weight then bias).
fn autoencoder64(
    params: &[Vec<f64>],
    shapes: &[(usize, usize)],
    acts: &[Activation],
    x: &[f64],
    rows: usize,
) -> f64 {
    let mut h = x.to_vec();
    for (l, act) in acts.iter().enumerate() {
        let (i, o) = shapes[2 * l];
        h = dense64(&h, &params[2 * l], &params[2 * l + 1], rows, i, o)
            .into_iter()
            .map(|a| act64(a, *act))
            .collect();
    }
    mse64(&h, x)
}

/// The full autoencoder end to end: the directional derivative of the reconstruction loss
/// along a few random directions through ALL parameters at once, analytic (<grad, v>)
/// against numeric ((L(theta + h v) - L(theta - h v)) / 2h in f64).
fn check_autoencoder(code: Activation, output: Activation, name: &'static str) -> Check {
    let mut rng = StdRng::seed_from_u64(7);
    let dims = [7, 6, 5, 3];
    let mut ae = Autoencoder::new(&dims, code, output, Init::GlorotUniform, &mut rng).unwrap();
    // Non-zero biases, so that their gradients matter.
    let names: Vec<String> = ae.named_params().iter().map(|(n, _)| n.clone()).collect();
    for n in names.iter().filter(|n| n.ends_with("bias")) {
        let cols = ae
            .named_params()
            .iter()
            .find(|(m, _)| m == n)
            .unwrap()
            .1
            .cols();
        ae.set_param(n, random(1, cols, -0.3, 0.3, &mut rng))
            .unwrap();
    }
    let x = random(5, 7, 0.0, 1.0, &mut rng);
    let loss = ae.forward_backward(&mut AeWorkspace::new(&ae), x.view());

    let params: Vec<Vec<f64>> = ae.named_params().iter().map(|(_, m)| to64(m)).collect();
    let shapes: Vec<(usize, usize)> = ae.named_params().iter().map(|(_, m)| m.shape()).collect();
    let grads: Vec<Vec<f32>> = ae
        .named_grads()
        .iter()
        .map(|(_, m)| m.as_slice().to_vec())
        .collect();
    let mut acts: Vec<Activation> = ae.encoder.activations().to_vec();
    acts.extend(ae.decoder.activations());
    let x64 = to64(&x);
    let l64 = |p: &[Vec<f64>]| autoencoder64(p, &shapes, &acts, &x64, 5);
    assert_same_forward(name, &[loss], &[l64(&params)]);

    let mut analytic = Vec::new();
    let mut numeric = Vec::new();
    for _ in 0..4 {
        let v: Vec<Vec<f64>> = params
            .iter()
            .map(|p| p.iter().map(|_| rng.random_range(-1.0..1.0)).collect())
            .collect();
        let shifted = |s: f64| -> Vec<Vec<f64>> {
            params
                .iter()
                .zip(&v)
                .map(|(p, v)| p.iter().zip(v).map(|(p, v)| p + s * v).collect())
                .collect()
        };
        numeric.push((l64(&shifted(H)) - l64(&shifted(-H))) / (2.0 * H));
        let dot: f64 = grads
            .iter()
            .zip(&v)
            .flat_map(|(g, v)| g.iter().zip(v).map(|(&g, v)| g as f64 * v))
            .sum();
        analytic.push(dot as f32);
    }
    Check::new(name, &analytic, numeric)
}

/// Which parameters of IDEC a check moves.
#[derive(Clone, Copy, PartialEq)]
enum IdecGroup {
    Encoder,
    Decoder,
    Centres,
}

/// IDEC's combined loss L = gamma KL(P || Q(f(x), mu)) + MSE(g(f(x)), x) through the
/// crate's own step backward (`Idec::batch_gradient_with`, with `combine` in its place of
/// `combine_code_gradients`): the directional derivative along random directions through
/// one group of parameters (all the encoder's, the decoder's, or the centres), against
/// the f64 reference forward. gamma = 0.3 and alpha = 1.5, so that a lost factor shows.
fn check_idec_with(combine: CombineCodeGradients, group: IdecGroup, name: &'static str) -> Check {
    let mut rng = StdRng::seed_from_u64(9);
    let (rows, dims, k, gamma, alpha) = (6, [5, 4, 3], 3, 0.3f32, 1.5f32);
    let mut ae = Autoencoder::new(
        &dims,
        Activation::Identity,
        Activation::Sigmoid,
        Init::GlorotUniform,
        &mut rng,
    )
    .unwrap();
    let names: Vec<String> = ae.named_params().iter().map(|(n, _)| n.clone()).collect();
    for n in names.iter().filter(|n| n.ends_with("bias")) {
        let cols = ae
            .named_params()
            .iter()
            .find(|(m, _)| m == n)
            .unwrap()
            .1
            .cols();
        ae.set_param(n, random(1, cols, -0.3, 0.3, &mut rng))
            .unwrap();
    }
    let x = random(rows, 5, 0.0, 1.0, &mut rng);
    let centres = random(k, 3, -1.0, 1.0, &mut rng);
    let mut idec = Idec::new(ae, centres, alpha);
    // P from shifted centres, as if set a few steps ago.
    let shifted = Matrix::from_fn(k, 3, |i, j| {
        idec.dec.centres.get(i, j) + 0.4 * ((i + j) as f32).cos()
    });
    let mut q_old = Matrix::zeros(rows, k);
    soft_assignment_forward(&mut q_old, &idec.dec.encoder.predict(&x), &shifted, alpha);
    let p = target_distribution(&q_old);

    let mut ws = IdecWorkspace::new(&idec, rows, gamma);
    let loss = idec.batch_gradient_with(&mut ws, x.view(), p.view(), combine);
    let n_enc = idec.dec.encoder.named_params().len();
    let n_dec = idec.decoder.named_params().len();
    let mut shapes: Vec<(usize, usize)> = idec
        .dec
        .encoder
        .named_params()
        .iter()
        .chain(idec.decoder.named_params().iter())
        .map(|(_, m)| m.shape())
        .collect();
    shapes.push(idec.dec.centres.shape());
    let (params, grads): (Vec<Vec<f64>>, Vec<Vec<f32>>) = idec
        .params_mut()
        .iter()
        .map(|p| (p.value.iter().map(|&v| v as f64).collect(), p.grad.to_vec()))
        .unzip();
    let mut acts: Vec<Activation> = idec.dec.encoder.activations().to_vec();
    acts.extend(idec.decoder.activations());
    let (x64, p64) = (to64(&x), to64(&p));
    let l64 = |theta: &[Vec<f64>]| -> f64 {
        let mut h = x64.clone();
        let mut z = Vec::new();
        for (l, act) in acts.iter().enumerate() {
            let (i, o) = shapes[2 * l];
            h = dense64(&h, &theta[2 * l], &theta[2 * l + 1], rows, i, o)
                .into_iter()
                .map(|a| act64(a, *act))
                .collect();
            if 2 * l + 2 == n_enc {
                z = h.clone();
            }
        }
        let q = soft64(&z, &theta[n_enc + n_dec], rows, k, 3, alpha as f64);
        gamma as f64 * kl64(&p64, &q, rows) + mse64(&h, &x64)
    };
    assert_same_forward(name, &[loss], &[l64(&params)]);
    let in_group = |t: usize| match group {
        IdecGroup::Encoder => t < n_enc,
        IdecGroup::Decoder => (n_enc..n_enc + n_dec).contains(&t),
        IdecGroup::Centres => t == n_enc + n_dec,
    };
    let (mut analytic, mut numeric) = (Vec::new(), Vec::new());
    for _ in 0..4 {
        let v: Vec<Vec<f64>> = params
            .iter()
            .enumerate()
            .map(|(t, p)| {
                p.iter()
                    .map(|_| {
                        if in_group(t) {
                            rng.random_range(-1.0..1.0)
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect();
        let at = |s: f64| -> Vec<Vec<f64>> {
            params
                .iter()
                .zip(&v)
                .map(|(p, v)| p.iter().zip(v).map(|(p, v)| p + s * v).collect())
                .collect()
        };
        numeric.push((l64(&at(H)) - l64(&at(-H))) / (2.0 * H));
        let dot: f64 = grads
            .iter()
            .zip(&v)
            .flat_map(|(g, v)| g.iter().zip(v).map(|(&g, v)| g as f64 * v))
            .sum();
        analytic.push(dot as f32);
    }
    Check::new(name, &analytic, numeric)
}

/// Every check, on the crate's own backwards.
fn all_checks() -> Vec<Check> {
    vec![
        check_activation(Activation::Identity, "identity"),
        check_activation(Activation::Relu, "relu"),
        check_activation(Activation::Sigmoid, "sigmoid"),
        check_dense(DenseInput::Weight, "dense dW"),
        check_dense(DenseInput::Bias, "dense db"),
        check_dense(DenseInput::X, "dense dx"),
        check_mse(),
        check_kl(),
        check_soft_assignment(DecInput::Z, "soft assignment dz"),
        check_soft_assignment(DecInput::Mu, "soft assignment dmu"),
        check_dec_loss(DecInput::Z, "DEC loss dz"),
        check_dec_loss(DecInput::Mu, "DEC loss dmu"),
        check_autoencoder(
            Activation::Identity,
            Activation::Identity,
            "autoencoder (linear code, linear output)",
        ),
        check_autoencoder(
            Activation::Sigmoid,
            Activation::Sigmoid,
            "autoencoder (sigmoid code, sigmoid output)",
        ),
        check_idec_with(
            combine_code_gradients,
            IdecGroup::Encoder,
            "IDEC loss, encoder",
        ),
        check_idec_with(
            combine_code_gradients,
            IdecGroup::Decoder,
            "IDEC loss, decoder",
        ),
        check_idec_with(
            combine_code_gradients,
            IdecGroup::Centres,
            "IDEC loss, centres",
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// The tests.

#[test]
fn every_backward_matches_finite_differences() {
    for check in all_checks() {
        let err = check.error();
        println!("{:45} relative error {err:.2e}", check.name);
        assert!(
            err <= BOUND,
            "{}: relative error {err:e} > {BOUND:e}",
            check.name
        );
    }
}

// ---------------------------------------------------------------------------------------
// Realistic bugs, written out as wrong backwards: each must be rejected as well.

/// sigmoid' written as y instead of y (1 - y).
fn sigmoid_backward_without_one_minus_y(da: &mut [f32], dy: &[f32], y: &[f32], _: Activation) {
    for ((d, &g), &y) in da.iter_mut().zip(dy).zip(y) {
        *d = g * y;
    }
}

/// MSE's derivative without its factor 2: (p - t) / (B D) instead of 2 (p - t) / (B D).
fn mse_backward_without_two(dpred: &mut Matrix, pred: &Matrix, target: &Matrix) {
    let scale = 1.0 / (pred.rows() * pred.cols()) as f32;
    for ((d, &p), &t) in dpred
        .as_mut_slice()
        .iter_mut()
        .zip(pred.as_slice())
        .zip(target.as_slice())
    {
        *d = scale * (p - t);
    }
}

/// KL's derivative with its sign flipped: +p / (B q), as if L were sum p log q.
fn kl_backward_flipped(dq: &mut Matrix, p: &Matrix, q: &Matrix) {
    let inv_b = 1.0 / p.rows() as f32;
    for ((d, &pij), &qij) in dq
        .as_mut_slice()
        .iter_mut()
        .zip(p.as_slice())
        .zip(q.as_slice())
    {
        *d = inv_b * pij / qij;
    }
}

/// ReLU's gate written as y >= 0, which lets the gradient through units that were off.
fn relu_backward_open_gate(da: &mut [f32], dy: &[f32], y: &[f32], _: Activation) {
    for ((d, &g), &y) in da.iter_mut().zip(dy).zip(y) {
        *d = if y >= 0.0 { g } else { 0.0 };
    }
}

/// The soft assignment's backward without the normalisation's term sum_j' dq_ij' q_ij'.
fn soft_assignment_backward_unnormalised(
    dz: &mut Matrix,
    dmu: &mut Matrix,
    dq: &Matrix,
    q: &Matrix,
    z: &Matrix,
    mu: &Matrix,
    alpha: f32,
) {
    // Overwrite, as every backward does (nn/mod.rs): zero, then sum each term in.
    dz.as_mut_slice().fill(0.0);
    dmu.as_mut_slice().fill(0.0);
    for i in 0..z.rows() {
        for j in 0..mu.rows() {
            let dist: f32 = z
                .row(i)
                .iter()
                .zip(mu.row(j))
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            let g = -(alpha + 1.0) / alpha * q.get(i, j) * dq.get(i, j) / (1.0 + dist / alpha);
            for t in 0..z.cols() {
                let diff = z.get(i, t) - mu.get(j, t);
                dz.set(i, t, dz.get(i, t) + g * diff);
                dmu.set(j, t, dmu.get(j, t) - g * diff);
            }
        }
    }
}

/// DEC's closed form with the paper's sum over the batch instead of Keras's mean.
fn dec_loss_backward_summed(
    dz: &mut Matrix,
    dmu: &mut Matrix,
    p: &Matrix,
    q: &Matrix,
    z: &Matrix,
    mu: &Matrix,
    alpha: f32,
) {
    let (mut dz1, mut dmu1) = (
        Matrix::zeros(z.rows(), z.cols()),
        Matrix::zeros(mu.rows(), mu.cols()),
    );
    dec_loss_backward(&mut dz1, &mut dmu1, p, q, z, mu, alpha);
    let b = z.rows() as f32;
    for (d, g) in dz.as_mut_slice().iter_mut().zip(dz1.as_slice()) {
        *d = b * g;
    }
    for (d, g) in dmu.as_mut_slice().iter_mut().zip(dmu1.as_slice()) {
        *d = b * g;
    }
}

/// IDEC's combination with gamma missing from the clustering branch: dL/dz = dL_c/dz +
/// dL_r/dz, dL/dmu = dL_c/dmu (the loss weights forgotten).
fn combine_without_gamma(dz: &mut [f32], _dmu: &mut [f32], dz_reconstruction: &[f32], _: f32) {
    for (g, &r) in dz.iter_mut().zip(dz_reconstruction) {
        *g += r;
    }
}

/// IDEC's combination that drops the reconstruction's gradient (DEC's step, scaled).
fn combine_without_reconstruction(dz: &mut [f32], dmu: &mut [f32], _: &[f32], gamma: f32) {
    for g in dz.iter_mut().chain(dmu.iter_mut()) {
        *g *= gamma;
    }
}

#[test]
fn checks_reject_realistic_wrong_backwards() {
    let wrong = [
        check_mse_with(mse_backward_without_two),
        check_kl_with(kl_backward_flipped),
        check_activation_with(
            sigmoid_backward_without_one_minus_y,
            Activation::Sigmoid,
            "sigmoid' = y",
        ),
        check_activation_with(
            relu_backward_open_gate,
            Activation::Relu,
            "relu gate y >= 0",
        ),
        check_soft_assignment_with(
            soft_assignment_backward_unnormalised,
            DecInput::Z,
            "soft assignment dz, no normalisation term",
        ),
        check_soft_assignment_with(
            soft_assignment_backward_unnormalised,
            DecInput::Mu,
            "soft assignment dmu, no normalisation term",
        ),
        check_dec_loss_with(
            dec_loss_backward_summed,
            DecInput::Z,
            "DEC loss dz, summed over the batch",
        ),
        check_dec_loss_with(
            dec_loss_backward_summed,
            DecInput::Mu,
            "DEC loss dmu, summed over the batch",
        ),
        check_idec_with(
            combine_without_gamma,
            IdecGroup::Encoder,
            "IDEC loss encoder, no gamma on KL",
        ),
        check_idec_with(
            combine_without_gamma,
            IdecGroup::Centres,
            "IDEC loss centres, no gamma on KL",
        ),
        check_idec_with(
            combine_without_reconstruction,
            IdecGroup::Encoder,
            "IDEC loss encoder, no reconstruction",
        ),
    ];
    for check in wrong {
        let err = check.error();
        println!("{:45} relative error {err:.2e}", check.name);
        assert!(
            err > BOUND,
            "{}: the wrong backward passed (error {err:e})",
            check.name
        );
    }
}

/// DEC's closed form is the chain rule through the generic pieces: KL's dL/dq followed by
/// the soft assignment's backward. Both paths must agree (to f32 rounding).
#[test]
fn dec_closed_form_equals_kl_then_soft_assignment() {
    let (z, mu, alpha) = dec_inputs();
    let mut q = Matrix::zeros(B, K);
    soft_assignment_forward(&mut q, &z, &mu, alpha);
    let p = target_distribution(&q.view().to_matrix());
    let (mut dz1, mut dmu1) = (Matrix::zeros(B, D), Matrix::zeros(K, D));
    dec_loss_backward(&mut dz1, &mut dmu1, &p, &q, &z, &mu, alpha);
    let mut dq = Matrix::zeros(B, K);
    kl_divergence_backward(&mut dq, &p, &q);
    let (mut dz2, mut dmu2) = (Matrix::zeros(B, D), Matrix::zeros(K, D));
    soft_assignment_backward(&mut dz2, &mut dmu2, &dq, &q, &z, &mu, alpha);
    assert!(rel_error(&to64(&dz1), &to64(&dz2)) < 1e-5);
    assert!(rel_error(&to64(&dmu1), &to64(&dmu2)) < 1e-5);
}

/// The end-to-end check once more, entirely in f32 on the crate's own forward (no f64
/// reference). h = 1e-3 balances f32 rounding in the loss (~1e-8 / h) against the
/// truncation error and the risk of stepping across a ReLU kink (at h = 1e-2 this net
/// already crosses one and the quotient is off by 15%). The bound is looser, 1e-2.
#[test]
fn autoencoder_gradient_matches_its_own_f32_forward() {
    let mut rng = StdRng::seed_from_u64(8);
    let mut ae = Autoencoder::new(
        &[8, 6, 3],
        Activation::Identity,
        Activation::Sigmoid,
        Init::GlorotUniform,
        &mut rng,
    )
    .unwrap();
    let x = random(4, 8, 0.0, 1.0, &mut rng);
    let mut ws = AeWorkspace::new(&ae);
    ae.forward_backward(&mut ws, x.view());
    let grads: Vec<Vec<f32>> = ae
        .named_grads()
        .iter()
        .map(|(_, m)| m.as_slice().to_vec())
        .collect();
    let params: Vec<(String, Matrix)> = ae
        .named_params()
        .iter()
        .map(|(n, m)| (n.clone(), (*m).clone()))
        .collect();
    let h = 1e-3f32;
    let (mut analytic, mut numeric) = (Vec::new(), Vec::new());
    for _ in 0..4 {
        let v: Vec<Vec<f32>> = grads
            .iter()
            .map(|g| g.iter().map(|_| rng.random_range(-1.0..1.0)).collect())
            .collect();
        let mut loss_at = |s: f32| {
            for ((name, m), v) in params.iter().zip(&v) {
                let shifted: Vec<f32> =
                    m.as_slice().iter().zip(v).map(|(p, v)| p + s * v).collect();
                ae.set_param(name, Matrix::from_vec(m.rows(), m.cols(), shifted))
                    .unwrap();
            }
            ae.forward_backward(&mut ws, x.view()) as f64
        };
        numeric.push((loss_at(h) - loss_at(-h)) / (2.0 * h as f64));
        analytic.push(
            grads
                .iter()
                .zip(&v)
                .flat_map(|(g, v)| g.iter().zip(v).map(|(g, v)| (g * v) as f64))
                .sum::<f64>(),
        );
    }
    let err = rel_error(&analytic, &numeric);
    println!("f32 end to end: relative error {err:.2e}");
    assert!(err < 1e-2, "relative error {err:e}");
}
