//! The experiment as a library call, on the fixture data with a tiny schedule: the same
//! bits for one and two threads; a run stopped by its observer at a chosen point (inside
//! an epoch, on an epoch boundary, at a DEC target update, between two updates) really
//! stops, and resumed from its checkpoint ends exactly like an uninterrupted run; so does a
//! run that dies without writing a checkpoint (as after SIGKILL), from its last periodic
//! one; unlabelled images are fitted but not scored.

use std::path::{Path, PathBuf};

use deepcluster::data::Protocol;
use deepcluster::experiment::checkpoint::{self, Snapshot};
use deepcluster::experiment::{self, Clusters, Config, Observer, Preset, Schedule, Silent};
use deepcluster::{Error, Result};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/article")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "deepcluster-experiment-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The tiny schedule: 3 epochs of batches of 32 (147 fit images: 5 steps an epoch), 300 DEC
/// steps (updates at 0, 140, 280), a checkpoint every epoch and every update.
fn tiny(out: &Path) -> Config {
    let mut schedule = Schedule::quick();
    schedule.pretrain_epochs = 3;
    schedule.pretrain_batch = 32;
    schedule.dec.batch_size = 32;
    schedule.dec.max_iter = 300;
    Config {
        data_dir: fixture(),
        folder: Default::default(),
        protocol: Protocol::Split,
        unlabelled: false,
        methods: vec!["kmeans", "ae+kmeans", "dec"],
        clusters: Clusters::Fixed(10),
        seed: 1,
        schedule,
        preset: Preset::Quick,
        out: out.to_path_buf(),
        ae_weights: None,
        checkpoint_every: 1,
        umap_neighbors: 10,
        umap_dims: None,
        overwrite: false,
        augment: false,
    }
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// results.csv without the seconds column, which no two runs share.
fn scores(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    text.lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

fn same_outputs(a: &Path, b: &Path) {
    assert_eq!(scores(a), scores(b));
    for file in [
        "ae.safetensors",
        "dec.safetensors",
        "pretrain_log.csv",
        "dec_log.csv",
        "dec/overview.png",
    ] {
        let (x, y) = (
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
        );
        assert!(
            x == y,
            "{file} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

/// Asks for a stop at its `at`-th `should_stop` question (and at every one after), and
/// keeps the checkpoints it is offered, except, when it plays a killed process, the one
/// offered because of the stop.
struct StopAt {
    at: usize,
    asked: usize,
    stopped: bool,
    killed: bool,
    out: PathBuf,
    /// The phase and step of each checkpoint kept.
    kept: Vec<String>,
}

impl Observer for StopAt {
    fn should_stop(&mut self) -> bool {
        self.asked += 1;
        self.stopped |= self.asked >= self.at;
        self.stopped
    }

    fn checkpoint(&mut self, snapshot: &Snapshot<'_>) -> Result<()> {
        if self.killed && self.stopped {
            return Ok(());
        }
        self.kept.push(match snapshot {
            Snapshot::Pretrain { epoch, mid, .. } => format!("epoch {epoch} {mid:?}"),
            Snapshot::Dec { state, .. } => format!("dec {}", state.iter),
            Snapshot::Idec { state, .. } => format!("idec {}", state.iter),
        });
        checkpoint::save(&self.out, &[], snapshot)
    }
}

/// Stops the tiny run at question `at`, checks that it did stop, resumes it from its
/// checkpoint and compares every output with `full`'s. Returns the last checkpoint kept.
fn stop_and_resume(full: &Path, name: &str, at: usize, killed: bool) -> String {
    let out = scratch(name);
    let config = tiny(&out);
    let mut observer = StopAt {
        at,
        asked: 0,
        stopped: false,
        killed,
        out: out.clone(),
        kept: Vec::new(),
    };
    let outcome = in_pool(2, || experiment::run(&config, None, &mut observer));
    assert!(
        matches!(outcome, Err(Error::Interrupted { .. })),
        "question {at}: the run was not interrupted"
    );
    assert!(observer.stopped && observer.asked == at, "question {at}");
    assert!(!out.join("results.csv").exists(), "question {at}");
    let saved = checkpoint::load(&out, |_| {
        let s = &config.schedule;
        Ok((s.pretrain_optimizer.build(), s.dec.clone()))
    })
    .unwrap();
    in_pool(2, || {
        experiment::run(&config, Some(saved.checkpoint), &mut Silent)
    })
    .unwrap();
    same_outputs(full, &out);
    assert!(
        !checkpoint::path(&out).exists(),
        "a finished run keeps no checkpoint"
    );
    std::fs::remove_dir_all(&out).unwrap();
    observer.kept.pop().unwrap()
}

#[test]
fn stopped_runs_resume_to_the_same_bits_and_threads_do_not_matter() {
    let (full, two) = (scratch("full"), scratch("full2"));
    in_pool(1, || experiment::run(&tiny(&full), None, &mut Silent)).unwrap();
    in_pool(2, || experiment::run(&tiny(&two), None, &mut Silent)).unwrap();
    same_outputs(&full, &two);
    std::fs::remove_dir_all(&two).unwrap();

    // Pretraining asks after each of an epoch's 5 steps and at its end: 18 questions in all.
    // DEC then asks at the update of step 0 (question 19), after steps 1..=140 (20..=159),
    // at the update of step 140 (160), ...
    let cases = [
        (3, "epoch 0 Some(MidEpoch { steps: 3, loss_total: "),
        (12, "epoch 2 None"),
        (19 + 57, "dec 57"),
        (160, "dec 140"),
    ];
    for (at, expect) in cases {
        let kept = stop_and_resume(&full, &format!("stop{at}"), at, false);
        assert!(kept.starts_with(expect), "question {at}: kept {kept}");
    }
    // A process killed without a last checkpoint resumes from its last periodic one.
    let kept = stop_and_resume(&full, "killed", 19 + 200, true);
    assert_eq!(kept, "dec 140");
    std::fs::remove_dir_all(&full).unwrap();
}

#[test]
fn unlabelled_images_are_fitted_and_only_labelled_ones_scored() {
    let out = scratch("unlabelled");
    let mut config = tiny(&out);
    config.methods = vec!["kmeans"];
    config.unlabelled = true;
    let results = experiment::run(&config, None, &mut Silent).unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].method, "kmeans");
    // 147 fitted labelled images plus test.csv's 90; the 63 validation images are scored.
    let report = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        report.contains("(237 fit images, 63 validation images)")
            && report.contains("protocol: split + unlabelled"),
        "{report}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn an_unknown_method_is_an_error_before_any_work() {
    let out = scratch("unknown");
    let mut config = tiny(&out);
    config.methods = vec!["spectral"];
    let err = experiment::run(&config, None, &mut Silent).unwrap_err();
    assert!(err.to_string().contains("spectral"), "{err}");
    assert!(!out.exists());
}

/// IDEC with `--augment` on the tiny schedule (150 IDEC steps, updates at 0 and 140): the
/// same bits for one and two threads; a run stopped inside IDEC and resumed from its
/// checkpoint ends the same; the page shows the augmented samples; and augmentation
/// really changes what pretraining learns.
#[test]
fn augmented_idec_is_deterministic_resumes_and_shows_its_samples() {
    let config = |out: &Path| {
        let mut c = tiny(out);
        c.methods = vec!["idec"];
        c.augment = true;
        c.schedule.dec.max_iter = 150;
        c.schedule.idec.dec.batch_size = 32;
        c.schedule.idec.dec.max_iter = 150;
        c
    };
    let (one, two, plain) = (scratch("aug1"), scratch("aug2"), scratch("plain"));
    in_pool(1, || experiment::run(&config(&one), None, &mut Silent)).unwrap();
    in_pool(2, || experiment::run(&config(&two), None, &mut Silent)).unwrap();
    let files = [
        "ae.safetensors",
        "idec.safetensors",
        "pretrain_log.csv",
        "idec_log.csv",
        "augmented.png",
        "idec/overview.png",
    ];
    let same = |a: &Path, b: &Path| {
        assert_eq!(scores(a), scores(b));
        for file in files {
            let (x, y) = (std::fs::read(a.join(file)), std::fs::read(b.join(file)));
            assert!(x.unwrap() == y.unwrap(), "{file} differs");
        }
    };
    same(&one, &two);
    let page = std::fs::read_to_string(one.join("index.html")).unwrap();
    assert!(
        page.contains("--augment: 6 fit images"),
        "no augmented samples on the page"
    );
    assert!(page.contains("Clusters: idec"));
    let log = std::fs::read_to_string(one.join("idec_log.csv")).unwrap();
    assert_eq!(log.lines().count(), 3, "{log}"); // header, updates at 0 and 140

    let mut unaugmented = config(&plain);
    unaugmented.augment = false;
    in_pool(2, || experiment::run(&unaugmented, None, &mut Silent)).unwrap();
    let ae = |d: &Path| std::fs::read(d.join("ae.safetensors")).unwrap();
    assert!(
        ae(&plain) != ae(&one),
        "--augment changed nothing in pretraining"
    );
    assert!(!plain.join("augmented.png").exists());
    assert!(
        !std::fs::read_to_string(plain.join("index.html"))
            .unwrap()
            .contains("--augment")
    );

    // Stop 60 steps into IDEC (18 pretraining questions, the update at step 0, 60 steps).
    let out = scratch("aug-stop");
    let c = config(&out);
    let mut observer = StopAt {
        at: 19 + 60,
        asked: 0,
        stopped: false,
        killed: false,
        out: out.clone(),
        kept: Vec::new(),
    };
    let outcome = in_pool(2, || experiment::run(&c, None, &mut observer));
    assert!(matches!(outcome, Err(Error::Interrupted { .. })));
    assert_eq!(observer.kept.last().unwrap(), "idec 60");
    let saved = checkpoint::load(&out, |_| {
        let s = &c.schedule;
        Ok((s.pretrain_optimizer.build(), s.dec.clone()))
    })
    .unwrap();
    in_pool(2, || {
        experiment::run(&c, Some(saved.checkpoint), &mut Silent)
    })
    .unwrap();
    same(&one, &out);
    for d in [one, two, plain, out] {
        std::fs::remove_dir_all(d).unwrap();
    }
}
