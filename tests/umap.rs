//! UMAP (src/manifold/): each step against a naive reference or its defining equation,
//! the layout's gradients against finite differences, the whole fit on separated blobs,
//! thread-count independence, and the errors a user can cause.

use deepcluster::linalg::Matrix;
use deepcluster::manifold::fuzzy::{self, Csr, Neighbours};
use deepcluster::manifold::knn::{self, Knn};
use deepcluster::manifold::layout::{
    self, CHUNK_HEADS, Edges, Schedule, Tails, attraction_coefficient, repulsion_coefficient,
};
use deepcluster::manifold::{InitKind, UmapParams, curve, spectral};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

// ---------------------------------------------------------------------------------------
// Data

/// (n, d) integer-valued points in 0..levels: squared distances are exact in f32, and with
/// few levels there are many ties and duplicates.
fn integer_points(n: usize, d: usize, levels: u32, seed: u64) -> Matrix {
    let mut rng = StdRng::seed_from_u64(seed);
    Matrix::from_fn(n, d, |_, _| rng.random_range(0..levels) as f32)
}

/// `blobs` Gaussian clusters of `per` points in `d` dimensions, centres 20 apart, unit
/// spread; returns the points and their blob.
fn blobs(blobs: usize, per: usize, d: usize, seed: u64) -> (Matrix, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut normal = move || {
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    };
    let mut data = Vec::new();
    let mut label = Vec::new();
    for b in 0..blobs {
        for _ in 0..per {
            for c in 0..d {
                let centre = if c == b % d {
                    20.0 * (1 + b / d) as f32
                } else {
                    0.0
                };
                data.push(centre + normal());
            }
            label.push(b);
        }
    }
    (Matrix::from_vec(blobs * per, d, data), label)
}

fn exact_d2(x: &[f32], y: &[f32]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
        .sum()
}

// ---------------------------------------------------------------------------------------
// Step 1: kNN

/// Brute force: all reference rows sorted by (exact distance, index).
fn brute_sorted(q: &[f32], reference: &Matrix) -> Vec<(f64, usize)> {
    let mut all: Vec<(f64, usize)> = (0..reference.rows())
        .map(|j| (exact_d2(q, reference.row(j)), j))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all
}

fn assert_knn_row(knn: &Knn, i: usize, expected: &[(f64, usize)]) {
    let got: Vec<usize> = knn.row_indices(i).to_vec();
    let want: Vec<usize> = expected.iter().map(|e| e.1).collect();
    assert_eq!(got, want, "row {i}: neighbours");
    for (t, e) in expected.iter().enumerate() {
        assert_eq!(
            knn.row_distances(i)[t],
            (e.0 as f32).sqrt(),
            "row {i}, neighbour {t}"
        );
    }
}

#[test]
fn knn_self_equals_brute_force_with_ties_and_duplicates() {
    // 2,500 points of 3 coordinates in 0..4: only 64 distinct points, so every point has
    // dozens of duplicates and every distance is tied many times. 2,500 rows span two
    // column blocks of the GEMM and many row blocks.
    let x = integer_points(2500, 3, 4, 1);
    let k = 7;
    let knn = knn::knn_self(x.view(), k);
    for i in 0..x.rows() {
        // umap-learn's convention: the point itself first, then the nearest others.
        let others: Vec<(f64, usize)> = brute_sorted(x.row(i), &x)
            .into_iter()
            .filter(|e| e.1 != i)
            .take(k - 1)
            .collect();
        let mut expected = vec![(0.0, i)];
        expected.extend(others);
        assert_knn_row(&knn, i, &expected);
    }
}

#[test]
fn knn_self_without_duplicates_lists_the_point_first_naturally() {
    let x = integer_points(300, 6, 1000, 2);
    let knn = knn::knn_self(x.view(), 10);
    for i in 0..x.rows() {
        let expected: Vec<(f64, usize)> = brute_sorted(x.row(i), &x).into_iter().take(10).collect();
        assert_eq!(expected[0].1, i);
        assert_knn_row(&knn, i, &expected);
    }
}

#[test]
fn knn_query_equals_brute_force() {
    let reference = integer_points(2100, 4, 5, 3);
    let query = integer_points(130, 4, 5, 4);
    let knn = knn::knn_query(query.view(), reference.view(), 9);
    for i in 0..query.rows() {
        let expected: Vec<(f64, usize)> = brute_sorted(query.row(i), &reference)
            .into_iter()
            .take(9)
            .collect();
        assert_knn_row(&knn, i, &expected);
    }
}

#[test]
fn knn_on_real_valued_points_matches_brute_force_sets() {
    // Real values: the GEMM expansion rounds, but the recomputed distances are the direct
    // ones, and the neighbour lists agree with brute force.
    let mut rng = StdRng::seed_from_u64(5);
    let x = Matrix::from_fn(500, 10, |_, _| rng.random::<f32>() * 10.0 - 5.0);
    let knn = knn::knn_self(x.view(), 10);
    for i in 0..x.rows() {
        let expected: Vec<(f64, usize)> = brute_sorted(x.row(i), &x).into_iter().take(10).collect();
        assert_eq!(
            knn.row_indices(i),
            expected.iter().map(|e| e.1).collect::<Vec<_>>().as_slice()
        );
        for (t, e) in expected.iter().enumerate() {
            let d = knn.row_distances(i)[t] as f64;
            assert!(
                (d - e.0.sqrt()).abs() <= 1e-5 * (1.0 + d),
                "row {i}: {d} vs {}",
                e.0.sqrt()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Steps 2-3: local metric, memberships, fuzzy union

fn gaussian_points(n: usize, d: usize, seed: u64) -> Matrix {
    let (x, _) = blobs(1, n, d, seed);
    x
}

#[test]
fn rho_and_sigma_solve_their_equation() {
    let k = 10;
    let x = gaussian_points(400, 5, 6);
    let knn = knn::knn_self(x.view(), k);
    let m = fuzzy::smooth_knn_dist(&knn, 1.0);
    let target = (k as f64).log2();
    for i in 0..x.rows() {
        let d: Vec<f64> = knn.row_distances(i).iter().map(|&v| v as f64).collect();
        // rho_i: the nearest non-identical neighbour.
        assert_eq!(m.rho[i], d[1], "row {i}");
        let sum = fuzzy::membership_sum(&d, m.rho[i], m.sigma[i]);
        assert!(
            (sum - target).abs() < 1e-5,
            "row {i}: sum {sum} vs log2 k {target}"
        );
    }
}

#[test]
fn rho_skips_duplicates_and_sigma_is_floored() {
    // Point 0 has three copies; its rho is the first non-zero distance. A row whose other
    // neighbours all sit at rho cannot reach log2 k (the sum is k - 1 for any sigma), and
    // sigma is then the floor 1e-3 x the row's mean distance.
    let mut rows = vec![vec![0.0f32, 0.0]; 4];
    rows.extend([
        vec![3.0, 0.0],
        vec![0.0, 4.0],
        vec![5.0, 5.0],
        vec![-2.0, 1.0],
    ]);
    let x = Matrix::from_fn(rows.len(), 2, |i, j| rows[i][j]);
    let knn = knn::knn_self(x.view(), 4);
    let m = fuzzy::smooth_knn_dist(&knn, 1.0);
    // Point 0's neighbours: itself and its three copies, all at distance 0: rho = 0.
    assert_eq!(knn.row_distances(0), &[0.0, 0.0, 0.0, 0.0]);
    assert_eq!(m.rho[0], 0.0);
    let w = fuzzy::membership_strengths(&knn, &m, Neighbours::SelfSet);
    assert_eq!(&w[0..4], &[0.0, 1.0, 1.0, 1.0], "self 0, copies 1");
    // Point 4 (3, 0): neighbours at 0 (itself), sqrt 5, 3, 3 (copies of the origin...).
    let d: Vec<f64> = knn.row_distances(4).iter().map(|&v| v as f64).collect();
    assert!(d[1] > 0.0);
    assert_eq!(m.rho[4], d[1]);
}

#[test]
fn membership_strengths_follow_their_formula() {
    let x = gaussian_points(200, 3, 7);
    let knn = knn::knn_self(x.view(), 8);
    let m = fuzzy::smooth_knn_dist(&knn, 1.0);
    let w = fuzzy::membership_strengths(&knn, &m, Neighbours::SelfSet);
    for i in 0..x.rows() {
        assert_eq!(w[i * 8], 0.0, "the point itself");
        assert_eq!(w[i * 8 + 1], 1.0, "the nearest neighbour, at rho");
        for t in 2..8 {
            let d = knn.row_distances(i)[t] as f64;
            let want = (-(d - m.rho[i]).max(0.0) / m.sigma[i]).exp() as f32;
            assert!((w[i * 8 + t] - want).abs() < 1e-6);
        }
    }
}

#[test]
fn fuzzy_union_is_the_dense_formula_symmetric_in_unit_interval() {
    let x = gaussian_points(120, 4, 8);
    let k = 6;
    let knn = knn::knn_self(x.view(), k);
    let m = fuzzy::smooth_knn_dist(&knn, 1.0);
    let w = fuzzy::membership_strengths(&knn, &m, Neighbours::SelfSet);
    let a = fuzzy::fuzzy_union(&knn, &w);
    let n = x.rows();
    // The naive reference: W dense (N, N), then W + W^T - W o W^T.
    let mut dense = vec![0f32; n * n];
    for i in 0..n {
        for t in 0..k {
            dense[i * n + knn.row_indices(i)[t]] = w[i * k + t];
        }
    }
    for i in 0..n {
        for j in 0..n {
            let (p, q) = (dense[i * n + j], dense[j * n + i]);
            let want = p + q - p * q;
            assert_eq!(a.get(i, j), want, "({i}, {j})");
            assert_eq!(a.get(i, j), a.get(j, i), "symmetric ({i}, {j})");
            assert!((0.0..=1.0).contains(&a.get(i, j)));
        }
    }
    // CSR invariants: sorted columns, no explicit zeros.
    for i in 0..n {
        let cols: Vec<usize> = a.row(i).map(|e| e.0).collect();
        assert!(cols.windows(2).all(|p| p[0] < p[1]));
        assert!(a.row(i).all(|e| e.1 > 0.0));
    }
}

// ---------------------------------------------------------------------------------------
// Step 4: spectral initialisation

fn graph_from_edges(n: usize, edges: &[(usize, usize)]) -> Csr {
    let mut t = Vec::new();
    for &(i, j) in edges {
        t.push((i, j, 1.0));
        t.push((j, i, 1.0));
    }
    Csr::from_triplets(n, &t)
}

fn ring(n: usize) -> Csr {
    let edges: Vec<(usize, usize)> = (0..n).map(|i| (i, (i + 1) % n)).collect();
    graph_from_edges(n, &edges)
}

/// max_c ||L v_c - lambda_c v_c|| with L = I - D^-1/2 A D^-1/2, and max |V^T V - I|.
fn eigen_residuals(a: &Csr, e: &spectral::Eigen, nev: usize) -> (f64, f64) {
    let n = a.rows;
    let deg = spectral::degrees(a);
    let mut worst: f64 = 0.0;
    for c in 0..nev {
        let v: Vec<f64> = (0..n).map(|i| e.vectors[i * nev + c]).collect();
        let mut r2 = 0.0;
        for i in 0..n {
            let mv: f64 = a
                .row(i)
                .map(|(j, w)| w as f64 * v[j] / (deg[i] * deg[j]).sqrt())
                .sum();
            let lv = v[i] - mv;
            r2 += (lv - e.values[c] * v[i]).powi(2);
        }
        worst = worst.max(r2.sqrt());
    }
    let mut ortho: f64 = 0.0;
    for c in 0..nev {
        for c2 in 0..nev {
            let d: f64 = (0..n)
                .map(|i| e.vectors[i * nev + c] * e.vectors[i * nev + c2])
                .sum();
            ortho = ortho.max((d - if c == c2 { 1.0 } else { 0.0 }).abs());
        }
    }
    (worst, ortho)
}

#[test]
fn ring_spectrum_by_the_iterative_solver() {
    // The ring's normalised Laplacian has eigenvalues 1 - cos(2 pi k / n), each twice
    // (k and n - k): a test that the block solver finds both copies.
    let n = 100;
    let a = ring(n);
    let nev = 4;
    let e = spectral::smallest_eigenpairs(&a, nev, 1e-9, 1).expect("converges");
    let f = |k: f64| 1.0 - (2.0 * std::f64::consts::PI * k / n as f64).cos();
    let want = [f(1.0), f(1.0), f(2.0), f(2.0)];
    for (got, want) in e.values.iter().zip(want) {
        assert!((got - want).abs() < 1e-9, "{:?} vs {want}", e.values);
    }
    let (res, ortho) = eigen_residuals(&a, &e, nev);
    assert!(
        res < 1e-8 && ortho < 1e-9,
        "residual {res}, orthogonality {ortho}"
    );
}

#[test]
fn ring_spectrum_by_the_dense_path() {
    let n = 20;
    let a = ring(n);
    let e = spectral::smallest_eigenpairs(&a, 5, 1e-9, 1).unwrap();
    let f = |k: f64| 1.0 - (2.0 * std::f64::consts::PI * k / n as f64).cos();
    for (got, want) in e
        .values
        .iter()
        .zip([f(1.0), f(1.0), f(2.0), f(2.0), f(3.0)])
    {
        assert!((got - want).abs() < 1e-10, "{:?}", e.values);
    }
    let (res, ortho) = eigen_residuals(&a, &e, 5);
    assert!(res < 1e-10 && ortho < 1e-10);
}

fn two_cliques(p: usize, q: usize) -> Csr {
    let mut edges = Vec::new();
    for (lo, hi) in [(0, p), (p, p + q)] {
        for i in lo..hi {
            for j in i + 1..hi {
                edges.push((i, j));
            }
        }
    }
    graph_from_edges(p + q, &edges)
}

#[test]
fn two_disjoint_cliques_spectrum() {
    // L of a clique K_s: 0 once, s / (s - 1) s - 1 times. Two cliques: 0 twice (one is the
    // deflated trivial vector), then 50/49 49 times: a breakdown-heavy, degenerate case.
    let a = two_cliques(40, 50);
    let e = spectral::smallest_eigenpairs(&a, 4, 1e-9, 2).expect("converges");
    let want = [0.0, 50.0 / 49.0, 50.0 / 49.0, 50.0 / 49.0];
    for (got, want) in e.values.iter().zip(want) {
        assert!((got - want).abs() < 1e-9, "{:?}", e.values);
    }
    let (res, ortho) = eigen_residuals(&a, &e, 4);
    assert!(
        res < 1e-8 && ortho < 1e-9,
        "residual {res}, orthogonality {ortho}"
    );
}

#[test]
fn disconnected_components_are_laid_out_apart() {
    // Two rings: umap-learn's multi-component layout puts each at its own centre (+e_0 and
    // -e_0 here), its own spectral layout within half the distance to the other centre.
    let mut t = Vec::new();
    for off in [0, 80] {
        for i in 0..80 {
            t.push((off + i, off + (i + 1) % 80, 1.0));
            t.push((off + (i + 1) % 80, off + i, 1.0));
        }
    }
    let a = Csr::from_triplets(160, &t);
    let (_, count) = spectral::connected_components(&a);
    assert_eq!(count, 2);
    let dim = 3;
    let (y, kind) = spectral::spectral_layout(&a, dim, 0);
    assert_eq!(kind, InitKind::Spectral);
    for i in 0..160 {
        // Each coordinate within half the distance between the centres (max |y| scaled).
        let centre = if i < 80 { 1.0 } else { -1.0 };
        let off: f64 = (0..dim)
            .map(|d| (y[i * dim + d] - if d == 0 { centre } else { 0.0 }).abs())
            .fold(0.0, f64::max);
        assert!(
            off <= 1.0 + 1e-12,
            "point {i}: a coordinate is {off} from its centre"
        );
    }
}

#[test]
fn initial_layout_is_scaled_onto_0_10() {
    let a = ring(100);
    let (c, _) = spectral::spectral_layout(&a, 2, 0);
    let y = spectral::scale_initial(&c, 100, 2, 0);
    for d in 0..2 {
        let col: Vec<f32> = (0..100).map(|i| y[i * 2 + d]).collect();
        let lo = col.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = col.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(lo, 0.0);
        assert!((hi - 10.0).abs() < 1e-5);
    }
}

// ---------------------------------------------------------------------------------------
// Step 5: the curve

#[test]
fn find_ab_params_matches_umap_learn() {
    let csv = include_str!("../fixtures/umap/find_ab_params.csv");
    let mut rows = 0;
    for line in csv
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("min_dist"))
    {
        let v: Vec<f64> = line.split(',').map(|s| s.parse().unwrap()).collect();
        let (a, b) = curve::find_ab_params(v[0], v[1]);
        assert!((a - v[2]).abs() < 1e-5 * v[2], "{line}: a = {a}");
        assert!((b - v[3]).abs() < 1e-5 * v[3], "{line}: b = {b}");
        rows += 1;
    }
    assert_eq!(rows, 7);
    let (a, b) = curve::find_ab_params(0.0, 1.0);
    assert!((a - 1.93).abs() < 0.01 && (b - 0.79).abs() < 0.01);
}

// ---------------------------------------------------------------------------------------
// Step 6: the layout's gradients

/// q = 1 / (1 + a d^(2b)) of two points, in f64.
fn q_of(yi: &[f64], yj: &[f64], a: f64, b: f64) -> f64 {
    let d2: f64 = yi.iter().zip(yj).map(|(p, q)| (p - q).powi(2)).sum();
    1.0 / (1.0 + a * d2.powf(b))
}

/// The fuzzy cross-entropy of one edge of weight w between y_i and y_j, in f64:
/// w log(w / q) + (1 - w) log((1 - w) / (1 - q)) = w (-log q) + (1 - w) (-log(1 - q)) + a
/// constant: the attraction is the gradient of the first term, the repulsion of the second.
fn edge_cross_entropy(yi: &[f64], yj: &[f64], w: f64, a: f64, b: f64) -> f64 {
    let q = q_of(yi, yj, a, b);
    let mut ce = 0.0;
    if w > 0.0 {
        ce += w * (w / q).ln();
    }
    if w < 1.0 {
        ce += (1.0 - w) * ((1.0 - w) / (1.0 - q)).ln();
    }
    ce
}

type Objective<'a> = dyn Fn(&[f64], &[f64]) -> f64 + 'a;
type Gradient<'a> = dyn Fn(&[f64], &[f64]) -> Vec<f64> + 'a;

/// The largest relative error between `analytic` and the central-difference gradient of
/// `objective` with respect to y_i, over random pairs at distance at least 1 (where the
/// repulsion's 0.001 changes it by at most 0.2%).
fn gradient_check(objective: &Objective<'_>, analytic: &Gradient<'_>) -> f64 {
    let mut rng = StdRng::seed_from_u64(9);
    let mut worst: f64 = 0.0;
    let mut checked = 0;
    while checked < 200 {
        let yi: Vec<f64> = (0..3).map(|_| rng.random_range(-2.0..2.0)).collect();
        let yj: Vec<f64> = (0..3).map(|_| rng.random_range(-2.0..2.0)).collect();
        let d2: f64 = yi.iter().zip(&yj).map(|(p, q)| (p - q).powi(2)).sum();
        if d2 < 1.0 {
            continue;
        }
        checked += 1;
        let g = analytic(&yi, &yj);
        let h = 1e-6;
        let fd: Vec<f64> = (0..3)
            .map(|c| {
                let (mut p, mut m) = (yi.clone(), yi.clone());
                p[c] += h;
                m[c] -= h;
                (objective(&p, &yj) - objective(&m, &yj)) / (2.0 * h)
            })
            .collect();
        let norm = fd.iter().map(|v| v * v).sum::<f64>().sqrt();
        let err = g
            .iter()
            .zip(&fd)
            .map(|(p, q)| (p - q).powi(2))
            .sum::<f64>()
            .sqrt();
        worst = worst.max(err / norm);
    }
    worst
}

/// The gradient that an SGD step y_i += alpha c (y_i - y_j) descends: -c (y_i - y_j).
fn from_coefficient(c: f32, yi: &[f64], yj: &[f64]) -> Vec<f64> {
    yi.iter()
        .zip(yj)
        .map(|(p, q)| -(c as f64) * (p - q))
        .collect()
}

fn d2_of(yi: &[f64], yj: &[f64]) -> f32 {
    yi.iter().zip(yj).map(|(p, q)| (p - q).powi(2)).sum::<f64>() as f32
}

/// The checks for one (attraction, repulsion) pair: attraction against -log q, repulsion
/// against -log(1 - q). Returns the worse relative error.
fn check_layout_gradients(
    att: fn(f32, f32, f32) -> f32,
    rep: fn(f32, f32, f32, f32) -> f32,
    a: f64,
    b: f64,
) -> f64 {
    let (af, bf) = (a as f32, b as f32);
    let e1 = gradient_check(&|yi, yj| -q_of(yi, yj, a, b).ln(), &|yi, yj| {
        from_coefficient(att(d2_of(yi, yj), af, bf), yi, yj)
    });
    let e2 = gradient_check(&|yi, yj| -(1.0 - q_of(yi, yj, a, b)).ln(), &|yi, yj| {
        from_coefficient(rep(d2_of(yi, yj), af, bf, 1.0), yi, yj)
    });
    // The cross-entropy of an edge of weight w is w (-log q) + (1 - w) (-log(1 - q)) plus
    // a constant, so these two gradients are the whole of it (checked numerically here).
    let mut rng = StdRng::seed_from_u64(10);
    for _ in 0..50 {
        let yi: Vec<f64> = (0..3).map(|_| rng.random_range(-2.0..2.0)).collect();
        let yj: Vec<f64> = (0..3).map(|_| rng.random_range(-2.0..2.0)).collect();
        let w: f64 = rng.random_range(0.01..0.99);
        let q = q_of(&yi, &yj, a, b);
        let split =
            w * -q.ln() + (1.0 - w) * -(1.0 - q).ln() + w * w.ln() + (1.0 - w) * (1.0 - w).ln();
        assert!((edge_cross_entropy(&yi, &yj, w, a, b) - split).abs() < 1e-12);
    }
    e1.max(e2)
}

#[test]
fn layout_gradients_match_finite_differences_of_the_cross_entropy() {
    for (min_dist, spread) in [(0.0, 1.0), (0.1, 1.0), (0.5, 2.0)] {
        let (a, b) = curve::find_ab_params(min_dist, spread);
        let err = check_layout_gradients(attraction_coefficient, repulsion_coefficient, a, b);
        assert!(err < 5e-3, "min_dist {min_dist}: relative error {err}");
    }
}

fn wrong_attraction(d2: f32, a: f32, b: f32) -> f32 {
    // d^(2b) where d^(2(b-1)) belongs: a plausible slip.
    -2.0 * a * b * d2.powf(b) / (a * d2.powf(b) + 1.0)
}

fn wrong_repulsion(d2: f32, a: f32, b: f32, gamma: f32) -> f32 {
    // The factor 2 dropped.
    gamma * b / ((0.001 + d2) * (a * d2.powf(b) + 1.0))
}

#[test]
fn gradient_check_rejects_wrong_gradients() {
    let (a, b) = curve::find_ab_params(0.0, 1.0);
    let e1 = check_layout_gradients(wrong_attraction, repulsion_coefficient, a, b);
    let e2 = check_layout_gradients(attraction_coefficient, wrong_repulsion, a, b);
    assert!(e1 > 0.1 && e2 > 0.1, "the check must fail: {e1}, {e2}");
}

// ---------------------------------------------------------------------------------------
// The whole fit

/// Trustworthiness (Venna & Kaski 2001): 1 - 2 / (n k (2n - 3k - 1)) sum_i sum_{j in U_i}
/// (r(i, j) - k), U_i the embedded k nearest neighbours of i that are not among its k
/// nearest in the input, r(i, j) j's rank by input distance from i (1 = nearest).
fn trustworthiness(x: &Matrix, y: &Matrix, k: usize) -> f64 {
    let n = x.rows();
    let mut penalty = 0.0;
    for i in 0..n {
        let mut by_x: Vec<(f64, usize)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| (exact_d2(x.row(i), x.row(j)), j))
            .collect();
        by_x.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut rank = vec![0usize; n];
        for (r, &(_, j)) in by_x.iter().enumerate() {
            rank[j] = r + 1;
        }
        let mut by_y: Vec<(f64, usize)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| (exact_d2(y.row(i), y.row(j)), j))
            .collect();
        by_y.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for &(_, j) in &by_y[..k] {
            if rank[j] > k {
                penalty += (rank[j] - k) as f64;
            }
        }
    }
    1.0 - 2.0 / (n as f64 * k as f64 * (2.0 * n as f64 - 3.0 * k as f64 - 1.0)) * penalty
}

#[test]
fn trustworthiness_of_a_copy_is_one_and_of_noise_is_lower() {
    let x = gaussian_points(100, 5, 10);
    assert_eq!(trustworthiness(&x, &x, 5), 1.0);
    let noise = gaussian_points(100, 2, 11);
    assert!(trustworthiness(&x, &noise, 5) < 0.8);
}

#[test]
fn separated_blobs_stay_separated_and_trustworthy() {
    let (x, label) = blobs(4, 100, 8, 12);
    let params = UmapParams {
        n_components: 2,
        n_neighbors: 10,
        seed: 3,
        ..UmapParams::default()
    };
    let model = params.fit(x.view()).unwrap();
    assert_eq!(model.init_kind(), InitKind::Spectral);
    let y = model.embedding();
    assert_eq!(y.shape(), (400, 2));
    let t = trustworthiness(&x, y, 10);
    assert!(t >= 0.95, "trustworthiness {t}");
    // Every point's nearest embedded neighbour is in its own blob.
    for i in 0..400 {
        let nearest = (0..400)
            .filter(|&j| j != i)
            .min_by(|&p, &q| exact_d2(y.row(i), y.row(p)).total_cmp(&exact_d2(y.row(i), y.row(q))))
            .unwrap();
        assert_eq!(label[nearest], label[i], "point {i}");
    }
    // New points from the same blobs land nearest their own blob's embedded centre.
    let (fresh, fresh_label) = blobs(4, 20, 8, 13);
    let z = model.transform(fresh.view()).unwrap();
    let centre = |b: usize| -> Vec<f64> {
        let members: Vec<usize> = (0..400).filter(|&i| label[i] == b).collect();
        (0..2)
            .map(|d| members.iter().map(|&i| y.get(i, d) as f64).sum::<f64>() / 100.0)
            .collect()
    };
    let centres: Vec<Vec<f64>> = (0..4).map(centre).collect();
    for (i, &want) in fresh_label.iter().enumerate() {
        let zi: Vec<f64> = z.row(i).iter().map(|&v| v as f64).collect();
        let best = (0..4)
            .min_by(|&p, &q| {
                let dp: f64 = zi
                    .iter()
                    .zip(&centres[p])
                    .map(|(a, b)| (a - b).powi(2))
                    .sum();
                let dq: f64 = zi
                    .iter()
                    .zip(&centres[q])
                    .map(|(a, b)| (a - b).powi(2))
                    .sum();
                dp.total_cmp(&dq)
            })
            .unwrap();
        assert_eq!(best, want, "new point {i}");
    }
}

#[test]
fn same_bits_for_1_2_and_3_threads() {
    // 4,500 points in one connected cloud: above the kNN's row block (64), the
    // eigensolver's element chunk (4,096), which a graph split into components would not
    // be, and the layout's CHUNK_HEADS (5 chunks).
    let x = gaussian_points(4500, 6, 14);
    assert!(x.rows() > 4 * CHUNK_HEADS);
    let graph = UmapParams::default().fuzzy_graph(x.view());
    assert_eq!(spectral::connected_components(&graph).1, 1);
    let params = UmapParams {
        n_components: 3,
        n_epochs: Some(20),
        ..UmapParams::default()
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let m = params.fit(x.view()).unwrap();
            assert_eq!(m.init_kind(), InitKind::Spectral);
            let z = m.transform(x.rows_range(0..300)).unwrap();
            (m.embedding().clone(), z)
        })
    };
    let one = run(1);
    for t in [2, 3] {
        let other = run(t);
        assert!(
            one.0
                .as_slice()
                .iter()
                .zip(other.0.as_slice())
                .all(|(p, q)| p.to_bits() == q.to_bits())
        );
        assert!(
            one.1
                .as_slice()
                .iter()
                .zip(other.1.as_slice())
                .all(|(p, q)| p.to_bits() == q.to_bits())
        );
    }
}

/// A ring-like graph on n vertices (each joined to its 3 successors and predecessors, weights
/// varying) as layout edges, sorted by head, and a random initial embedding (n, dim).
fn ring_edges(n: usize, dim: usize, seed: u64) -> (Edges, Vec<f32>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut triplets = vec![];
    for i in 0..n {
        for s in [n - 3, n - 2, n - 1, 1, 2, 3] {
            let j = (i + s) % n;
            let w = 1.0 / (1 + (i * 7 + j * 3) % 5) as f32;
            triplets.push((i, j, w));
        }
    }
    let y = (0..n * dim).map(|_| rng.random_range(0.0..10.0)).collect();
    (Edges::from_weights(triplets.into_iter()), y)
}

fn schedule() -> Schedule {
    Schedule {
        n_epochs: 30,
        a: 1.93,
        b: 0.79,
        repulsion_strength: 1.0,
        initial_alpha: 1.0,
        negative_sample_rate: 5,
        seed: 3,
    }
}

fn same_bits(p: &[f32], q: &[f32]) -> bool {
    p.len() == q.len() && p.iter().zip(q).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn parallel_layout_is_the_sequential_one_where_nothing_is_shared() {
    let dim = 3;
    // One chunk: every read is live, as in the sequential loop.
    let (edges, y0) = ring_edges(CHUNK_HEADS, dim, 21);
    let (mut p, mut q) = (y0.clone(), y0.clone());
    layout::optimize_layout(&mut p, Tails::Same, dim, &edges, &schedule());
    layout::optimize_layout_sequential(&mut q, Tails::Same, dim, &edges, &schedule());
    assert!(same_bits(&p, &q));
    assert!(!same_bits(&p, &y0));
    // Fixed tails (transform), 3 chunks: the chunks share nothing.
    let n = 2 * CHUNK_HEADS + 100;
    let (edges, y0) = ring_edges(n, dim, 22);
    let tail: Vec<f32> = y0.iter().map(|v| v * 0.5 + 1.0).collect();
    let (mut p, mut q) = (y0.clone(), y0.clone());
    layout::optimize_layout(&mut p, Tails::Fixed(&tail), dim, &edges, &schedule());
    layout::optimize_layout_sequential(&mut q, Tails::Fixed(&tail), dim, &edges, &schedule());
    assert!(same_bits(&p, &q));
    // Shared tails in several chunks: reads across chunks are an epoch old, so the result
    // differs from the sequential loop (the parallel path really runs), but not by much in
    // what matters: each vertex stays closest to a ring neighbour as often.
    let (mut p, mut q) = (y0.clone(), y0.clone());
    layout::optimize_layout(&mut p, Tails::Same, dim, &edges, &schedule());
    layout::optimize_layout_sequential(&mut q, Tails::Same, dim, &edges, &schedule());
    assert!(!same_bits(&p, &q));
    let near_ring = |y: &[f32]| -> usize {
        (0..n)
            .filter(|&i| {
                let d = |j: usize| -> f32 {
                    (0..dim)
                        .map(|c| (y[i * dim + c] - y[j * dim + c]).powi(2))
                        .sum()
                };
                let best = (0..n)
                    .filter(|&j| j != i)
                    .min_by(|&u, &v| d(u).total_cmp(&d(v)));
                let gap = (best.unwrap() + n - i) % n;
                gap <= 3 || gap >= n - 3
            })
            .count()
    };
    let (np, nq) = (near_ring(&p), near_ring(&q));
    assert!(np + n / 50 >= nq, "parallel {np}, sequential {nq} of {n}");
}

// ---------------------------------------------------------------------------------------
// Errors and awkward inputs

fn message(params: &UmapParams, x: &Matrix) -> String {
    params.fit(x.view()).expect_err("an error").to_string()
}

#[test]
fn bad_parameters_are_errors() {
    let x = gaussian_points(20, 3, 15);
    let p = UmapParams::default();
    assert!(
        message(
            &UmapParams {
                n_neighbors: 0,
                ..p.clone()
            },
            &x
        )
        .contains("n_neighbors")
    );
    assert!(
        message(
            &UmapParams {
                n_neighbors: 1,
                ..p.clone()
            },
            &x
        )
        .contains("n_neighbors")
    );
    assert!(
        message(
            &UmapParams {
                n_neighbors: 20,
                ..p.clone()
            },
            &x
        )
        .contains("at least 21 points")
    );
    assert!(
        UmapParams {
            n_neighbors: 19,
            n_components: 2,
            n_epochs: Some(5),
            ..p.clone()
        }
        .fit(x.view())
        .is_ok()
    );
    assert!(
        message(
            &UmapParams {
                n_components: 0,
                ..p.clone()
            },
            &x
        )
        .contains("n_components")
    );
    assert!(
        message(
            &UmapParams {
                spread: 0.0,
                ..p.clone()
            },
            &x
        )
        .contains("spread")
    );
    assert!(
        message(
            &UmapParams {
                min_dist: 2.0,
                ..p.clone()
            },
            &x
        )
        .contains("min_dist")
    );
    assert!(
        message(
            &UmapParams {
                min_dist: f32::NAN,
                ..p.clone()
            },
            &x
        )
        .contains("min_dist")
    );
    assert!(
        message(
            &UmapParams {
                learning_rate: -1.0,
                ..p.clone()
            },
            &x
        )
        .contains("learning_rate")
    );
    assert!(
        message(
            &UmapParams {
                repulsion_strength: f32::INFINITY,
                ..p.clone()
            },
            &x
        )
        .contains("repulsion")
    );
    assert!(message(&p, &Matrix::zeros(1, 3)).contains("n_neighbors"));
    assert!(
        message(
            &UmapParams {
                n_neighbors: 2,
                ..p.clone()
            },
            &Matrix::zeros(5, 0)
        )
        .contains("no features")
    );
}

#[test]
fn non_finite_input_is_an_error_naming_the_row() {
    let mut x = gaussian_points(30, 3, 16);
    x.set(17, 1, f32::NAN);
    assert_eq!(
        message(&UmapParams::default(), &x),
        "UMAP input: row 17 has a NaN"
    );
    x.set(17, 1, 0.0);
    x.set(3, 0, f32::NEG_INFINITY);
    assert_eq!(
        message(&UmapParams::default(), &x),
        "UMAP input: row 3 has an infinite value"
    );
    x.set(3, 0, 0.0);
    let model = UmapParams {
        n_components: 2,
        n_epochs: Some(5),
        ..UmapParams::default()
    }
    .fit(x.view())
    .unwrap();
    let mut q = gaussian_points(4, 3, 17);
    q.set(2, 2, f32::NAN);
    assert_eq!(
        model.transform(q.view()).unwrap_err().to_string(),
        "UMAP transform input: row 2 has a NaN"
    );
    let err = model
        .transform(Matrix::zeros(2, 4).view())
        .unwrap_err()
        .to_string();
    assert!(err.contains("4 features"), "{err}");
    assert_eq!(
        model.transform(Matrix::zeros(0, 3).view()).unwrap().shape(),
        (0, 2)
    );
}

#[test]
fn duplicate_points_work() {
    // Every point twice, then a set of identical points: finite embeddings, no panic.
    let base = gaussian_points(60, 4, 18);
    let x = Matrix::from_fn(120, 4, |i, j| base.get(i / 2, j));
    let model = UmapParams {
        n_components: 2,
        ..UmapParams::default()
    }
    .fit(x.view())
    .unwrap();
    assert!(model.embedding().as_slice().iter().all(|v| v.is_finite()));
    // The copies of a point end up close together.
    let y = model.embedding();
    let spread: f64 = (0..60)
        .map(|i| exact_d2(y.row(2 * i), y.row(2 * i + 1)).sqrt())
        .sum::<f64>()
        / 60.0;
    assert!(spread < 0.5, "mean distance between copies {spread}");
    let z = model.transform(x.rows_range(0..10)).unwrap();
    assert!(z.as_slice().iter().all(|v| v.is_finite()));

    let same = Matrix::filled(30, 3, 1.5);
    let model = UmapParams {
        n_components: 2,
        n_epochs: Some(50),
        ..UmapParams::default()
    }
    .fit(same.view())
    .unwrap();
    assert!(model.embedding().as_slice().iter().all(|v| v.is_finite()));
}
