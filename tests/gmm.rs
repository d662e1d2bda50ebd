//! The Gaussian mixture: parameter validation, hand-worked fits, agreement with
//! scikit-learn (fixtures/gmm/), EM's monotone log-likelihood, recovery of generating
//! parameters, model selection by BIC, and determinism across thread counts.

use deepcluster::Error;
use deepcluster::cluster::{Covariance, GaussianMixture, GaussianMixtureParams, KMeansParams};
use deepcluster::linalg::Matrix;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::f64::consts::PI;

fn params(k: usize) -> GaussianMixtureParams {
    GaussianMixtureParams {
        k,
        ..GaussianMixtureParams::default()
    }
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let u: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (2.0 * PI * v).cos()
}

/// A generating component: mean (D,), and the lower Cholesky factor L (D, D) of its
/// covariance L L^T.
struct Source {
    mean: Vec<f64>,
    chol: Vec<f64>,
}

impl Source {
    fn covariance(&self) -> Vec<f64> {
        let d = self.mean.len();
        let l = &self.chol;
        let mut s = vec![0.0; d * d];
        for a in 0..d {
            for b in 0..d {
                s[a * d + b] = (0..d).map(|t| l[a * d + t] * l[b * d + t]).sum();
            }
        }
        s
    }
}

/// `per[j]` points from each source, interleaved (point i from source i % sources while
/// any remain, so the blocks of rows mix the sources); returns the points and their source.
fn sample(sources: &[Source], per: &[usize], seed: u64) -> (Matrix, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let d = sources[0].mean.len();
    let mut left = per.to_vec();
    let mut data = Vec::new();
    let mut from = Vec::new();
    let mut j = 0;
    while left.iter().any(|&l| l > 0) {
        if left[j] > 0 {
            left[j] -= 1;
            let z: Vec<f64> = (0..d).map(|_| normal(&mut rng)).collect();
            let s = &sources[j];
            for a in 0..d {
                let v = s.mean[a] + (0..=a).map(|t| s.chol[a * d + t] * z[t]).sum::<f64>();
                data.push(v as f32);
            }
            from.push(j);
        }
        j = (j + 1) % sources.len();
    }
    (Matrix::from_vec(from.len(), d, data), from)
}

/// `count` well separated isotropic blobs (sd 1, centres >= 8 apart on a grid) in `d` dims.
fn blobs(count: usize, per: usize, d: usize, seed: u64) -> (Matrix, Vec<usize>) {
    let sources: Vec<Source> = (0..count)
        .map(|j| Source {
            mean: (0..d)
                .map(|a| {
                    if a == j % d {
                        8.0 * (1 + j / d) as f64
                    } else {
                        0.0
                    }
                })
                .collect(),
            chol: (0..d * d)
                .map(|t| if t % (d + 1) == 0 { 1.0 } else { 0.0 })
                .collect(),
        })
        .collect();
    sample(&sources, &vec![per; count], seed)
}

#[test]
fn defaults_are_scikit_learns() {
    let p = GaussianMixtureParams::default();
    assert_eq!(p.covariance, Covariance::Full);
    assert_eq!(
        (p.reg_covar, p.tol, p.max_iter, p.n_init),
        (1e-6, 1e-3, 100, 1)
    );
}

#[test]
fn invalid_parameters_and_data_are_errors() {
    let x = Matrix::from_fn(5, 2, |i, j| (i * i + 3 * j) as f32);
    let invalid = |p: GaussianMixtureParams, x: &Matrix| {
        let e = p.fit(x.view()).unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{e}");
        let text = e.to_string();
        assert!(!text.contains('\n'), "{text}");
        text
    };
    assert!(invalid(params(0), &x).contains("k = 0"));
    assert!(invalid(params(6), &x).contains("only 5 points"));
    assert!(invalid(params(1), &Matrix::zeros(0, 3)).contains("only 0 points"));
    assert!(invalid(params(1), &Matrix::zeros(3, 0)).contains("no features"));
    let with = |f: fn(&mut GaussianMixtureParams)| {
        let mut p = params(2);
        f(&mut p);
        p
    };
    assert!(invalid(with(|p| p.tol = -1.0), &x).contains("gmm tol"));
    assert!(invalid(with(|p| p.tol = f64::NAN), &x).contains("gmm tol"));
    assert!(invalid(with(|p| p.reg_covar = -1e-6), &x).contains("reg_covar"));
    assert!(invalid(with(|p| p.reg_covar = f64::INFINITY), &x).contains("reg_covar"));
    assert!(invalid(with(|p| p.max_iter = 0), &x).contains("max_iter"));
    assert!(invalid(with(|p| p.n_init = 0), &x).contains("n_init"));
    let mut nan = x.clone();
    nan.set(3, 1, f32::NAN);
    assert!(invalid(params(2), &nan).contains("row 3, column 1"));
    nan.set(3, 1, f32::NEG_INFINITY);
    assert!(invalid(params(2), &nan).contains("not finite"));

    let from_labels = |labels: &[usize]| {
        let e = params(2).fit_from_labels(x.view(), labels).unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{e}");
        e.to_string()
    };
    assert!(from_labels(&[0, 1, 0]).contains("3 initial labels for 5 points"));
    assert!(from_labels(&[0, 1, 0, 2, 1]).contains("label 2 of point 3"));
}

/// reg_covar = 0 and three points at 0: their component's covariance is exactly 0, which
/// is an error naming the component (scikit-learn: "ill-defined empirical covariance"), not
/// a NaN model. With the default reg_covar the same fit works, variance reg_covar.
/// (Three points at 1 would not do: scikit-learn's N_j + 10 eps puts their mean 1e-15 off,
/// and the covariance, 1e-31, is positive; scikit-learn accepts it too.)
#[test]
fn a_collapsed_component_is_an_error_naming_it() {
    let x = Matrix::from_vec(6, 1, vec![5.0, 0.0, 6.0, 0.0, 7.0, 0.0]);
    let labels = [1, 0, 1, 0, 1, 0];
    let p = GaussianMixtureParams {
        reg_covar: 0.0,
        ..params(2)
    };
    let e = p
        .fit_from_labels(x.view(), &labels)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("component 0") && e.contains("ill-defined"),
        "{e}"
    );
    assert!(e.contains("reg_covar"), "{e}");
    // The same through K-Means, which finds the same two groups.
    let e = p.fit(x.view()).unwrap_err().to_string();
    assert!(e.contains("ill-defined"), "{e}");

    let gm = params(2).fit_from_labels(x.view(), &labels).unwrap();
    assert!(
        (gm.covariances[0] - 1e-6).abs() < 1e-18,
        "{:?}",
        gm.covariances
    );
    assert!(gm.score(x.view()).is_finite());
    // Diag covariances say the same.
    let diag = GaussianMixtureParams {
        covariance: Covariance::Diag,
        ..p
    };
    let e = diag
        .fit_from_labels(x.view(), &labels)
        .unwrap_err()
        .to_string();
    assert!(e.contains("component 0"), "{e}");
}

/// A label that no point has: the empty component gets weight ~ 1e-17, mean 0 and
/// covariance reg_covar I (scikit-learn's 10 eps), and nothing is NaN.
#[test]
fn an_empty_initial_component_stays_finite() {
    let (x, _) = blobs(2, 50, 2, 3);
    let gm = params(3).fit_from_labels(x.view(), &vec![0; 100]).unwrap();
    assert!(gm.weights.iter().chain(&gm.means).all(|v| v.is_finite()));
    assert!(gm.covariances.iter().all(|v| v.is_finite()));
    assert!(gm.lower_bound.is_finite());
    let proba = gm.predict_proba(x.view());
    assert!(proba.as_slice().iter().all(|p| p.is_finite()));
}

/// One component on {0, 2, 4}: the MLE is the sample mean and the population variance
/// (plus reg_covar), reached by the start itself; iteration 2 sees no change (n_iter 2).
/// mean log-likelihood = -1/2 ln(2 pi s2) - 1/2 (8/3) / s2 with s2 = 8/3 + 1e-6.
#[test]
fn hand_worked_one_component() {
    let x = Matrix::from_vec(3, 1, vec![0.0, 2.0, 4.0]);
    let gm = params(1).fit(x.view()).unwrap();
    let s2 = 8.0 / 3.0 + 1e-6;
    assert!((gm.means[0] - 2.0).abs() < 1e-14);
    assert!((gm.covariances[0] - s2).abs() < 1e-14);
    assert_eq!(gm.weights, vec![1.0]);
    assert!((gm.precisions_cholesky[0] - 1.0 / s2.sqrt()).abs() < 1e-14);
    let want = -0.5 * (2.0 * PI * s2).ln() - 0.5 * (8.0 / 3.0) / s2;
    assert!((gm.lower_bound - want).abs() < 1e-14, "{}", gm.lower_bound);
    assert!((gm.score(x.view()) - want).abs() < 1e-14);
    assert!(gm.converged);
    assert_eq!(gm.n_iter, 2);
    assert_eq!(gm.lower_bound_history.len(), 2);
    // p = k d + k d (d + 1) / 2 + k - 1 = 1 + 1 + 0.
    assert_eq!(gm.n_parameters(), 2);
    assert!((gm.bic(x.view()) - (-6.0 * want + 2.0 * 3f64.ln())).abs() < 1e-12);
    assert!((gm.aic(x.view()) - (-6.0 * want + 4.0)).abs() < 1e-12);
}

/// Two components on {0, 1} and {10, 11}: each is N(0.5 or 10.5, 0.25 + reg_covar) with
/// weight 1/2 (the other component's share of a point is e^-180, nothing in f64 at
/// this scale). Each point is 0.5 from its mean, so log p(x) = ln(1/2) - 1/2 ln(2 pi s2)
/// - 1/2 (0.25 / s2); the midpoint 5.5 is shared half and half.
#[test]
fn hand_worked_two_components_on_a_line() {
    let x = Matrix::from_vec(4, 1, vec![10.0, 0.0, 11.0, 1.0]);
    let gm = params(2).fit(x.view()).unwrap();
    let s2 = 0.25 + 1e-6;
    let (lo, hi) = if gm.means[0] < gm.means[1] {
        (0, 1)
    } else {
        (1, 0)
    };
    assert!((gm.means[lo] - 0.5).abs() < 1e-12 && (gm.means[hi] - 10.5).abs() < 1e-12);
    for j in 0..2 {
        assert!((gm.weights[j] - 0.5).abs() < 1e-12);
        assert!((gm.covariances[j] - s2).abs() < 1e-12);
    }
    let want = 0.5f64.ln() - 0.5 * (2.0 * PI * s2).ln() - 0.5 * 0.25 / s2;
    assert!((gm.score(x.view()) - want).abs() < 1e-12);
    for v in gm.score_samples(x.view()) {
        assert!((v - want).abs() < 1e-12);
    }
    assert_eq!(gm.predict(x.view()), vec![hi, lo, hi, lo]);
    let mid = gm.predict_proba(Matrix::from_vec(1, 1, vec![5.5]).view());
    assert!((mid.get(0, 0) - 0.5).abs() < 1e-6 && (mid.get(0, 1) - 0.5).abs() < 1e-6);
    // p = 2 + 2 + 1.
    assert!((gm.bic(x.view()) - (-8.0 * want + 5.0 * 4f64.ln())).abs() < 1e-10);
}

/// A mixture given by its parameters: 1/4 N(0, 1) + 3/4 N(2, 1). At x = 1 both densities
/// are equal, so the posteriors are the weights; at x = 0 the density is the weighted sum.
#[test]
fn hand_worked_mixture_from_parameters() {
    let gm = GaussianMixture::from_parameters(
        Covariance::Full,
        vec![0.25, 0.75],
        vec![0.0, 2.0],
        vec![1.0, 1.0],
    )
    .unwrap();
    let p = gm.predict_proba(Matrix::from_vec(1, 1, vec![1.0]).view());
    assert!((p.get(0, 0) - 0.25).abs() < 1e-7 && (p.get(0, 1) - 0.75).abs() < 1e-7);
    let at0 = gm.score_samples(Matrix::from_vec(1, 1, vec![0.0]).view())[0];
    let want = ((0.25 + 0.75 * (-2.0f64).exp()) / (2.0 * PI).sqrt()).ln();
    assert!((at0 - want).abs() < 1e-14);
    assert_eq!(
        gm.predict(Matrix::from_vec(3, 1, vec![-1.0, 0.9, 3.0]).view()),
        vec![0, 1, 1]
    );

    // A 2-D full covariance gives the closed-form bivariate density.
    let (s11, s12, s22) = (2.0, 0.6, 1.0);
    let gm = GaussianMixture::from_parameters(
        Covariance::Full,
        vec![1.0],
        vec![1.0, -1.0],
        vec![s11, s12, s12, s22],
    )
    .unwrap();
    let (u, v) = (0.5f64, 0.25f64); // x - mu for x = (1.5, -0.75)
    let det = s11 * s22 - s12 * s12;
    let maha = (s22 * u * u - 2.0 * s12 * u * v + s11 * v * v) / det;
    let want = -(2.0 * PI).ln() - 0.5 * det.ln() - 0.5 * maha;
    let got = gm.score_samples(Matrix::from_vec(1, 2, vec![1.5, -0.75]).view())[0];
    assert!((got - want).abs() < 1e-14, "{got} vs {want}");

    let bad = |w: Vec<f64>, m: Vec<f64>, c: Vec<f64>| {
        GaussianMixture::from_parameters(Covariance::Full, w, m, c)
            .unwrap_err()
            .to_string()
    };
    assert!(bad(vec![], vec![], vec![]).contains("k = 0"));
    assert!(bad(vec![0.5, 0.6], vec![0.0, 1.0], vec![1.0, 1.0]).contains("sum to 1"));
    assert!(bad(vec![1.0], vec![0.0, 1.0], vec![1.0]).contains("covariance values"));
    assert!(bad(vec![1.0], vec![0.0, 0.0], vec![1.0, 0.0, 0.5, 1.0]).contains("symmetric"));
    assert!(bad(vec![1.0], vec![0.0, 0.0], vec![1.0, 2.0, 2.0, 1.0]).contains("positive"));
    assert!(bad(vec![1.0], vec![f64::NAN], vec![1.0]).contains("not finite"));
}

/// The fixture's records by name (see fixtures/gmm/make_fixture.py).
fn fixture() -> HashMap<String, Vec<Vec<f64>>> {
    let text = include_str!("../fixtures/gmm/sklearn_blobs.txt");
    let mut records: HashMap<String, Vec<Vec<f64>>> = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut words = line.split_whitespace();
        let name = words.next().unwrap().to_string();
        let values = words.map(|w| w.parse::<f64>().unwrap()).collect();
        records.entry(name).or_default().push(values);
    }
    records
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol,
            "{what}[{i}]: {g} vs scikit-learn's {w}"
        );
    }
}

/// scikit-learn 1.9.1 from the same K-Means labels (which it computed itself): the same
/// number of iterations and the same parameters, lower bounds, scores, posteriors and
/// labels, up to rounding: 1e-11 on parameters and 1e-12 on mean log-likelihoods, ten
/// times what was measured (both are f64 sums in different orders; EM's 4 to 58
/// iterations amplify nothing much).
#[test]
fn agrees_with_scikit_learn() {
    let f = fixture();
    let points = &f["x"];
    let x = Matrix::from_fn(points.len(), 2, |i, j| points[i][j] as f32);
    // The fixture's values are f32 already: nothing is rounded on the way in.
    for (i, p) in points.iter().enumerate() {
        assert_eq!(x.get(i, 0) as f64, p[0]);
    }
    let labels: Vec<usize> = f["labels"][0].iter().map(|&l| l as usize).collect();
    for (name, covariance, tol) in [
        ("full", Covariance::Full, 1e-3),
        ("diag", Covariance::Diag, 1e-3),
        ("tight", Covariance::Full, 1e-10),
    ] {
        let gm = GaussianMixtureParams {
            covariance,
            tol,
            max_iter: 1000,
            ..params(3)
        }
        .fit_from_labels(x.view(), &labels)
        .unwrap();
        let one = |key: &str| f[&format!("{name}.{key}")][0].clone();
        assert_eq!(gm.n_iter, one("n_iter")[0] as usize, "{name}: n_iter");
        assert_eq!(gm.converged, one("converged")[0] == 1.0, "{name}");
        assert_close(name, &gm.weights, &one("weights"), 1e-11);
        assert_close(name, &gm.means, &one("means"), 1e-11);
        assert_close(name, &gm.covariances, &one("covariances"), 1e-11);
        assert_close(
            name,
            &gm.precisions_cholesky,
            &one("precisions_cholesky"),
            1e-11,
        );
        assert_close(name, &[gm.lower_bound], &one("lower_bound"), 1e-12);
        assert_close(name, &gm.lower_bound_history, &one("lower_bounds"), 1e-12);
        assert_close(name, &[gm.score(x.view())], &one("score"), 1e-12);
        assert_close(name, &[gm.bic(x.view())], &one("bic"), 1e-8);
        assert_close(name, &[gm.aic(x.view())], &one("aic"), 1e-8);
        let proba = gm.predict_proba(x.rows_range(0..5));
        let proba: Vec<f64> = proba.as_slice().iter().map(|&p| p as f64).collect();
        assert_close(name, &proba, &one("predict_proba_first5"), 1e-6);
        let predict: Vec<usize> = one("predict").iter().map(|&l| l as usize).collect();
        assert_eq!(gm.predict(x.view()), predict, "{name}: predict");
    }
}

/// `fit` is K-Means (one run, the same seed), then `fit_from_labels` on its labels.
#[test]
fn fit_starts_from_k_means() {
    let (x, _) = blobs(3, 200, 2, 5);
    let p = GaussianMixtureParams {
        seed: 9,
        ..params(3)
    };
    let labels = KMeansParams {
        k: 3,
        n_init: 1,
        seed: 9,
        ..KMeansParams::default()
    }
    .fit(x.view())
    .unwrap()
    .labels;
    assert_eq!(
        p.fit(x.view()).unwrap(),
        p.fit_from_labels(x.view(), &labels).unwrap()
    );
}

/// Three overlapping, correlated components: the start is far from the optimum and EM
/// takes many steps; the mean log-likelihood never goes down (EM's guarantee, up to the
/// tiny reg_covar term), and the model after the last M-step scores at least its last
/// lower bound.
#[test]
fn the_log_likelihood_never_decreases() {
    let f = fixture();
    let points = &f["x"];
    let x = Matrix::from_fn(points.len(), 2, |i, j| points[i][j] as f32);
    for covariance in [Covariance::Full, Covariance::Diag] {
        for seed in 0..4 {
            let gm = GaussianMixtureParams {
                covariance,
                tol: 0.0,
                max_iter: 60,
                seed,
                ..params(4)
            }
            .fit(x.view())
            .unwrap();
            let h = &gm.lower_bound_history;
            assert_eq!(h.len(), 60);
            assert!(!gm.converged);
            for t in 1..h.len() {
                assert!(
                    h[t] >= h[t - 1] - 1e-12,
                    "{covariance:?} seed {seed} step {t}"
                );
            }
            assert!(h[h.len() - 1] > h[0] + 1e-3, "EM made progress");
            assert!(gm.score(x.view()) >= gm.lower_bound - 1e-12);
        }
    }
}

/// 3 components in 3-D with distinct correlated covariances and unequal weights, 2000 to
/// 4000 points each, far apart: the fit recovers weights within 0.01, and means and
/// covariance entries within 4 standard errors of their estimates from n_j points
/// (sqrt(S_aa / n_j) for a mean, sqrt((S_aa S_bb + S_ab^2) / n_j) for a covariance
/// entry), and labels every point by its source.
#[test]
fn recovers_the_generating_parameters() {
    #[rustfmt::skip]
    let sources = [
        Source { mean: vec![0.0, 0.0, 0.0],
                 chol: vec![1.0, 0.0, 0.0, 0.5, 0.8, 0.0, -0.3, 0.2, 0.6] },
        Source { mean: vec![12.0, -4.0, 3.0],
                 chol: vec![0.7, 0.0, 0.0, -0.4, 1.1, 0.0, 0.0, 0.3, 0.9] },
        Source { mean: vec![-6.0, 9.0, 10.0],
                 chol: vec![1.3, 0.0, 0.0, 0.0, 0.5, 0.0, 0.6, -0.2, 1.0] },
    ];
    let per = [4000, 3000, 2000];
    let (x, from) = sample(&sources, &per, 11);
    let gm = params(3).fit(x.view()).unwrap();
    assert!(gm.converged);
    let labels = gm.predict(x.view());
    for j in 0..3 {
        // The fitted component of source j.
        let c = labels[from.iter().position(|&s| s == j).unwrap()];
        assert!((gm.weights[c] - per[j] as f64 / 9000.0).abs() < 0.01);
        let s = sources[j].covariance();
        let n = per[j] as f64;
        let got = gm.covariance_matrix(c);
        for a in 0..3 {
            let mean = gm.means[c * 3 + a];
            let se = (s[a * 3 + a] / n).sqrt();
            assert!(
                (mean - sources[j].mean[a]).abs() < 4.0 * se,
                "mean {j} {a}: {mean}"
            );
            for b in 0..3 {
                let (g, w) = (got[a * 3 + b], s[a * 3 + b]);
                let se = ((s[a * 3 + a] * s[b * 3 + b] + w * w) / n).sqrt();
                assert!((g - w).abs() < 4.0 * se, "cov {j} ({a}, {b}): {g} vs {w}");
            }
        }
    }
    for (i, &s) in from.iter().enumerate() {
        assert_eq!(
            labels[i],
            labels[from.iter().position(|&t| t == s).unwrap()]
        );
    }
}

/// Posteriors are probabilities: each row sums to 1 (to f32 rounding) and predict is
/// their argmax, on overlapping components where the posteriors are not all 0 or 1.
#[test]
fn predict_proba_rows_sum_to_one() {
    let f = fixture();
    let points = &f["x"];
    let x = Matrix::from_fn(points.len(), 2, |i, j| points[i][j] as f32);
    for covariance in [Covariance::Full, Covariance::Diag] {
        let gm = GaussianMixtureParams {
            covariance,
            ..params(3)
        }
        .fit(x.view())
        .unwrap();
        let proba = gm.predict_proba(x.view());
        assert_eq!(proba.shape(), (300, 3));
        let labels = gm.predict(x.view());
        let mut uncertain = 0;
        for (i, row) in proba.iter_rows().enumerate() {
            let sum: f64 = row.iter().map(|&p| p as f64).sum();
            assert!((sum - 1.0).abs() < 1e-6, "row {i} sums to {sum}");
            assert!(row.iter().all(|&p| (0.0..=1.0).contains(&p)));
            let argmax = (0..3).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            assert_eq!(labels[i], argmax);
            uncertain += row.iter().any(|&p| p > 0.05 && p < 0.95) as usize;
        }
        assert!(uncertain > 10, "the test data has overlapping components");
    }
}

/// On 4 well separated blobs, the BIC over k = 1..8 is lowest at k = 4.
#[test]
fn bic_picks_the_true_number_of_components() {
    let (x, _) = blobs(4, 150, 2, 7);
    let bic: Vec<f64> = (1..=8)
        .map(|k| params(k).fit(x.view()).unwrap().bic(x.view()))
        .collect();
    let best = (0..bic.len()).fold(0, |b, i| if bic[i] < bic[b] { i } else { b });
    assert_eq!(best + 1, 4, "BIC {bic:?}");
}

/// More restarts can only raise the kept lower bound (restart 0 is the one-restart fit).
#[test]
fn n_init_keeps_the_best_restart() {
    let f = fixture();
    let points = &f["x"];
    let x = Matrix::from_fn(points.len(), 2, |i, j| points[i][j] as f32);
    let one = params(5).fit(x.view()).unwrap();
    let five = GaussianMixtureParams {
        n_init: 5,
        ..params(5)
    }
    .fit(x.view())
    .unwrap();
    assert!(five.lower_bound >= one.lower_bound);
}

/// Same parameters => bit-identical mixtures on 1, 2 and 3 threads: 9,000 points are 9
/// blocks of rows, so the partial sums really are split between threads.
#[test]
fn deterministic_whatever_the_thread_count() {
    let (x, _) = blobs(6, 1500, 4, 13);
    for covariance in [Covariance::Full, Covariance::Diag] {
        let p = GaussianMixtureParams {
            covariance,
            tol: 1e-6,
            seed: 3,
            ..params(6)
        };
        let on = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    let gm = p.fit(x.view()).unwrap();
                    let proba = gm.predict_proba(x.view());
                    let score = gm.score(x.view()).to_bits();
                    (gm, proba, score)
                })
        };
        let one = on(1);
        assert!(one.0.n_iter > 1);
        assert_eq!(on(2), one);
        assert_eq!(on(3), one);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let two = on(2);
        assert_eq!(bits(&two.0.covariances), bits(&one.0.covariances));
        assert_eq!(
            bits(&two.0.lower_bound_history),
            bits(&one.0.lower_bound_history)
        );
    }
}
