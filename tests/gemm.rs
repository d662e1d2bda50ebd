//! Every micro-kernel this CPU has, forced one at a time, against the naive triple loop.
//!
//! Inputs are small integers, so every partial sum is an exactly representable integer and
//! any summation order gives the same float: results must be *equal* to the reference.
//! C sits inside a larger NaN-filled buffer (NaN rows above and below, NaN columns to the
//! right through a row stride wider than C) to catch stray writes and reads.

use deepcluster::linalg::{Kernel, MatMut, MatRef, Matrix, Transpose, gemm_naive, gemm_with};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const OPS: [(Transpose, Transpose); 4] = [
    (Transpose::No, Transpose::No),
    (Transpose::Yes, Transpose::No),
    (Transpose::No, Transpose::Yes),
    (Transpose::Yes, Transpose::Yes),
];
const SCALARS: [f32; 3] = [0.0, 1.0, -0.5];

/// A stored matrix for op(X) of shape (rows, cols), with `pad` extra columns of NaN
/// (so its row stride exceeds its width), integer values in -4..=4.
struct Operand {
    data: Vec<f32>,
    rows: usize,
    cols: usize,
    stride: usize,
}

impl Operand {
    fn new(rng: &mut StdRng, op_rows: usize, op_cols: usize, op: Transpose, pad: usize) -> Self {
        let (rows, cols) = match op {
            Transpose::No => (op_rows, op_cols),
            Transpose::Yes => (op_cols, op_rows),
        };
        let stride = cols + pad;
        let mut data = vec![f32::NAN; rows * stride];
        for i in 0..rows {
            for j in 0..cols {
                data[i * stride + j] = rng.random_range(-4..=4) as f32;
            }
        }
        Operand {
            data,
            rows,
            cols,
            stride,
        }
    }

    fn view(&self) -> MatRef<'_> {
        MatRef::new(&self.data, self.rows, self.cols, self.stride)
    }
}

/// C (m, n) at row 2 of a NaN buffer with 3 padding columns and 2 rows below.
struct PaddedC {
    data: Vec<f32>,
    m: usize,
    n: usize,
}

const ROWS_ABOVE: usize = 2;
const ROWS_BELOW: usize = 2;
const COLS_RIGHT: usize = 3;

impl PaddedC {
    fn new(rng: &mut StdRng, m: usize, n: usize) -> Self {
        let stride = n + COLS_RIGHT;
        let mut data = vec![f32::NAN; (ROWS_ABOVE + m + ROWS_BELOW) * stride];
        for i in 0..m {
            for j in 0..n {
                data[(ROWS_ABOVE + i) * stride + j] = rng.random_range(-4..=4) as f32;
            }
        }
        PaddedC { data, m, n }
    }

    fn stride(&self) -> usize {
        self.n + COLS_RIGHT
    }

    fn view_mut(&mut self) -> MatMut<'_> {
        let stride = self.stride();
        MatMut::new(
            &mut self.data[ROWS_ABOVE * stride..],
            self.m,
            self.n,
            stride,
        )
    }

    fn get(&self, i: usize, j: usize) -> f32 {
        self.data[(ROWS_ABOVE + i) * self.stride() + j]
    }

    /// Every padding element is still NaN.
    fn padding_untouched(&self) -> bool {
        let stride = self.stride();
        self.data.iter().enumerate().all(|(idx, x)| {
            let (r, j) = (idx / stride, idx % stride);
            let inside = r >= ROWS_ABOVE && r < ROWS_ABOVE + self.m && j < self.n;
            inside || x.is_nan()
        })
    }
}

/// Runs one case with `kernel` and with the reference, on identical inputs; panics with the
/// case on any difference.
#[allow(clippy::too_many_arguments)]
fn check_case(
    kernel: Kernel,
    m: usize,
    k: usize,
    n: usize,
    op: (Transpose, Transpose),
    alpha: f32,
    beta: f32,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let a = Operand::new(&mut rng, m, k, op.0, 1);
    let b = Operand::new(&mut rng, k, n, op.1, 2);
    let c0 = PaddedC::new(&mut rng, m, n);
    let mut c_fast = PaddedC {
        data: c0.data.clone(),
        ..c0
    };
    let mut c_ref = PaddedC {
        data: c_fast.data.clone(),
        m,
        n,
    };
    if beta == 0.0 {
        // beta == 0 must not read C: poison it (the reference does not read it either).
        for i in 0..m {
            for j in 0..n {
                let s = c_fast.stride();
                c_fast.data[(ROWS_ABOVE + i) * s + j] = f32::NAN;
            }
        }
    }
    gemm_with(
        kernel,
        alpha,
        a.view(),
        op.0,
        b.view(),
        op.1,
        beta,
        c_fast.view_mut(),
    );
    gemm_naive(
        alpha,
        a.view(),
        op.0,
        b.view(),
        op.1,
        beta,
        c_ref.view_mut(),
    );
    let case = format!("kernel {kernel:?}, m={m} k={k} n={n}, {op:?}, alpha={alpha}, beta={beta}");
    assert!(c_fast.padding_untouched(), "{case}: wrote outside C");
    for i in 0..m {
        for j in 0..n {
            assert_eq!(c_fast.get(i, j), c_ref.get(i, j), "{case}: C({i}, {j})");
        }
    }
}

/// The awkward sizes around a kernel's tile and the block edges.
fn sizes(kernel: Kernel) -> Vec<usize> {
    let b = kernel.blocking();
    let mut s = vec![
        0,
        1,
        b.mr - 1,
        b.mr,
        b.mr + 1,
        b.nr - 1,
        b.nr,
        b.nr + 1,
        127,
        128,
        129,
    ];
    s.sort_unstable();
    s.dedup();
    s
}

fn each_kernel(mut f: impl FnMut(Kernel)) {
    for kernel in Kernel::ALL {
        if kernel.is_available() {
            f(kernel);
        } else {
            println!(
                "skipping the {} kernel: this CPU lacks {}",
                kernel.name(),
                kernel.features()
            );
        }
    }
}

#[test]
fn every_kernel_matches_the_reference_on_edge_sizes() {
    each_kernel(|kernel| {
        let s = sizes(kernel);
        let mut seed = 0;
        for &m in &s {
            for &n in &s {
                for &k in &s {
                    // The full sweep of ops and scalars on a third of the cube; one cycling
                    // combination elsewhere, so the test stays at a few seconds.
                    seed += 1;
                    if (m + n + k) % 3 == 0 {
                        for op in OPS {
                            for alpha in SCALARS {
                                for beta in SCALARS {
                                    check_case(kernel, m, k, n, op, alpha, beta, seed);
                                }
                            }
                        }
                    } else {
                        let op = OPS[seed as usize % 4];
                        let alpha = SCALARS[(seed as usize / 4) % 3];
                        let beta = SCALARS[(seed as usize / 12) % 3];
                        check_case(kernel, m, k, n, op, alpha, beta, seed);
                    }
                }
            }
        }
    });
}

#[test]
fn every_kernel_matches_the_reference_with_a_513() {
    each_kernel(|kernel| {
        let b = kernel.blocking();
        let shapes = [
            (513, 513, 7),
            (513, 129, 513),
            (129, 513, 513),
            (513, 1, 513),
            (b.mr + 1, 513, b.nr + 1),
            (513, 300, 10),
            (10, 513, 300),
        ];
        for (t, &(m, k, n)) in shapes.iter().enumerate() {
            for (o, op) in OPS.into_iter().enumerate() {
                let beta = SCALARS[(t + o) % 3];
                check_case(kernel, m, k, n, op, -0.5, beta, 1000 + t as u64);
            }
        }
    });
}

/// The skinny path (few columns of C) at the real shapes' aspect: long k, many rows.
#[test]
fn every_kernel_matches_the_reference_on_skinny_shapes() {
    each_kernel(|kernel| {
        for n in [1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13] {
            for (m, k) in [(1, 1), (3, 7), (65, 33), (131, 200)] {
                for op in OPS {
                    check_case(kernel, m, k, n, op, 1.0, -0.5, (m * k * n) as u64);
                }
            }
        }
    });
}

fn random_matrix(rng: &mut StdRng, rows: usize, cols: usize) -> Matrix {
    Matrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0f32..1.0))
}

fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a rayon pool")
        .install(f)
}

/// Random non-integer data, so summation order would show: 1 and 2 threads agree bit for bit.
#[test]
fn one_and_two_threads_are_bit_identical() {
    let mut rng = StdRng::seed_from_u64(7);
    each_kernel(|kernel| {
        for &(m, k, n) in &[
            (256, 784, 200),
            (300, 513, 10),
            (77, 600, 129),
            (600, 40, 300),
        ] {
            for op in OPS {
                let (ar, ac) = if op.0 == Transpose::No {
                    (m, k)
                } else {
                    (k, m)
                };
                let (br, bc) = if op.1 == Transpose::No {
                    (k, n)
                } else {
                    (n, k)
                };
                let a = random_matrix(&mut rng, ar, ac);
                let b = random_matrix(&mut rng, br, bc);
                let c0 = random_matrix(&mut rng, m, n);
                let run = |threads| {
                    let mut c = c0.clone();
                    on_threads(threads, || {
                        gemm_with(
                            kernel,
                            0.7,
                            a.view(),
                            op.0,
                            b.view(),
                            op.1,
                            0.3,
                            c.view_mut(),
                        )
                    });
                    c
                };
                let (one, two) = (run(1), run(2));
                let same = one
                    .as_slice()
                    .iter()
                    .zip(two.as_slice())
                    .all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(
                    same,
                    "kernel {kernel:?} ({m}, {k}, {n}) {op:?}: 1 and 2 threads differ"
                );
            }
        }
    });
}

/// A kernel the CPU lacks is refused by name, not run.
#[test]
fn an_unavailable_kernel_is_refused() {
    let Some(missing) = Kernel::ALL.into_iter().find(|k| !k.is_available()) else {
        println!("skipping: this CPU runs every kernel");
        return;
    };
    let a = Matrix::zeros(2, 2);
    let mut c = Matrix::zeros(2, 2);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        gemm_with(
            missing,
            1.0,
            a.view(),
            Transpose::No,
            a.view(),
            Transpose::No,
            0.0,
            c.view_mut(),
        )
    }));
    let message = *result
        .expect_err("must panic")
        .downcast::<String>()
        .expect("a message");
    assert!(message.contains(missing.name()), "{message}");
}

/// The detected kernel is the strongest available one, and forcing works by name.
#[test]
fn detection_picks_the_strongest_available_kernel() {
    let available = Kernel::all_available();
    assert_eq!(available.first(), Some(&Kernel::detect()));
    assert_eq!(available.last(), Some(&Kernel::Portable));
    for kernel in Kernel::ALL {
        assert_eq!(Kernel::from_name(kernel.name()), Some(kernel));
    }
    assert_eq!(Kernel::from_name("sse9"), None);
}
