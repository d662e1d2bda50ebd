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
//! Each kernel file carries its own tile (MR x NR) and block sizes (MC, KC, NC) as the
//! associated constants of its [`MicroKernel`] implementation; `gemm.rs` matches on
//! [`Kernel`] once per GEMM and runs the whole GEMM monomorphised for that kernel, so no
//! micro-tile pays for a dispatch.
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

#[cfg(target_arch = "x86_64")]
pub(crate) use avx2::Avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) use avx512::Avx512;
#[cfg(target_arch = "aarch64")]
pub(crate) use neon::Neon;
pub(crate) use portable::Portable;

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
        // The caches are read once, here, with the kernel (see `Blocking::for_l2`).
        Caches::detected();
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

    /// The block sizes `gemm` uses with this kernel: its [`MicroKernel::BLOCKING`], written
    /// down in its own file, with MC fitted to this CPU's L2 ([`Blocking::for_l2`]).
    ///
    /// Panics for a kernel not compiled for this architecture (see [`Kernel::is_available`]).
    pub fn blocking(self) -> Blocking {
        self.tuned_blocking().for_l2(Caches::detected().l2)
    }

    /// The kernel's own block sizes ([`MicroKernel::BLOCKING`]), before any fitting to
    /// the caches.
    ///
    /// Panics for a kernel not compiled for this architecture (see [`Kernel::is_available`]).
    pub fn tuned_blocking(self) -> Blocking {
        match self {
            Kernel::Portable => Portable::BLOCKING,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => Avx2::BLOCKING,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => Avx512::BLOCKING,
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => Neon::BLOCKING,
            #[allow(unreachable_patterns)]
            _ => panic!("kernel {self:?} is not compiled for this architecture"),
        }
    }
}

impl Blocking {
    /// MC fitted to an L2 cache of `l2` bytes (the kernel's own MC when it is unknown):
    /// the largest multiple of MR such that A~ (MC x KC floats) fills at most half of L2,
    /// leaving the other half to the B~ micro-panel streaming past it, C's tiles and the
    /// prefetches (as BLIS and faer size MC from L2). At least one MR panel.
    ///
    /// Only MC follows the cache. KC must not: LOOP 4 cuts each element's sum over k into
    /// KC blocks, added into C one after another, so another KC rounds differently and
    /// would change the results from one machine to the next. MC (and NC) only choose which
    /// rows (columns) of C a block holds, never how an element's sum is formed: the results
    /// are bit-identical whatever the L2 (tested in `gemm.rs`). NC stays the kernel's: B~
    /// is meant for L3, which the cores share (a per-core share is not reported), and the
    /// crate's products have n <= 4096 anyway.
    ///
    /// For example AVX2 (MR = 6, KC = 512, 2 KiB per row of A~): 512 KiB of L2 gives
    /// MC = 126, 1 MiB 252, 2 MiB 510.
    pub fn for_l2(self, l2: Option<usize>) -> Blocking {
        let Some(l2) = l2 else {
            return self;
        };
        let row_bytes = self.kc * std::mem::size_of::<f32>();
        let mc = (l2 / 2 / row_bytes / self.mr * self.mr).max(self.mr);
        Blocking { mc, ..self }
    }
}

/// The cache sizes this CPU reports, in bytes (`None` where unknown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caches {
    /// The level-2 cache of one core (unified or data).
    pub l2: Option<usize>,
}

impl Caches {
    /// Read once per process, at kernel selection: on Linux from
    /// `/sys/devices/system/cpu/cpu0/cache/index*/{level,type,size}`; elsewhere unknown (the
    /// kernels' own block sizes are used).
    pub fn detected() -> Caches {
        static CACHES: OnceLock<Caches> = OnceLock::new();
        *CACHES.get_or_init(|| Caches {
            l2: sysfs_cache_bytes(2),
        })
    }
}

/// The size of cpu0's level-`level` data or unified cache from Linux's sysfs.
fn sysfs_cache_bytes(level: usize) -> Option<usize> {
    let read = |index: usize, file: &str| {
        std::fs::read_to_string(format!(
            "/sys/devices/system/cpu/cpu0/cache/index{index}/{file}"
        ))
        .ok()
        .map(|s| s.trim().to_string())
    };
    (0..8).find_map(|index| {
        let this_level: usize = read(index, "level")?.parse().ok()?;
        let kind = read(index, "type")?;
        if this_level != level || !(kind == "Unified" || kind == "Data") {
            return None;
        }
        parse_cache_size(&read(index, "size")?)
    })
}

/// "512K", "1M", "1024K" or "65536" (bytes) as bytes.
fn parse_cache_size(s: &str) -> Option<usize> {
    let (digits, unit) = match s.as_bytes().last()? {
        b'K' => (&s[..s.len() - 1], 1 << 10),
        b'M' => (&s[..s.len() - 1], 1 << 20),
        b'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n: usize = digits.parse().ok()?;
    (n > 0).then_some(n * unit)
}

/// One family of micro-kernels: its tile and block sizes, and its two entries.
///
/// Implemented by a unit type per kernel file (`Portable`, `Avx2`, `Avx512`, `Neon`). The
/// GEMM is generic over it, so a whole GEMM runs with one kernel fixed at compile time.
pub(crate) trait MicroKernel {
    /// The runtime name of this kernel (for the availability check).
    const KERNEL: Kernel;
    /// The tile (`mr` x `nr`) and the block sizes, see [`Blocking`].
    const BLOCKING: Blocking;

    /// `C[0..m, 0..n] = alpha * (A~ panel * B~ panel) + beta * C`, see [`microkernel`].
    ///
    /// # Safety
    /// This CPU must run [`Self::KERNEL`]; the pointers must address what [`microkernel`]
    /// checks: `a` kc * MR floats, `b` kc * NR, and the m x n tile of C.
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile(
        kc: usize,
        alpha: f32,
        a: *const f32,
        b: *const f32,
        beta: f32,
        c: *mut f32,
        rs_c: usize,
        m: usize,
        n: usize,
    );

    /// The skinny path, see [`dot_rows`].
    ///
    /// # Safety
    /// This CPU must run [`Self::KERNEL`]; the pointers must address what [`dot_rows`]
    /// checks: m rows of A (stride rs_a), n rows of B^T (stride k), m rows of C.
    #[allow(clippy::too_many_arguments)]
    unsafe fn dot_rows(
        m: usize,
        n: usize,
        k: usize,
        alpha: f32,
        a: *const f32,
        rs_a: usize,
        bt: *const f32,
        beta: f32,
        c: *mut f32,
        rs_c: usize,
    );
}

/// `C[0..m, 0..n] = alpha * (A~ panel * B~ panel) + beta * C` for one tile.
///
/// `a` is an MR x kc panel stored column by column (`a[p * MR + i]`), `b` a kc x NR panel
/// stored row by row (`b[p * NR + j]`), both zero-padded to full MR / NR. C's element (i, j)
/// is `c[i * rs_c + j]`; only `m <= MR` rows and `n <= NR` columns are touched, and when
/// `beta == 0` C is not read.
/// Reached only through `gemm_with`, which asserted `K::KERNEL.is_available()` before it
/// chose `K`.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn microkernel<K: MicroKernel>(
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
    let Blocking { mr, nr, .. } = K::BLOCKING;
    assert!(m >= 1 && m <= mr && n >= 1 && n <= nr, "tile ({m}, {n})");
    assert!(
        a.len() >= kc * mr && b.len() >= kc * nr,
        "short packed panels"
    );
    assert!(c.len() >= (m - 1) * rs_c + n, "C tile outside C");
    // SAFETY: `gemm_with` asserted that this CPU runs `K` before dispatching to it; the
    // asserts above keep every pointer the kernel forms inside `a`, `b` and `c`.
    unsafe {
        K::tile(
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
    }
}

/// The skinny path: for each row i of `a` (rows of length k, row stride `rs_a`, `m` rows)
/// and each of the `n` rows of `bt` (each of length k, row stride k: op(B) transposed),
/// `C[i, j] = alpha * dot(a_i, bt_j) + beta * C[i, j]`, with `c[i * rs_c + j]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn dot_rows<K: MicroKernel>(
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
    // SAFETY: as in `microkernel`: `gemm_with` checked the CPU, the asserts the slices.
    unsafe {
        K::dot_rows(
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
    }
}

/// The write-back of an edge tile, shared by the SIMD kernels: `tile` holds alpha * AB for
/// the whole MR x NR block, spilled from the registers; only its top-left m x n part lies
/// inside C. `C = alpha * AB + beta * C` with one rounding (`mul_add`) per element, like
/// the vector FMA of a full tile; when `beta == 0` C is not read.
///
/// `#[inline(always)]`, so that inside a `#[target_feature]` kernel the `mul_add` is the
/// FMA instruction and not a library call.
///
/// # Safety
/// `c[i * rs_c + j]` must be writable for `i < m <= MR`, `j < n <= NR`.
#[inline(always)]
pub(crate) unsafe fn write_back_edge<const NR: usize>(
    tile: &[[f32; NR]],
    beta: f32,
    c: *mut f32,
    rs_c: usize,
    m: usize,
    n: usize,
) {
    for (i, row) in tile.iter().enumerate().take(m) {
        // SAFETY: i < m and j < n stay inside the tile of C (the caller's contract).
        unsafe {
            let ci = c.add(i * rs_c);
            for (j, &ab) in row.iter().enumerate().take(n) {
                let cij = ci.add(j);
                *cij = if beta == 0.0 {
                    ab
                } else {
                    beta.mul_add(*cij, ab)
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_sizes_parse_as_sysfs_writes_them() {
        assert_eq!(parse_cache_size("512K"), Some(512 << 10));
        assert_eq!(parse_cache_size("1M"), Some(1 << 20));
        assert_eq!(parse_cache_size("2048K"), Some(2 << 20));
        assert_eq!(parse_cache_size("65536"), Some(65536));
        assert_eq!(parse_cache_size(""), None);
        assert_eq!(parse_cache_size("K"), None);
        assert_eq!(parse_cache_size("0K"), None);
        assert_eq!(parse_cache_size("12X"), None);
    }

    #[test]
    fn mc_fills_half_of_l2_in_whole_panels_and_nothing_else_moves() {
        let avx2 = Blocking {
            mr: 6,
            nr: 16,
            mc: 120,
            kc: 512,
            nc: 4080,
        };
        assert_eq!(avx2.for_l2(None), avx2);
        assert_eq!(avx2.for_l2(Some(512 << 10)).mc, 126);
        assert_eq!(avx2.for_l2(Some(1 << 20)).mc, 252);
        assert_eq!(avx2.for_l2(Some(2 << 20)).mc, 510);
        // A tiny cache still gets one MR panel.
        assert_eq!(avx2.for_l2(Some(1024)).mc, 6);
        let fitted = avx2.for_l2(Some(1 << 20));
        assert_eq!(Blocking { mc: 120, ..fitted }, avx2);
    }
}
