//! GEMM throughput on the autoencoder's shapes at batch 256 and on the K-Means distance step.
//!
//! `cargo bench --bench gemm` prints one line per case:
//! `gemm 256x784x500 NN threads=1 145.2 GFLOP/s` (M x K x N, op(A) and op(B) as N/T, the
//! median over repeated timings), and the one-core / two-core AVX2 FMA peak of this machine
//! as `peak f32 FMA threads=1 <x> GFLOP/s`. Compare with `benches/gemm_blas.py` (numpy's
//! OpenBLAS on the same cases) in the same session: the machine is shared, so read ratios.
//!
//! `DEEPCLUSTER_GEMM_KERNEL=portable cargo bench --bench gemm` measures a forced kernel;
//! `cargo bench --bench gemm -- 34300 threads=1` only the cases whose line has those words;
//! `GEMM_BENCH_BEST=1` reports the best sample instead of the median, and
//! `GEMM_BENCH_CPU_TIME=1` times by the thread's time on a CPU (threads=1 only), both for
//! comparing changes on a busy machine.

use std::hint::black_box;
use std::time::{Duration, Instant};

use deepcluster::linalg::{Caches, Kernel, Matrix, Transpose, gemm};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The autoencoder's dense layers as (inputs, outputs): encoder 784-500-500-2000-10 and the
/// mirrored decoder.
const LAYERS: [(usize, usize); 8] = [
    (784, 500),
    (500, 500),
    (500, 2000),
    (2000, 10),
    (10, 2000),
    (2000, 500),
    (500, 500),
    (500, 784),
];
const BATCH: usize = 256;
/// K-Means on the autoencoder's training split: 34,300 points of 784 pixels, 10 centroids.
const KMEANS: (usize, usize, usize) = (34_300, 784, 10);

/// Timings per case; the median is reported.
const SAMPLES: usize = 9;
/// Each timing repeats the GEMM until at least this long has passed.
const MIN_SAMPLE: Duration = Duration::from_millis(25);

#[derive(Clone, Copy)]
struct Case {
    m: usize,
    k: usize,
    n: usize,
    op_a: Transpose,
    op_b: Transpose,
}

fn letter(t: Transpose) -> char {
    match t {
        Transpose::No => 'N',
        Transpose::Yes => 'T',
    }
}

/// The decoder mirrors the encoder, so (500, 500) appears twice: measure it once.
fn push_new(list: &mut Vec<Case>, case: Case) {
    let key = |c: &Case| (c.m, c.k, c.n, c.op_a, c.op_b);
    if !list.iter().any(|c| key(c) == key(&case)) {
        list.push(case);
    }
}

fn cases() -> Vec<Case> {
    use Transpose::{No, Yes};
    let mut forward = Vec::new();
    let mut backward = Vec::new();
    for (inputs, outputs) in LAYERS {
        // y = x W: x is (B, in), W is (in, out).
        let f = Case {
            m: BATCH,
            k: inputs,
            n: outputs,
            op_a: No,
            op_b: No,
        };
        // dW = x^T dy: (in, B) (B, out).
        let dw = Case {
            m: inputs,
            k: BATCH,
            n: outputs,
            op_a: Yes,
            op_b: No,
        };
        // dx = dy W^T: (B, out) (out, in).
        let dx = Case {
            m: BATCH,
            k: outputs,
            n: inputs,
            op_a: No,
            op_b: Yes,
        };
        push_new(&mut forward, f);
        push_new(&mut backward, dw);
        push_new(&mut backward, dx);
    }
    let (m, k, n) = KMEANS;
    // Distances to centroids: X (N, 784) times C^T, C stored (10, 784).
    backward.push(Case {
        m,
        k,
        n,
        op_a: No,
        op_b: Yes,
    });
    backward.push(Case {
        m,
        k,
        n,
        op_a: No,
        op_b: No,
    });
    forward.extend(backward);
    forward
}

/// Nanoseconds this thread has run on a CPU (Linux), to time one thread on a busy machine.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Median GFLOP/s of `case` on the current rayon pool.
fn measure(case: Case, rng: &mut StdRng) -> f64 {
    let stored = |rows, cols, t| match t {
        Transpose::No => (rows, cols),
        Transpose::Yes => (cols, rows),
    };
    let (ar, ac) = stored(case.m, case.k, case.op_a);
    let (br, bc) = stored(case.k, case.n, case.op_b);
    let a = Matrix::from_fn(ar, ac, |_, _| rng.random_range(-1.0f32..1.0));
    let b = Matrix::from_fn(br, bc, |_, _| rng.random_range(-1.0f32..1.0));
    let mut c = Matrix::zeros(case.m, case.n);
    let mut run = || {
        gemm(
            1.0,
            a.view(),
            case.op_a,
            b.view(),
            case.op_b,
            0.0,
            c.view_mut(),
        );
        black_box(c.as_slice()[0]);
    };
    run(); // warm the caches and the packing buffers
    let flops = 2.0 * (case.m * case.k * case.n) as f64;
    let on_cpu = std::env::var_os("GEMM_BENCH_CPU_TIME").is_some();
    let mut rates: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let start = Instant::now();
            let cpu_start = thread_cpu_ns();
            let mut reps = 0u32;
            while start.elapsed() < MIN_SAMPLE {
                run();
                reps += 1;
            }
            let seconds = match (on_cpu, cpu_start, thread_cpu_ns()) {
                (true, Some(t0), Some(t1)) => (t1 - t0) as f64 * 1e-9,
                _ => start.elapsed().as_secs_f64(),
            };
            flops * f64::from(reps) / seconds / 1e9
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    if std::env::var_os("GEMM_BENCH_BEST").is_some() {
        rates[SAMPLES - 1]
    } else {
        rates[SAMPLES / 2]
    }
}

/// The AVX2 FMA peak of one core: independent chains of `vfmadd` on registers only.
#[cfg(target_arch = "x86_64")]
mod peak {
    use std::arch::x86_64::*;

    /// Accumulators: more than FMA latency (4) x FMA units (2), fewer than 16 registers.
    const CHAINS: usize = 12;

    /// Returns a value depending on every accumulator, so nothing is optimised away.
    ///
    /// # Safety
    /// The CPU must have avx2 and fma.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn fma_loop(iterations: u64, x: f32) -> f32 {
        // Register-only intrinsics are safe inside a matching `#[target_feature]` function.
        {
            let mul = _mm256_set1_ps(x);
            let add = _mm256_set1_ps(1e-7);
            let mut acc = [_mm256_set1_ps(1.0); CHAINS];
            for _ in 0..iterations {
                for a in acc.iter_mut() {
                    *a = _mm256_fmadd_ps(*a, mul, add);
                }
            }
            let mut total = _mm256_setzero_ps();
            for a in acc {
                total = _mm256_add_ps(total, a);
            }
            _mm256_cvtss_f32(total)
        }
    }

    /// Floating-point operations per iteration: CHAINS FMAs x 8 lanes x 2.
    pub const FLOPS_PER_ITERATION: f64 = (CHAINS * 8 * 2) as f64;
}

/// Median GFLOP/s of the FMA loop on each of `threads` threads at once.
#[cfg(target_arch = "x86_64")]
fn peak_gflops(threads: usize) -> Option<f64> {
    if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
        return None;
    }
    let iterations = 50_000_000u64;
    let mut rates: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..threads {
                    // SAFETY: avx2 and fma were detected above.
                    s.spawn(|| {
                        black_box(unsafe { peak::fma_loop(iterations, black_box(0.999_999)) })
                    });
                }
            });
            let flops = peak::FLOPS_PER_ITERATION * iterations as f64 * threads as f64;
            flops / start.elapsed().as_secs_f64() / 1e9
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    Some(rates[rates.len() / 2])
}

#[cfg(not(target_arch = "x86_64"))]
fn peak_gflops(_threads: usize) -> Option<f64> {
    None
}

fn main() {
    // `cargo bench --bench gemm -- 34300 NN` runs only the cases whose line contains all words.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    println!(
        "# kernel: {:?} ({})",
        Kernel::selected(),
        Kernel::selected().features()
    );
    // The block sizes depend on the L2 this CPU reports (MC only): say which ones ran.
    println!(
        "# L2: {}, blocking: {:?}",
        Caches::detected()
            .l2
            .map_or("unknown".to_string(), |b| format!("{} KiB", b >> 10)),
        Kernel::selected().blocking()
    );
    for threads in [1, 2] {
        if !filters.is_empty() {
            break;
        }
        match peak_gflops(threads) {
            Some(peak) => println!("peak f32 FMA threads={threads} {peak:.1} GFLOP/s"),
            None => println!("# peak f32 FMA: no AVX2 + FMA on this CPU, not measured"),
        }
    }
    let mut rng = StdRng::seed_from_u64(0);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a rayon pool");
        for case in cases() {
            let name = format!(
                "{}x{}x{} {}{} threads={threads}",
                case.m,
                case.k,
                case.n,
                letter(case.op_a),
                letter(case.op_b)
            );
            if !filters.iter().all(|f| name.contains(f.as_str())) {
                continue;
            }
            let rate = pool.install(|| measure(case, &mut rng));
            println!("gemm {name} {rate:.1} GFLOP/s");
        }
    }
}
