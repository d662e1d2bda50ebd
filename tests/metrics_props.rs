//! Property tests for the metrics and the Hungarian algorithm.

use deepcluster::metrics::{accuracy, ari, hungarian, nmi, score};
use proptest::prelude::*;

/// Two labelings of the same random length, with up to 6 classes and 8 clusters.
fn labelings() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (1usize..60).prop_flat_map(|n| {
        (
            proptest::collection::vec(0usize..6, n),
            proptest::collection::vec(0usize..8, n),
        )
    })
}

/// An injective renaming of labels below 8: a permutation of 0..8 spread out to big values.
fn renaming() -> impl Strategy<Value = Vec<usize>> {
    Just((0..8usize).collect::<Vec<_>>())
        .prop_shuffle()
        .prop_map(|p| p.into_iter().map(|v| 1000 + 37 * v).collect())
}

/// The cheapest total over all injections of the smaller side into the larger one.
fn brute_force(cost: &[f64], rows: usize, cols: usize) -> f64 {
    fn go(cost: &[f64], rows: usize, cols: usize, r: usize, used: &mut [bool]) -> f64 {
        if r == rows {
            return 0.0;
        }
        let mut best = f64::INFINITY;
        for c in 0..cols {
            if !used[c] {
                used[c] = true;
                best = best.min(cost[r * cols + c] + go(cost, rows, cols, r + 1, used));
                used[c] = false;
            }
        }
        best
    }
    if rows <= cols {
        go(cost, rows, cols, 0, &mut vec![false; cols])
    } else {
        let t: Vec<f64> = (0..cols)
            .flat_map(|j| (0..rows).map(move |i| cost[i * cols + j]))
            .collect();
        go(&t, cols, rows, 0, &mut vec![false; rows])
    }
}

proptest! {
    #[test]
    fn scores_are_invariant_under_renaming((truth, pred) in labelings(), rt in renaming(), rp in renaming()) {
        let s = score(&truth, &pred).unwrap();
        let truth2: Vec<usize> = truth.iter().map(|&l| rt[l]).collect();
        let pred2: Vec<usize> = pred.iter().map(|&l| rp[l]).collect();
        let s2 = score(&truth2, &pred2).unwrap();
        // Renaming reorders the table's cells, so sums may round differently.
        prop_assert!((s.nmi - s2.nmi).abs() < 1e-12);
        prop_assert!((s.ari - s2.ari).abs() < 1e-12);
        prop_assert_eq!(s.acc, s2.acc);
    }

    #[test]
    fn nmi_ari_and_accuracy_are_symmetric((truth, pred) in labelings()) {
        prop_assert!((nmi(&truth, &pred).unwrap() - nmi(&pred, &truth).unwrap()).abs() < 1e-12);
        prop_assert_eq!(ari(&truth, &pred).unwrap(), ari(&pred, &truth).unwrap());
        prop_assert_eq!(accuracy(&truth, &pred).unwrap(), accuracy(&pred, &truth).unwrap());
    }

    #[test]
    fn scores_stay_in_range((truth, pred) in labelings()) {
        let s = score(&truth, &pred).unwrap();
        prop_assert!((0.0..=1.0).contains(&s.nmi), "nmi {}", s.nmi);
        prop_assert!((-0.5..=1.0).contains(&s.ari), "ari {}", s.ari);
        // At least the biggest class-cluster cell is matched.
        prop_assert!(s.acc > 0.0 && s.acc <= 1.0, "acc {}", s.acc);
    }

    #[test]
    fn a_perfect_clustering_scores_one((truth, _) in labelings(), rp in renaming()) {
        let pred: Vec<usize> = truth.iter().map(|&l| rp[l]).collect();
        let s = score(&truth, &pred).unwrap();
        prop_assert!((s.nmi - 1.0).abs() < 1e-12, "nmi {}", s.nmi);
        prop_assert_eq!(s.acc, 1.0);
        prop_assert_eq!(s.ari, 1.0);
    }

    #[test]
    fn hungarian_equals_brute_force(
        (rows, cols, cost) in (1usize..=7, 1usize..=7).prop_flat_map(|(r, c)| {
            (Just(r), Just(c), proptest::collection::vec(-20i32..20, r * c))
        })
    ) {
        let cost: Vec<f64> = cost.into_iter().map(f64::from).collect();
        let pairs = hungarian(&cost, rows, cols);
        prop_assert_eq!(pairs.len(), rows.min(cols));
        let mut seen_rows = vec![false; rows];
        let mut seen_cols = vec![false; cols];
        for &(r, c) in &pairs {
            prop_assert!(!seen_rows[r] && !seen_cols[c], "({r}, {c}) used twice");
            seen_rows[r] = true;
            seen_cols[c] = true;
        }
        // Integer costs: both totals are exact.
        let total: f64 = pairs.iter().map(|&(r, c)| cost[r * cols + c]).sum();
        prop_assert_eq!(total, brute_force(&cost, rows, cols));
    }
}
