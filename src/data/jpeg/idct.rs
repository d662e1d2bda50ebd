//! The 8x8 inverse DCT (ITU-T T.81 A.3.3), and its reduced forms that give 4x4, 2x2 or 1x1
//! pixels straight from the coefficients: decoding at 1/2, 1/4 or 1/8 scale.
//!
//! The 1-D inverse DCT of one row of coefficients F(u) is
//!
//! ```text
//!     f(x) = sum_u C(u)/2 F(u) cos((2x + 1) u pi / 16),   C(0) = 1/sqrt(2), C(u) = 1,
//! ```
//!
//! and the 2-D one applies it to the rows, then to the columns (it is separable). Written as
//! a matrix, f = B F with B (8, 8), B[x][u] = C(u)/2 cos((2x + 1) u pi / 16).
//!
//! **Reduced sizes.** libjpeg's `jidctred.c` produces an N x N block (N = 4, 2) whose pixels
//! are the averages of the (8/N) x (8/N) groups of the full IDCT's output: its 8-to-4 step
//! gives the means of adjacent pairs, its 8-to-2 step the means of fours (it derives those
//! steps by simplifying the LL&M factorisation). Averaging is linear, so the same outputs
//! come from the matrix whose row x is the mean of rows x (8/N) .. (x + 1)(8/N) - 1 of B:
//! an (N, 8) matrix B_N, and the block is B_N F B_N^T. Some coefficients drop out by
//! themselves (for N = 4 column 4 of B_4 is zero; for N = 2 columns 2, 4, 6 are), as they do
//! in jidctred.c. N = 1 is the mean of all 64 pixels, F(0, 0) / 8, done in integers with
//! libjpeg's rounding: this is the 1/8 path, which never looks at an AC coefficient.
//!
//! The full 8x8 IDCT is the fixed-point Loeffler-Ligtenberg-Moschytz factorisation that
//! libjpeg's default `islow` computes (13-bit constants, 2 extra fraction bits between the
//! passes), so that full-scale pixels agree with libjpeg's exactly: a float IDCT is more
//! accurate, but differs from libjpeg by 1 on a few pixels, which the YCbCr conversion can
//! make 3 (1.772 x 1 + 1). The reduced IDCTs are f32 and separable (rows first), skipping
//! the coefficient rows that are all zero, which most are after quantization; the result,
//! plus the level shift of 128, is rounded half up and clamped to 0..=255.

/// The matrices B_N for N = 8, 4, 2 (see the module comment), built once per decode.
pub struct Bases {
    b8: [[f32; 8]; 8],
    b4: [[f32; 8]; 4],
    b2: [[f32; 8]; 2],
}

impl Bases {
    pub fn new() -> Self {
        let mut b8 = [[0f32; 8]; 8];
        let mut exact = [[0f64; 8]; 8];
        for (x, row) in exact.iter_mut().enumerate() {
            for (u, b) in row.iter_mut().enumerate() {
                let c = if u == 0 {
                    std::f64::consts::FRAC_1_SQRT_2
                } else {
                    1.0
                };
                *b = c / 2.0 * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos();
            }
        }
        // Row x of B_N: the mean of the 8/N rows of B that its output pixel covers.
        fn reduced<const N: usize>(exact: &[[f64; 8]; 8]) -> [[f32; 8]; N] {
            let group = 8 / N;
            let mut b = [[0f32; 8]; N];
            for (x, row) in b.iter_mut().enumerate() {
                for (u, v) in row.iter_mut().enumerate() {
                    let sum: f64 = (0..group).map(|i| exact[x * group + i][u]).sum();
                    let mean = sum / group as f64;
                    // Exact zeros stay zero (cos sums that cancel), so their rows are skipped.
                    *v = if mean.abs() < 1e-12 { 0.0 } else { mean as f32 };
                }
            }
            b
        }
        for (row, e) in b8.iter_mut().zip(&exact) {
            for (b, &v) in row.iter_mut().zip(e) {
                *b = v as f32;
            }
        }
        Bases {
            b8,
            b4: reduced::<4>(&exact),
            b2: reduced::<2>(&exact),
        }
    }
}

impl Default for Bases {
    fn default() -> Self {
        Self::new()
    }
}

/// The inverse DCT of one block. `coef` is (8, 8) in natural order, quantized; `quant` its
/// quantization table in natural order; `end` is 1 when only the DC coefficient can be
/// non-zero. Writes an (n, n) block of pixels into `out` with row stride `stride`, n = 8, 4,
/// 2 or 1.
#[inline]
pub fn idct(
    bases: &Bases,
    n: usize,
    coef: &[i32; 64],
    quant: &[u16; 64],
    end: usize,
    out: &mut [u8],
    stride: usize,
) {
    if n == 1 || end <= 1 {
        // A flat block: every pixel is the mean, F(0, 0) / 8 (rounded half up, as libjpeg's
        // DESCALE does), plus 128.
        let dc = coef[0] as i64 * quant[0] as i64;
        let v = (((dc + 4) >> 3) + 128).clamp(0, 255) as u8;
        for y in 0..n {
            out[y * stride..y * stride + n].fill(v);
        }
        return;
    }
    match n {
        8 => islow(coef, quant, out, stride),
        4 => separable::<4>(&bases.b4, coef, quant, out, stride),
        2 => separable::<2>(&bases.b2, coef, quant, out, stride),
        _ => unreachable!("block sizes are 8, 4, 2 or 1"),
    }
}

/// The full 8x8 IDCT in f32, out = B F B^T + 128: the reference the fixed-point one is
/// tested against.
pub fn float8(bases: &Bases, coef: &[i32; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) {
    separable::<8>(&bases.b8, coef, quant, out, stride);
}

/// out = B_N F B_N^T + 128, F the dequantized coefficients (v, u): v vertical frequency.
#[inline(always)]
fn separable<const N: usize>(
    b: &[[f32; 8]; N],
    coef: &[i32; 64],
    quant: &[u16; 64],
    out: &mut [u8],
    stride: usize,
) {
    // Pass 1, along each coefficient row v: t[v][x] = sum_u F[v][u] B_N[x][u]. t is (8, N).
    let mut t = [[0f32; N]; 8];
    let mut nonzero = [false; 8];
    for v in 0..8 {
        let row = &coef[8 * v..8 * v + 8];
        if row.iter().all(|&c| c == 0) {
            continue;
        }
        nonzero[v] = true;
        let mut f = [0f32; 8];
        for u in 0..8 {
            // In f32: a corrupt file's DC predictor can be any i32.
            f[u] = row[u] as f32 * quant[8 * v + u] as f32;
        }
        for x in 0..N {
            let mut s = 0.0;
            for u in 0..8 {
                s += f[u] * b[x][u];
            }
            t[v][x] = s;
        }
    }
    // Pass 2, down the columns: out[y][x] = sum_v B_N[y][v] t[v][x].
    for y in 0..N {
        let mut acc = [128.5f32; N]; // the level shift, and +0.5 to round by truncation
        for v in 0..8 {
            if nonzero[v] {
                let w = b[y][v];
                for x in 0..N {
                    acc[x] += w * t[v][x];
                }
            }
        }
        let row = &mut out[y * stride..y * stride + N];
        for (o, a) in row.iter_mut().zip(acc) {
            *o = a.clamp(0.0, 255.0) as u8;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The full-size IDCT in fixed point

// The LL&M constants in 13-bit fixed point: FIX(c) = round(c * 2^13).
const CONST_BITS: u32 = 13;
/// Pass 1 keeps this many extra fraction bits for pass 2.
const PASS1_BITS: u32 = 2;
const FIX_0_298631336: i64 = 2446;
const FIX_0_390180644: i64 = 3196;
const FIX_0_541196100: i64 = 4433;
const FIX_0_765366865: i64 = 6270;
const FIX_0_899976223: i64 = 7373;
const FIX_1_175875602: i64 = 9633;
const FIX_1_501321110: i64 = 12299;
const FIX_1_847759065: i64 = 15137;
const FIX_1_961570560: i64 = 16069;
const FIX_2_053119869: i64 = 16819;
const FIX_2_562915447: i64 = 20995;
const FIX_3_072711026: i64 = 25172;

/// x / 2^n, rounded half up.
#[inline(always)]
fn descale(x: i64, n: u32) -> i64 {
    (x + (1 << (n - 1))) >> n
}

/// One 8-point IDCT by the Loeffler-Ligtenberg-Moschytz factorisation (ICASSP 1989, the
/// variant with 12 multiplications, in which no path has more than one), on inputs
/// `x[0..8]` (frequencies 0..7), giving the outputs scaled by 2^CONST_BITS * sqrt(8):
/// the even part (frequencies 0, 2, 4, 6) is a 4-point IDCT by a rotation of (2, 6); the
/// odd part (1, 3, 5, 7) a butterfly network with the rotations that the factorisation
/// shares through z5.
#[inline(always)]
fn llm8(x: [i64; 8]) -> [i64; 8] {
    // Even part.
    let z1 = (x[2] + x[6]) * FIX_0_541196100;
    let tmp2 = z1 - x[6] * FIX_1_847759065;
    let tmp3 = z1 + x[2] * FIX_0_765366865;
    let tmp0 = (x[0] + x[4]) << CONST_BITS;
    let tmp1 = (x[0] - x[4]) << CONST_BITS;
    let (t10, t13, t11, t12) = (tmp0 + tmp3, tmp0 - tmp3, tmp1 + tmp2, tmp1 - tmp2);
    // Odd part.
    let (o0, o1, o2, o3) = (x[7], x[5], x[3], x[1]);
    let (z1, z2, z3, z4) = (o0 + o3, o1 + o2, o0 + o2, o1 + o3);
    let z5 = (z3 + z4) * FIX_1_175875602;
    let (z1, z2) = (-z1 * FIX_0_899976223, -z2 * FIX_2_562915447);
    let z3 = -z3 * FIX_1_961570560 + z5;
    let z4 = -z4 * FIX_0_390180644 + z5;
    let o0 = o0 * FIX_0_298631336 + z1 + z3;
    let o1 = o1 * FIX_2_053119869 + z2 + z4;
    let o2 = o2 * FIX_3_072711026 + z2 + z3;
    let o3 = o3 * FIX_1_501321110 + z1 + z4;
    [
        t10 + o3,
        t11 + o2,
        t12 + o1,
        t13 + o0,
        t13 - o0,
        t12 - o1,
        t11 - o2,
        t10 - o3,
    ]
}

/// The accurate 8x8 IDCT in integers, the computation of libjpeg's default `islow`: LL&M
/// down the columns, rounded to PASS1_BITS fraction bits, then along the rows, rounded to
/// an integer (the 2^3 is the two passes' sqrt(8) factors and the 2-D 1/8).
fn islow(coef: &[i32; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) {
    // Far beyond any valid coefficient (8-bit data stays within +-2^14); a corrupt file's
    // DC predictor can be any i32, and this keeps every product inside i64.
    const LIMIT: i64 = 1 << 20;
    let mut ws = [0i64; 64]; // (8, 8) after pass 1: ws[8 * v + u] is column u, output row v
    for u in 0..8 {
        let x: [i64; 8] = std::array::from_fn(|v| {
            (coef[8 * v + u] as i64 * quant[8 * v + u] as i64).clamp(-LIMIT, LIMIT)
        });
        if x[1..].iter().all(|&c| c == 0) {
            // Only the DC term: the column is flat (the same as the full computation).
            for v in 0..8 {
                ws[8 * v + u] = x[0] << PASS1_BITS;
            }
            continue;
        }
        let y = llm8(x);
        for v in 0..8 {
            ws[8 * v + u] = descale(y[v], CONST_BITS - PASS1_BITS);
        }
    }
    for v in 0..8 {
        let x: [i64; 8] = ws[8 * v..8 * v + 8].try_into().unwrap();
        let y = llm8(x);
        let row = &mut out[v * stride..v * stride + 8];
        for (o, &value) in row.iter_mut().zip(&y) {
            *o = (descale(value, CONST_BITS + PASS1_BITS + 3) + 128).clamp(0, 255) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition (A.3.3) in f64, output (8, 8) before rounding and level shift.
    fn naive(f: &[f64; 64]) -> [f64; 64] {
        let c = |u: usize| if u == 0 { 1.0 / 2f64.sqrt() } else { 1.0 };
        let mut out = [0.0; 64];
        for y in 0..8 {
            for x in 0..8 {
                let mut s = 0.0;
                for v in 0..8 {
                    for u in 0..8 {
                        s += c(u) * c(v) / 4.0
                            * f[8 * v + u]
                            * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos()
                            * ((2 * y + 1) as f64 * v as f64 * std::f64::consts::PI / 16.0).cos();
                    }
                }
                out[8 * y + x] = s;
            }
        }
        out
    }

    fn block(seed: u64) -> [i32; 64] {
        // Coefficients decaying with frequency, as after quantization, some zero rows.
        let mut state = seed;
        let mut coef = [0i32; 64];
        for (i, c) in coef.iter_mut().enumerate() {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (v, u) = (i / 8, i % 8);
            if v == 5 || v == 6 {
                continue;
            }
            let r = ((state >> 33) % 61) as i32 - 30;
            *c = r * 8 / (1 + u + v) as i32;
        }
        coef
    }

    #[test]
    fn full_and_reduced_blocks_match_the_averaged_definition() {
        let bases = Bases::new();
        let quant = [3u16; 64];
        for seed in 0..50 {
            let coef = block(seed);
            let f: Vec<f64> = coef.iter().map(|&c| (c * 3) as f64).collect();
            let full = naive(&f.try_into().unwrap());
            for n in [8usize, 4, 2, 1] {
                let mut out = vec![0u8; n * n];
                idct(&bases, n, &coef, &quant, 64, &mut out, n);
                let g = 8 / n;
                for y in 0..n {
                    for x in 0..n {
                        let mut mean = 0.0;
                        for i in 0..g {
                            for j in 0..g {
                                mean += full[8 * (y * g + i) + x * g + j];
                            }
                        }
                        let want = (mean / (g * g) as f64 + 128.0).clamp(0.0, 255.0);
                        let got = out[y * n + x] as f64;
                        // Rounded exactly, the f32 ones; the fixed-point 8x8 to within 1.
                        let tolerance = if n == 8 { 1.0 } else { 0.5 + 1e-3 };
                        assert!(
                            (got - want).abs() <= tolerance,
                            "n {n} seed {seed}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_fixed_point_idct_agrees_with_the_float_one() {
        let bases = Bases::new();
        let quant: [u16; 64] = std::array::from_fn(|i| 1 + (i % 7) as u16);
        let mut worst = 0;
        for seed in 0..300 {
            let coef = block(seed);
            let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
            islow(&coef, &quant, &mut a, 8);
            float8(&bases, &coef, &quant, &mut b, 8);
            for (x, y) in a.iter().zip(&b) {
                worst = worst.max(x.abs_diff(*y));
            }
        }
        assert!(worst <= 1, "differs by {worst}");
    }

    #[test]
    fn a_dc_only_block_is_flat_and_rounds_half_up() {
        let bases = Bases::new();
        let mut coef = [0i32; 64];
        coef[0] = -12; // -12 * 1 / 8 = -1.5, rounded half up: -1
        let mut out = [0u8; 64];
        idct(&bases, 8, &coef, &[1; 64], 1, &mut out, 8);
        assert!(out.iter().all(|&p| p == 127));
        coef[0] = 2000; // clamped
        idct(&bases, 4, &coef, &[1; 64], 1, &mut out, 4);
        assert!(out[..16].iter().all(|&p| p == 255));
    }
}
