//! Hostile output folders and checkpoints (issue 20, items 1, 2, 9, 10, 12, 15): runs are
//! never silently mixed. A checkpoint or an encoder of another run, changed data, lying
//! counters and options that `--resume` would ignore are one-line errors; a run owns its
//! output folder.
//!
//! Runs are tiny: the article fixture (147 fit images), 2 epochs of 5 batches of 32 and at
//! most 30 DEC steps. A run is stopped at a chosen question of the library's observer,
//! which keeps its checkpoint with the command line, as the binary's own observer does, and
//! resumed through the library as `--resume` does; the binary itself is run only for what
//! only it does (refusing options beside `--resume`, resuming from another working folder,
//! its exit status and one-line errors), always under `timeout`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use deepcluster::Error;
use deepcluster::cli::args::{Parsed, parse_run};
use deepcluster::experiment::{self, Observer, Silent, Snapshot, checkpoint};
use deepcluster::io::safetensors;

const BIN: &str = env!("CARGO_BIN_EXE_deepcluster");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/article")
}

/// A fresh (absent) folder under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "deepcluster-hostile-run-{}-{name}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    dir
}

/// The tiny run's command line on `data` into `out`, then `extra`.
fn tiny(data: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![data.display().to_string()];
    for a in ["--epochs", "2", "--batch-size", "32", "--max-iter", "30"] {
        args.push(a.into());
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    args.push("--out".into());
    args.push(out.display().to_string());
    args
}

/// Asks for a stop at its `at`-th question and keeps the checkpoints it is offered.
struct StopAt {
    at: usize,
    args: Vec<String>,
    out: PathBuf,
}

impl Observer for StopAt {
    fn should_stop(&mut self) -> bool {
        self.at = self.at.saturating_sub(1);
        self.at == 0
    }

    fn checkpoint(&mut self, snapshot: &Snapshot<'_>) -> deepcluster::Result<()> {
        checkpoint::save(&self.out, &self.args, snapshot)
    }
}

/// Runs `args` through the library, stopped at question `at`. Pretraining asks 6 times an
/// epoch (after each of 5 steps, at its end): 12 questions; DEC asks at the update of step
/// 0 (question 13), then after each step.
fn stopped(args: &[String], at: usize) {
    let config = config_of(args);
    let mut observer = StopAt {
        at,
        args: args.to_vec(),
        out: config.out.clone(),
    };
    let outcome = experiment::run(&config, None, &mut observer);
    assert!(
        matches!(outcome, Err(Error::Interrupted { .. })),
        "{:?}",
        outcome.map(|_| ())
    );
    assert!(checkpoint::path(&config.out).is_file());
}

/// The experiment's configuration for the command line `args`.
fn config_of(args: &[String]) -> experiment::Config {
    deepcluster::cli::run::config(&options_of(args))
}

/// Runs `args` afresh through the library, to the end.
fn fresh(args: &[String]) -> deepcluster::Result<()> {
    experiment::run(&config_of(args), None, &mut Silent).map(|_| ())
}

/// Resumes the run stopped in `out` through the library, as `--resume` does: the
/// checkpoint's command line, with the paths the run resolved, and its state.
fn resumed(out: &Path) -> deepcluster::Result<()> {
    let saved = checkpoint::load(out, |args| {
        let schedule = deepcluster::cli::run::schedule(&options_of(args));
        Ok((schedule.pretrain_optimizer.build(), schedule.dec))
    })?;
    let mut config = deepcluster::cli::run::config(&options_of(&saved.args));
    config.out = out.to_path_buf();
    if let Some(data_dir) = saved.data_dir {
        config.data_dir = data_dir;
    }
    if let Some(ae) = saved.ae_weights {
        config.ae_weights = Some(ae);
    }
    experiment::run(&config, Some(saved.checkpoint), &mut Silent).map(|_| ())
}

fn options_of(args: &[String]) -> deepcluster::cli::args::RunOptions {
    match parse_run(args).unwrap() {
        Parsed::Run(options) => options,
        _ => panic!("not a run"),
    }
}

/// `outcome` is an error whose one-line message holds every `expect`.
fn refused(outcome: deepcluster::Result<()>, expect: &[&str]) {
    let e = outcome.expect_err("refused").to_string();
    assert_eq!(e.lines().count(), 1, "{e}");
    for x in expect {
        assert!(e.contains(x), "expected `{x}` in {e}");
    }
}

/// The binary with `args` and `--quiet`, in `cwd`, killed after a minute.
fn bin_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("60")
        .arg(BIN)
        .args(args)
        .arg("--quiet")
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn bin(args: &[&str]) -> Output {
    bin_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn ok(out: Output) {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Exit status 1, one line on stderr holding every `expect`.
fn fails(args: &[&str], expect: &[&str]) -> String {
    let out = bin(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    for e in expect {
        assert!(stderr.contains(e), "{args:?}: expected `{e}` in {stderr}");
    }
    stderr
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// A copy of the article fixture, to change.
fn fixture_copy(name: &str) -> PathBuf {
    let dir = scratch(name);
    for part in ["train", "test"] {
        fs::create_dir_all(dir.join(part)).unwrap();
        for entry in fs::read_dir(fixture().join(part)).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), dir.join(part).join(entry.file_name())).unwrap();
        }
        let csv = format!("{part}.csv");
        fs::copy(fixture().join(&csv), dir.join(&csv)).unwrap();
    }
    dir
}

#[test]
fn a_checkpoint_copied_from_another_run_is_refused() {
    let (a, b) = (scratch("copied-a"), scratch("copied-b"));
    stopped(&tiny(&fixture(), &a, &["--method", "ae", "--seed", "1"]), 3);
    stopped(&tiny(&fixture(), &b, &["--method", "ae", "--seed", "2"]), 3);
    // B's checkpoint agrees with its own command line, but A's log is beside it.
    fs::copy(checkpoint::path(&b), checkpoint::path(&a)).unwrap();
    refused(
        resumed(&a),
        &["checkpoint is from another run", "checkpoint.safetensors"],
    );
    // B's own folder resumes.
    resumed(&b).unwrap();
    fs::remove_dir_all(&a).unwrap();
    fs::remove_dir_all(&b).unwrap();
}

#[test]
fn changed_data_is_noticed_at_resume() {
    let data = fixture_copy("changed-data");
    let out = scratch("changed-out");
    stopped(&tiny(&data, &out, &["--method", "ae"]), 3);
    // An image replaced by another (same size, same name).
    let (zero, one) = (data.join("train/0.png"), data.join("train/1.png"));
    let original = fs::read(&zero).unwrap();
    fs::copy(&one, &zero).unwrap();
    refused(resumed(&out), &["checkpoint is from another run"]);
    // A row removed from train.csv.
    fs::write(&zero, &original).unwrap();
    let csv = fs::read_to_string(data.join("train.csv")).unwrap();
    let shorter: Vec<&str> = csv.lines().collect();
    fs::write(
        data.join("train.csv"),
        shorter[..shorter.len() - 1].join("\n"),
    )
    .unwrap();
    refused(resumed(&out), &["checkpoint is from another run"]);
    // The data as it was: the run resumes.
    fs::write(data.join("train.csv"), csv).unwrap();
    resumed(&out).unwrap();
    fs::remove_dir_all(&out).unwrap();
    fs::remove_dir_all(&data).unwrap();
}

#[test]
fn a_dec_checkpoint_refuses_an_encoder_another_run_wrote() {
    let (a, b) = (scratch("encoder-a"), scratch("encoder-b"));
    // Stopped 5 steps into DEC: the checkpoint depends on a's ae.safetensors.
    stopped(&tiny(&fixture(), &a, &["--method", "dec"]), 18);
    fresh(&tiny(&fixture(), &b, &["--method", "ae", "--seed", "2"])).unwrap();
    let own = fs::read(a.join("ae.safetensors")).unwrap();
    fs::copy(b.join("ae.safetensors"), a.join("ae.safetensors")).unwrap();
    refused(resumed(&a), &["ae.safetensors", "written by another run"]);
    fs::write(a.join("ae.safetensors"), own).unwrap();
    resumed(&a).unwrap();
    fs::remove_dir_all(&a).unwrap();
    fs::remove_dir_all(&b).unwrap();
}

#[test]
fn a_fresh_run_refuses_another_runs_checkpoint_without_overwrite() {
    let out = scratch("fresh");
    stopped(
        &tiny(&fixture(), &out, &["--method", "ae", "--seed", "1"]),
        3,
    );
    let mut other = tiny(&fixture(), &out, &["--method", "ae", "--seed", "2"]);
    refused(
        fresh(&other),
        &[
            "holds the checkpoint of another, interrupted run",
            "--overwrite",
        ],
    );
    assert!(checkpoint::path(&out).is_file(), "the checkpoint stays");
    other.push("--overwrite".into());
    fresh(&other).unwrap();
    assert!(!checkpoint::path(&out).exists());
    // The run's identity is on the page, in the folder's marker and in its weights.
    let page = fs::read_to_string(out.join("index.html")).unwrap();
    let id = page.split("run: ").nth(1).unwrap()[..16].to_string();
    let marker = fs::read_to_string(out.join(".deepcluster-run")).unwrap();
    assert_eq!(marker.trim_end(), id);
    let ae = safetensors::load(out.join("ae.safetensors")).unwrap();
    assert_eq!(ae.metadata("run_id"), Some(id.as_str()));
    // A checkpoint of the very same run is no obstacle: starting afresh gives its bits.
    let own = tiny(&fixture(), &out, &["--method", "ae", "--seed", "1"]);
    stopped(&own, 3);
    fresh(&own).unwrap();
    fs::remove_dir_all(&out).unwrap();
}

/// Rewrites the safetensors file at `path` after `change` (the CRC is computed anew, as a
/// careful forger would).
fn rewrite(path: &Path, change: impl FnOnce(&mut safetensors::SafeTensors)) {
    let mut file = safetensors::load(path).unwrap();
    change(&mut file);
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
    safetensors::save(path, &tensors, &metadata).unwrap();
}

fn set(file: &mut safetensors::SafeTensors, key: &str, value: &str) {
    file.metadata.retain(|(k, _)| k != key);
    file.metadata.push((key.into(), value.into()));
}

#[test]
fn lying_counters_in_a_checkpoint_are_refused_naming_the_field() {
    // Pretraining, stopped after 2 steps of epoch 2 (question 8).
    let out = scratch("counters");
    stopped(&tiny(&fixture(), &out, &["--method", "dec"]), 8);
    let path = checkpoint::path(&out);
    let pristine = fs::read(&path).unwrap();
    let cases: [(&str, &str, &str); 4] = [
        ("epoch", "7", "`epoch` = 7, beyond the run's 2 epochs"),
        ("mid_steps", "5", "`mid_steps` = 5"),
        ("mid_steps", "0", "`mid_steps` = 0"),
        ("adam_iterations", "3", "`adam_iterations` = 3, expected 7"),
    ];
    for (key, value, expect) in cases {
        fs::write(&path, &pristine).unwrap();
        rewrite(&path, |f| set(f, key, value));
        refused(resumed(&out), &[expect]);
    }
    // DEC, stopped 5 steps in (question 18).
    fs::remove_dir_all(&out).unwrap();
    stopped(&tiny(&fixture(), &out, &["--method", "dec"]), 18);
    let pristine = fs::read(&path).unwrap();
    rewrite(&path, |f| set(f, "iter", "99999"));
    refused(resumed(&out), &["`iter` = 99999, beyond DEC's max_iter 30"]);
    fs::write(&path, &pristine).unwrap();
    rewrite(&path, |f| {
        let labels = f
            .tensors
            .iter_mut()
            .find(|t| t.name == "dec.last_labels")
            .unwrap();
        labels.data.truncate(100);
        labels.shape = vec![100];
    });
    refused(
        resumed(&out),
        &["`dec.last_labels` holds 100 labels, expected 147"],
    );
    fs::write(&path, &pristine).unwrap();
    resumed(&out).unwrap();
    fs::remove_dir_all(&out).unwrap();
}

#[test]
fn resume_refuses_the_options_it_would_ignore() {
    let out = scratch("alone");
    stopped(&tiny(&fixture(), &out, &["--method", "ae"]), 3);
    let dir = s(&out);
    for extra in [
        &["--epochs", "3"][..],
        &["--clusters", "4"],
        &["--seed", "2"],
        &["--method", "kmeans"],
        &["--out", "elsewhere"],
        &["--batch-size=8"],
        &["--overwrite"],
    ] {
        let mut args = vec!["--resume", &dir];
        args.extend_from_slice(extra);
        let name = extra[0].split('=').next().unwrap();
        fails(&args, &[name, "cannot be given with --resume"]);
    }
    let whole = fails(&["--resume", &dir, "fixtures/idx"], &[]);
    assert_eq!(
        whole.trim_end(),
        "error: --resume: DATA_DIR `fixtures/idx` cannot be given with --resume: the \
         checkpoint names its data (only --threads and --quiet may be given)"
    );
    // --threads and --quiet may be given.
    ok(bin(&["--resume", &dir, "--threads", "2"]));
    fs::remove_dir_all(&out).unwrap();
}

#[test]
fn options_that_would_be_ignored_together_are_refused() {
    fails(
        &[
            "fixtures/article",
            "--method",
            "kmeans",
            "--ae-weights",
            "x",
        ],
        &["--ae-weights", "--method kmeans"],
    );
    fails(
        &["fixtures/article", "--epochs", "3", "--ae-weights", "x"],
        &["--epochs", "loaded, not pretrained"],
    );
    // Refused at once, before creating 100,000 threads.
    fails(
        &["fixtures/article", "--threads", "100000"],
        &["--threads", "at most 1024"],
    );
    fails(
        &[
            "predict",
            "fixtures/article",
            "--model",
            "x",
            "--threads",
            "5000",
        ],
        &["--threads", "at most 1024"],
    );
}

#[test]
fn resume_works_from_another_working_folder() {
    // The data folder as typed is relative to the package; the resume runs elsewhere.
    let out = scratch("cwd");
    let args = tiny(Path::new("fixtures/article"), &out, &["--method", "ae"]);
    stopped(&args, 3);
    ok(bin_in(&std::env::temp_dir(), &["--resume", &s(&out)]));
    assert!(out.join("results.csv").is_file());
    fs::remove_dir_all(&out).unwrap();
}

fn pngs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_run_removes_what_an_earlier_run_left_in_its_folder() {
    let out = scratch("stale");
    let o = s(&out);
    ok(bin(&[
        "fixtures/article",
        "--method",
        "kmeans",
        "--clusters",
        "12",
        "--out",
        &o,
    ]));
    assert_eq!(pngs(&out.join("kmeans")).len(), 13);
    // Another run's DEC weights (which `predict` would use), and files of the user's.
    fs::write(out.join("dec.safetensors"), b"old").unwrap();
    fs::write(out.join("notes.txt"), b"mine").unwrap();
    fs::write(out.join("kmeans/notes.txt"), b"mine").unwrap();
    ok(bin(&[
        "fixtures/article",
        "--method",
        "kmeans",
        "--clusters",
        "3",
        "--out",
        &o,
    ]));
    assert_eq!(
        pngs(&out.join("kmeans")),
        [
            "cluster_00.png",
            "cluster_01.png",
            "cluster_02.png",
            "overview.png"
        ]
    );
    assert!(!out.join("dec.safetensors").exists());
    assert!(out.join("notes.txt").is_file() && out.join("kmeans/notes.txt").is_file());
    // The --ae-weights input stays, even when it is the folder's own ae.safetensors.
    ok(bin(&[
        "fixtures/article",
        "--method",
        "ae",
        "--epochs",
        "1",
        "--out",
        &o,
    ]));
    let ae = s(&out.join("ae.safetensors"));
    ok(bin(&[
        "fixtures/article",
        "--method",
        "ae",
        "--ae-weights",
        &ae,
        "--out",
        &o,
    ]));
    assert!(out.join("ae.safetensors").is_file());
    // The montages of the kmeans-only run go; the folder stays for the user's file.
    assert!(pngs(&out.join("kmeans")).is_empty());
    assert!(out.join("kmeans/notes.txt").is_file());
    fs::remove_dir_all(&out).unwrap();
}

/// Says yes to `should_abandon` at its `at`-th question (0: never), counting them.
struct Abandon {
    at: usize,
    asked: usize,
}

impl Observer for Abandon {
    fn should_abandon(&mut self) -> bool {
        self.asked += 1;
        self.asked == self.at
    }
}

#[test]
fn a_stop_request_ends_the_pixel_kmeans_and_asking_changes_no_bit() {
    let run = |name: &str, at: usize| {
        let out = scratch(name);
        let args = tiny(&fixture(), &out, &["--method", "kmeans"]);
        let Parsed::Run(options) = parse_run(&args).unwrap() else {
            panic!("not a run")
        };
        let config = deepcluster::cli::run::config(&options);
        let mut observer = Abandon { at, asked: 0 };
        let outcome = experiment::run(&config, None, &mut observer).map(|_| ());
        (out, outcome, observer.asked)
    };
    let (out, outcome, asked) = run("abandon", 3);
    assert!(
        matches!(outcome, Err(Error::Interrupted { checkpoint: None })),
        "{outcome:?}"
    );
    assert_eq!(asked, 3);
    assert!(!out.join("results.csv").exists());
    fs::remove_dir_all(&out).unwrap();
    // Asked before every Lloyd iteration but never stopped: the same montages as a run
    // whose observer is never asked.
    let (asked_out, outcome, asked) = run("asked", 0);
    outcome.unwrap();
    assert!(asked > 3, "asked {asked} times");
    let silent = scratch("silent");
    let args = tiny(&fixture(), &silent, &["--method", "kmeans"]);
    let Parsed::Run(options) = parse_run(&args).unwrap() else {
        panic!("not a run")
    };
    let config = deepcluster::cli::run::config(&options);
    experiment::run(&config, None, &mut experiment::Silent).unwrap();
    assert_eq!(
        fs::read(asked_out.join("kmeans/overview.png")).unwrap(),
        fs::read(silent.join("kmeans/overview.png")).unwrap()
    );
    fs::remove_dir_all(&asked_out).unwrap();
    fs::remove_dir_all(&silent).unwrap();
}

/// N2D asks `should_abandon` once, between UMAP and the mixture: saying yes there ends the
/// run with no results and no checkpoint (none was offered before: `--checkpoint-every 0`).
#[test]
fn a_stop_request_between_umap_and_the_mixture_ends_n2d() {
    let out = scratch("abandon-n2d");
    let config = config_of(&tiny(&fixture(), &out, &["--method", "n2d"]));
    let mut observer = Abandon { at: 1, asked: 0 };
    let outcome = experiment::run(&config, None, &mut observer).map(|_| ());
    assert!(
        matches!(outcome, Err(Error::Interrupted { checkpoint: None })),
        "{outcome:?}"
    );
    assert_eq!(observer.asked, 1);
    assert!(!out.join("results.csv").exists() && !out.join("n2d.safetensors").exists());
    fs::remove_dir_all(&out).unwrap();
}
