//! The low-dimensional similarity curve q(d) = 1 / (1 + a d^(2b)) (UMAP step 5), with a and
//! b fitted by least squares to the target curve that is 1 up to min_dist and decays as
//! exp(-(d - min_dist) / spread) beyond, on 300 points in [0, 3 spread] (umap-learn's
//! `find_ab_params`, which calls scipy's `curve_fit`, Levenberg-Marquardt from a = b = 1).

/// Points of the least-squares fit, evenly spaced on [0, 3 spread].
const FIT_POINTS: usize = 300;
/// Levenberg-Marquardt iterations at most; the fit converges in a few dozen.
const MAX_ITER: usize = 500;

/// q(d) = 1 / (1 + a d^(2b)).
pub fn q(a: f64, b: f64, d: f64) -> f64 {
    1.0 / (1.0 + a * d.powf(2.0 * b))
}

/// The target curve: 1 for d < min_dist, exp(-(d - min_dist) / spread) beyond.
pub fn target(min_dist: f64, spread: f64, d: f64) -> f64 {
    if d < min_dist {
        1.0
    } else {
        (-(d - min_dist) / spread).exp()
    }
}

/// (a, b) minimising sum_i (q(x_i) - target(x_i))^2 over the 300 points, by
/// Levenberg-Marquardt in f64 from (1, 1).
pub fn find_ab_params(min_dist: f64, spread: f64) -> (f64, f64) {
    let xs: Vec<f64> = (0..FIT_POINTS)
        .map(|i| 3.0 * spread * i as f64 / (FIT_POINTS - 1) as f64)
        .collect();
    let ys: Vec<f64> = xs.iter().map(|&x| target(min_dist, spread, x)).collect();
    let cost = |a: f64, b: f64| -> f64 {
        xs.iter()
            .zip(&ys)
            .map(|(&x, &y)| (q(a, b, x) - y).powi(2))
            .sum()
    };
    let (mut a, mut b) = (1.0f64, 1.0f64);
    let mut lambda = 1e-3;
    let mut c = cost(a, b);
    for _ in 0..MAX_ITER {
        // Normal equations J^T J delta = -J^T r, with
        // dq/da = -u q^2 and dq/db = -2 a u ln(x) q^2, u = x^(2b) (both 0 at x = 0).
        let (mut jaa, mut jab, mut jbb, mut ga, mut gb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&x, &y) in xs.iter().zip(&ys) {
            let qx = q(a, b, x);
            let r = qx - y;
            let (da, db) = if x > 0.0 {
                let u = x.powf(2.0 * b);
                (-u * qx * qx, -2.0 * a * u * x.ln() * qx * qx)
            } else {
                (0.0, 0.0)
            };
            jaa += da * da;
            jab += da * db;
            jbb += db * db;
            ga += da * r;
            gb += db * r;
        }
        // The damped 2 x 2 system (Marquardt's scaling by the diagonal), solved directly.
        let (maa, mbb) = (jaa * (1.0 + lambda), jbb * (1.0 + lambda));
        let det = maa * mbb - jab * jab;
        if det == 0.0 || !det.is_finite() {
            break;
        }
        let step_a = -(mbb * ga - jab * gb) / det;
        let step_b = -(maa * gb - jab * ga) / det;
        let (na, nb) = (a + step_a, b + step_b);
        let nc = if na > 0.0 && nb > 0.0 {
            cost(na, nb)
        } else {
            f64::INFINITY
        };
        if nc <= c {
            let converged = (step_a.abs() <= 1e-13 * a.abs()) && (step_b.abs() <= 1e-13 * b.abs());
            a = na;
            b = nb;
            let gain = c - nc;
            c = nc;
            lambda = (lambda / 10.0).max(1e-12);
            if converged || gain <= 1e-16 * c.max(f64::MIN_POSITIVE) {
                break;
            }
        } else {
            lambda *= 10.0;
            if lambda > 1e16 {
                break;
            }
        }
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fitted curve is a stationary point of the cost: finite differences of the cost at
    /// (a, b) vanish (relative to the cost's scale).
    #[test]
    fn fit_is_a_stationary_point() {
        for &(min_dist, spread) in &[(0.0, 1.0), (0.1, 1.0), (0.5, 2.0)] {
            let (a, b) = find_ab_params(min_dist, spread);
            let xs: Vec<f64> = (0..FIT_POINTS)
                .map(|i| 3.0 * spread * i as f64 / 299.0)
                .collect();
            let cost = |a: f64, b: f64| -> f64 {
                xs.iter()
                    .map(|&x| (q(a, b, x) - target(min_dist, spread, x)).powi(2))
                    .sum()
            };
            let h = 1e-6;
            let ga = (cost(a + h, b) - cost(a - h, b)) / (2.0 * h);
            let gb = (cost(a, b + h) - cost(a, b - h)) / (2.0 * h);
            assert!(
                ga.abs() < 1e-6 && gb.abs() < 1e-6,
                "{min_dist} {spread}: grad ({ga}, {gb})"
            );
        }
    }
}
