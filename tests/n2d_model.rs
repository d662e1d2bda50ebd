//! A saved N2D model (`n2d.safetensors`) read back: it clusters the validation images as the
//! run did, and a damaged file is refused in one line naming the tensor or key.

use std::path::{Path, PathBuf};

use deepcluster::data::{self, Protocol};
use deepcluster::experiment::methods::n2d::{MODEL_FILE, N2dModel};
use deepcluster::experiment::{self, Clusters, Config, Preset, Schedule, Silent};
use deepcluster::io::{safetensors, weights};
use deepcluster::metrics::score;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/article")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "deepcluster-n2d-model-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// N2D alone on the fixture data (147 fit, 63 validation images), 3 epochs of pretraining.
fn run_n2d(out: &Path) {
    let mut schedule = Schedule::quick();
    schedule.pretrain_epochs = 3;
    schedule.pretrain_batch = 32;
    let config = Config {
        data_dir: fixture(),
        protocol: Protocol::Split,
        unlabelled: false,
        methods: vec!["n2d"],
        clusters: Clusters::Fixed(4),
        seed: 3,
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
    };
    experiment::run(&config, None, &mut Silent).unwrap();
}

/// A change made to a model file's tensors and metadata.
type Edit = Box<dyn FnOnce(&mut Vec<safetensors::Tensor>, &mut Vec<(String, String)>)>;

/// A copy of the model file with `edit` applied to its tensors and metadata.
fn rewrite(
    from: &Path,
    to: &Path,
    edit: impl FnOnce(&mut Vec<safetensors::Tensor>, &mut Vec<(String, String)>),
) {
    let mut file = safetensors::load(from).unwrap();
    edit(&mut file.tensors, &mut file.metadata);
    let tensors: Vec<(&str, &[usize], &[f32])> = file
        .tensors
        .iter()
        .map(|t| (t.name.as_str(), t.shape.as_slice(), t.data.as_slice()))
        .collect();
    let metadata: Vec<(&str, &str)> = file
        .metadata
        .iter()
        .filter(|(k, _)| k != "crc32")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    safetensors::save(to, &tensors, &metadata).unwrap();
}

#[test]
fn the_saved_model_clusters_the_validation_images_as_the_run_did() {
    let out = scratch("reload");
    run_n2d(&out);
    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let row: Vec<&str> = results.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(row[0], "n2d");

    let model = N2dModel::load(out.join(MODEL_FILE)).unwrap();
    assert_eq!(model.clusters(), 4);
    let ae = weights::load_autoencoder(out.join("ae.safetensors")).unwrap();
    let validation = data::load_labelled(&fixture(), Protocol::Split)
        .unwrap()
        .validation;
    let truth: Vec<usize> = validation
        .labels
        .unwrap()
        .iter()
        .map(|&l| l as usize)
        .collect();
    let codes = ae.encode(&validation.images); // (63, 10)
    let (assignment, confidence) = model.predict(codes.view()).unwrap();
    assert_eq!(assignment.len(), 63);
    assert!(confidence.iter().all(|&c| (0.0..=1.0).contains(&c)));
    // The mixture is saved in f32, so a point on a boundary could move; none does here,
    // and the scores equal the run's to every digit results.csv prints (six).
    let s = score(&truth, &assignment).unwrap();
    let printed = |v: f64| format!("{v}");
    let parse = |t: &str| t.parse::<f64>().unwrap();
    assert!(
        (s.nmi - parse(row[1])).abs() <= 5e-7,
        "{} vs {}",
        printed(s.nmi),
        row[1]
    );
    assert!(
        (s.acc - parse(row[2])).abs() <= 5e-7,
        "{} vs {}",
        printed(s.acc),
        row[2]
    );
    assert!(
        (s.ari - parse(row[3])).abs() <= 5e-7,
        "{} vs {}",
        printed(s.ari),
        row[3]
    );

    // A file written before the optional keys existed loads with umap-learn's defaults,
    // and predicts the same.
    let old = out.join("old.safetensors");
    rewrite(&out.join(MODEL_FILE), &old, |_, meta| {
        meta.retain(|(k, _)| {
            ![
                "umap.n_epochs",
                "umap.learning_rate",
                "umap.negative_sample_rate",
                "umap.repulsion_strength",
            ]
            .contains(&k.as_str())
        })
    });
    let (again, _) = N2dModel::load(&old).unwrap().predict(codes.view()).unwrap();
    assert_eq!(again, assignment);

    // Damaged files: one line naming the file and what is wrong.
    let cases: Vec<(&str, Edit)> = vec![
        (
            "no tensor named `gmm.means`",
            Box::new(|t, _| t.retain(|t| t.name != "gmm.means")),
        ),
        (
            "no metadata `umap.a`",
            Box::new(|_, m| m.retain(|(k, _)| k != "umap.a")),
        ),
        (
            "metadata `umap.n_neighbors` = `ten` is not a number",
            Box::new(|_, m| {
                for (k, v) in m.iter_mut() {
                    if k == "umap.n_neighbors" {
                        *v = "ten".into();
                    }
                }
            }),
        ),
        (
            "not an N2D model",
            Box::new(|_, m| m.retain(|(k, _)| k != "method")),
        ),
        (
            "gmm.covariances",
            Box::new(|t, _| {
                let c = t.iter_mut().find(|t| t.name == "gmm.covariances").unwrap();
                c.shape = vec![c.data.len()];
            }),
        ),
    ];
    for (i, (expected, edit)) in cases.into_iter().enumerate() {
        let bad = out.join(format!("bad{i}.safetensors"));
        rewrite(&out.join(MODEL_FILE), &bad, edit);
        let e = N2dModel::load(&bad)
            .err()
            .expect("a damaged model is refused")
            .to_string();
        assert!(e.contains(expected), "case {i}: {e}");
        assert!(e.contains(&bad.display().to_string()), "case {i}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
    std::fs::remove_dir_all(&out).unwrap();
}
