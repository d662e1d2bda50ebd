//! A Gaussian mixture fitted by expectation-maximisation, with scikit-learn's
//! `GaussianMixture` semantics (its `_gaussian_mixture.py` and `_base.py`), so that its
//! numbers can be compared with the ones people trust.
//!
//! The model: p(x) = sum_j pi_j N(x | mu_j, Sigma_j), j = 0..k, x in R^D.
//!
//! - **E-step**: log r_ij = log pi_j + log N(x_i | mu_j, Sigma_j) - logsumexp_j'(same), in
//!   f64. Each Sigma_j is held through its precision Cholesky factor P_j (upper triangular,
//!   Sigma_j^-1 = P_j P_j^T, i.e. P_j = L_j^-T for Sigma_j = L_j L_j^T), so that
//!   log N(x | mu, Sigma) = -1/2 (D ln 2 pi + ||(x - mu)^T P||^2) + sum_d ln P_dd:
//!   no inverse and no determinant is ever formed.
//! - **M-step**: N_j = sum_i r_ij (+ 10 eps, as scikit-learn, so an empty component divides
//!   by a tiny number rather than by zero), mu_j = sum_i r_ij x_i / N_j,
//!   Sigma_j = sum_i r_ij (x_i - mu_j)(x_i - mu_j)^T / N_j + reg_covar I, pi_j = N_j / sum N.
//! - **Start**: one-hot responsibilities from K-Means labels (scikit-learn's
//!   `init_params='kmeans'`: one K-Means run, then an M-step).
//! - **Stop**: the lower bound is the mean log-likelihood per sample,
//!   (1/N) sum_i logsumexp_j(log pi_j + log N(x_i | mu_j, Sigma_j)), computed in each E-step
//!   (so for the parameters of the previous M-step). EM stops when it changes by less than
//!   `tol` from one iteration to the next, or after `max_iter` iterations.
//! - `n_init` restarts (each from its own K-Means); the one with the highest final lower
//!   bound is kept (the first on ties).
//!
//! A covariance that is not positive definite (a component collapsed onto one point or a
//! line, with `reg_covar` too small to rescue it) is an error naming the component, as
//! scikit-learn's "ill-defined empirical covariance", never a NaN model.
//!
//! Determinism whatever the rayon thread count: the rows are cut into fixed blocks of
//! `BLOCK` rows; each block sums its own f64 partials (log-likelihood, N_j, sum r x, the
//! scatter matrices) and the partials are added in block order.
//!
//! Speed: the kernels take `CHUNK` rows at a time, transposed to (D, CHUNK) f64, so that
//! their innermost loops run over 64 contiguous rows (vectorised) rather than over one
//! point's D = 10 coordinates. An EM iteration costs about 2 N k D (D + 1) / 2 multiply-adds
//! (the E-step's triangular products and the M-step's scatter).

use rayon::prelude::*;

use crate::cluster::kmeans::KMeansParams;
use crate::linalg::{MatRef, Matrix, argmax};
use crate::{Error, Result};

/// Rows per unit of parallel work, each with its own partial sums. Fixed, never derived
/// from the thread count, so the sums are bit-identical on any machine. 1024 rows of
/// 10 dimensions and their (1024, 20) responsibilities are ~240 KB, inside L2. Public so
/// that the thread-count tests can check that their data spans several blocks.
pub const BLOCK: usize = 1024;
const _: () = assert!(BLOCK.is_multiple_of(CHUNK), "a block is whole chunks");

/// The shape of each component's covariance matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Covariance {
    /// A full (D, D) covariance per component (scikit-learn's 'full'); N2D's choice.
    #[default]
    Full,
    /// A diagonal covariance per component, D variances (scikit-learn's 'diag').
    Diag,
}

/// Hyper-parameters of the Gaussian mixture; `fit` validates them against the data.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianMixtureParams {
    /// The number of components.
    pub k: usize,
    pub covariance: Covariance,
    /// Added to the diagonal of every covariance, so that each stays positive definite.
    pub reg_covar: f64,
    /// Convergence threshold on the change of the lower bound (the mean log-likelihood per
    /// sample) between two iterations.
    pub tol: f64,
    /// The most EM iterations per restart.
    pub max_iter: usize,
    /// Restarts, each from its own K-Means; the highest lower bound is kept.
    pub n_init: usize,
    /// Restart r starts from `KMeansParams { k, n_init: 1, seed: s_r, .. }` where s_0 = seed
    /// and s_r for r > 0 is derived from (seed, r).
    pub seed: u64,
}

impl Default for GaussianMixtureParams {
    /// scikit-learn's defaults, full covariances, with k = 10 for the ten digits.
    fn default() -> Self {
        GaussianMixtureParams {
            k: 10,
            covariance: Covariance::Full,
            reg_covar: 1e-6,
            tol: 1e-3,
            max_iter: 100,
            n_init: 1,
            seed: 0,
        }
    }
}

/// A fitted (or given) Gaussian mixture. All parameters are f64.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianMixture {
    pub covariance: Covariance,
    /// pi, (k,), summing to 1.
    pub weights: Vec<f64>,
    /// mu is (k, D), row-major.
    pub means: Vec<f64>,
    /// Sigma: (k, D, D) for `Full`, (k, D) (the diagonals) for `Diag`; reg_covar included.
    pub covariances: Vec<f64>,
    /// P with Sigma^-1 = P P^T: (k, D, D) upper triangular for `Full` (scikit-learn's
    /// `precisions_cholesky_`), (k, D) = 1 / sqrt(Sigma_dd) for `Diag`.
    pub precisions_cholesky: Vec<f64>,
    /// Whether the kept restart stopped on `tol` rather than on `max_iter`.
    pub converged: bool,
    /// EM iterations of the kept restart.
    pub n_iter: usize,
    /// The kept restart's last lower bound: the mean log-likelihood per sample of the
    /// parameters before the last M-step (scikit-learn's `lower_bound_`).
    pub lower_bound: f64,
    /// The lower bound at each iteration of the kept restart, (n_iter,) (scikit-learn's
    /// `lower_bounds_`). EM never decreases it (up to the reg_covar term and rounding).
    pub lower_bound_history: Vec<f64>,
}

impl GaussianMixtureParams {
    /// Fits the mixture to the rows of `x` (N, D), starting each restart from K-Means.
    ///
    /// Errors (`Error::Invalid`): k = 0, k > N, D = 0, a non-finite value in `x`, a
    /// negative or non-finite tol or reg_covar, max_iter = 0, n_init = 0; a component whose
    /// covariance is not positive definite; a log-likelihood that is not finite.
    pub fn fit(&self, x: MatRef<'_>) -> Result<GaussianMixture> {
        self.validate(x)?;
        let mut best: Option<GaussianMixture> = None;
        for r in 0..self.n_init {
            let labels = KMeansParams {
                k: self.k,
                n_init: 1,
                seed: restart_seed(self.seed, r),
                ..KMeansParams::default()
            }
            .fit(x)?
            .labels;
            let run = self.em(x, &labels)?;
            // Strictly higher, so on a tie the earlier restart stays, as in scikit-learn.
            if best
                .as_ref()
                .is_none_or(|b| run.lower_bound > b.lower_bound)
            {
                best = Some(run);
            }
        }
        Ok(best.expect("n_init >= 1 was validated"))
    }

    /// Fits the mixture from given initial labels, (N,), each < k: one-hot
    /// responsibilities, an M-step, then EM. `n_init` and `seed` are not used. This is
    /// what `fit` does after its K-Means, exposed so that a fit can start from the same
    /// labels as another implementation.
    pub fn fit_from_labels(&self, x: MatRef<'_>, labels: &[usize]) -> Result<GaussianMixture> {
        self.validate(x)?;
        if labels.len() != x.rows() {
            return Err(Error::invalid(
                "gmm labels",
                format!("{} initial labels for {} points", labels.len(), x.rows()),
            ));
        }
        if let Some(i) = labels.iter().position(|&l| l >= self.k) {
            return Err(Error::invalid(
                "gmm labels",
                format!(
                    "initial label {} of point {i} is not below k = {}",
                    labels[i], self.k
                ),
            ));
        }
        self.em(x, labels)
    }

    fn validate(&self, x: MatRef<'_>) -> Result<()> {
        let (n, d) = x.shape();
        let bad = |what: &str, problem: String| Err(Error::invalid(what, problem));
        if self.k == 0 {
            return bad("gmm k", "k = 0: need at least one component".into());
        }
        if self.k > n {
            return bad(
                "gmm k",
                format!("k = {} components but only {n} points", self.k),
            );
        }
        if !(self.reg_covar.is_finite() && self.reg_covar >= 0.0) {
            return bad(
                "gmm reg_covar",
                format!("reg_covar = {} must be >= 0", self.reg_covar),
            );
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return bad("gmm tol", format!("tol = {} must be >= 0", self.tol));
        }
        if self.max_iter == 0 {
            return bad(
                "gmm max_iter",
                "max_iter = 0: need at least one iteration".into(),
            );
        }
        if self.n_init == 0 {
            return bad("gmm n_init", "n_init = 0: need at least one run".into());
        }
        if d == 0 {
            return bad("gmm data", "points have no features (D = 0)".into());
        }
        for i in 0..n {
            if let Some(j) = x.row(i).iter().position(|v| !v.is_finite()) {
                return bad(
                    "gmm data",
                    format!("value {} at row {i}, column {j} is not finite", x.at(i, j)),
                );
            }
        }
        Ok(())
    }

    /// One EM run from one-hot responsibilities of `labels` (N,).
    fn em(&self, x: MatRef<'_>, labels: &[usize]) -> Result<GaussianMixture> {
        let (n, k) = (x.rows(), self.k);
        // resp is (N, k): the responsibilities r_ij, one-hot to start with.
        let mut resp = vec![0.0f64; n * k];
        for (row, &l) in resp.chunks_exact_mut(k).zip(labels) {
            row[l] = 1.0;
        }
        let mut model = m_step(x, &resp, k, self.covariance, self.reg_covar)
            .map_err(|j| ill_defined(j, 0, self.reg_covar))?;
        let mut lower_bound = f64::NEG_INFINITY;
        let mut history = Vec::new();
        let mut converged = false;
        for iter in 1..=self.max_iter {
            let previous = lower_bound;
            lower_bound = e_step(x, &model, &mut resp);
            if !lower_bound.is_finite() {
                return Err(Error::invalid(
                    "gmm data",
                    format!(
                        "the log-likelihood is {lower_bound} at EM iteration {iter}: the \
                         data's scale is too extreme; scale the input data"
                    ),
                ));
            }
            history.push(lower_bound);
            model = m_step(x, &resp, k, self.covariance, self.reg_covar)
                .map_err(|j| ill_defined(j, iter, self.reg_covar))?;
            if (lower_bound - previous).abs() < self.tol {
                converged = true;
                break;
            }
        }
        model.n_iter = history.len();
        model.lower_bound = lower_bound;
        model.lower_bound_history = history;
        model.converged = converged;
        Ok(model)
    }
}

/// scikit-learn's "ill-defined empirical covariance" as a one-line error.
fn ill_defined(component: usize, iter: usize, reg_covar: f64) -> Error {
    let when = if iter == 0 {
        "at the start (from the K-Means labels)".to_string()
    } else {
        format!("after EM iteration {iter}")
    };
    Error::invalid(
        "gmm fit",
        format!(
            "component {component} has an ill-defined empirical covariance (not positive \
             definite) {when}, e.g. collapsed onto a point or a line; decrease the number of \
             components, increase reg_covar (now {reg_covar:e}), or scale the input data"
        ),
    )
}

/// A distinct seed for each restart's K-Means: the seed itself for restart 0, so that a
/// single-restart mixture starts from `KMeansParams { seed, n_init: 1, .. }`; SplitMix64's
/// output function on (seed, r) for the others.
fn restart_seed(seed: u64, restart: usize) -> u64 {
    if restart == 0 {
        return seed;
    }
    let mut z = seed
        .wrapping_add((restart as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The E-step: writes r_ij into `resp` (N, k) and returns the mean log-likelihood per
/// sample of `model` on `x` (N, D).
fn e_step(x: MatRef<'_>, model: &GaussianMixture, resp: &mut [f64]) -> f64 {
    let k = model.k();
    let terms = Terms::new(model);
    let block_sums: Vec<f64> = resp
        .par_chunks_mut(BLOCK * k)
        .enumerate()
        .map(|(b, resp)| {
            let mut chunk = Chunk::new(x.cols());
            let mut log_lik = 0.0;
            for (c, resp) in resp.chunks_mut(CHUNK * k).enumerate() {
                chunk.load(x, b * BLOCK + c * CHUNK, resp.len() / k);
                // resp (rows, k) holds log pi_j + log N(x_i | j), then the r_ij.
                terms.weighted_log_prob(&mut chunk, resp);
                for r in resp.chunks_exact_mut(k) {
                    let lse = log_sum_exp(r);
                    for v in r.iter_mut() {
                        *v = (*v - lse).exp();
                    }
                    log_lik += lse;
                }
            }
            log_lik
        })
        .collect();
    block_sums.iter().sum::<f64>() / x.rows() as f64
}

/// The M-step: the parameters that maximise the expected log-likelihood under the
/// responsibilities `resp` (N, k), plus reg_covar on the covariance diagonals. Err(j) when
/// component j's covariance is not positive definite.
fn m_step(
    x: MatRef<'_>,
    resp: &[f64],
    k: usize,
    covariance: Covariance,
    reg_covar: f64,
) -> Result<GaussianMixture, usize> {
    let d = x.cols();
    // Pass 1: N_j = sum_i r_ij and sum_i r_ij x_i. Each partial is (k + k D,): N_j, then
    // sum r x as (k, D).
    let first = sum_over_blocks(x, resp, k, k + k * d, |chunk, r_j, j, acc| {
        acc[j] += sum(r_j);
        for a in 0..d {
            acc[k + j * d + a] += dot(r_j, chunk.col(a));
        }
    });
    let (nk, sum_x) = first.split_at(k);
    // scikit-learn's 10 eps: an empty component gets mean 0 and covariance reg_covar I.
    let nk: Vec<f64> = nk.iter().map(|v| v + 10.0 * f64::EPSILON).collect();
    let mut means = sum_x.to_vec(); // (k, D)
    for (mu, &nj) in means.chunks_exact_mut(d).zip(&nk) {
        mu.iter_mut().for_each(|m| *m /= nj);
    }

    // Pass 2: the scatter sum_i r_ij (x_i - mu_j)(x_i - mu_j)^T about the new means,
    // (k, D, D) (upper triangle) for Full, (k, D) for Diag.
    let per = match covariance {
        Covariance::Full => d * d,
        Covariance::Diag => d,
    };
    let mut covariances = sum_over_blocks(x, resp, k, k * per, |chunk, r_j, j, acc| {
        chunk.centre(&means[j * d..(j + 1) * d]);
        let s = &mut acc[j * per..(j + 1) * per];
        // weighted_a = r_j diff_a, over the chunk's rows.
        let mut weighted = [0.0f64; CHUNK];
        for a in 0..d {
            let diff_a = chunk.diff(a);
            for ((w, &r), &t) in weighted.iter_mut().zip(r_j).zip(diff_a) {
                *w = r * t;
            }
            match covariance {
                Covariance::Full => {
                    for b in a..d {
                        s[a * d + b] += dot(&weighted, chunk.diff(b));
                    }
                }
                Covariance::Diag => s[a] += dot(&weighted, diff_a),
            }
        }
    });
    for (j, s) in covariances.chunks_exact_mut(per).enumerate() {
        s.iter_mut().for_each(|v| *v /= nk[j]);
        match covariance {
            Covariance::Full => {
                for a in 0..d {
                    s[a * d + a] += reg_covar;
                    for b in 0..a {
                        s[a * d + b] = s[b * d + a];
                    }
                }
            }
            Covariance::Diag => s.iter_mut().for_each(|v| *v += reg_covar),
        }
    }
    let total: f64 = nk.iter().sum();
    let weights = nk.iter().map(|&v| v / total).collect();
    GaussianMixture::assemble(covariance, d, weights, means, covariances)
}

/// Sums `add(chunk, r_j, j, partial)` over every chunk of rows of `x` (N, D) and every
/// component j, where r_j (CHUNK,) holds the chunk's responsibilities for j (0 past its
/// last row) and `partial` (len,) is its block's accumulator; the blocks' partials are
/// then added in block order, so the result does not depend on the thread count.
fn sum_over_blocks(
    x: MatRef<'_>,
    resp: &[f64],
    k: usize,
    len: usize,
    add: impl Fn(&mut Chunk, &[f64; CHUNK], usize, &mut [f64]) + Sync,
) -> Vec<f64> {
    let partials: Vec<Vec<f64>> = resp
        .par_chunks(BLOCK * k)
        .enumerate()
        .map(|(b, resp)| {
            let mut acc = vec![0.0f64; len];
            let mut chunk = Chunk::new(x.cols());
            let mut r_j = [0.0f64; CHUNK];
            for (c, resp) in resp.chunks(CHUNK * k).enumerate() {
                chunk.load(x, b * BLOCK + c * CHUNK, resp.len() / k);
                for j in 0..k {
                    r_j.fill(0.0);
                    for (r, row) in r_j.iter_mut().zip(resp.chunks_exact(k)) {
                        *r = row[j];
                    }
                    add(&mut chunk, &r_j, j, &mut acc);
                }
            }
            acc
        })
        .collect();
    let mut total = vec![0.0f64; len];
    for p in &partials {
        total.iter_mut().zip(p).for_each(|(t, &v)| *t += v);
    }
    total
}

/// Rows the kernels take together: CHUNK rows held transposed, (D, CHUNK), so that the
/// innermost loops run over CHUNK contiguous f64 (vectorised whatever D is) rather than
/// over the D = 10 coordinates of one point.
const CHUNK: usize = 64;
/// Rows whose partial products y the E-step keeps in registers: 16 f64 are four AVX2
/// registers.
const TILE: usize = 16;

/// CHUNK rows of the data transposed to f64, and their differences from a mean.
struct Chunk {
    /// The number of real rows; past it, `xt` is 0 (and its weights are 0).
    rows: usize,
    /// xt is (D, CHUNK): xt[a * CHUNK + r] = x[row r][a].
    xt: Vec<f64>,
    /// diff is (D, CHUNK): xt - mu for the last `centre(mu)`.
    diff: Vec<f64>,
}

impl Chunk {
    fn new(d: usize) -> Self {
        Chunk {
            rows: 0,
            xt: vec![0.0; d * CHUNK],
            diff: vec![0.0; d * CHUNK],
        }
    }

    /// Loads rows start..start + rows (rows <= CHUNK) of x (N, D).
    fn load(&mut self, x: MatRef<'_>, start: usize, rows: usize) {
        debug_assert!(rows <= CHUNK);
        let d = x.cols();
        self.rows = rows;
        self.xt.fill(0.0);
        for r in 0..rows {
            for (a, &v) in x.row(start + r).iter().enumerate() {
                self.xt[a * CHUNK + r] = v as f64;
            }
        }
        debug_assert_eq!(self.xt.len(), d * CHUNK);
    }

    /// Coordinate a of the chunk's rows, (CHUNK,).
    #[inline]
    fn col(&self, a: usize) -> &[f64] {
        &self.xt[a * CHUNK..(a + 1) * CHUNK]
    }

    /// Coordinate a of x - mu for the last `centre(mu)`, (CHUNK,).
    #[inline]
    fn diff(&self, a: usize) -> &[f64] {
        &self.diff[a * CHUNK..(a + 1) * CHUNK]
    }

    /// diff = x - mu, mu (D,).
    #[inline]
    fn centre(&mut self, mu: &[f64]) {
        for (a, &m) in mu.iter().enumerate() {
            let (diff, xt) = (
                &mut self.diff[a * CHUNK..(a + 1) * CHUNK],
                &self.xt[a * CHUNK..(a + 1) * CHUNK],
            );
            for (t, &v) in diff.iter_mut().zip(xt) {
                *t = v - m;
            }
        }
    }
}

/// sum_r u_r v_r over CHUNK values, in eight fixed lanes (so it vectorises and always
/// adds in the same order).
#[inline(always)]
fn dot(u: &[f64], v: &[f64]) -> f64 {
    let (u, v) = (&u[..CHUNK], &v[..CHUNK]);
    let mut acc = [0.0f64; 8];
    for (cu, cv) in u.chunks_exact(8).zip(v.chunks_exact(8)) {
        for l in 0..8 {
            acc[l] += cu[l] * cv[l];
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// sum_r u_r over CHUNK values, in the same lanes as `dot`.
#[inline(always)]
fn sum(u: &[f64]) -> f64 {
    let u = &u[..CHUNK];
    let mut acc = [0.0f64; 8];
    for cu in u.chunks_exact(8) {
        for l in 0..8 {
            acc[l] += cu[l];
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

impl GaussianMixture {
    /// A mixture from its parameters: weights (k,), means (k, D), covariances (k, D, D) for
    /// `Full` or (k, D) for `Diag`, e.g. read back from a file. The precision factors are
    /// computed here.
    ///
    /// Errors (`Error::Invalid`): k = 0, D = 0, lengths that do not match, a non-finite
    /// value, weights that are negative or do not sum to 1 (within 1e-6), or a covariance
    /// that is not symmetric positive definite.
    pub fn from_parameters(
        covariance: Covariance,
        weights: Vec<f64>,
        means: Vec<f64>,
        covariances: Vec<f64>,
    ) -> Result<GaussianMixture> {
        let bad = |problem: String| Err(Error::invalid("gmm parameters", problem));
        let k = weights.len();
        if k == 0 {
            return bad("no components (k = 0)".into());
        }
        if means.is_empty() || !means.len().is_multiple_of(k) {
            return bad(format!("{} mean values for {k} components", means.len()));
        }
        let d = means.len() / k;
        let per = match covariance {
            Covariance::Full => d * d,
            Covariance::Diag => d,
        };
        if covariances.len() != k * per {
            return bad(format!(
                "{} covariance values for {k} components of dimension {d} ({covariance:?} \
                 needs {})",
                covariances.len(),
                k * per
            ));
        }
        if let Some(v) = weights
            .iter()
            .chain(&means)
            .chain(&covariances)
            .find(|v| !v.is_finite())
        {
            return bad(format!("value {v} is not finite"));
        }
        let total: f64 = weights.iter().sum();
        if weights.iter().any(|&w| w < 0.0) || (total - 1.0).abs() > 1e-6 {
            return bad(format!(
                "weights must be >= 0 and sum to 1, they sum to {total}"
            ));
        }
        if covariance == Covariance::Full {
            for (j, s) in covariances.chunks_exact(per).enumerate() {
                for a in 0..d {
                    for b in 0..a {
                        if s[a * d + b] != s[b * d + a] {
                            return bad(format!("covariance {j} is not symmetric"));
                        }
                    }
                }
            }
        }
        Self::assemble(covariance, d, weights, means, covariances).map_err(|j| {
            Error::invalid(
                "gmm parameters",
                format!("covariance {j} is not positive definite"),
            )
        })
    }

    /// Computes the precision factors; Err(j) when covariance j is not positive definite.
    fn assemble(
        covariance: Covariance,
        d: usize,
        weights: Vec<f64>,
        means: Vec<f64>,
        covariances: Vec<f64>,
    ) -> Result<GaussianMixture, usize> {
        let mut precisions_cholesky = vec![0.0f64; covariances.len()];
        match covariance {
            Covariance::Full => {
                for (j, (s, p)) in covariances
                    .chunks_exact(d * d)
                    .zip(precisions_cholesky.chunks_exact_mut(d * d))
                    .enumerate()
                {
                    precision_cholesky(s, d, p).ok_or(j)?;
                }
            }
            Covariance::Diag => {
                for (i, (&s, p)) in covariances
                    .iter()
                    .zip(precisions_cholesky.iter_mut())
                    .enumerate()
                {
                    if s.is_nan() || s <= 0.0 {
                        return Err(i / d);
                    }
                    *p = 1.0 / s.sqrt();
                }
            }
        }
        Ok(GaussianMixture {
            covariance,
            weights,
            means,
            covariances,
            precisions_cholesky,
            converged: false,
            n_iter: 0,
            lower_bound: f64::NEG_INFINITY,
            lower_bound_history: Vec::new(),
        })
    }

    /// The number of components.
    pub fn k(&self) -> usize {
        self.weights.len()
    }

    /// The dimension D of the points.
    pub fn dim(&self) -> usize {
        self.means.len() / self.k()
    }

    /// Component j's covariance as a full (D, D) matrix, row-major (diagonal for `Diag`).
    pub fn covariance_matrix(&self, j: usize) -> Vec<f64> {
        let d = self.dim();
        match self.covariance {
            Covariance::Full => self.covariances[j * d * d..(j + 1) * d * d].to_vec(),
            Covariance::Diag => {
                let mut s = vec![0.0; d * d];
                for a in 0..d {
                    s[a * d + a] = self.covariances[j * d + a];
                }
                s
            }
        }
    }

    /// The number of free parameters: k D means, k D (D + 1) / 2 (Full) or k D (Diag)
    /// covariance entries, and k - 1 weights.
    pub fn n_parameters(&self) -> usize {
        let (k, d) = (self.k(), self.dim());
        let cov = match self.covariance {
            Covariance::Full => k * d * (d + 1) / 2,
            Covariance::Diag => k * d,
        };
        k * d + cov + k - 1
    }

    /// log p(x_i) = logsumexp_j(log pi_j + log N(x_i | mu_j, Sigma_j)) for each row of
    /// `x` (N, D): (N,).
    #[track_caller]
    pub fn score_samples(&self, x: MatRef<'_>) -> Vec<f64> {
        let mut out = vec![0.0f64; x.rows()];
        self.for_each_row(x, &mut out, 1, |log_prob, out| {
            out[0] = log_sum_exp(log_prob)
        });
        out
    }

    /// The mean log-likelihood per sample of `x` (N, D), summed in block order.
    #[track_caller]
    pub fn score(&self, x: MatRef<'_>) -> f64 {
        let per_sample = self.score_samples(x);
        let block_sums: Vec<f64> = per_sample
            .chunks(BLOCK)
            .map(|b| b.iter().sum::<f64>())
            .collect();
        block_sums.iter().sum::<f64>() / x.rows() as f64
    }

    /// The posterior probability of each component for each row of `x` (N, D): (N, k),
    /// rows summing to 1.
    #[track_caller]
    pub fn predict_proba(&self, x: MatRef<'_>) -> Matrix {
        let k = self.k();
        let mut out = vec![0.0f64; x.rows() * k];
        self.for_each_row(x, &mut out, k, |log_prob, out| {
            let lse = log_sum_exp(log_prob);
            for (o, &l) in out.iter_mut().zip(log_prob.iter()) {
                *o = (l - lse).exp();
            }
        });
        Matrix::from_vec(x.rows(), k, out.into_iter().map(|p| p as f32).collect())
    }

    /// The most probable component of each row of `x` (N, D), ties to the lowest index.
    #[track_caller]
    pub fn predict(&self, x: MatRef<'_>) -> Vec<usize> {
        let mut out = vec![0usize; x.rows()];
        self.for_each_row(x, &mut out, 1, |log_prob, out| {
            out[0] = argmax(log_prob.iter().copied()).map_or(0, |(j, _)| j);
        });
        out
    }

    /// The Bayesian information criterion on `x` (N, D): -2 N score(x) + p ln N, p the
    /// number of free parameters. Lower is better.
    #[track_caller]
    pub fn bic(&self, x: MatRef<'_>) -> f64 {
        let n = x.rows() as f64;
        -2.0 * self.score(x) * n + self.n_parameters() as f64 * n.ln()
    }

    /// The Akaike information criterion on `x` (N, D): -2 N score(x) + 2 p. Lower is better.
    #[track_caller]
    pub fn aic(&self, x: MatRef<'_>) -> f64 {
        let n = x.rows() as f64;
        -2.0 * self.score(x) * n + 2.0 * self.n_parameters() as f64
    }

    /// Calls `f(log pi_j + log N(x_i | j) for j = 0..k, out_i)` for each row i of `x`,
    /// where out_i is row i of `out` (N, width), in parallel over fixed blocks of rows.
    #[track_caller]
    fn for_each_row<T: Send>(
        &self,
        x: MatRef<'_>,
        out: &mut [T],
        width: usize,
        f: impl Fn(&[f64], &mut [T]) + Sync,
    ) {
        assert_eq!(
            x.cols(),
            self.dim(),
            "gmm: points have {} features but the mixture {}",
            x.cols(),
            self.dim()
        );
        let k = self.k();
        let terms = Terms::new(self);
        out.par_chunks_mut(BLOCK * width)
            .enumerate()
            .for_each(|(b, out)| {
                let mut chunk = Chunk::new(x.cols());
                // log_prob is (CHUNK, k).
                let mut log_prob = vec![0.0f64; CHUNK * k];
                for (c, out) in out.chunks_mut(CHUNK * width).enumerate() {
                    let rows = out.len() / width;
                    chunk.load(x, b * BLOCK + c * CHUNK, rows);
                    let log_prob = &mut log_prob[..rows * k];
                    terms.weighted_log_prob(&mut chunk, log_prob);
                    for (l, o) in log_prob.chunks_exact(k).zip(out.chunks_exact_mut(width)) {
                        f(l, o);
                    }
                }
            });
    }
}

/// What the E-step needs of a mixture, computed once per pass: log pi_j and the
/// normalising constant -D/2 ln 2 pi + sum_d ln P_dd of each component.
struct Terms<'a> {
    model: &'a GaussianMixture,
    /// (k,): log pi_j - D/2 ln 2 pi + ln det P_j.
    constant: Vec<f64>,
}

impl<'a> Terms<'a> {
    fn new(model: &'a GaussianMixture) -> Self {
        let (k, d) = (model.k(), model.dim());
        let half_d_log_2pi = 0.5 * d as f64 * (2.0 * std::f64::consts::PI).ln();
        let constant = (0..k)
            .map(|j| {
                let log_det: f64 = match model.covariance {
                    Covariance::Full => {
                        let p = &model.precisions_cholesky[j * d * d..(j + 1) * d * d];
                        (0..d).map(|a| p[a * d + a].ln()).sum()
                    }
                    Covariance::Diag => model.precisions_cholesky[j * d..(j + 1) * d]
                        .iter()
                        .map(|p| p.ln())
                        .sum(),
                };
                model.weights[j].ln() - half_d_log_2pi + log_det
            })
            .collect();
        Terms { model, constant }
    }

    /// out (rows, k) = log pi_j + log N(x_i | mu_j, Sigma_j) for the chunk's rows.
    fn weighted_log_prob(&self, chunk: &mut Chunk, out: &mut [f64]) {
        let m = self.model;
        let (k, d) = (m.k(), m.dim());
        debug_assert_eq!(out.len(), chunk.rows * k);
        for j in 0..k {
            chunk.centre(&m.means[j * d..(j + 1) * d]);
            // maha (CHUNK,): the squared Mahalanobis distance ||(x - mu)^T P||^2.
            let mut maha = [0.0f64; CHUNK];
            match m.covariance {
                Covariance::Full => {
                    // y_b = sum_{a <= b} diff_a P_ab (P upper triangular), one b at a time.
                    // TILE rows at a time, so that y stays in registers.
                    let p = &m.precisions_cholesky[j * d * d..(j + 1) * d * d];
                    for (r0, maha) in (0..CHUNK).step_by(TILE).zip(maha.chunks_exact_mut(TILE)) {
                        for b in 0..d {
                            let mut y = [0.0f64; TILE];
                            for a in 0..=b {
                                let pab = p[a * d + b];
                                let diff = &chunk.diff(a)[r0..r0 + TILE];
                                for (yr, &t) in y.iter_mut().zip(diff) {
                                    *yr += t * pab;
                                }
                            }
                            for (mr, &yr) in maha.iter_mut().zip(&y) {
                                *mr += yr * yr;
                            }
                        }
                    }
                }
                Covariance::Diag => {
                    let p = &m.precisions_cholesky[j * d..(j + 1) * d];
                    for (a, &pa) in p.iter().enumerate() {
                        for (mr, &t) in maha.iter_mut().zip(chunk.diff(a)) {
                            let y = t * pa;
                            *mr += y * y;
                        }
                    }
                }
            }
            for (o, &mr) in out.chunks_exact_mut(k).zip(&maha) {
                o[j] = self.constant[j] - 0.5 * mr;
            }
        }
    }
}

/// ln sum_j exp(v_j), shifted by the maximum so that nothing overflows; -inf when every
/// v_j is -inf.
fn log_sum_exp(v: &[f64]) -> f64 {
    let max = v.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x));
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + v.iter().map(|&x| (x - max).exp()).sum::<f64>().ln()
}

/// The upper-triangular precision factor of a symmetric (D, D) covariance `s`: with
/// s = L L^T (Cholesky), writes P = L^-T (D, D) into `p`, so that s^-1 = P P^T.
/// None when s is not positive definite (a pivot <= 0 or not finite).
fn precision_cholesky(s: &[f64], d: usize, p: &mut [f64]) -> Option<()> {
    // L, lower triangular, row by row (Cholesky-Banachiewicz).
    let mut l = vec![0.0f64; d * d];
    for i in 0..d {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|t| l[i * d + t] * l[j * d + t]).sum();
            let v = s[i * d + j] - dot;
            if i == j {
                // `!(v > 0)` also catches NaN.
                if !(v > 0.0 && v.is_finite()) {
                    return None;
                }
                l[i * d + i] = v.sqrt();
            } else {
                l[i * d + j] = v / l[j * d + j];
            }
        }
    }
    // M = L^-1, lower triangular, column by column by forward substitution (L M = I);
    // then P = M^T.
    p.fill(0.0);
    for c in 0..d {
        for i in c..d {
            let mut v = if i == c { 1.0 } else { 0.0 };
            for t in c..i {
                v -= l[i * d + t] * p[c * d + t];
            }
            // p[c * d + i] is M[i][c] = P[c][i].
            p[c * d + i] = v / l[i * d + i];
        }
    }
    p.iter().all(|v| v.is_finite()).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// P P^T times Sigma is the identity, on a hand-made 3 x 3 covariance.
    #[test]
    fn precision_cholesky_inverts_the_covariance() {
        let s = [4.0, 2.0, 0.6, 2.0, 3.0, 0.4, 0.6, 0.4, 1.0];
        let mut p = [0.0; 9];
        precision_cholesky(&s, 3, &mut p).unwrap();
        for a in 0..3 {
            for b in 0..a {
                assert_eq!(p[a * 3 + b], 0.0, "P is upper triangular");
            }
        }
        for a in 0..3 {
            for b in 0..3 {
                // (P P^T Sigma)_ab
                let v: f64 = (0..3)
                    .map(|c| {
                        (0..3).map(|t| p[a * 3 + t] * p[c * 3 + t]).sum::<f64>() * s[c * 3 + b]
                    })
                    .sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-12, "({a}, {b}) = {v}");
            }
        }
        // Not positive definite: rank 1, and a negative pivot.
        assert!(precision_cholesky(&[1.0, 1.0, 1.0, 1.0], 2, &mut [0.0; 4]).is_none());
        assert!(precision_cholesky(&[1.0, 2.0, 2.0, 1.0], 2, &mut [0.0; 4]).is_none());
    }

    #[test]
    fn log_sum_exp_is_stable() {
        assert_eq!(log_sum_exp(&[f64::NEG_INFINITY; 3]), f64::NEG_INFINITY);
        let v = log_sum_exp(&[1000.0, 1000.0]);
        assert!((v - (1000.0 + 2f64.ln())).abs() < 1e-12);
        let v = log_sum_exp(&[-1000.0, f64::NEG_INFINITY]);
        assert_eq!(v, -1000.0);
    }

    #[test]
    fn restart_seeds_differ() {
        assert_eq!(restart_seed(7, 0), 7);
        let s: Vec<u64> = (0..5).map(|r| restart_seed(7, r)).collect();
        for a in 0..5 {
            for b in 0..a {
                assert_ne!(s[a], s[b]);
            }
        }
    }
}
