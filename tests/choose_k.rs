//! `--clusters auto`: the BIC curve picks the number of well-separated Gaussian blobs, has one
//! entry per k, is the same for a seed whatever the thread count, breaks ties towards the
//! smaller k; in the experiment, k is chosen once before every method, written to bic.csv and
//! drawn on the page, and an impossible range is one error naming --clusters.

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use deepcluster::Error;
use deepcluster::data::Protocol;
use deepcluster::experiment::choose_k::{BicPoint, Criteria, bic_curve, lowest_bic};
use deepcluster::experiment::{self, Clusters, Config, Observer, Preset, Schedule};
use deepcluster::linalg::Matrix;

/// `blobs` clusters of `per` points each in `dims` dimensions: standard normal noise
/// (Box-Muller) around centres 30 apart along distinct axes (blob j at 30 e_j), so every
/// pair of centres is ~42 standard deviations apart.
fn blobs(blobs: usize, per: usize, dims: usize, seed: u64) -> Matrix {
    assert!(blobs <= dims);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut normal = move || {
        let (u, v): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    };
    Matrix::from_fn(blobs * per, dims, |i, d| {
        let centre = if d == i / per { 30.0 } else { 0.0 };
        centre + normal()
    })
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn four_blobs_in_ten_dimensions_give_k_4() {
    let x = blobs(4, 100, 10, 7);
    let curve = bic_curve(x.view(), 2..=8, 3);
    assert_eq!(
        curve.iter().map(|p| p.k).collect::<Vec<_>>(),
        (2..=8).collect::<Vec<_>>(),
        "one entry per k, in order"
    );
    assert!(curve.iter().all(|p| p.criteria.is_some()), "{curve:?}");
    assert_eq!(lowest_bic(&curve), Some(4), "{curve:?}");
    // BIC = -2 ln L + p ln N with p = k D + k D (D + 1) / 2 + k - 1, D = 10, N = 400.
    for p in &curve {
        let c = p.criteria.unwrap();
        let params = (p.k * 10 + p.k * 55 + p.k - 1) as f64;
        let bic = -2.0 * c.log_likelihood + params * 400f64.ln();
        let aic = -2.0 * c.log_likelihood + 2.0 * params;
        assert!((c.bic - bic).abs() < 1e-6 * bic.abs(), "k = {}", p.k);
        assert!((c.aic - aic).abs() < 1e-6 * aic.abs(), "k = {}", p.k);
    }
}

/// 2,400 points: three of the mixture's fixed blocks of `gmm::BLOCK` rows (1,024), so the
/// sums really are split between threads and added back in block order.
#[test]
fn three_blobs_give_k_3_and_the_curve_is_the_same_for_a_seed_on_any_thread_count() {
    let x = blobs(3, 800, 5, 11);
    assert!(x.rows() > 2 * deepcluster::cluster::gmm::BLOCK);
    let one = in_pool(1, || bic_curve(x.view(), 2..=6, 5));
    let two = in_pool(2, || bic_curve(x.view(), 2..=6, 5));
    let three = in_pool(3, || bic_curve(x.view(), 2..=6, 5));
    let again = in_pool(2, || bic_curve(x.view(), 2..=6, 5));
    assert_eq!(one, two);
    assert_eq!(one, three);
    assert_eq!(two, again);
    assert_eq!(lowest_bic(&one), Some(3), "{one:?}");
}

fn point(k: usize, bic: Option<f64>) -> BicPoint {
    BicPoint {
        k,
        criteria: bic.map(|bic| Criteria {
            bic,
            aic: 0.0,
            log_likelihood: 0.0,
        }),
        failure: bic.is_none().then(|| "collapsed".to_string()),
    }
}

#[test]
fn ties_go_to_the_smaller_k_and_failed_fits_cannot_win() {
    let curve = [
        point(2, Some(5.0)),
        point(3, Some(1.0)),
        point(4, Some(1.0)),
        point(5, None),
        point(6, Some(f64::NAN)),
    ];
    assert_eq!(lowest_bic(&curve), Some(3));
    assert_eq!(lowest_bic(&[point(2, None), point(3, Some(-4.0))]), Some(3));
    assert_eq!(lowest_bic(&[point(2, None), point(3, None)]), None);
    assert_eq!(lowest_bic(&[]), None);
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/article")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "deepcluster-choose-k-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// K-Means on the pixels and N2D on the fixture (147 fit, 63 validation images), after 3
/// epochs of pretraining.
fn tiny(out: &Path, clusters: Clusters) -> Config {
    let mut schedule = Schedule::quick();
    schedule.pretrain_epochs = 3;
    schedule.pretrain_batch = 32;
    Config {
        data_dir: fixture(),
        protocol: Protocol::Split,
        unlabelled: false,
        methods: vec!["kmeans", "n2d"],
        clusters,
        seed: 1,
        schedule,
        preset: Preset::Quick,
        out: out.to_path_buf(),
        ae_weights: None,
        checkpoint_every: 0,
        umap_neighbors: 10,
        umap_dims: None,
        folder: Default::default(),
        overwrite: false,
        augment: false,
    }
}

/// The notes and the phases, in order.
#[derive(Default)]
struct Notes(Vec<String>);

impl Observer for Notes {
    fn phase(&mut self, name: &str, _: usize, _: bool) {
        self.0.push(format!("phase {name}"));
    }

    fn note(&mut self, text: &str) {
        self.0.push(text.to_string());
    }
}

#[test]
fn auto_chooses_once_before_every_method_and_draws_the_curve() {
    let out = scratch("auto");
    let mut notes = Notes::default();
    let config = tiny(&out, Clusters::Auto { min: 2, max: 6 });
    let results = experiment::run(&config, None, &mut notes).unwrap();
    assert_eq!(results.len(), 2);

    let order: Vec<&str> = notes
        .0
        .iter()
        .filter(|n| n.starts_with("phase") || n.starts_with("chose"))
        .map(String::as_str)
        .collect();
    assert_eq!(order.len(), 5, "{order:?}");
    assert_eq!(
        (order[0], order[1], order[3], order[4]),
        (
            "phase pretrain",
            "phase choose k",
            "phase kmeans",
            "phase n2d"
        )
    );
    let k: usize = order[2]
        .strip_prefix("chose k = ")
        .and_then(|r| r.strip_suffix(" by BIC over k = 2..6"))
        .unwrap_or_else(|| panic!("{}", order[2]))
        .parse()
        .unwrap();
    assert!((2..=6).contains(&k));
    let warned = notes
        .0
        .iter()
        .any(|n| n.contains("is the end of the range"));
    assert_eq!(warned, k == 6, "a k at the end of the range is pointed out");

    let csv = std::fs::read_to_string(out.join("bic.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "k,bic,aic,log_likelihood");
    assert_eq!(lines.len(), 1 + 5, "{csv}");
    let bic = |line: &str| -> Option<f64> { line.split(',').nth(1)?.parse().ok() };
    let lowest = lines[1..]
        .iter()
        .filter_map(|l| Some((l.split(',').next()?.parse::<usize>().ok()?, bic(l)?)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    assert_eq!(lowest.0, k, "{csv}");

    // Every method used the chosen k: one montage per cluster, plus the overview.
    for method in ["kmeans", "n2d"] {
        let pngs = std::fs::read_dir(out.join(method)).unwrap().count();
        assert_eq!(pngs, k + 1, "{method}");
    }
    assert!(out.join("bic.png").exists());
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(page.contains(&format!("chose k = {k}")));
    // No k to score with while pretraining: the log has losses only.
    let log = std::fs::read_to_string(out.join("pretrain_log.csv")).unwrap();
    assert!(log.lines().skip(1).all(|l| l.ends_with(",,")), "{log}");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_range_beyond_the_images_is_one_error_naming_clusters_before_any_work() {
    let out = scratch("too-many");
    let mut notes = Notes::default();
    let config = tiny(&out, Clusters::Auto { min: 2, max: 500 });
    match experiment::run(&config, None, &mut notes) {
        Err(e @ Error::Invalid { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("--clusters") && msg.contains("147"), "{msg}");
            assert!(!msg.contains('\n'));
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert!(
        !notes.0.iter().any(|n| n.starts_with("phase")),
        "{:?}",
        notes.0
    );
    let _ = std::fs::remove_dir_all(&out);
}
