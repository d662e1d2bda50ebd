//! The metrics on many distinct labels: the contingency table is sparse and the accuracy's
//! assignment splits into connected blocks, so 100,000 labels on each side cost O(n log n),
//! and a block too large for the Hungarian search is a one-line error, never an abort.

use deepcluster::metrics::{MAX_ASSIGNMENT_CELLS, accuracy, ari, hungarian, nmi, score};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::process::Command;

/// The accuracy from one dense Hungarian search over the whole table: the reference for
/// the block-by-block search.
fn dense_accuracy(truth: &[usize], pred: &[usize]) -> f64 {
    let classes = truth.iter().max().unwrap() + 1;
    let clusters = pred.iter().max().unwrap() + 1;
    let mut cost = vec![0.0f64; classes * clusters];
    for (&t, &p) in truth.iter().zip(pred) {
        cost[t * clusters + p] -= 1.0;
    }
    let matched: f64 = hungarian(&cost, classes, clusters)
        .into_iter()
        .map(|(i, j)| -cost[i * clusters + j])
        .sum();
    matched / truth.len() as f64
}

/// Labelings made of several independent blocks (classes that share points only with the
/// clusters of their own block), some of one class or one cluster, with the labels of the
/// blocks interleaved so that no block is a contiguous range.
fn block_labelings(rng: &mut StdRng, blocks: usize, n: usize) -> (Vec<usize>, Vec<usize>) {
    let mut truth = Vec::with_capacity(n);
    let mut pred = Vec::with_capacity(n);
    for _ in 0..n {
        let b = rng.random_range(0..blocks);
        let (rows, cols) = (1 + b % 3, 1 + (b / 3) % 4);
        truth.push(rng.random_range(0..rows) * blocks + b);
        pred.push(rng.random_range(0..cols) * blocks + b);
    }
    (truth, pred)
}

#[test]
fn blockwise_accuracy_equals_one_dense_assignment() {
    let mut rng = StdRng::seed_from_u64(7);
    for trial in 0..200 {
        let blocks = 1 + trial % 9;
        let n = 1 + rng.random_range(0..60);
        let (truth, pred) = block_labelings(&mut rng, blocks, n);
        let fast = accuracy(&truth, &pred).unwrap();
        let dense = dense_accuracy(&truth, &pred);
        assert_eq!(fast, dense, "trial {trial}: truth {truth:?} pred {pred:?}");
    }
}

#[test]
fn one_hundred_thousand_distinct_labels_each_side() {
    // Every point its own class and, under other names, its own cluster: a perfect
    // clustering of 100,000 singletons. A dense table would hold 10^10 cells.
    let n = 100_000;
    let truth: Vec<usize> = (0..n).collect();
    let pred: Vec<usize> = (0..n).map(|i| (i * 7_919) % n + 1_000_000).collect();
    let s = score(&truth, &pred).unwrap();
    assert_eq!((s.nmi, s.acc, s.ari), (1.0, 1.0, 1.0));

    // Pairs of points share a class; the clusters split every pair: ACC 1/2.
    let truth: Vec<usize> = (0..n).map(|i| i / 2).collect();
    let pred: Vec<usize> = (0..n).collect();
    assert_eq!(accuracy(&truth, &pred).unwrap(), 0.5);
}

#[test]
fn a_block_too_large_for_the_assignment_is_an_error_naming_the_limit() {
    // 4,000 classes and 4,000 clusters drawn independently: one connected block of
    // 16 million cells, past the limit. NMI and ARI still answer.
    let mut rng = StdRng::seed_from_u64(3);
    let n = 60_000;
    let truth: Vec<usize> = (0..n).map(|_| rng.random_range(0..4_000)).collect();
    let pred: Vec<usize> = (0..n).map(|_| rng.random_range(0..4_000)).collect();
    const { assert!(4_000 * 4_000 > MAX_ASSIGNMENT_CELLS) };
    let err = accuracy(&truth, &pred).unwrap_err().to_string();
    assert!(err.starts_with("accuracy:"), "{err}");
    assert!(err.contains("4000 classes and 4000 clusters"), "{err}");
    assert!(!err.contains('\n'));
    assert!(score(&truth, &pred).is_err());
    let m = nmi(&truth, &pred).unwrap();
    assert!((0.0..=1.0).contains(&m));
    assert!(ari(&truth, &pred).unwrap().abs() < 0.01);
}

/// `evaluate` on 100,000 distinct labels each side (2 MB of CSV): the scores, not an
/// 80 GB allocation; on an unassignable table, one line and exit status 1.
#[test]
fn evaluate_many_distinct_labels() {
    let dir =
        std::env::temp_dir().join(format!("deepcluster-metrics-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let n = 100_000;
    let mut truth = String::from("filename,label\n");
    let mut same = String::from("filename,cluster\n");
    let mut grouped = String::from("filename,label\n");
    let mut random = String::from("filename,cluster\n");
    let mut rng = StdRng::seed_from_u64(11);
    for i in 0..n {
        truth.push_str(&format!("{i}.png,{i}\n"));
        same.push_str(&format!("{i}.png,{}\n", n - i));
        grouped.push_str(&format!("{i}.png,{}\n", i % 4_000));
        random.push_str(&format!("{i}.png,{}\n", rng.random_range(0..4_000)));
    }
    let truth_csv = dir.join("truth.csv");
    std::fs::write(&truth_csv, truth).unwrap();
    std::fs::write(dir.join("grouped.csv"), grouped).unwrap();
    std::fs::write(dir.join("same.csv"), same).unwrap();
    std::fs::write(dir.join("random.csv"), random).unwrap();
    let run = |truth: &str, pred: &str| {
        Command::new(env!("CARGO_BIN_EXE_deepcluster"))
            .arg("evaluate")
            .arg(dir.join(truth))
            .arg(dir.join(pred))
            .output()
            .unwrap()
    };
    let out = run("truth.csv", "same.csv");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("acc=1.0000"), "{stdout}");

    // 4,000 classes of 25 points against 4,000 random clusters: one block of 16 million cells.
    let out = run("grouped.csv", "random.csv");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("accuracy"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
