//! Hand-worked cases for NMI, accuracy and ARI, the degenerate labelings, and a few fixed
//! examples checked against scikit-learn.

use deepcluster::Error;
use deepcluster::metrics::{Scores, accuracy, ari, hungarian, nmi, score};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12
}

#[track_caller]
fn assert_scores(truth: &[usize], pred: &[usize], nmi_: f64, acc: f64, ari_: f64) {
    let s = score(truth, pred).unwrap();
    assert!(close(s.nmi, nmi_), "nmi {} != {nmi_}", s.nmi);
    assert!(close(s.acc, acc), "acc {} != {acc}", s.acc);
    assert!(close(s.ari, ari_), "ari {} != {ari_}", s.ari);
    // The single-metric functions agree with `score`.
    assert_eq!(nmi(truth, pred).unwrap(), s.nmi);
    assert_eq!(accuracy(truth, pred).unwrap(), s.acc);
    assert_eq!(ari(truth, pred).unwrap(), s.ari);
}

/// truth [0,0,0,1,1,1], pred [0,0,1,1,2,2]: contingency rows (2,1,0) and (0,1,2).
/// MI = 2 * (2/6) ln(6*2/(3*2)) = (2/3) ln 2 (the two cells of 1 contribute ln 1 = 0),
/// H(T) = ln 2, H(P) = ln 3, so NMI = (2/3) ln 2 / ((ln 2 + ln 3)/2) = (4/3) ln 2 / ln 6.
/// ACC: cluster 0 -> class 0 (2 points), cluster 2 -> class 1 (2 points): 4/6.
/// ARI on unordered pairs: together in both = 1 + 1 = 2; sum C(a_i, 2) = 3 + 3 = 6;
/// sum C(b_j, 2) = 1 + 1 + 1 = 3; C(6, 2) = 15; expected = 6*3/15 = 1.2; mean = 4.5;
/// ARI = (2 - 1.2) / (4.5 - 1.2) = 8/33.
#[test]
fn hand_worked_two_classes_three_clusters() {
    let truth = [0, 0, 0, 1, 1, 1];
    let pred = [0, 0, 1, 1, 2, 2];
    let ln = f64::ln;
    assert_scores(
        &truth,
        &pred,
        4.0 / 3.0 * ln(2.0) / ln(6.0),
        4.0 / 6.0,
        8.0 / 33.0,
    );
}

/// Two independent halves: truth [0,0,1,1], pred [0,1,0,1]. Every cell holds 1 point, so
/// MI = 4 * (1/4) ln(4*1/(2*2)) = 0 and NMI = 0. ACC 2/4. ARI: together in both = 0,
/// sum C(a,2) = sum C(b,2) = 2, C(4,2) = 6, expected = 2/3, mean = 2:
/// ARI = (0 - 2/3) / (2 - 2/3) = -1/2, the lowest value ARI takes.
#[test]
fn hand_worked_independent_labelings() {
    assert_scores(&[0, 0, 1, 1], &[0, 1, 0, 1], 0.0, 0.5, -0.5);
}

/// One cluster for everything: no information (NMI 0), no better than chance (ARI 0:
/// together in both = sum C(a,2) = 2, sum C(b,2) = 6, expected = 2*6/6 = 2 = index),
/// and accuracy is the largest class's share.
#[test]
fn degenerate_one_cluster() {
    assert_scores(&[0, 0, 1, 1, 1], &[4, 4, 4, 4, 4], 0.0, 0.6, 0.0);
}

/// Every point its own cluster: MI = H(T) = ln 2, H(P) = ln 4, so NMI = ln 2 / (1.5 ln 2)
/// = 2/3; ARI: together in both = 0 and sum C(b,2) = 0 so expected = 0 and ARI =
/// 0 / (mean - 0) = 0; accuracy: only one singleton per class can be matched: 2/4.
#[test]
fn degenerate_all_singletons() {
    assert_scores(&[0, 0, 1, 1], &[0, 1, 2, 3], 2.0 / 3.0, 0.5, 0.0);
}

/// scikit-learn's special cases: both labelings constant, both all singletons, and a single
/// point all score 1 on every metric.
#[test]
fn degenerate_perfect_agreements_score_one() {
    assert_scores(&[3, 3, 3], &[7, 7, 7], 1.0, 1.0, 1.0);
    assert_scores(&[0, 1, 2, 3], &[9, 8, 7, 6], 1.0, 1.0, 1.0);
    assert_scores(&[5], &[2], 1.0, 1.0, 1.0);
}

#[test]
fn empty_or_mismatched_labels_are_errors() {
    assert!(matches!(score(&[], &[]), Err(Error::Invalid { .. })));
    assert!(matches!(nmi(&[], &[]), Err(Error::Invalid { .. })));
    assert!(matches!(ari(&[], &[]), Err(Error::Invalid { .. })));
    assert!(matches!(accuracy(&[], &[]), Err(Error::Invalid { .. })));
    assert!(matches!(score(&[0, 1], &[0]), Err(Error::Invalid { .. })));
    assert!(matches!(
        accuracy(&[0], &[0, 1]),
        Err(Error::Invalid { .. })
    ));
}

/// Expected values printed by scikit-learn 1.9.1 (`normalized_mutual_info_score`,
/// `adjusted_rand_score`) and, for accuracy, SciPy's `linear_sum_assignment` on the negated
/// (cluster, class) count matrix, exactly as ../shared/bench/kmeans_sklearn.py scores:
///
/// ```python
/// for t, p in examples: print(repr(nmi(t, p)), repr(acc(t, p)), repr(ari(t, p)))
/// ```
#[test]
fn agrees_with_scikit_learn_on_fixed_examples() {
    let cases: [(&[usize], &[usize], Scores); 3] = [
        (
            &[0, 0, 1, 1, 2, 2, 2, 3],
            &[1, 1, 0, 0, 0, 2, 2, 2],
            Scores {
                nmi: 0.7020168761809934,
                acc: 0.75,
                ari: 0.3684210526315789,
            },
        ),
        (
            // More clusters (4) than classes (3).
            &[0, 1, 2, 0, 1, 2, 0, 1, 2, 0],
            &[0, 0, 0, 1, 1, 1, 2, 2, 2, 3],
            Scores {
                nmi: 0.0833624655813351,
                acc: 0.3,
                ari: -0.2962962962962963,
            },
        ),
        (
            // Arbitrary label values, five clusters against four classes.
            &[5, 5, 7, 7, 7, 9, 9, 9, 9, 1],
            &[3, 3, 3, 0, 0, 0, 8, 8, 4, 4],
            Scores {
                nmi: 0.5739323787756516,
                acc: 0.7,
                ari: 0.16923076923076924,
            },
        ),
    ];
    for (truth, pred, want) in cases {
        assert_scores(truth, pred, want.nmi, want.acc, want.ari);
    }
}

/// A 3x3 assignment worked by hand over its 6 permutations: the diagonal costs
/// 1 + 5 + 9 = 15, and the only total below 8 uses the 0 at (2, 1): (0,0) + (1,2) + (2,1)
/// = 1 + 6 + 0 = 7 ((0,2) + (1,0) + (2,1) = 3 + 5 + 0 = 8 comes next).
#[test]
fn hungarian_hand_worked_square_and_rectangular() {
    let cost = [1.0, 2.0, 3.0, 5.0, 5.0, 6.0, 7.0, 0.0, 9.0];
    assert_eq!(hungarian(&cost, 3, 3), vec![(0, 0), (1, 2), (2, 1)]);
    // (2, 3): rows pick their cheapest distinct columns, 1 + 0 = 1 at (0,0) and (1,2).
    let wide = [1.0, 5.0, 9.0, 3.0, 4.0, 0.0];
    assert_eq!(hungarian(&wide, 2, 3), vec![(0, 0), (1, 2)]);
    // (3, 2): the transpose; the middle row is left out.
    let tall = [1.0, 3.0, 5.0, 4.0, 9.0, 0.0];
    assert_eq!(hungarian(&tall, 3, 2), vec![(0, 0), (2, 1)]);
    assert_eq!(hungarian(&[], 0, 4), vec![]);
}
