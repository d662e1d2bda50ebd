//! What DEC-DA's augmentation costs: seconds to augment one epoch's batches (the article's
//! 34,300 fit images in batches of 256, shuffled, each image freshly shifted and rotated
//! into the batch buffer), against one plain training epoch of the 784-500-500-2000-10
//! autoencoder (Adam, batch 256, as `benches/train.rs` runs it). Issue 16's target: the
//! augmentation at most 10 % of the epoch.
//!
//!     cargo bench --bench augment
//!
//! Environment: AUGMENT_BENCH_PASSES (augmented epochs timed, default 5),
//! AUGMENT_BENCH_EPOCHS (training epochs timed, default 2; 0 skips training),
//! MNIST_DIR (default data/mnist), RAYON_NUM_THREADS.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use deepcluster::data::augment::{AugmentParams, Augmenter, ImageShape};
use deepcluster::data::{Protocol, load_labelled};
use deepcluster::linalg::Matrix;
use deepcluster::nn::{Activation, Adam, Autoencoder, FitConfig, Init};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const DIMS: [usize; 5] = [784, 500, 500, 2000, 10];
const BATCH: usize = 256;
const FIT_IMAGES: usize = 34_300;
/// The budget: augmentation at most this fraction of a plain epoch.
const BUDGET: f64 = 0.10;

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

/// The first 34,300 fit images (N, 784) from MNIST_DIR, or random pixels of the same shape
/// when the folder is absent (as `benches/train.rs`: timing depends on the shape only).
fn fit_images() -> Matrix {
    let dir = PathBuf::from(std::env::var("MNIST_DIR").unwrap_or_else(|_| "data/mnist".into()));
    if dir.exists() {
        let fit = load_labelled(&dir, Protocol::Split)
            .unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()))
            .fit
            .images;
        let indices: Vec<usize> = (0..FIT_IMAGES.min(fit.rows())).collect();
        return fit.select_rows(&indices);
    }
    eprintln!(
        "{} not found: timing on random pixels of the same shape",
        dir.display()
    );
    let mut rng = StdRng::seed_from_u64(0);
    Matrix::from_fn(FIT_IMAGES, DIMS[0], |_, _| rng.random_range(0.0..1.0))
}

/// Seconds for one epoch of batches: a shuffled order cut into batches of 256, each batch
/// either augmented or (`augmenter` None) plainly gathered into the same buffer.
fn epoch_of_batches(x: &Matrix, augmenter: Option<&Augmenter>, pass: u64) -> f64 {
    let mut order: Vec<usize> = (0..x.rows()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(pass));
    let mut full = Matrix::zeros(BATCH, x.cols()); // (B, 784)
    let mut last = Matrix::zeros(x.rows() % BATCH, x.cols()); // the shorter last batch
    let start = Instant::now();
    for (step, rows) in order.chunks(BATCH).enumerate() {
        let batch = if rows.len() == BATCH {
            &mut full
        } else {
            &mut last
        };
        match augmenter {
            Some(aug) => {
                let step = pass * 1_000 + step as u64;
                aug.augment_batch(x.view(), rows, step, batch.view_mut());
            }
            None => x.select_rows_into(rows, batch),
        }
        std::hint::black_box(&batch);
    }
    start.elapsed().as_secs_f64()
}

fn main() {
    let passes = env_usize("AUGMENT_BENCH_PASSES", 5).max(1);
    let epochs = env_usize("AUGMENT_BENCH_EPOCHS", 2);
    let x = fit_images();
    let threads = rayon::current_num_threads();
    let augmenter = Augmenter::new(AugmentParams::default(), ImageShape::grey(28, 28), 1)
        .expect("DEC-DA's parameters are valid");
    // Inside the pool, as the command runs (see benches/train.rs).
    let pool = rayon::ThreadPoolBuilder::new()
        .build()
        .expect("a thread pool");
    pool.install(|| {
        let gather = median(
            (0..passes as u64)
                .map(|p| epoch_of_batches(&x, None, p))
                .collect(),
        );
        let augment = median(
            (0..passes as u64)
                .map(|p| epoch_of_batches(&x, Some(&augmenter), p))
                .collect(),
        );
        println!(
            "augmenting one epoch: {augment:.3} s ({} images, batch {BATCH}, median of \
             {passes}, threads={threads}); plain gather of the same batches: {gather:.3} s",
            x.rows()
        );
        if epochs == 0 {
            return;
        }
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
        ae.fit(&x, &FitConfig::new(epochs, BATCH, 0), &mut adam, &mut |r| {
            eprintln!("epoch {}: {:.2} s, loss {:.5}", r.epoch, r.seconds, r.loss);
            seconds.push(r.seconds);
            ControlFlow::Continue(())
        })
        .expect("training diverged");
        let epoch = median(seconds);
        let ratio = augment / epoch;
        println!(
            "autoencoder epoch: {epoch:.2} s (median of {epochs}); augmentation = {:.1} % of \
             an epoch ({}: budget {:.0} %)",
            100.0 * ratio,
            if ratio <= BUDGET { "within" } else { "OVER" },
            100.0 * BUDGET
        );
    });
}
