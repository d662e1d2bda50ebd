//! Seconds per epoch of the 784-500-500-2000-10 autoencoder (mirrored decoder, ReLU inside,
//! linear code and output, MSE, Adam, batch 256) over the article's 34,300 fit images,
//! with the same model in PyTorch on the CPU run alongside for comparison.
//!
//!     cargo bench --bench train
//!
//! Environment: TRAIN_BENCH_EPOCHS (default 3), TRAIN_BENCH_IMAGES (default all 34,300 fit
//! images; fewer for a quick look), MNIST_DIR (default data/mnist), RAYON_NUM_THREADS.
//! PyTorch runs only on the full 34,300 images, when `python3` can import torch and
//! `../shared/bench/ae_epoch_pytorch.py` is found.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;

use deepcluster::data::{Protocol, load_labelled};
use deepcluster::linalg::Matrix;
use deepcluster::nn::{Activation, Adam, Autoencoder, FitConfig, Init};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DIMS: [usize; 5] = [784, 500, 500, 2000, 10];
const BATCH: usize = 256;
const FIT_IMAGES: usize = 34_300;

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number")),
        Err(_) => default,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The fit images (N, 784) from MNIST_DIR, or random pixels of the same shape when the
/// folder is absent (timing depends only on the shape, not on the pixels).
fn fit_images(count: usize) -> Matrix {
    let dir = PathBuf::from(std::env::var("MNIST_DIR").unwrap_or_else(|_| "data/mnist".into()));
    if dir.exists() {
        let fit = load_labelled(&dir, Protocol::Split)
            .unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()))
            .fit
            .images;
        let count = count.min(fit.rows());
        let indices: Vec<usize> = (0..count).collect();
        return fit.select_rows(&indices);
    }
    eprintln!(
        "{} not found: timing on random pixels of the same shape",
        dir.display()
    );
    let mut rng = StdRng::seed_from_u64(0);
    Matrix::from_fn(count, DIMS[0], |_, _| rng.random_range(0.0..1.0))
}

/// The median epoch of PyTorch's run of the same model, if it can be run here.
fn pytorch_epoch(epochs: usize) -> Option<f64> {
    let script = [
        "../shared/bench/ae_epoch_pytorch.py",
        "../../shared/bench/ae_epoch_pytorch.py",
    ]
    .iter()
    .map(Path::new)
    .find(|p| p.exists())?;
    let out = Command::new("python3")
        .arg(script)
        .arg(epochs.to_string())
        .arg(BATCH.to_string())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    eprint!("{text}");
    if !out.status.success() {
        eprintln!(
            "pytorch: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    // "epoch 1: 6.52 s, loss 0.04321"
    let times: Vec<f64> = text
        .lines()
        .filter_map(|l| {
            l.strip_prefix("epoch ")?
                .split(": ")
                .nth(1)?
                .split(" s")
                .next()?
                .parse()
                .ok()
        })
        .collect();
    (!times.is_empty()).then(|| median(times))
}

fn main() {
    let epochs = env_usize("TRAIN_BENCH_EPOCHS", 3);
    let x = fit_images(env_usize("TRAIN_BENCH_IMAGES", FIT_IMAGES));
    let threads = rayon::current_num_threads();
    let mut rng = StdRng::seed_from_u64(128);
    let mut ae = Autoencoder::new(
        &DIMS,
        Activation::Identity,
        Activation::Identity,
        Init::GlorotUniform,
        &mut rng,
    )
    .expect("the benchmark's dims are valid");
    let mut adam = Adam::default();
    let mut seconds = Vec::new();
    // Inside the pool, as the command runs it (`cli::run::in_pool`): from a thread outside
    // the pool, every parallel call would be handed over to the pool and waited for.
    let pool = rayon::ThreadPoolBuilder::new()
        .build()
        .expect("a thread pool");
    pool.install(|| {
        ae.fit(&x, &FitConfig::new(epochs, BATCH, 0), &mut adam, &mut |r| {
            eprintln!("epoch {}: {:.2} s, loss {:.5}", r.epoch, r.seconds, r.loss);
            seconds.push(r.seconds);
            ControlFlow::Continue(())
        })
    })
    .expect("training diverged");
    let ours = median(seconds);
    println!(
        "autoencoder epoch: {ours:.2} s ({} images, batch {BATCH}, threads={threads})",
        x.rows()
    );
    if x.rows() == FIT_IMAGES {
        match pytorch_epoch(epochs) {
            Some(theirs) => println!(
                "pytorch epoch: {theirs:.2} s (same model, CPU); ratio ours/pytorch = {:.2}",
                ours / theirs
            ),
            None => println!(
                "pytorch epoch: not measured (python3 with torch, or the script, not found)"
            ),
        }
    }
}
