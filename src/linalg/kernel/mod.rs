//! Micro-kernels: the only architecture-specific part of the GEMM.
//!
//! A micro-kernel multiplies one packed MR-row panel of A~ by one packed NR-column panel of
//! B~ (both `kc` long, see `pack.rs`) into an MR x NR block of registers, then writes
//! `C = alpha * AB + beta * C` for the part of that block that lies inside C. Everything
//! around it (the five loops, the packing, the threads) is portable and lives in `gemm.rs`.
//!
//! Each kernel also has a "skinny" entry (`dot_rows`) for C with very few columns
//! (the code layer's 10 units, K-Means' 10 centroids), see `gemm.rs`.
//!
//! The kernel is chosen once per process ([`Kernel::selected`]) from the CPU's features,
//! best first, ending in the portable one. `DEEPCLUSTER_GEMM_KERNEL=portable|avx2|avx512|neon`
//! forces a (weaker) kernel, for tests and comparisons.

use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;
mod portable;

/// The environment variable that forces a kernel.
pub const KERNEL_ENV: &str = "DEEPCLUSTER_GEMM_KERNEL";

/// A family of micro-kernels, one per instruction set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Plain Rust, any CPU.
    Portable,
    /// x86-64 AVX2 + FMA: 256-bit vectors, 16 registers.
    Avx2,
    /// x86-64 AVX-512F: 512-bit vectors, 32 registers.
    Avx512,
    /// aarch64 NEON (Advanced SIMD): 128-bit vectors, 32 registers.
    Neon,
}

/// Block sizes, each named after the loop of `gemm.rs` it governs.
///
/// - `nc`: LOOP 5 steps over columns of C by NC; B~ (KC x NC) is meant to stay in L3.
/// - `kc`: LOOP 4 steps over the shared dimension by KC; one B~ micro-panel (KC x NR)
///   must stay in L1 while LOOP 1 sweeps the A~ micro-panels past it.
/// - `mc`: LOOP 3 steps over rows of C by MC; A~ (MC x KC) is meant to stay in L2.
/// - `nr`, `mr`: LOOP 2 / LOOP 1 step by the micro-kernel's tile, MR x NR accumulators
///   held in registers. MR * NR / lanes must be at least (FMA latency x FMA units) so
///   the FMA pipes never wait: 4 cycles x 2 units = 8 independent accumulators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    pub mr: usize,
    pub nr: usize,
    pub mc: usize,
    pub kc: usize,
    pub nc: usize,
}

// The micro-kernels' tiles (MR x NR), read by the kernel files and by `blocking` below.
const AVX2_MR: usize = 6;
const AVX2_NR: usize = 16;
const AVX512_MR: usize = 6;
const AVX512_NR: usize = 32;
const NEON_MR: usize = 8;
const NEON_NR: usize = 8;
const PORTABLE_MR: usize = 4;
const PORTABLE_NR: usize = 8;

impl Kernel {
    /// Every kernel, strongest first.
    pub const ALL: [Kernel; 4] = [Kernel::Avx512, Kernel::Avx2, Kernel::Neon, Kernel::Portable];

    /// The lower-case name used by `DEEPCLUSTER_GEMM_KERNEL`.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
            Kernel::Neon => "neon",
        }
    }

    /// Parses a name as printed by [`Kernel::name`].
    pub fn from_name(name: &str) -> Option<Kernel> {
        Kernel::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The CPU features a kernel needs, for messages.
    pub fn features(self) -> &'static str {
        match self {
            Kernel::Portable => "none",
            Kernel::Avx2 => "x86-64 avx2 + fma",
            Kernel::Avx512 => "x86-64 avx512f (+ avx2, fma for its skinny path)",
            Kernel::Neon => "aarch64 neon",
        }
    }

    /// Whether this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            // The AVX-512 kernel borrows the AVX2 skinny path; every AVX-512 CPU has AVX2.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The kernels this CPU can run, strongest first (always ends with `Portable`).
    pub fn all_available() -> Vec<Kernel> {
        Kernel::ALL
            .into_iter()
            .filter(|k| k.is_available())
            .collect()
    }

    /// The strongest kernel this CPU can run: an if-chain ending in the portable one.
    pub fn detect() -> Kernel {
        if Kernel::Avx512.is_available() {
            Kernel::Avx512
        } else if Kernel::Avx2.is_available() {
            Kernel::Avx2
        } else if Kernel::Neon.is_available() {
            Kernel::Neon
        } else {
            Kernel::Portable
        }
    }

    /// The kernel `gemm` uses: detected once per process, or forced by
    /// `DEEPCLUSTER_GEMM_KERNEL`.
    ///
    /// Panics (once, at the first GEMM) when the variable names an unknown kernel or one this
    /// CPU cannot run: a forced benchmark or test must not silently measure something else.
    pub fn selected() -> Kernel {
        static SELECTED: OnceLock<Kernel> = OnceLock::new();
        *SELECTED.get_or_init(|| match std::env::var(KERNEL_ENV) {
            Err(_) => Kernel::detect(),
            Ok(name) => {
                let Some(kernel) = Kernel::from_name(name.trim()) else {
                    panic!(
                        "{KERNEL_ENV}={name}: unknown kernel (expected portable, avx2, avx512 or neon)"
                    );
                };
                assert!(
                    kernel.is_available(),
                    "{KERNEL_ENV}={name}: this CPU cannot run that kernel (it needs {})",
                    kernel.features()
                );
                kernel
            }
        })
    }

    /// The block sizes tuned for this kernel. The one place they are written down.
    pub fn blocking(self) -> Blocking {
        match self {
            // 6 x 16 = 12 ymm accumulators + 2 for B + 1 broadcast of the 16 ymm registers.
            // KC = 512: the textbook choice keeps the B~ micro-panel (KC x 16 x 4 B) in half
            // of a 32 KiB L1, KC = 256, but on Zen 3 (fast L2, good prefetch) fewer passes
            // over C won: k = 500 and 784 as 1 and 2 blocks, not 2 and 4, measured 5-12%
            // faster for the batch-256 layers.
            // MC = 120: A~ is up to 240 KiB of a 512 KiB (Zen 3) to 1 MiB L2.
            Kernel::Avx2 => Blocking {
                mr: AVX2_MR,
                nr: AVX2_NR,
                mc: 120,
                kc: 512,
                nc: 4080,
            },
            // 6 x 32 = 12 zmm accumulators, the AVX2 tile widened to 16 lanes. KC = 256:
            // the B~ micro-panel is 32 KiB of a 48 KiB (Ice Lake and later) L1.
            Kernel::Avx512 => Blocking {
                mr: AVX512_MR,
                nr: AVX512_NR,
                mc: 144,
                kc: 256,
                nc: 4096,
            },
            // 8 x 8 = 16 q-register accumulators of the 32 NEON registers.
            Kernel::Neon => Blocking {
                mr: NEON_MR,
                nr: NEON_NR,
                mc: 128,
                kc: 256,
                nc: 4096,
            },
            Kernel::Portable => Blocking {
                mr: PORTABLE_MR,
                nr: PORTABLE_NR,
                mc: 64,
                kc: 256,
                nc: 4096,
            },
        }
    }
}

/// `C[0..m, 0..n] = alpha * (A~ panel * B~ panel) + beta * C` for one tile.
///
/// `a` is an MR x kc panel stored column by column (`a[p * MR + i]`), `b` a kc x NR panel
/// stored row by row (`b[p * NR + j]`), both zero-padded to full MR / NR. C's element (i, j)
/// is `c[i * rs_c + j]`; only `m <= MR` rows and `n <= NR` columns are touched, and when
/// `beta == 0` C is not read.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn microkernel(
    kernel: Kernel,
    kc: usize,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
    rs_c: usize,
    m: usize,
    n: usize,
) {
    let Blocking { mr, nr, .. } = kernel.blocking();
    assert!(m >= 1 && m <= mr && n >= 1 && n <= nr, "tile ({m}, {n})");
    assert!(
        a.len() >= kc * mr && b.len() >= kc * nr,
        "short packed panels"
    );
    assert!(c.len() >= (m - 1) * rs_c + n, "C tile outside C");
    match kernel {
        Kernel::Portable => portable::microkernel(kc, alpha, a, b, beta, c, rs_c, m, n),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `gemm_with` asserted `kernel.is_available()` (avx2 + fma); the asserts
        // above keep every pointer the kernel forms inside `a`, `b` and `c`.
        Kernel::Avx2 => unsafe {
            avx2::microkernel(
                kc,
                alpha,
                a.as_ptr(),
                b.as_ptr(),
                beta,
                c.as_mut_ptr(),
                rs_c,
                m,
                n,
            )
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, with avx512f checked by `is_available`.
        Kernel::Avx512 => unsafe {
            avx512::microkernel(
                kc,
                alpha,
                a.as_ptr(),
                b.as_ptr(),
                beta,
                c.as_mut_ptr(),
                rs_c,
                m,
                n,
            )
        },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as above, with neon checked by `is_available`.
        Kernel::Neon => unsafe {
            neon::microkernel(
                kc,
                alpha,
                a.as_ptr(),
                b.as_ptr(),
                beta,
                c.as_mut_ptr(),
                rs_c,
                m,
                n,
            )
        },
        #[allow(unreachable_patterns)]
        _ => unreachable!("kernel {kernel:?} is not compiled for this architecture"),
    }
}

/// The skinny path: for each row i of `a` (rows of length k, row stride `rs_a`, `m` rows)
/// and each of the `n` rows of `bt` (each of length k, row stride k: op(B) transposed),
/// `C[i, j] = alpha * dot(a_i, bt_j) + beta * C[i, j]`, with `c[i * rs_c + j]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn dot_rows(
    kernel: Kernel,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    rs_a: usize,
    bt: &[f32],
    beta: f32,
    c: &mut [f32],
    rs_c: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(k >= 1 && a.len() >= (m - 1) * rs_a + k, "A rows outside A");
    assert!(bt.len() >= n * k, "short packed B^T");
    assert!(c.len() >= (m - 1) * rs_c + n, "C rows outside C");
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: avx2 + fma are present (checked by `is_available` for both kernels, see
        // there); the asserts above keep every pointer inside `a`, `bt` and `c`.
        Kernel::Avx2 | Kernel::Avx512 => unsafe {
            avx2::dot_rows(
                m,
                n,
                k,
                alpha,
                a.as_ptr(),
                rs_a,
                bt.as_ptr(),
                beta,
                c.as_mut_ptr(),
                rs_c,
            )
        },
        // NEON is baseline on aarch64, so the compiler already vectorises the portable
        // loops with it (and `mul_add` is one instruction there).
        #[cfg(target_arch = "aarch64")]
        Kernel::Neon => {
            portable::dot_rows(m, n, k, alpha, a, rs_a, bt, beta, c, rs_c, f32::mul_add)
        }
        _ => portable::dot_rows(m, n, k, alpha, a, rs_a, bt, beta, c, rs_c, |x, y, z| {
            x * y + z
        }),
    }
}
