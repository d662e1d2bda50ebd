//! The SGD layout (UMAP step 6, umap-learn's `optimize_layout_euclidean`): minimise the
//! fuzzy cross-entropy between the graph's weights w_ij and the embedding's similarities
//! q_ij = 1 / (1 + a d_ij^(2b)) by sampling edges.
//!
//! Edge (i, j) is sampled once every w_max / w_ij epochs ("epochs per sample"), so over the
//! run each edge is pulled in proportion to its weight: the attractive term w log(1/q)
//! of the cross-entropy, estimated by sampling. After each positive sample,
//! negative_sample_rate random vertices k push i away: the repulsive term
//! (1 - w) log(1/(1 - q)), estimated with the pairs' weights taken as 0. Each gradient
//! coordinate is clipped to [-4, 4]; the learning rate falls linearly to 0.
//!
//! # Determinism
//!
//! umap-learn runs this loop Hogwild-parallel (threads race on the rows) unless a
//! random_state is given, when it runs it sequentially ([`optimize_layout_sequential`]).
//! [`optimize_layout`] runs it in parallel over fixed chunks of head vertices, with the
//! rows of other chunks read as they were at the start of the epoch and the moves of their
//! tails deferred to its end: its result is a function of the seed alone, whatever the
//! thread count. Negative samples come from one small Tausworthe generator per head
//! vertex, seeded from (seed, vertex), as umap-learn 0.5.5+ keeps one per vertex.

use rayon::prelude::*;

/// Gradient coordinates are clipped to [-CLIP, CLIP] (umap-learn's `clip`).
pub const CLIP: f32 = 4.0;
/// Keeps the repulsion finite at d = 0 (the 0.001 in umap-learn's repulsive coefficient).
pub const REPULSION_EPS: f32 = 0.001;

/// The coefficient of the attractive step, y_i += alpha clip(c (y_i - y_j)):
/// c = -2 a b d^(2(b-1)) / (1 + a d^(2b)), d2 = ||y_i - y_j||^2; 0 when d2 = 0.
///
/// -c (y_i - y_j) is the gradient of -log q_ij with respect to y_i: with
/// -log q = log(1 + a d2^b), d/dy_i = a b d2^(b-1) / (1 + a d2^b) * 2 (y_i - y_j).
#[inline]
pub fn attraction_coefficient(d2: f32, a: f32, b: f32) -> f32 {
    if d2 > 0.0 {
        let p = pow(d2, b); // d^(2b)
        -2.0 * a * b * (p / d2) / (a * p + 1.0)
    } else {
        0.0
    }
}

/// The coefficient of a repulsive step, y_i += alpha clip(c (y_i - y_k)):
/// c = 2 gamma b / ((0.001 + d2) (1 + a d^(2b))).
///
/// -c (y_i - y_k) is, up to the 0.001, gamma times the gradient of -log(1 - q_ik) with
/// respect to y_i: -log(1 - q) = log(1 + a d2^b) - log a - b log d2, whose derivative is
/// -2 b (y_i - y_k) / (d2 (1 + a d2^b)).
#[inline]
pub fn repulsion_coefficient(d2: f32, a: f32, b: f32, gamma: f32) -> f32 {
    2.0 * gamma * b / ((REPULSION_EPS + d2) * (a * pow(d2, b) + 1.0))
}

/// x^y for x >= 0 as 2^(y log2 x), with short polynomials for log2 and 2^f: relative
/// error below 1e-5 for x in [1e-6, 1e6] (tested against f64 `powf`; it is the rounding of
/// y log2 x in f32), a few times faster than libm's `powf`, which
/// took most of the layout's time (one power per sample, about 2 x 10^8 per fit).
#[inline]
pub fn pow(x: f32, y: f32) -> f32 {
    if x <= 0.0 {
        return if y == 0.0 { 1.0 } else { 0.0 };
    }
    // x = m 2^e with m in [sqrt(1/2), sqrt(2)), from the bits (subnormals raised to the
    // smallest normal: their powers are 0 to f32 precision for the y of UMAP).
    let bits = x.max(f32::MIN_POSITIVE).to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    if m > std::f32::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    // ln m = 2 atanh(t), t = (m - 1) / (m + 1), |t| < 0.172: odd series to t^9.
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let ln_m = 2.0 * t * (1.0 + t2 * (1.0 / 3.0 + t2 * (0.2 + t2 * (1.0 / 7.0 + t2 / 9.0))));
    let l = y * (e as f32 + ln_m * std::f32::consts::LOG2_E); // y log2 x
    let l = l.clamp(-126.0, 127.0);
    // 2^l = 2^i 2^f, f in [-0.5, 0.5]: e^(f ln 2) by its Taylor series to degree 7.
    // Rounded half away from zero by a cast (`round` is a libm call without SSE4.1).
    let i = if l >= 0.0 {
        (l + 0.5) as i32
    } else {
        (l - 0.5) as i32
    };
    let g = (l - i as f32) * std::f32::consts::LN_2;
    let p = 1.0
        + g * (1.0
            + g * (0.5
                + g * (1.0 / 6.0
                    + g * (1.0 / 24.0 + g * (1.0 / 120.0 + g * (1.0 / 720.0 + g / 5040.0))))));
    p * f32::from_bits(((i + 127) as u32) << 23)
}

#[inline]
fn clip(v: f32) -> f32 {
    v.clamp(-CLIP, CLIP)
}

/// The edges to sample, in the order they are visited (the graph's row-major order).
#[derive(Clone, Debug, PartialEq)]
pub struct Edges {
    /// head is (E,): the vertex that moves (a row of the head embedding).
    pub head: Vec<usize>,
    /// tail is (E,): the vertex it is pulled to (a row of the tail embedding).
    pub tail: Vec<usize>,
    /// epochs_per_sample is (E,): w_max / w_e (umap-learn's `make_epochs_per_sample`).
    pub epochs_per_sample: Vec<f64>,
}

impl Edges {
    /// From (head, tail, weight) triplets with weight > 0.
    pub fn from_weights(triplets: impl Iterator<Item = (usize, usize, f32)>) -> Edges {
        let mut e = Edges {
            head: vec![],
            tail: vec![],
            epochs_per_sample: vec![],
        };
        let mut weights = Vec::new();
        for (i, j, w) in triplets {
            debug_assert!(w > 0.0);
            e.head.push(i);
            e.tail.push(j);
            weights.push(w as f64);
        }
        let w_max = weights.iter().copied().fold(0.0, f64::max);
        // n_samples = n_epochs w / w_max and epochs per sample = n_epochs / n_samples.
        e.epochs_per_sample = weights.iter().map(|&w| w_max / w).collect();
        e
    }

    pub fn len(&self) -> usize {
        self.head.len()
    }

    pub fn is_empty(&self) -> bool {
        self.head.is_empty()
    }
}

/// Which embedding the tails live in.
#[derive(Debug)]
pub enum Tails<'a> {
    /// The heads' own embedding; both ends of an edge move (fit: move_other = True).
    Same,
    /// A fixed embedding (N_tail, dim): only heads move (transform: move_other = False).
    Fixed(&'a [f32]),
}

/// The schedule and the curve of one optimisation.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub n_epochs: usize,
    pub a: f32,
    pub b: f32,
    /// gamma, the weight of the repulsion.
    pub repulsion_strength: f32,
    /// alpha at epoch 0; it falls linearly to 0 at n_epochs.
    pub initial_alpha: f32,
    pub negative_sample_rate: usize,
    pub seed: u64,
}

/// One Tausworthe (taus88) generator: three shift registers (umap-learn's `tau_rand_int`).
#[derive(Clone, Copy, Debug)]
struct Taus88 {
    s: [u32; 3],
}

impl Taus88 {
    /// Seeded from (seed, stream) through SplitMix64; each register is kept above the value
    /// below which it would get stuck (1, 7, 15).
    fn new(seed: u64, stream: u64) -> Self {
        let mut z = seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut next = || {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (x ^ (x >> 31)) as u32
        };
        Taus88 {
            s: [next() | 2, next() | 8, next() | 16],
        }
    }

    #[inline]
    fn next_u32(&mut self) -> u32 {
        let s = &mut self.s;
        s[0] = ((s[0] & 0xffff_fffe) << 12) ^ (((s[0] << 13) ^ s[0]) >> 19);
        s[1] = ((s[1] & 0xffff_fff8) << 4) ^ (((s[1] << 2) ^ s[1]) >> 25);
        s[2] = ((s[2] & 0xffff_fff0) << 17) ^ (((s[2] << 3) ^ s[2]) >> 11);
        s[0] ^ s[1] ^ s[2]
    }

    /// A draw in 0..n by Lemire's multiply-shift (no division in the hot loop, unlike
    /// umap-learn's `% n_vertices`; the bias is below n / 2^32).
    #[inline]
    fn below(&mut self, n: usize) -> usize {
        ((self.next_u32() as u64 * n as u64) >> 32) as usize
    }
}

/// Head vertices per task of the parallel layout: a fixed number, so the split, and with it
/// the result, depends on the data shape only, never on the thread count.
pub const CHUNK_HEADS: usize = 1024;

/// Runs the SGD layout in place on `head` (N_head, dim), row-major, in parallel.
///
/// With `Tails::Same` the edges join rows of `head`; with `Tails::Fixed(tail)` each edge
/// pulls a head row towards a row of `tail` (N_tail, dim), and negative samples are drawn
/// from the tail rows.
///
/// # The parallel scheme
///
/// Each epoch the head vertices are cut into fixed chunks of CHUNK_HEADS consecutive rows,
/// and the edges (row-major: sorted by head) with them. A task runs umap-learn's sequential
/// loop over one chunk's edges and owns that chunk's rows. Rows of other chunks are read
/// from a copy of the embedding taken at the start of the epoch, and the attraction moves
/// of tails in other chunks (move_other) are collected and added after the epoch, chunk by
/// chunk in order. Inside a chunk everything is as in the sequential loop, so with one
/// chunk (N_head <= CHUNK_HEADS) the result is bit for bit [`optimize_layout_sequential`];
/// with fixed tails (transform) nothing is shared and it is that for any N. The only
/// difference otherwise: a tail or negative sample in another chunk is seen where it was
/// at the start of the epoch (at most one epoch stale).
pub fn optimize_layout(
    head: &mut [f32],
    tails: Tails<'_>,
    dim: usize,
    edges: &Edges,
    s: &Schedule,
) {
    // Heads must be sorted for the chunks to own contiguous edge ranges; else one chunk.
    let sorted = edges.head.windows(2).all(|w| w[0] <= w[1]);
    let chunk = if sorted { CHUNK_HEADS } else { usize::MAX };
    run_layout(head, tails, dim, edges, s, chunk);
}

/// umap-learn's `optimize_layout_euclidean` exactly as it runs with a random_state: one
/// sequential pass over the edges per epoch, every read live. The reference for
/// [`optimize_layout`].
pub fn optimize_layout_sequential(
    head: &mut [f32],
    tails: Tails<'_>,
    dim: usize,
    edges: &Edges,
    s: &Schedule,
) {
    run_layout(head, tails, dim, edges, s, usize::MAX);
}

/// One chunk's state, kept across epochs: its head rows lo..hi, its edges (a range of the
/// edge arrays), their schedules, its heads' generators and its deferred tail moves.
struct Chunk {
    lo: usize,
    hi: usize,
    edges: std::ops::Range<usize>,
    next_sample: Vec<f64>,
    next_negative: Vec<f64>,
    rngs: Vec<Taus88>,
    /// Tails in other chunks and their moves: index (T,), moves (T, dim).
    moved: Vec<usize>,
    moves: Vec<f32>,
}

/// The layout with chunks of `chunk` head vertices (usize::MAX: one chunk, sequential).
fn run_layout(
    head: &mut [f32],
    tails: Tails<'_>,
    dim: usize,
    edges: &Edges,
    s: &Schedule,
    chunk: usize,
) {
    assert!(
        dim > 0 && head.len().is_multiple_of(dim),
        "layout: embedding is not (N, {dim})"
    );
    let n_head = head.len() / dim;
    let n_vertices = match tails {
        Tails::Same => n_head,
        Tails::Fixed(t) => t.len() / dim,
    };
    if edges.is_empty() || s.n_epochs == 0 || n_vertices == 0 {
        return;
    }
    let nsr = s.negative_sample_rate as f64;
    // Without negative samples their schedule is never reached.
    let epochs_per_negative: Vec<f64> = edges
        .epochs_per_sample
        .iter()
        .map(|&x| if nsr > 0.0 { x / nsr } else { f64::INFINITY })
        .collect();
    let chunk = chunk.min(n_head).max(1);
    let mut chunks: Vec<Chunk> = (0..n_head.div_ceil(chunk))
        .map(|c| {
            let (lo, hi) = (c * chunk, ((c + 1) * chunk).min(n_head));
            let range = if chunk == n_head {
                0..edges.len()
            } else {
                edges.head.partition_point(|&h| h < lo)..edges.head.partition_point(|&h| h < hi)
            };
            Chunk {
                lo,
                hi,
                next_sample: edges.epochs_per_sample[range.clone()].to_vec(),
                next_negative: epochs_per_negative[range.clone()].to_vec(),
                edges: range,
                rngs: (lo..hi).map(|v| Taus88::new(s.seed, v as u64)).collect(),
                moved: vec![],
                moves: vec![],
            }
        })
        .collect();
    let mut snapshot = vec![];
    let mut alpha = s.initial_alpha;
    for epoch in 0..s.n_epochs {
        let reads = match tails {
            Tails::Fixed(t) => Reads::Fixed(t),
            Tails::Same if chunks.len() == 1 => Reads::Same(&[]),
            Tails::Same => {
                snapshot.clear();
                snapshot.extend_from_slice(head);
                Reads::Same(&snapshot)
            }
        };
        let ctx = Epoch {
            n: epoch as f64,
            alpha,
            dim,
            n_vertices,
            edges,
            epochs_per_negative: &epochs_per_negative,
            s,
            reads,
        };
        if chunks.len() == 1 {
            ctx.run_chunk(&mut chunks[0], head);
        } else {
            chunks
                .par_iter_mut()
                .zip(head.par_chunks_mut(chunk * dim))
                .for_each(|(c, rows)| ctx.run_chunk(c, rows));
        }
        // The deferred tail moves, chunk by chunk, in the order they were made.
        for c in &mut chunks {
            for (t, &k) in c.moved.iter().enumerate() {
                let row = &mut head[k * dim..(k + 1) * dim];
                for (y, g) in row.iter_mut().zip(&c.moves[t * dim..(t + 1) * dim]) {
                    *y += g;
                }
            }
            c.moved.clear();
            c.moves.clear();
        }
        alpha = s.initial_alpha * (1.0 - epoch as f32 / s.n_epochs as f32);
    }
}

/// Where a chunk reads rows outside itself.
#[derive(Clone, Copy)]
enum Reads<'a> {
    /// Tails are head rows: the embedding at the start of the epoch (N_head, dim).
    Same(&'a [f32]),
    /// The fixed tail embedding (N_tail, dim).
    Fixed(&'a [f32]),
}

/// What every chunk of one epoch shares.
struct Epoch<'a> {
    n: f64,
    alpha: f32,
    dim: usize,
    n_vertices: usize,
    edges: &'a Edges,
    epochs_per_negative: &'a [f64],
    s: &'a Schedule,
    reads: Reads<'a>,
}

impl Epoch<'_> {
    /// umap-learn's inner loop over one chunk's edges; rows is the chunk's (hi - lo, dim).
    fn run_chunk(&self, c: &mut Chunk, rows: &mut [f32]) {
        let (dim, alpha, n) = (self.dim, self.alpha, self.n);
        let (a, b, gamma) = (self.s.a, self.s.b, self.s.repulsion_strength);
        let lo = c.lo;
        let own = c.lo..c.hi;
        let mut current = [0f32; 64];
        let mut big = vec![];
        let current: &mut [f32] = if dim <= 64 {
            &mut current[..dim]
        } else {
            big.resize(dim, 0.0);
            &mut big
        };
        for (local, edge) in c.edges.clone().enumerate() {
            if c.next_sample[local] > n {
                continue;
            }
            let (j, k) = (self.edges.head[edge], self.edges.tail[edge]);
            current.copy_from_slice(&rows[(j - lo) * dim..(j - lo + 1) * dim]);
            // Attraction, on both ends when the tail is a head row too.
            match self.reads {
                Reads::Fixed(t) => {
                    let other = &t[k * dim..(k + 1) * dim];
                    let cf = attraction_coefficient(squared(current, other), a, b);
                    for (y, o) in current.iter_mut().zip(other) {
                        *y += clip(cf * (*y - o)) * alpha;
                    }
                }
                Reads::Same(_) if own.contains(&k) => {
                    let other = &mut rows[(k - lo) * dim..(k - lo + 1) * dim];
                    let cf = attraction_coefficient(squared(current, other), a, b);
                    for (y, o) in current.iter_mut().zip(other.iter_mut()) {
                        let g = clip(cf * (*y - *o)) * alpha;
                        *y += g;
                        *o -= g;
                    }
                }
                Reads::Same(snap) => {
                    let other = &snap[k * dim..(k + 1) * dim];
                    let cf = attraction_coefficient(squared(current, other), a, b);
                    c.moved.push(k);
                    for (y, o) in current.iter_mut().zip(other) {
                        let g = clip(cf * (*y - *o)) * alpha;
                        *y += g;
                        c.moves.push(-g);
                    }
                }
            }
            c.next_sample[local] += self.edges.epochs_per_sample[edge];
            // Repulsion from the negative samples due since the last visit.
            let epn = self.epochs_per_negative[edge];
            let n_neg = ((n - c.next_negative[local]) / epn).max(0.0) as usize;
            let rng = &mut c.rngs[j - lo];
            for _ in 0..n_neg {
                let kk = rng.below(self.n_vertices);
                let other: &[f32] = match self.reads {
                    Reads::Fixed(t) => &t[kk * dim..(kk + 1) * dim],
                    Reads::Same(_) if kk == j => continue, // the row being moved is `current`
                    Reads::Same(_) if own.contains(&kk) => {
                        &rows[(kk - lo) * dim..(kk - lo + 1) * dim]
                    }
                    Reads::Same(snap) => &snap[kk * dim..(kk + 1) * dim],
                };
                let d2 = squared(current, other);
                if d2 > 0.0 {
                    let cf = repulsion_coefficient(d2, a, b, gamma);
                    for (y, o) in current.iter_mut().zip(other) {
                        *y += clip(cf * (*y - o)) * alpha;
                    }
                }
            }
            c.next_negative[local] += n_neg as f64 * epn;
            rows[(j - lo) * dim..(j - lo + 1) * dim].copy_from_slice(current);
        }
    }
}

#[inline]
fn squared(x: &[f32], y: &[f32]) -> f32 {
    x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow_matches_powf() {
        let mut worst = 0.0f64;
        for &y in &[0.79f32, 0.895, 1.0, 1.33, 1.93, -0.21, 0.5] {
            for i in 0..20_000 {
                // x from 1e-6 to 1e6, logarithmically.
                let x = 10f32.powf(-6.0 + 12.0 * i as f32 / 20_000.0);
                let want = (x as f64).powf(y as f64);
                let got = pow(x, y) as f64;
                worst = worst.max((got - want).abs() / want);
            }
        }
        assert!(worst < 1e-5, "relative error {worst}");
        assert_eq!(pow(0.0, 0.79), 0.0);
        assert_eq!(pow(1.0, 0.79), 1.0);
    }
}
