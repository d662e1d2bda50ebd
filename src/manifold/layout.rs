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
/// Computed as -2 a b p / (d2 (1 + a p)) with p = d2^b: one division, not two.
#[inline]
pub fn attraction_coefficient(d2: f32, a: f32, b: f32) -> f32 {
    if d2 > 0.0 {
        let p = pow(d2, b); // d^(2b)
        (-2.0 * a * b) * p / (d2 * (a * p + 1.0))
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
    (2.0 * gamma * b) / ((REPULSION_EPS + d2) * (a * pow(d2, b) + 1.0))
}

/// x^y for x >= 0 as 2^(y log2 x), with short polynomials for log2 and 2^f: relative
/// error below 1e-5 for x in [1e-6, 1e6] (tested against f64 `powf`; it is the rounding of
/// y log2 x in f32, the polynomials' truncation errors are below 2e-7),
/// several times faster than libm's `powf`, which took most of the layout's time (one
/// power per sample, about 2 x 10^8 per fit).
///
/// The layout's samples form one long chain of dependent operations (each moves the
/// point the next one measures from), so what counts is the latency of this function,
/// not its throughput: it has no branches that depend on x, one division, and its
/// polynomials are evaluated by Estrin's scheme (independent halves combined by powers of
/// the argument) rather than Horner's, which is one long chain of multiply-adds.
#[inline]
pub fn pow(x: f32, y: f32) -> f32 {
    if x <= 0.0 {
        return if y == 0.0 { 1.0 } else { 0.0 };
    }
    // x = m 2^e with m in [sqrt(1/2), sqrt(2)), from the bits (subnormals raised to the
    // smallest normal: their powers are 0 to f32 precision for the y of UMAP). Subtracting
    // the bits of sqrt(1/2) carries into the exponent exactly when m >= sqrt(2) would.
    let bits = x.max(f32::MIN_POSITIVE).to_bits();
    let e = (bits.wrapping_sub(0x3f35_04f3) as i32) >> 23;
    let m = f32::from_bits(bits.wrapping_sub((e << 23) as u32));
    // ln m = 2 atanh(t), t = (m - 1) / (m + 1), |t| < 0.172: 2 t (1 + t^2/3 + t^4/5 + t^6/7),
    // truncation error below 3e-8.
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let t4 = t2 * t2;
    let series = (1.0 + t2 * (1.0 / 3.0)) + t4 * (0.2 + t2 * (1.0 / 7.0));
    let log2_m = (t * (2.0 * std::f32::consts::LOG2_E)) * series;
    let l = y * (e as f32 + log2_m); // y log2 x
    let l = l.clamp(-126.0, 126.0);
    // 2^l = 2^i 2^f with i = round(l), f in [-0.5, 0.5]. The cast truncates towards 0, so
    // it rounds l + 0.5 shifted positive (`round` is a libm call without SSE4.1).
    let i = (l + 128.5) as i32 - 128;
    let f = l - i as f32;
    // 2^f = e^(f ln 2) to degree 6, c_k = (ln 2)^k / k!: truncation error below 2e-7.
    const C: [f32; 7] = [
        1.0,
        std::f32::consts::LN_2,
        0.240_226_5,
        0.055_504_11,
        0.009_618_129,
        0.001_333_355_8,
        0.000_154_035_3,
    ];
    let f2 = f * f;
    let f4 = f2 * f2;
    let p = ((C[0] + f * C[1]) + f2 * (C[2] + f * C[3])) + f4 * ((C[4] + f * C[5]) + f2 * C[6]);
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

/// The negative samples of one due edge, drawn ahead of its turn: their vertices (S,).
#[derive(Default)]
struct Draws {
    local: usize,
    vertices: Vec<usize>,
}

/// Asks the cache for a row that will be read soon (a hint: no effect on any value).
///
/// The layout reads rows at random, one negative sample after another, and each sample's
/// arithmetic waits on the row it measures from: profiled on the real codes, almost half
/// of the loop's time was that wait. The rows of the next edge's samples are known one
/// edge ahead (they come from the generator alone), so they are fetched while the current
/// edge is worked on.
#[inline(always)]
fn prefetch(row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // A row may straddle two cache lines: ask for the lines of its first and last
        // values.
        for v in [row.first(), row.last()].into_iter().flatten() {
            // SAFETY: a prefetch never faults and changes no memory; the pointer is that of
            // a live element.
            #[allow(unused_unsafe)]
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(v as *const f32 as *const i8)
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

impl Epoch<'_> {
    /// The row of vertex `v` as this chunk reads it: its own rows live, others' from the
    /// epoch's snapshot or the fixed tails.
    #[inline(always)]
    fn row_of<'r>(&'r self, v: usize, lo: usize, hi: usize, rows: &'r [f32]) -> &'r [f32] {
        let dim = self.dim;
        match self.reads {
            Reads::Fixed(t) => &t[v * dim..(v + 1) * dim],
            Reads::Same(_) if (lo..hi).contains(&v) => &rows[(v - lo) * dim..(v - lo + 1) * dim],
            Reads::Same(snap) => &snap[v * dim..(v + 1) * dim],
        }
    }

    /// The next edge at or after `from` (a chunk-local index) due for a sample this epoch.
    fn next_due(&self, c: &Chunk, from: usize) -> Option<usize> {
        (from..c.next_sample.len()).find(|&l| c.next_sample[l] <= self.n)
    }

    /// Draws the negative samples due on edge `local` (from its head's generator, which is
    /// what fixes their order) into `d`, and prefetches its tail's and their rows.
    fn draw(&self, c: &mut Chunk, local: usize, rows: &[f32], d: &mut Draws) {
        let edge = c.edges.start + local;
        let (j, k) = (self.edges.head[edge], self.edges.tail[edge]);
        let epn = self.epochs_per_negative[edge];
        let n_neg = ((self.n - c.next_negative[local]) / epn).max(0.0) as usize;
        let rng = &mut c.rngs[j - c.lo];
        d.local = local;
        d.vertices.clear();
        d.vertices
            .extend((0..n_neg).map(|_| rng.below(self.n_vertices)));
        prefetch(self.row_of(k, c.lo, c.hi, rows));
        for &v in &d.vertices {
            prefetch(self.row_of(v, c.lo, c.hi, rows));
        }
    }

    /// umap-learn's inner loop over one chunk's edges; rows is the chunk's (hi - lo, dim).
    /// Each due edge's negative samples are drawn one due edge ahead (see [`prefetch`]);
    /// every generator still gives its draws to its edges in the loop's order, so the
    /// samples are those of the plain loop.
    fn run_chunk(&self, c: &mut Chunk, rows: &mut [f32]) {
        let (dim, alpha) = (self.dim, self.alpha);
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
        let (mut now, mut ahead) = (Draws::default(), Draws::default());
        let mut due = self.next_due(c, 0);
        if let Some(l) = due {
            self.draw(c, l, rows, &mut now);
        }
        while let Some(local) = due {
            due = self.next_due(c, local + 1);
            if let Some(l) = due {
                self.draw(c, l, rows, &mut ahead);
            }
            debug_assert_eq!(now.local, local);
            let edge = c.edges.start + local;
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
            for &kk in &now.vertices {
                if matches!(self.reads, Reads::Same(_)) && kk == j {
                    continue; // the row being moved is `current`
                }
                let other = self.row_of(kk, own.start, own.end, rows);
                let d2 = squared(current, other);
                if d2 > 0.0 {
                    let cf = repulsion_coefficient(d2, a, b, gamma);
                    for (y, o) in current.iter_mut().zip(other) {
                        *y += clip(cf * (*y - o)) * alpha;
                    }
                }
            }
            c.next_negative[local] += now.vertices.len() as f64 * self.epochs_per_negative[edge];
            rows[(j - lo) * dim..(j - lo + 1) * dim].copy_from_slice(current);
            std::mem::swap(&mut now, &mut ahead);
        }
    }
}

/// Lanes of the squared distance's partial sums.
const LANES: usize = 8;

/// ||x - y||^2, summed in LANES partial sums (coordinate c into lane c mod LANES) that are
/// then added pairwise: a tree of additions instead of one sequential chain, which is most
/// of the latency of a sample in 10 dimensions. The order is fixed, so the bits are too.
#[inline(always)]
fn squared(x: &[f32], y: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (xc, yc) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (p, q) in xc.zip(yc) {
        for l in 0..LANES {
            let d = p[l] - q[l];
            acc[l] += d * d;
        }
    }
    for (l, (p, q)) in xr.iter().zip(yr).enumerate() {
        let d = p - q;
        acc[l] += d * d;
    }
    let [a0, a1, a2, a3, a4, a5, a6, a7] = acc;
    ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// umap-learn's `optimize_layout_euclidean` (with a random_state: sequential) written
    /// as plainly as possible, as the oracle of the fast loop: one pass over the edges per
    /// epoch, negative samples drawn when their edge is worked on, rows updated in place.
    /// It shares only the arithmetic helpers (`pow` through the coefficients, `squared`,
    /// `clip`) and the generators with the code under test, so a fault in the look-ahead
    /// draws, the prefetch order, the chunk bookkeeping or the schedules shows up as
    /// different bits.
    fn naive_layout(head: &mut [f32], tail: Option<&[f32]>, dim: usize, e: &Edges, s: &Schedule) {
        let n_head = head.len() / dim;
        let n_vertices = tail.map_or(n_head, |t| t.len() / dim);
        let nsr = s.negative_sample_rate as f64;
        let epn: Vec<f64> = e.epochs_per_sample.iter().map(|&x| x / nsr).collect();
        let mut next_sample = e.epochs_per_sample.clone();
        let mut next_negative = epn.clone();
        let mut rngs: Vec<Taus88> = (0..n_head).map(|v| Taus88::new(s.seed, v as u64)).collect();
        let mut alpha = s.initial_alpha;
        for epoch in 0..s.n_epochs {
            let n = epoch as f64;
            for i in 0..e.len() {
                if next_sample[i] > n {
                    continue;
                }
                let (j, k) = (e.head[i], e.tail[i]);
                let mut yj = head[j * dim..(j + 1) * dim].to_vec();
                let yk: Vec<f32> = match tail {
                    Some(t) => t[k * dim..(k + 1) * dim].to_vec(),
                    None => head[k * dim..(k + 1) * dim].to_vec(),
                };
                let cf = attraction_coefficient(squared(&yj, &yk), s.a, s.b);
                for c in 0..dim {
                    let g = clip(cf * (yj[c] - yk[c])) * alpha;
                    yj[c] += g;
                    if tail.is_none() {
                        head[k * dim + c] -= g;
                    }
                }
                next_sample[i] += e.epochs_per_sample[i];
                let n_neg = ((n - next_negative[i]) / epn[i]).max(0.0) as usize;
                for _ in 0..n_neg {
                    let v = rngs[j].below(n_vertices);
                    if tail.is_none() && v == j {
                        continue;
                    }
                    let yv: Vec<f32> = match tail {
                        Some(t) => t[v * dim..(v + 1) * dim].to_vec(),
                        None => head[v * dim..(v + 1) * dim].to_vec(),
                    };
                    let d2 = squared(&yj, &yv);
                    if d2 > 0.0 {
                        let cf = repulsion_coefficient(d2, s.a, s.b, s.repulsion_strength);
                        for c in 0..dim {
                            yj[c] += clip(cf * (yj[c] - yv[c])) * alpha;
                        }
                    }
                }
                next_negative[i] += n_neg as f64 * epn[i];
                head[j * dim..(j + 1) * dim].copy_from_slice(&yj);
            }
            alpha = s.initial_alpha * (1.0 - epoch as f32 / s.n_epochs as f32);
        }
    }

    /// A random graph on n vertices, k edges per head (no self-loops), heads sorted, and a
    /// random embedding (n, dim) in [0, 10).
    fn random_problem(n: usize, k: usize, dim: usize, seed: u64) -> (Edges, Vec<f32>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut triplets = vec![];
        for i in 0..n {
            for _ in 0..k {
                let j = (i + 1 + rng.random_range(0..n - 1)) % n;
                triplets.push((i, j, rng.random_range(0.05f32..1.0)));
            }
        }
        let y = (0..n * dim)
            .map(|_| rng.random_range(0.0f32..10.0))
            .collect();
        (Edges::from_weights(triplets.into_iter()), y)
    }

    fn schedule(n_epochs: usize, seed: u64) -> Schedule {
        Schedule {
            n_epochs,
            a: 1.929,
            b: 0.7915,
            repulsion_strength: 1.0,
            initial_alpha: 1.0,
            negative_sample_rate: 5,
            seed,
        }
    }

    #[test]
    fn sequential_layout_is_the_naive_loop_bit_for_bit() {
        // dim 3 (below one lane block), 10 (N2D's), 19 (two blocks and a remainder).
        for (dim, seed) in [(3, 1), (10, 2), (19, 3)] {
            let (edges, y0) = random_problem(150, 6, dim, seed);
            let s = schedule(30, seed);
            let mut fast = y0.clone();
            optimize_layout_sequential(&mut fast, Tails::Same, dim, &edges, &s);
            let mut naive = y0.clone();
            naive_layout(&mut naive, None, dim, &edges, &s);
            assert_ne!(fast, y0, "the layout moved nothing");
            assert_eq!(
                fast, naive,
                "dim {dim}: the fast loop is not umap-learn's loop"
            );
            // One chunk: optimize_layout is the same run.
            let mut parallel = y0.clone();
            optimize_layout(&mut parallel, Tails::Same, dim, &edges, &s);
            assert_eq!(parallel, naive);
        }
    }

    #[test]
    fn transform_layout_is_the_naive_loop_bit_for_bit() {
        // Fixed tails: 2,500 heads span three chunks, which share nothing, so even the
        // parallel run is the naive loop.
        let dim = 10;
        let (edges, tail) = random_problem(2_500, 5, dim, 4);
        let mut rng = StdRng::seed_from_u64(5);
        let y0: Vec<f32> = (0..2_500 * dim)
            .map(|_| rng.random_range(0.0f32..10.0))
            .collect();
        let s = schedule(10, 6);
        let mut fast = y0.clone();
        optimize_layout(&mut fast, Tails::Fixed(&tail), dim, &edges, &s);
        let mut naive = y0.clone();
        naive_layout(&mut naive, Some(&tail), dim, &edges, &s);
        assert_ne!(fast, y0);
        assert_eq!(fast, naive);
    }

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
        // Where the branch-free split of x into m 2^e changes e: just below and at
        // sqrt(2) 2^e, powers of two, and the smallest normal.
        for e in [-20i32, -1, 0, 1, 20] {
            let s = f32::from_bits(0x3fb5_04f3) * 2f32.powi(e);
            for x in [
                f32::from_bits(s.to_bits() - 1),
                s,
                2f32.powi(e),
                f32::MIN_POSITIVE,
            ] {
                let want = (x as f64).powf(0.79);
                let got = pow(x, 0.79) as f64;
                assert!((got - want).abs() <= 1e-5 * want, "{x}: {got} vs {want}");
            }
        }
        assert_eq!(pow(0.0, 0.79), 0.0);
        assert_eq!(pow(1.0, 0.79), 1.0);
    }
}
