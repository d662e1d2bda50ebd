//! `cargo bench --bench n2d -- RUN/ae.safetensors [DATA_DIR]`: N2D's step (issue 15) on a
//! run's own encoder codes, against umap-learn + scikit-learn on the very same codes, paired.
//!
//! The step is what `--method n2d` does after pretraining: UMAP fitted on the 34,300 fit
//! codes of the article's split, the 14,700 validation codes placed by UMAP's transform,
//! the full-covariance Gaussian mixture fitted on the embedding and asked for the
//! validation labels. The codes are this crate's (the encoder of `RUN/ae.safetensors` run
//! on `DATA_DIR`, default `data/mnist`), so both sides see the same bits; they are written
//! to `$TMPDIR/deepcluster-bench-n2d/` as raw f32 for the reference,
//! `benches/n2d_umap_learn.py` (umap-learn's second call, after numba has compiled).
//!
//! Each round runs ours, then theirs; the ratio of each pair and their median are printed,
//! with the step's peak memory above what the process held before it (Linux: VmHWM after
//! clearing it through /proc/self/clear_refs).
//!
//! Environment:
//! - `N2D_BENCH_ROUNDS` (default 2): pairs;
//! - `N2D_BENCH_NEIGHBORS` (default 10), `N2D_BENCH_SEED` (default 1): UMAP's neighbours
//!   and the seed, as `--neighbors` and `--seed`;
//! - `N2D_BENCH_PHASES=1`: first times kNN, the fuzzy graph, the spectral initialisation
//!   and the layout alone (one thread count: the pool's);
//! - `N2D_BENCH_STUDY=1`: no timing and no reference; the validation scores of the
//!   clusterers one could put on the embedding (the mixture with 1, 4 and 10 restarts,
//!   K-Means with 20), for choosing the defaults over seeds;
//! - `N2D_BENCH_PYTHON` (default `python3`): the interpreter with umap-learn.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use deepcluster::cluster::{GaussianMixtureParams, KMeansParams};
use deepcluster::data::{self, Protocol};
use deepcluster::experiment::methods::n2d::MIXTURE_RESTARTS;
use deepcluster::io::weights;
use deepcluster::linalg::Matrix;
use deepcluster::manifold::{UmapParams, knn, spectral};
use deepcluster::metrics::{Scores, score};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench n2d: {e}");
            ExitCode::FAILURE
        }
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// This process's CPU seconds so far (user + system), 0 where /proc has none.
fn cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<&str> = s
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// A `/proc/self/status` line's value in bytes (`VmRSS`, `VmHWM`), where there is one.
fn status_bytes(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// Runs `f`, printing its wall and CPU seconds; returns its value and wall seconds.
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> (T, f64) {
    let (t, c) = (Instant::now(), cpu());
    let out = f();
    let wall = t.elapsed().as_secs_f64();
    println!("{what:<28} {wall:6.2} s wall, {:6.2} s cpu", cpu() - c);
    (out, wall)
}

fn print_scores(what: &str, s: &Scores) {
    println!(
        "{what:<28} validation NMI {:.4}  ACC {:.4}  ARI {:.4}",
        s.nmi, s.acc, s.ari
    );
}

/// Writes `m` as raw little-endian f32, row-major.
fn write_f32(path: &Path, m: &Matrix) -> deepcluster::Result<()> {
    let bytes: Vec<u8> = m.as_slice().iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).map_err(|e| deepcluster::Error::io(path, e))
}

fn run() -> deepcluster::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let Some(weights_path) = args.first() else {
        return Err(deepcluster::Error::Invalid {
            what: "arguments".into(),
            problem: "usage: cargo bench --bench n2d -- RUN/ae.safetensors [DATA_DIR]".into(),
        });
    };
    let data_dir = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("data/mnist"));
    let rounds = env_usize("N2D_BENCH_ROUNDS", 2).max(1);
    let n_neighbors = env_usize("N2D_BENCH_NEIGHBORS", 10);
    let seed = env_usize("N2D_BENCH_SEED", 1) as u64;
    let study = std::env::var_os("N2D_BENCH_STUDY").is_some();

    // The codes, as `--method n2d --ae-weights` computes them.
    let labelled = data::load_labelled(&data_dir, Protocol::Split)?;
    let ae = weights::load_autoencoder(weights_path)?;
    let fit = ae.encoder.predict(&labelled.fit.images); // (N_fit, D)
    let val = ae.encoder.predict(&labelled.validation.images); // (N_val, D)
    let labels: Vec<usize> = labelled
        .validation
        .labels
        .as_ref()
        .expect("the article's split is labelled")
        .iter()
        .map(|&l| l as usize)
        .collect();
    let k = 10;
    println!(
        "n2d bench: codes fit {:?}, validation {:?} of {weights_path}; {n_neighbors} neighbours, \
         seed {seed}, {} rayon threads",
        fit.shape(),
        val.shape(),
        rayon::current_num_threads()
    );
    let params = UmapParams {
        n_neighbors,
        n_components: k,
        seed,
        ..UmapParams::default()
    };
    // The mixture as `--method n2d` fits it: the same restarts.
    let mixture = GaussianMixtureParams {
        k,
        n_init: MIXTURE_RESTARTS,
        seed,
        ..GaussianMixtureParams::default()
    };

    if study {
        let umap = params.fit(fit.view())?;
        let placed = umap.transform(val.view())?;
        for n_init in [1, 4, 10] {
            let gmm = GaussianMixtureParams {
                n_init,
                ..mixture.clone()
            }
            .fit(umap.embedding().view())?;
            let s = score(&labels, &gmm.predict(placed.view()))?;
            print_scores(&format!("gmm n_init {n_init}"), &s);
        }
        let km = KMeansParams {
            k,
            seed,
            ..KMeansParams::default()
        }
        .fit(umap.embedding().view())?;
        print_scores(
            "kmeans n_init 20",
            &score(&labels, &km.predict(placed.view()))?,
        );
        return Ok(());
    }

    if std::env::var_os("N2D_BENCH_PHASES").is_some() {
        timed("kNN", || knn::knn_self(fit.view(), n_neighbors));
        let (graph, _) = timed("kNN + fuzzy graph", || params.fuzzy_graph(fit.view()));
        let graph = graph.drop_below(graph.max_value() / params.fit_epochs(fit.rows()) as f32);
        timed("spectral init", || {
            spectral::spectral_layout(&graph, k, seed)
        });
    }

    // The reference reads the same codes.
    let codes_dir = std::env::temp_dir().join("deepcluster-bench-n2d");
    std::fs::create_dir_all(&codes_dir).map_err(|e| deepcluster::Error::io(&codes_dir, e))?;
    write_f32(&codes_dir.join("fit.f32"), &fit)?;
    write_f32(&codes_dir.join("val.f32"), &val)?;
    let label_bytes: Vec<u8> = labels.iter().map(|&l| l as u8).collect();
    let labels_path = codes_dir.join("val_labels.u8");
    std::fs::write(&labels_path, label_bytes)
        .map_err(|e| deepcluster::Error::io(&labels_path, e))?;
    let python = std::env::var("N2D_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = root.join("benches/n2d_umap_learn.py");

    let mut ratios = Vec::new();
    for round in 1..=rounds {
        println!("-- round {round} of {rounds}");
        // Clearing the peak makes VmHWM the step's own high-water mark.
        let cleared = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let before = status_bytes("VmRSS:");
        let t = Instant::now();
        let (umap, _) = timed("ours: UMAP fit", || params.fit(fit.view()));
        let umap = umap?;
        let (placed, _) = timed("ours: transform", || umap.transform(val.view()));
        let placed = placed?;
        let (gmm, _) = timed("ours: Gaussian mixture", || {
            mixture.fit(umap.embedding().view())
        });
        let gmm = gmm?;
        let ours = t.elapsed().as_secs_f64();
        let predicted = gmm.predict(placed.view());
        println!("ours: step                   {ours:6.2} s wall");
        if let (true, Some(b), Some(peak)) = (cleared, before, status_bytes("VmHWM:")) {
            println!(
                "ours: peak memory above the codes {:.0} MB",
                peak.saturating_sub(b) as f64 / 1e6
            );
        }
        print_scores("ours: UMAP + mixture", &score(&labels, &predicted)?);

        let output = Command::new(&python)
            .arg(&script)
            .arg(&codes_dir)
            .arg(n_neighbors.to_string())
            .arg(MIXTURE_RESTARTS.to_string())
            .output();
        let theirs = match output {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stdout).to_string();
                print!("{text}");
                text.lines()
                    .find_map(|l| l.strip_prefix("theirs: step "))
                    .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok())
            }
            Ok(o) => {
                println!(
                    "reference skipped: {} failed: {}",
                    script.display(),
                    String::from_utf8_lossy(&o.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                );
                None
            }
            Err(e) => {
                println!("reference skipped: {python}: {e}");
                None
            }
        };
        if let Some(theirs) = theirs {
            println!("ratio ours / theirs          {:.2}", ours / theirs);
            ratios.push(ours / theirs);
        }
    }
    if !ratios.is_empty() {
        println!(
            "median ratio ours / umap-learn + scikit-learn over {} pairs: {:.2}",
            ratios.len(),
            median(ratios)
        );
    }
    Ok(())
}
