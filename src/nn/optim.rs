//! Optimisers: SGD with (Nesterov) momentum and Adam, with Keras's update rules.
//!
//! An optimiser sees only a list of parameter tensors, each a value slice beside its
//! gradient slice, so one optimiser can train an encoder's weights and DEC's cluster
//! centres together. Its state (velocities, moments) is allocated on the first step and
//! matched to the tensors by position: pass them in the same order every step (a model's
//! `Parameters::params_mut`, whose order checkpoints save the state in).
//!
//! Every update is elementwise, so splitting a large tensor into chunks for rayon cannot
//! change a single bit of the result, whatever the number of threads.

use rayon::prelude::*;

/// One parameter tensor and its gradient (same length).
#[derive(Debug)]
pub struct Param<'a> {
    pub value: &'a mut [f32],
    pub grad: &'a [f32],
}

/// Updates parameters from their gradients.
pub trait Optimizer {
    /// One update of every tensor in `params`, which must come in the same order, with
    /// the same lengths, at every step.
    fn step(&mut self, params: &mut [Param<'_>]);
}

/// Elements per rayon task: large enough that the task overhead is small next to the
/// work, small enough that both cores get a share of a 500 x 500 weight.
const CHUNK: usize = 1 << 15;

/// Allocates zeroed state on the first step and checks it still fits afterwards.
fn ensure_state(state: &mut Vec<Vec<f32>>, params: &[Param<'_>], who: &str) {
    if state.is_empty() {
        *state = params.iter().map(|p| vec![0.0; p.value.len()]).collect();
    }
    assert!(
        state.len() == params.len()
            && state
                .iter()
                .zip(params)
                .all(|(s, p)| { s.len() == p.value.len() && p.grad.len() == p.value.len() }),
        "{who}: the parameter list changed between steps"
    );
}

/// Whether SGD's momentum looks ahead (Nesterov) or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesterov {
    No,
    Yes,
}

/// Stochastic gradient descent with momentum, as Keras's `SGD(lr, momentum, nesterov)`:
///   v = momentum v - lr g
///   w = w + v                         (classical momentum)
///   w = w + momentum v - lr g         (Nesterov)
/// With momentum 0 this is plain w -= lr g.
#[derive(Clone, Debug)]
pub struct Sgd {
    pub lr: f32,
    pub momentum: f32,
    pub nesterov: Nesterov,
    /// v, one per parameter tensor.
    velocity: Vec<Vec<f32>>,
}

impl Sgd {
    pub fn new(lr: f32, momentum: f32, nesterov: Nesterov) -> Self {
        Sgd {
            lr,
            momentum,
            nesterov,
            velocity: Vec::new(),
        }
    }

    /// The velocities, one per tensor (empty before the first step), for checkpoints.
    pub fn velocity(&self) -> &[Vec<f32>] {
        &self.velocity
    }

    /// Restores velocities saved by a checkpoint.
    pub fn set_velocity(&mut self, velocity: Vec<Vec<f32>>) {
        self.velocity = velocity;
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &mut [Param<'_>]) {
        ensure_state(&mut self.velocity, params, "Sgd::step");
        let (lr, momentum, nesterov) = (self.lr, self.momentum, self.nesterov);
        for (p, v) in params.iter_mut().zip(&mut self.velocity) {
            p.value
                .par_chunks_mut(CHUNK)
                .zip(p.grad.par_chunks(CHUNK))
                .zip(v.par_chunks_mut(CHUNK))
                .for_each(|((w, g), v)| {
                    for ((w, &g), v) in w.iter_mut().zip(g).zip(v.iter_mut()) {
                        *v = momentum * *v - lr * g;
                        *w += match nesterov {
                            Nesterov::No => *v,
                            Nesterov::Yes => momentum * *v - lr * g,
                        };
                    }
                });
        }
    }
}

/// Adam (Kingma and Ba 2015) as Keras implements it, with Keras's defaults:
///   m = beta1 m + (1 - beta1) g
///   v = beta2 v + (1 - beta2) g^2
///   w = w - lr_t m / (sqrt(v) + epsilon),  lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)
/// This is the paper's bias-corrected update; PyTorch adds epsilon to sqrt(v / (1 - beta2^t))
/// instead, which differs only while sqrt(v) is comparable to epsilon.
#[derive(Clone, Debug)]
pub struct Adam {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub epsilon: f32,
    /// Steps taken so far (t before the update).
    iterations: u64,
    /// First moments m, one per tensor.
    m: Vec<Vec<f32>>,
    /// Second moments v, one per tensor.
    v: Vec<Vec<f32>>,
}

impl Default for Adam {
    /// lr 0.001, beta1 0.9, beta2 0.999, epsilon 1e-7 (Keras).
    fn default() -> Self {
        Adam::new(0.001)
    }
}

impl Adam {
    /// Adam with learning rate `lr` and Keras's other defaults.
    pub fn new(lr: f32) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            iterations: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// Steps taken so far.
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// (t, m, v), for checkpoints.
    pub fn state(&self) -> (u64, &[Vec<f32>], &[Vec<f32>]) {
        (self.iterations, &self.m, &self.v)
    }

    /// Restores (t, m, v) saved by a checkpoint.
    pub fn set_state(&mut self, iterations: u64, m: Vec<Vec<f32>>, v: Vec<Vec<f32>>) {
        assert_eq!(
            m.len(),
            v.len(),
            "Adam::set_state: m and v differ in length"
        );
        self.iterations = iterations;
        self.m = m;
        self.v = v;
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &mut [Param<'_>]) {
        ensure_state(&mut self.m, params, "Adam::step");
        ensure_state(&mut self.v, params, "Adam::step");
        self.iterations += 1;
        let t = self.iterations as f64;
        let (beta1, beta2, eps) = (self.beta1, self.beta2, self.epsilon);
        // The bias corrections of m and v folded into one step size, computed in f64.
        let lr_t = (self.lr as f64 * (1.0 - (beta2 as f64).powf(t)).sqrt()
            / (1.0 - (beta1 as f64).powf(t))) as f32;
        for ((p, m), v) in params.iter_mut().zip(&mut self.m).zip(&mut self.v) {
            p.value
                .par_chunks_mut(CHUNK)
                .zip(p.grad.par_chunks(CHUNK))
                .zip(m.par_chunks_mut(CHUNK))
                .zip(v.par_chunks_mut(CHUNK))
                .for_each(|(((w, g), m), v)| {
                    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut())
                    {
                        *m += (g - *m) * (1.0 - beta1);
                        *v += (g * g - *v) * (1.0 - beta2);
                        *w -= lr_t * *m / (v.sqrt() + eps);
                    }
                });
        }
    }
}
