//! Spectral initialisation (UMAP step 4): the eigenvectors of the normalised graph
//! Laplacian L = I - D^-1/2 A D^-1/2 with the smallest non-trivial eigenvalues, one per
//! embedding dimension (umap-learn's `spectral_layout`; it calls ARPACK, we write the
//! solver).
//!
//! # The solver: thick-restart block Lanczos
//!
//! L and M = D^-1/2 A D^-1/2 = I - L share eigenvectors, and the smallest eigenvalues of L
//! are the largest of M, which a Krylov method finds first. The trivial eigenvector
//! t = D^1/2 1 / ||D^1/2 1|| (eigenvalue 1 of M) is known, so every vector is kept
//! orthogonal to it ("deflation"). The basis V grows by applying M to its oldest
//! unexpanded vector and orthogonalising the result against t and all of V (classical
//! Gram-Schmidt, a second pass where the first cancelled most of the vector: "full
//! reorthogonalisation", so V stays orthonormal to rounding);
//! the coefficients are the entries of H = V^T M V. Starting from a block of BLOCK random
//! vectors instead of one lets eigenvalues of multiplicity up to BLOCK be found (a ring's
//! eigenvalues come in pairs). When V is full, Rayleigh-Ritz on H gives Ritz pairs
//! (theta, V y) with residual norms from H's last rows; the best KEEP Ritz vectors and the
//! unexpanded block are kept, and the basis grows again (thick restart, Wu & Simon 2000),
//! until the wanted residuals ||M u - theta u|| fall below the tolerance.
//!
//! All sums run in f64 in an order fixed by the shape (tasks own fixed chunks of CHUNK
//! elements; the chunks' partial dot products are added in chunk order), so the vectors are
//! bit-identical for any thread count.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use super::fuzzy::Csr;
use crate::linalg::argmax;

/// Start vectors per Krylov block: the largest eigenvalue multiplicity found reliably.
const BLOCK: usize = 4;
/// Elements per task of the vector operations: a chunk of each of the 48 basis vectors is
/// read as one contiguous run (the solver is bound by reading the 13 MB f64 basis), and the
/// fixed chunking fixes the order of the partial dot products.
const CHUNK: usize = 4096;
/// Restarts at most before the solver gives up (and the caller falls back to random init).
pub const MAX_RESTARTS: usize = 300;
/// Graphs up to this size are solved by a dense eigendecomposition (Jacobi) instead.
const DENSE_LIMIT: usize = 64;

/// Eigenpairs of L: values ascending, vectors (N, nev) row-major.
#[derive(Clone, Debug)]
pub struct Eigen {
    pub values: Vec<f64>,
    /// vectors is (N, nev): column c is the eigenvector of values[c], unit length.
    pub vectors: Vec<f64>,
    /// Thick restarts used (0 for the dense path).
    pub restarts: usize,
}

/// The degree of every vertex, d_i = sum_j A_ij, (N,).
pub fn degrees(a: &Csr) -> Vec<f64> {
    (0..a.rows)
        .map(|i| a.row(i).map(|(_, v)| v as f64).sum())
        .collect()
}

/// y = M x with M = D^-1/2 A D^-1/2; inv_sqrt_deg is (N,), x and y are (N,).
fn apply_m(a: &Csr, inv_sqrt_deg: &[f64], x: &[f64], y: &mut [f64]) {
    y.par_chunks_mut(CHUNK).enumerate().for_each(|(c, out)| {
        for (t, yi) in out.iter_mut().enumerate() {
            let i = c * CHUNK + t;
            let s: f64 = a
                .row(i)
                .map(|(j, v)| v as f64 * inv_sqrt_deg[j] * x[j])
                .sum();
            *yi = inv_sqrt_deg[i] * s;
        }
    });
}

/// Partial sums of a dot product.
const LANES: usize = 8;

/// x . y summed in LANES partial sums (element e into lane e mod LANES), added pairwise at
/// the end: LANES independent chains of additions instead of one chain N long, whose
/// latency bounded the solver. The order depends on the length only.
fn dot(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0f64; LANES];
    let (xc, yc) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (p, q) in xc.zip(yc) {
        for l in 0..LANES {
            acc[l] += p[l] * q[l];
        }
    }
    for (l, (p, q)) in xr.iter().zip(yr).enumerate() {
        acc[l] += p * q;
    }
    let [a0, a1, a2, a3, a4, a5, a6, a7] = acc;
    ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
}

/// w -= sum_i c_i v_i, chunk by chunk of elements: each chunk of w (CHUNK elements, kept in
/// the cache) takes the basis vectors' moves one after another, in index order, each read as
/// one contiguous run.
fn subtract_combination(w: &mut [f64], basis: &[Vec<f64>], c: &[f64]) {
    w.par_chunks_mut(CHUNK).enumerate().for_each(|(ch, out)| {
        let (lo, len) = (ch * CHUNK, out.len());
        for (v, &ci) in basis.iter().zip(c) {
            for (x, ve) in out.iter_mut().zip(&v[lo..lo + len]) {
                *x -= ci * ve;
            }
        }
    });
}

/// V^T w, the dot of w with every basis vector, in one pass over w chunk by chunk: each
/// chunk's partial dots (summed as [`dot`] sums), then the chunks' partials added in chunk
/// order. The order depends on the length only.
fn project(basis: &[Vec<f64>], w: &[f64]) -> Vec<f64> {
    let partials: Vec<Vec<f64>> = w
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(ch, wc)| {
            let lo = ch * CHUNK;
            basis
                .iter()
                .map(|v| dot(&v[lo..lo + wc.len()], wc))
                .collect()
        })
        .collect();
    let mut c = vec![0.0; basis.len()];
    for part in &partials {
        for (ci, p) in c.iter_mut().zip(part) {
            *ci += p;
        }
    }
    c
}

/// The vectors u_c = sum_l coefs[c][l] v_l (each (N,)), chunk by chunk of elements: each
/// chunk of every u_c (in the cache) takes the basis vectors' terms in index order, each
/// basis chunk read as one contiguous run, so the basis is read once, not once per u_c.
fn combinations(basis: &[Vec<f64>], coefs: &[Vec<f64>], n: usize) -> Vec<Vec<f64>> {
    // blocks[ch] is (k, len of chunk ch): the chunk of every u_c.
    let chunks = n.div_ceil(CHUNK);
    let blocks: Vec<Vec<Vec<f64>>> = (0..chunks)
        .into_par_iter()
        .map(|ch| {
            let (lo, hi) = (ch * CHUNK, ((ch + 1) * CHUNK).min(n));
            coefs
                .iter()
                .map(|coef| {
                    let mut u = vec![0.0f64; hi - lo];
                    for (v, &cl) in basis.iter().zip(coef) {
                        for (x, ve) in u.iter_mut().zip(&v[lo..hi]) {
                            *x += cl * ve;
                        }
                    }
                    u
                })
                .collect()
        })
        .collect();
    (0..coefs.len())
        .map(|c| blocks.iter().flat_map(|b| b[c].iter().copied()).collect())
        .collect()
}

/// Orthogonalises w against t and the basis by classical Gram-Schmidt, a second pass only
/// where the first removed most of w (its norm fell below 1/sqrt 2 of what it was: Daniel,
/// Gragg, Kaufman & Stewart's "twice is enough" test); returns the coefficients against the
/// basis, summed over the passes. The test depends on the data only, never on the threads.
fn orthogonalise(w: &mut [f64], t: &[f64], basis: &[Vec<f64>]) -> Vec<f64> {
    let mut total = vec![0.0; basis.len()];
    let mut before = dot(w, w);
    for _ in 0..2 {
        let ct = dot(t, w);
        w.iter_mut().zip(t).for_each(|(x, ti)| *x -= ct * ti);
        let c = project(basis, w);
        subtract_combination(w, basis, &c);
        for (s, ci) in total.iter_mut().zip(&c) {
            *s += ci;
        }
        let after = dot(w, w);
        if after > 0.5 * before {
            break;
        }
        before = after;
    }
    total
}

/// A random unit vector orthogonal to t and the basis, from `rng`.
fn random_orthogonal(n: usize, t: &[f64], basis: &[Vec<f64>], rng: &mut StdRng) -> Vec<f64> {
    loop {
        let mut w: Vec<f64> = (0..n).map(|_| rng.random::<f64>() - 0.5).collect();
        orthogonalise(&mut w, t, basis);
        let norm = dot(&w, &w).sqrt();
        if norm > 1e-8 {
            w.iter_mut().for_each(|x| *x /= norm);
            return w;
        }
    }
}

/// The `nev` smallest eigenvalues of L above the trivial one (whose vector D^1/2 1 is
/// deflated), and their eigenvectors, to residual ||L v - lambda v|| < tol.
///
/// Returns None when the solver has not converged within MAX_RESTARTS, or when a vertex has
/// no edges (L is then undefined). Needs nev + 1 < N (asserted).
pub fn smallest_eigenpairs(a: &Csr, nev: usize, tol: f64, seed: u64) -> Option<Eigen> {
    let n = a.rows;
    assert!(
        nev >= 1 && nev + 1 < n,
        "spectral: {nev} eigenvectors of a {n}-vertex graph"
    );
    let deg = degrees(a);
    if deg.iter().any(|&d| d <= 0.0) {
        return None;
    }
    let inv_sqrt_deg: Vec<f64> = deg.iter().map(|d| 1.0 / d.sqrt()).collect();
    let t_norm = deg.iter().sum::<f64>().sqrt();
    // t = D^1/2 1 / ||D^1/2 1||, the eigenvector of eigenvalue 0 of L.
    let t: Vec<f64> = deg.iter().map(|d| d.sqrt() / t_norm).collect();
    if n <= DENSE_LIMIT {
        return Some(dense_eigenpairs(a, &inv_sqrt_deg, &t, nev));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    // Basis size m: the unexpanded block, KEEP kept Ritz vectors and room to grow.
    let keep = (2 * nev).max(nev + 8);
    let m = (keep + 24 + BLOCK).min(n - 1);
    let keep = keep.min(m - BLOCK - 1);
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(m);
    for _ in 0..BLOCK {
        let v = random_orthogonal(n, &t, &basis, &mut rng);
        basis.push(v);
    }
    // h is (m, m): h[i * m + j] = v_i^T M v_j, known for every pair with an expanded index.
    let mut h = vec![0.0f64; m * m];
    let mut expanded = 0usize;
    let mut w = vec![0.0f64; n];
    for restart in 0..=MAX_RESTARTS {
        // Grow: expand the oldest unexpanded vector until V holds m vectors.
        while basis.len() < m {
            let j = expanded;
            apply_m(a, &inv_sqrt_deg, &basis[j], &mut w);
            let c = orthogonalise(&mut w, &t, &basis);
            for (i, &ci) in c.iter().enumerate() {
                h[i * m + j] = ci;
                h[j * m + i] = ci;
            }
            let beta = dot(&w, &w).sqrt();
            let l = basis.len();
            if beta > 1e-10 {
                w.iter_mut().for_each(|x| *x /= beta);
                h[l * m + j] = beta;
                h[j * m + l] = beta;
                basis.push(w.clone());
            } else {
                // Breakdown: span(V) is invariant under M; carry on in a fresh direction,
                // which M v_j does not reach (its coefficient is 0).
                let v = random_orthogonal(n, &t, &basis, &mut rng);
                basis.push(v);
            }
            expanded += 1;
        }
        // Rayleigh-Ritz on the expanded part V_J, J = m - BLOCK.
        let jn = expanded;
        let hj: Vec<f64> = (0..jn * jn).map(|e| h[(e / jn) * m + e % jn]).collect();
        let (theta, y) = jacobi_eigen(&hj, jn);
        // Descending theta = ascending eigenvalue of L.
        let mut order: Vec<usize> = (0..jn).collect();
        order.sort_by(|&p, &q| theta[q].total_cmp(&theta[p]).then(p.cmp(&q)));
        // ||M V_J y - theta V_J y|| = ||H[J.., ..J] y||: the unexpanded rows.
        let residual = |col: usize| -> f64 {
            (jn..m)
                .map(|r| {
                    let s: f64 = (0..jn).map(|l| h[r * m + l] * y[l * jn + col]).sum();
                    s * s
                })
                .sum::<f64>()
                .sqrt()
        };
        let converged = order[..nev].iter().all(|&c| residual(c) < tol);
        let ritz = |cols: &[usize], basis: &[Vec<f64>]| -> Vec<Vec<f64>> {
            let coefs: Vec<Vec<f64>> = cols
                .iter()
                .map(|&c| (0..jn).map(|l| y[l * jn + c]).collect())
                .collect();
            combinations(&basis[..jn], &coefs, n)
        };
        if converged {
            let vecs = ritz(&order[..nev], &basis);
            let values = order[..nev].iter().map(|&c| 1.0 - theta[c]).collect();
            let mut vectors = vec![0.0; n * nev];
            for (c, u) in vecs.iter().enumerate() {
                let sign = sign_of_largest(u);
                for i in 0..n {
                    vectors[i * nev + c] = sign * u[i];
                }
            }
            return Some(Eigen {
                values,
                vectors,
                restarts: restart,
            });
        }
        // Thick restart: the best `keep` Ritz vectors, then the unexpanded block.
        let kept = &order[..keep];
        let mut new_basis = ritz(kept, &basis);
        let mut new_h = vec![0.0f64; m * m];
        for (i, &c) in kept.iter().enumerate() {
            new_h[i * m + i] = theta[c];
            for (s, r) in (jn..m).enumerate() {
                let coupling: f64 = (0..jn).map(|l| h[r * m + l] * y[l * jn + c]).sum();
                new_h[(keep + s) * m + i] = coupling;
                new_h[i * m + keep + s] = coupling;
            }
        }
        new_basis.extend(basis.drain(jn..m));
        basis = new_basis;
        h = new_h;
        expanded = keep;
    }
    None
}

/// The dense path for small graphs: all eigenpairs of the (N, N) matrix M - 3 t t^T by
/// Jacobi. t is an eigenvector of M with eigenvalue 1, so the shift sends it to -2, below
/// every other eigenvalue of M (all in [-1, 1]), which it leaves alone.
fn dense_eigenpairs(a: &Csr, inv_sqrt_deg: &[f64], t: &[f64], nev: usize) -> Eigen {
    let n = a.rows;
    let mut mm = vec![0.0f64; n * n];
    for i in 0..n {
        for (j, v) in a.row(i) {
            mm[i * n + j] = inv_sqrt_deg[i] * v as f64 * inv_sqrt_deg[j];
        }
    }
    for i in 0..n {
        for j in 0..n {
            mm[i * n + j] -= 3.0 * t[i] * t[j];
        }
    }
    let (theta, y) = jacobi_eigen(&mm, n);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&p, &q| theta[q].total_cmp(&theta[p]).then(p.cmp(&q)));
    let mut vectors = vec![0.0; n * nev];
    let mut values = Vec::with_capacity(nev);
    for (c, &col) in order[..nev].iter().enumerate() {
        values.push(1.0 - theta[col]);
        let u: Vec<f64> = (0..n).map(|i| y[i * n + col]).collect();
        let sign = sign_of_largest(&u);
        for i in 0..n {
            vectors[i * nev + c] = sign * u[i];
        }
    }
    Eigen {
        values,
        vectors,
        restarts: 0,
    }
}

/// +1 or -1, making the entry of largest magnitude (the first of them) positive: an
/// eigenvector's sign is arbitrary, this fixes it.
fn sign_of_largest(u: &[f64]) -> f64 {
    match argmax(u.iter().map(|x| x.abs())) {
        Some((i, _)) if u[i] < 0.0 => -1.0,
        _ => 1.0,
    }
}

/// All eigenpairs of the symmetric (n, n) matrix `s` by cyclic Jacobi rotations: values
/// (n,) and vectors (n, n) with column c the eigenvector of values[c].
pub fn jacobi_eigen(s: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = s.to_vec();
    let mut v = vec![0.0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                // The rotation that zeroes a_pq (Golub & Van Loan, Algorithm 8.5.1).
                let tau = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = tau.signum() / (tau.abs() + (1.0 + tau * tau).sqrt());
                let t = if tau == 0.0 { 1.0 } else { t };
                let c = 1.0 / (1.0 + t * t).sqrt();
                let sn = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - sn * akq;
                    a[k * n + q] = sn * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - sn * aqk;
                    a[q * n + k] = sn * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - sn * vkq;
                    v[k * n + q] = sn * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

/// The connected components of the graph: a label per vertex (N,), numbered in order of
/// each component's smallest vertex, and their count.
pub fn connected_components(a: &Csr) -> (Vec<usize>, usize) {
    let n = a.rows;
    let mut label = vec![usize::MAX; n];
    let mut count = 0;
    let mut stack = Vec::new();
    for s in 0..n {
        if label[s] != usize::MAX {
            continue;
        }
        label[s] = count;
        stack.push(s);
        while let Some(i) = stack.pop() {
            for (j, _) in a.row(i) {
                if label[j] == usize::MAX {
                    label[j] = count;
                    stack.push(j);
                }
            }
        }
        count += 1;
    }
    (label, count)
}

/// How the initial layout was obtained, for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitKind {
    /// Eigenvectors of L (per component when the graph is disconnected).
    Spectral,
    /// Uniform in [-10, 10]: the solver did not converge (umap-learn's fallback too).
    Random,
}

/// The residual tolerance of the initialisation's eigenvectors. An initial layout needs
/// little accuracy; umap-learn asks ARPACK for 1e-4 too.
const INIT_TOL: f64 = 1e-4;

/// umap-learn's `spectral_layout`: coordinates (N, dim), row-major, in f64, before scaling.
///
/// A connected graph: its eigenvectors 2..dim+1. A disconnected one
/// (`multi_component_layout`): each component is given a centre, the meta-embedding
/// (component c at +-e_{c/2} with the sign alternating, as umap-learn does when there are at
/// most 2 dim components; beyond that the same pattern repeats at radius 1 + c / (2 dim), a
/// simplification of umap-learn's spectral layout of the components' centroids), and its
/// own spectral layout scaled to half the distance to the nearest other centre; components
/// too small for it (fewer than 2 dim vertices) are uniform random in that radius. A graph
/// too small for dim eigenvectors, or a failed solve, gives uniform [-10, 10].
pub fn spectral_layout(a: &Csr, dim: usize, seed: u64) -> (Vec<f64>, InitKind) {
    let n = a.rows;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_5bec_0000_0001);
    let random = |rng: &mut StdRng| -> Vec<f64> {
        (0..n * dim)
            .map(|_| rng.random_range(-10.0..10.0))
            .collect()
    };
    let (label, count) = connected_components(a);
    if count == 1 {
        if n < 2 * dim || n <= dim + 1 {
            return (random(&mut rng), InitKind::Random);
        }
        return match smallest_eigenpairs(a, dim, INIT_TOL, seed) {
            Some(e) => (e.vectors, InitKind::Spectral),
            None => (random(&mut rng), InitKind::Random),
        };
    }
    let centres = meta_embedding(count, dim);
    let mut out = vec![0.0f64; n * dim];
    for c in 0..count {
        let members: Vec<usize> = (0..n).filter(|&i| label[i] == c).collect();
        let centre = &centres[c * dim..(c + 1) * dim];
        let nearest = (0..count)
            .filter(|&o| o != c)
            .map(|o| {
                let other = &centres[o * dim..(o + 1) * dim];
                centre
                    .iter()
                    .zip(other)
                    .map(|(x, y)| (x - y) * (x - y))
                    .sum::<f64>()
                    .sqrt()
            })
            .fold(f64::INFINITY, f64::min);
        let data_range = nearest / 2.0;
        let sub = subgraph(a, &members, &label, c);
        let m = members.len();
        let solved = if m < 2 * dim || m <= dim + 1 {
            None
        } else {
            smallest_eigenpairs(&sub, dim, INIT_TOL, seed.wrapping_add(c as u64))
        };
        match solved {
            Some(e) => {
                let max = e.vectors.iter().fold(0.0f64, |s, x| s.max(x.abs()));
                let expansion = if max > 0.0 { data_range / max } else { 0.0 };
                for (r, &i) in members.iter().enumerate() {
                    for d in 0..dim {
                        out[i * dim + d] = e.vectors[r * dim + d] * expansion + centre[d];
                    }
                }
            }
            None => {
                for &i in &members {
                    for d in 0..dim {
                        out[i * dim + d] = rng.random_range(-data_range..data_range) + centre[d];
                    }
                }
            }
        }
    }
    (out, InitKind::Spectral)
}

/// Centres of `count` components in `dim` dimensions: +-e_0, +-e_1, ..., repeating farther
/// out after 2 dim.
fn meta_embedding(count: usize, dim: usize) -> Vec<f64> {
    let mut c = vec![0.0; count * dim];
    for k in 0..count {
        let axis = (k / 2) % dim;
        let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
        let radius = 1.0 + (k / (2 * dim)) as f64;
        c[k * dim + axis] = sign * radius;
    }
    c
}

/// The subgraph of component `c` on `members` (ascending), renumbered 0..members.len().
fn subgraph(a: &Csr, members: &[usize], label: &[usize], c: usize) -> Csr {
    let mut new_index = vec![usize::MAX; a.rows];
    for (r, &i) in members.iter().enumerate() {
        new_index[i] = r;
    }
    let mut triplets = Vec::new();
    for (r, &i) in members.iter().enumerate() {
        for (j, v) in a.row(i) {
            debug_assert_eq!(label[j], c);
            triplets.push((r, new_index[j], v));
        }
    }
    Csr::from_triplets(members.len(), &triplets)
}

/// umap-learn's `noisy_scale_coords` and the rescaling in `simplicial_set_embedding`:
/// scale so that max |y| = 10, add N(0, 1e-4^2) noise, then map each axis onto [0, 10].
/// coords is (N, dim); the result is the f32 initial embedding (N, dim).
pub fn scale_initial(coords: &[f64], n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x0015_ca1e_0000_0002);
    let max = coords.iter().fold(0.0f64, |s, x| s.max(x.abs()));
    let expansion = if max > 0.0 { 10.0 / max } else { 1.0 };
    let mut y: Vec<f32> = coords
        .iter()
        .map(|&x| (x * expansion) as f32 + (1e-4 * standard_normal(&mut rng)) as f32)
        .collect();
    for d in 0..dim {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for i in 0..n {
            lo = lo.min(y[i * dim + d]);
            hi = hi.max(y[i * dim + d]);
        }
        let range = hi - lo;
        for i in 0..n {
            let v = &mut y[i * dim + d];
            *v = if range > 0.0 {
                10.0 * (*v - lo) / range
            } else {
                0.0
            };
        }
    }
    y
}

/// One N(0, 1) sample by Box-Muller (rand alone has no normal distribution).
fn standard_normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
