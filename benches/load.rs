//! `cargo bench --bench load`: loads all 70,000 PNGs of `data/mnist` (train.csv's 49,000
//! split 70/30, and test.csv's 21,000) and prints the median time of several warm runs and
//! the process's peak resident memory against the size of the f32 pixels.
//!
//! Also times gunzip of MNIST's largest IDX file when `../shared/data/mnist` (or
//! `$MNIST_IDX_DIR`) holds it.
//!
//! And the folder layout (issue 17): 10,000 PNGs of mixed sizes (28x28 to 200x150, grey
//! and RGB), generated once into `$TMPDIR/deepcluster-bench-folder-10000` (or
//! `$FOLDER_BENCH_DIR`) and kept for the next run, loaded resized to 28x28 grey; images
//! per second on all threads and on one, against PIL (open + convert + resize + centre
//! crop, one process: `benches/load_pil.py`) in the same run when `python3` with Pillow
//! and numpy is there. `FOLDER_BENCH_ONLY=1` skips the MNIST cases.
//!
//! And JPEG photos (issue 18): 1,000 photos of 1600x1200 (1.92 MP), generated once with
//! Pillow by `benches/jpeg_pil.py` into `$TMPDIR/deepcluster-bench-jpeg-1000` (or
//! `$JPEG_BENCH_DIR`; `JPEG_BENCH_COUNT` for another count), loaded as a folder brought to
//! 32x32 grey (decoded at 1/8 scale in the DCT domain, then the area filter) on one thread
//! and on all, and decoded at full scale in RGB on one thread (megapixels per second);
//! against Pillow's `open` + `draft` + `convert` + `resize` and its full `load()` in the
//! same run. `JPEG_BENCH_ONLY=1` runs this case alone.

use std::path::{Path, PathBuf};
use std::time::Instant;

use deepcluster::data::{self, Colour, FolderOptions, Protocol, jpeg};
use deepcluster::format::inflate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

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
    if std::env::var_os("JPEG_BENCH_ONLY").is_some() {
        jpeg_case(&root);
        return;
    }
    if std::env::var_os("FOLDER_BENCH_ONLY").is_none() {
        mnist_cases(&root);
    }
    folder_case(&root);
    jpeg_case(&root);
}

/// The JPEG case: see the file's comment. Skipped (with a line saying why) when Python
/// with Pillow and numpy is not there to make the photos.
fn jpeg_case(root: &Path) {
    let count: usize = std::env::var("JPEG_BENCH_COUNT")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(1000);
    let dir = std::env::var_os("JPEG_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("deepcluster-bench-jpeg-{count}")));
    let script = root.join("benches/jpeg_pil.py");
    let python = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("python3")
            .arg(&script)
            .args(args)
            .output();
        match out {
            Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into()),
            Ok(out) => {
                let err = String::from_utf8_lossy(&out.stderr);
                println!(
                    "JPEG case: python3 failed: {}",
                    err.lines().last().unwrap_or("")
                );
                None
            }
            Err(e) => {
                println!("JPEG case skipped: python3: {e}");
                None
            }
        }
    };
    let dir_text = dir.display().to_string();
    if python(&["make", &dir_text, &count.to_string()]).is_none() {
        return;
    }
    let options = FolderOptions {
        size: Some((32, 32)),
        colour: Colour::Grey,
        skip_unreadable: false,
    };
    let load = || data::load_folder(&dir, &options).expect("load the JPEG bench folder");
    let n = load().dataset.len(); // warm the page cache
    let time_runs = |label: &str| -> f64 {
        let times: Vec<f64> = (0..3)
            .map(|_| {
                let start = Instant::now();
                assert_eq!(load().dataset.len(), n);
                start.elapsed().as_secs_f64()
            })
            .collect();
        let t = median(times);
        println!(
            "jpeg small, {label}: {n} photos of 1.92 MP -> 32x32 grey in {t:.3} s = {:.1} \
             images/s (median of 3)",
            n as f64 / t
        );
        n as f64 / t
    };
    let all = time_runs(&format!("{} threads", rayon::current_num_threads()));
    let one_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a 1-thread pool");
    let one = one_pool.install(|| time_runs("1 thread"));
    // Before any full-scale decode: what bringing 1.92 MP photos to 32x32 cost in memory.
    if let Some(peak) = peak_rss() {
        println!(
            "jpeg small: peak resident memory {:.1} MB (the f32 matrix is {:.1} MB; one photo \
             at full scale in RGB would be {:.1} MB, at 1/8 {:.2} MB)",
            peak as f64 / 1e6,
            (n * 32 * 32 * 4) as f64 / 1e6,
            (1600 * 1200 * 3) as f64 / 1e6,
            (200 * 150 * 3) as f64 / 1e6
        );
    }

    // Full-scale RGB decodes, one thread, the files read first (Pillow reads them too,
    // but from the page cache, which is what a second read here costs as well).
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the JPEG bench folder")
        .map(|e| e.expect("a folder entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    files.sort();
    let full = || -> usize {
        files
            .iter()
            .map(|p| {
                let bytes = std::fs::read(p).expect("a bench photo");
                let options = jpeg::Options {
                    channels: jpeg::Channels::Rgb,
                    ..jpeg::Options::default()
                };
                let img = jpeg::decode(&bytes, &options).expect("decode a bench photo");
                img.width * img.height
            })
            .sum()
    };
    let pixels = full();
    let times: Vec<f64> = (0..3)
        .map(|_| {
            let start = Instant::now();
            assert_eq!(full(), pixels);
            start.elapsed().as_secs_f64()
        })
        .collect();
    let t = median(times);
    let ours_mps = pixels as f64 / 1e6 / t;
    println!(
        "jpeg full, 1 thread: {n} photos, {:.0} MP in {t:.3} s = {ours_mps:.1} MP/s (median of 3)",
        pixels as f64 / 1e6
    );

    let Some(pil) = python(&["time", &dir_text]) else {
        return;
    };
    print!("{pil}");
    let rate = |prefix: &str| -> Option<f64> {
        let line = pil.lines().find(|l| l.starts_with(prefix))?;
        line.split(" = ")
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    if let Some(small) = rate("PIL small") {
        println!(
            "jpeg small vs Pillow: {:.2}x on all threads, {:.2}x on one thread (target: 1x)",
            all / small,
            one / small
        );
    }
    if let Some(full) = rate("PIL full") {
        println!("jpeg full vs Pillow, one thread: {:.2}x", ours_mps / full);
    }
}

/// The folder case's images: (width, height) and 1 (grey) or 3 (RGB) channels.
const FOLDER_IMAGES: usize = 10_000;
const FOLDER_SIZES: &[(usize, usize)] = &[
    (28, 28),
    (32, 32),
    (48, 64),
    (64, 64),
    (96, 72),
    (100, 100),
    (128, 96),
    (200, 150),
];

/// Writes image `i` of the folder case: a smooth gradient with noise (so that it
/// compresses as a photo might, not as a flat field), in `class<i mod 10>/`.
fn write_folder_image(dir: &Path, i: usize) {
    let mut rng = StdRng::seed_from_u64(i as u64);
    let (w, h) = FOLDER_SIZES[rng.random_range(0..FOLDER_SIZES.len())];
    let rgb = rng.random_bool(0.5);
    let c = if rgb { 3 } else { 1 };
    let pixels: Vec<u8> = (0..w * h * c)
        .map(|k| {
            let (x, y) = ((k / c) % w, (k / c) / w);
            let v = (x * 255 / w + y * 128 / h + (k % c) * 60) as i32 + rng.random_range(-12..=12);
            v.clamp(0, 255) as u8
        })
        .collect();
    let path = dir
        .join(format!("class{}", i % 10))
        .join(format!("{i:05}.png"));
    let file = std::fs::File::create(&path).expect("create a bench image");
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    encoder.set_color(if rgb {
        png::ColorType::Rgb
    } else {
        png::ColorType::Grayscale
    });
    let mut writer = encoder.write_header().expect("png header");
    writer.write_image_data(&pixels).expect("png data");
    writer.finish().expect("png end");
}

/// The folder case's folder, generated unless a previous run completed it.
fn folder_images() -> PathBuf {
    let dir = std::env::var_os("FOLDER_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("deepcluster-bench-folder-10000"));
    // A hidden file, so the loader does not see it.
    let done = dir.join(".complete-v1");
    if !done.is_file() {
        let start = Instant::now();
        let _ = std::fs::remove_dir_all(&dir);
        for class in 0..10 {
            std::fs::create_dir_all(dir.join(format!("class{class}"))).expect("bench folder");
        }
        (0..FOLDER_IMAGES)
            .into_par_iter()
            .for_each(|i| write_folder_image(&dir, i));
        std::fs::write(&done, "").expect("bench folder marker");
        println!(
            "folder: generated {FOLDER_IMAGES} PNGs in {} in {:.1} s",
            dir.display(),
            start.elapsed().as_secs_f64()
        );
    }
    dir
}

fn folder_case(root: &Path) {
    let dir = folder_images();
    let options = FolderOptions {
        size: Some((28, 28)),
        colour: Colour::Grey,
        skip_unreadable: false,
    };
    let load = || data::load_folder(&dir, &options).expect("load the bench folder");
    let count = load().dataset.len(); // warm the page cache
    let time_runs = |label: &str| -> f64 {
        let times: Vec<f64> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                assert_eq!(load().dataset.len(), count);
                start.elapsed().as_secs_f64()
            })
            .collect();
        let t = median(times);
        println!(
            "folder, {label}: {count} PNGs of mixed sizes -> 28x28 grey in {t:.3} s = \
             {:.0} images/s (median of {RUNS})",
            count as f64 / t
        );
        count as f64 / t
    };
    let all = time_runs(&format!("{} threads", rayon::current_num_threads()));
    let one_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a 1-thread pool");
    let one = one_pool.install(|| time_runs("1 thread"));

    let script = root.join("benches/load_pil.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(&dir)
        .args(["28", "28"])
        .output();
    let pil = match out {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        Ok(out) => {
            println!(
                "PIL comparison skipped: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("failed")
            );
            return;
        }
        Err(e) => {
            println!("PIL comparison skipped: python3: {e}");
            return;
        }
    };
    print!("{pil}");
    // "PIL: <N> images in <T> s = <R> images/s"
    let rate = pil
        .split(" = ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|r| r.parse::<f64>().ok());
    if let Some(rate) = rate {
        println!(
            "folder vs PIL: {:.1}x on all threads, {:.1}x on one thread (target: 2x)",
            all / rate,
            one / rate
        );
    }
}

fn mnist_cases(root: &Path) {
    let dir = std::env::var_os("LOAD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("data/mnist"));
    mnist_load(&dir);
    gunzip_case(root);
}

fn mnist_load(dir: &Path) {
    if !dir.join("train.csv").is_file() {
        eprintln!(
            "bench load: {} not found; build it with make-dataset",
            dir.display()
        );
        return;
    }
    let rss_before = peak_rss();
    let mut count = load_all(dir); // warm the page cache
    let mut times = Vec::new();
    let cpu_start = cpu_seconds();
    for _ in 0..RUNS {
        let start = Instant::now();
        count = load_all(dir);
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
}

fn gunzip_case(root: &Path) {
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
