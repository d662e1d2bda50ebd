//! UMAP on real encoder codes (N2D's manifold step): fits on the article's 34,300 fit
//! codes, transforms the 14,700 validation codes, clusters the fit embedding with K-Means
//! and with N2D's Gaussian mixture and scores the validation points. Prints each phase's
//! wall and CPU seconds, and the layout's work: its edges and samples.
//!
//! The codes come from a run's encoder (fixtures/umap/dump_codes.py writes them):
//!
//!     python3 fixtures/umap/dump_codes.py ../shared/data/mnist RUN/ae.safetensors /tmp/codes
//!     cargo bench --bench umap -- /tmp/codes [N_NEIGHBORS]
//!
//! Compare with umap-learn on the same codes: `python3 ../shared/bench/n2d_reference.py`.

use std::process::ExitCode;
use std::time::Instant;

use deepcluster::cluster::{GaussianMixtureParams, KMeansParams};
use deepcluster::linalg::Matrix;
use deepcluster::manifold::layout::{self, Edges, Schedule, Tails};
use deepcluster::manifold::{UmapParams, curve, knn, spectral};
use deepcluster::metrics::score;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench umap: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A raw little-endian f32 file as a (rows, cols) matrix.
fn read_f32(path: &str, cols: usize) -> deepcluster::Result<Matrix> {
    let bytes = std::fs::read(path).map_err(|e| deepcluster::Error::io(path, e))?;
    let v: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Matrix::from_vec(v.len() / cols, cols, v))
}

/// This process's CPU seconds so far (user + system) from /proc, 0 where there is none:
/// on a shared machine wall time says little.
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

/// Runs `f`, printing its wall and CPU seconds.
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let (t, c) = (Instant::now(), cpu());
    let out = f();
    println!(
        "{what:<24} {:6.2} s wall, {:6.2} s cpu",
        t.elapsed().as_secs_f64(),
        cpu() - c
    );
    out
}

fn run() -> deepcluster::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let dir = args.first().map(String::as_str).unwrap_or("/tmp/codes");
    let n_neighbors: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let fit = read_f32(&format!("{dir}/fit.f32"), 10)?;
    let val = read_f32(&format!("{dir}/val.f32"), 10)?;
    let labels_path = format!("{dir}/val_labels.u8");
    let labels: Vec<usize> = std::fs::read(&labels_path)
        .map_err(|e| deepcluster::Error::io(&labels_path, e))?
        .iter()
        .map(|&b| b as usize)
        .collect();
    eprintln!(
        "umap bench: fit {:?}, validation {:?}, {n_neighbors} neighbours, {} rayon threads",
        fit.shape(),
        val.shape(),
        rayon::current_num_threads()
    );
    let params = UmapParams {
        n_neighbors,
        ..UmapParams::default()
    };
    // The phases on their own (fit repeats them).
    timed("kNN", || knn::knn_self(fit.view(), n_neighbors));
    let graph = timed("kNN + fuzzy graph", || params.fuzzy_graph(fit.view()));
    let graph = graph.drop_below(graph.max_value() / params.fit_epochs(fit.rows()) as f32);
    let n = fit.rows();
    let (coords, _) = timed("spectral init", || spectral::spectral_layout(&graph, 10, 0));
    // The layout alone, as fit runs it, and how much sampling it does.
    let mut y = spectral::scale_initial(&coords, n, 10, 0);
    let edges = Edges::from_weights((0..n).flat_map(|i| graph.row(i).map(move |(j, w)| (i, j, w))));
    let (a, b) = curve::find_ab_params(0.0, 1.0);
    let schedule = Schedule {
        n_epochs: params.fit_epochs(n),
        a: a as f32,
        b: b as f32,
        repulsion_strength: 1.0,
        initial_alpha: 1.0,
        negative_sample_rate: 5,
        seed: 0,
    };
    let samples: f64 = edges
        .epochs_per_sample
        .iter()
        .map(|&e| (schedule.n_epochs as f64 / e).floor())
        .sum();
    eprintln!(
        "layout: {} edges, about {samples:.3e} edge samples and {:.3e} negative samples",
        edges.len(),
        samples * 5.0
    );
    timed("layout", || {
        layout::optimize_layout(&mut y, Tails::Same, 10, &edges, &schedule)
    });
    let model = timed("fit (all phases)", || params.fit(fit.view()))?;
    let embedded = timed("transform", || model.transform(val.view()))?;
    let km = timed("K-Means on the embedding", || {
        KMeansParams::default().fit(model.embedding().view())
    })?;
    let gmm = timed("GMM on the embedding", || {
        GaussianMixtureParams::default().fit(model.embedding().view())
    })?;
    println!("init {:?}", model.init_kind());
    for (what, predicted) in [
        ("K-Means", km.predict(embedded.view())),
        ("GMM", gmm.predict(embedded.view())),
    ] {
        let s = score(&labels, &predicted)?;
        println!(
            "{what:<8} validation NMI {:.4}, ACC {:.4}, ARI {:.4}",
            s.nmi, s.acc, s.ari
        );
    }
    Ok(())
}
