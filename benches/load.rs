//! `cargo bench --bench load`: loads all 70,000 PNGs of `data/mnist` (train.csv's 49,000
//! split 70/30, and test.csv's 21,000) and prints the median time of several warm runs and
//! the process's peak resident memory against the size of the f32 pixels.
//!
//! Also times gunzip of MNIST's largest IDX file when `../shared/data/mnist` (or
//! `$MNIST_IDX_DIR`) holds it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use deepcluster::data::{self, Protocol, inflate};

const RUNS: usize = 5;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Peak resident set size of this process in bytes (VmHWM), where /proc exists.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time (user + system, all threads) this process has used, in seconds: on a shared
/// machine a steadier figure than wall time. Fields 14 and 15 of /proc/self/stat, in ticks
/// of 1/100 s (the USER_HZ Linux reports in).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after it follow its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn load_all(dir: &Path) -> usize {
    let labelled = data::load_labelled(dir, Protocol::Split).expect("load train.csv");
    let unlabelled = data::load_unlabelled(dir).expect("load test.csv");
    labelled.fit.len() + labelled.validation.len() + unlabelled.len()
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("LOAD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("data/mnist"));
    if !dir.join("train.csv").is_file() {
        eprintln!(
            "bench load: {} not found; build it with make-dataset",
            dir.display()
        );
        return;
    }
    let rss_before = peak_rss();
    let mut count = load_all(&dir); // warm the page cache
    let mut times = Vec::new();
    let cpu_start = cpu_seconds();
    for _ in 0..RUNS {
        let start = Instant::now();
        count = load_all(&dir);
        times.push(start.elapsed().as_secs_f64());
    }
    let cpu = cpu_start
        .zip(cpu_seconds())
        .map(|(a, b)| (b - a) / RUNS as f64);
    println!(
        "load data/mnist: {count} images in {:.3} s (median of {RUNS}; runs {})",
        median(times.clone()),
        times
            .iter()
            .map(|t| format!("{t:.3}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    if let Some(cpu) = cpu {
        println!(
            "cpu time per load: {cpu:.3} s (user + system, all {} threads)",
            rayon::current_num_threads()
        );
    }
    let pixels = (count * 784 * 4) as f64;
    match (rss_before, peak_rss()) {
        (Some(before), Some(peak)) => println!(
            "peak memory: {:.1} MB (VmHWM; {:.1} MB before loading) = {:.2}x the f32 pixels \
             ({count} x 784 x 4 = {:.1} MB)",
            peak as f64 / 1e6,
            before as f64 / 1e6,
            peak as f64 / pixels,
            pixels / 1e6
        ),
        _ => println!("peak memory: /proc/self/status not available"),
    }

    let idx_dir = std::env::var_os("MNIST_IDX_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/data/mnist"));
    let gz = idx_dir.join("train-images-idx3-ubyte.gz");
    if let Ok(bytes) = std::fs::read(&gz) {
        let mut times = Vec::new();
        let mut len = 0;
        for _ in 0..RUNS {
            let start = Instant::now();
            len = inflate::gunzip(&bytes, 1 << 30).expect("gunzip").len();
            times.push(start.elapsed().as_secs_f64());
        }
        println!(
            "gunzip train-images-idx3-ubyte.gz: {:.1} MB -> {:.1} MB in {:.3} s (median of {RUNS})",
            bytes.len() as f64 / 1e6,
            len as f64 / 1e6,
            median(times)
        );
    }
}
