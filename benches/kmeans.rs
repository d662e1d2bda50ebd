//! K-Means (k = 10, n_init = 20 by default) on the article's split of MNIST pixels: fits on
//! the first 34,300 images, scores the next 14,700. Compare in the same session with
//! scikit-learn: `python3 ../shared/bench/kmeans_sklearn.py` (about 40 s here).
//!
//! `cargo bench --bench kmeans [-- N_INIT]`; the data folder is `data/mnist`, or `$MNIST_DIR`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use deepcluster::cluster::KMeansParams;
use deepcluster::data::{Protocol, load_labelled};
use deepcluster::metrics::score;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench kmeans: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> deepcluster::Result<()> {
    let n_init = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(20);
    let dir = std::env::var_os("MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data/mnist"));
    let data = load_labelled(&dir, Protocol::Split)?;
    let (fit, val) = (&data.fit, &data.validation);
    eprintln!(
        "kmeans bench: fit {:?}, validation {:?}, n_init {n_init}, {} rayon threads",
        fit.images.shape(),
        val.images.shape(),
        rayon::current_num_threads()
    );
    let params = KMeansParams {
        k: 10,
        n_init,
        seed: 128,
        ..KMeansParams::default()
    };
    let start = Instant::now();
    let km = params.fit(fit.images.view())?;
    let seconds = start.elapsed().as_secs_f64();
    println!("kmeans fit: {seconds:.2} s, inertia {:.1}", km.inertia);
    let truth: Vec<usize> = val
        .labels
        .as_ref()
        .expect("the validation split is labelled")
        .iter()
        .map(|&l| l as usize)
        .collect();
    let s = score(&truth, &km.predict(val.images.view()))?;
    println!(
        "validation nmi={:.6} acc={:.6} ari={:.6} (kept run: {} iterations)",
        s.nmi, s.acc, s.ari, km.n_iter
    );
    Ok(())
}
