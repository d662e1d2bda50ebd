//! UMAP on real encoder codes (N2D's manifold step): fits on the article's 34,300 fit
//! codes, transforms the 14,700 validation codes, clusters the fit embedding with K-Means
//! and scores the validation points. Prints each phase's wall and CPU seconds.
//!
//! The codes come from a run's encoder (fixtures/umap/dump_codes.py writes them):
//!
//!     python3 fixtures/umap/dump_codes.py ../shared/data/mnist RUN/ae.safetensors /tmp/codes
//!     cargo bench --bench umap -- /tmp/codes [N_NEIGHBORS]
//!
//! Compare with umap-learn on the same codes: `python3 ../shared/bench/n2d_reference.py`.

use std::process::ExitCode;
use std::time::Instant;

use deepcluster::cluster::KMeansParams;
use deepcluster::linalg::Matrix;
use deepcluster::manifold::{UmapParams, knn, spectral};
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
    timed("spectral init", || spectral::spectral_layout(&graph, 10, 0));
    let model = timed("fit (all phases)", || params.fit(fit.view()))?;
    let embedded = timed("transform", || model.transform(val.view()))?;
    let km = timed("K-Means on the embedding", || {
        KMeansParams::default().fit(model.embedding().view())
    })?;
    let s = score(&labels, &km.predict(embedded.view()))?;
    println!(
        "init {:?}; validation NMI {:.4}, ACC {:.4}, ARI {:.4}",
        model.init_kind(),
        s.nmi,
        s.acc,
        s.ari
    );
    Ok(())
}
