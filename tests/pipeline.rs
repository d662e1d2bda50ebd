//! The command users run, end to end on the fixture data with a tiny schedule: every file
//! it writes, the same bits for one and two threads, a run killed at a random point (or
//! stopped by Ctrl-C) and resumed ending exactly like an uninterrupted one, `predict`, and
//! one-line errors for impossible options.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_deepcluster");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/article")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "deepcluster-pipeline-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The tiny schedule: 3 epochs, batches of 32, 300 DEC steps (updates at 0, 140, 280).
fn tiny(out: &Path) -> Vec<String> {
    let mut args: Vec<String> = vec![fixture().display().to_string()];
    for a in [
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--max-iter",
        "300",
        "--checkpoint-every",
        "1",
        "--quiet",
    ] {
        args.push(a.to_string());
    }
    args.push("--out".into());
    args.push(out.display().to_string());
    args
}

fn run(args: &[String], threads: usize) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--threads")
        .arg(threads.to_string())
        .output()
        .unwrap()
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
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

fn no_temporaries(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            no_temporaries(&path);
        } else {
            assert!(
                !path.to_string_lossy().ends_with(".tmp"),
                "left behind: {}",
                path.display()
            );
        }
    }
}

#[test]
fn the_run_writes_every_file_with_scores_in_range() {
    let out = scratch("files");
    let output = ok(run(&tiny(&out), 2));
    let table = String::from_utf8(output.stdout).unwrap();
    for method in ["kmeans", "ae+kmeans", "dec"] {
        assert!(table.lines().any(|l| l.starts_with(method)), "{table}");
    }
    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let mut lines = results.lines();
    assert_eq!(lines.next(), Some("method,nmi,acc,ari,seconds"));
    let methods: Vec<&str> = lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let v: Vec<f64> = cells[1..].iter().map(|c| c.parse().unwrap()).collect();
            assert!(
                (0.0..=1.0).contains(&v[0]) && (0.0..=1.0).contains(&v[1]),
                "{line}"
            );
            assert!((-1.0..=1.0).contains(&v[2]) && v[3] >= 0.0, "{line}");
            cells[0]
        })
        .collect();
    assert_eq!(methods, ["kmeans", "ae+kmeans", "dec"]);

    let pretrain = std::fs::read_to_string(out.join("pretrain_log.csv")).unwrap();
    assert_eq!(pretrain.lines().next(), Some("epoch,loss,acc,nmi"));
    assert_eq!(pretrain.lines().count(), 1 + 3);
    let dec = std::fs::read_to_string(out.join("dec_log.csv")).unwrap();
    assert_eq!(dec.lines().next(), Some("iter,acc,nmi,ari,loss,changed"));
    let iters: Vec<&str> = dec
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(iters, ["0", "140", "280"]);

    for file in [
        "ae.safetensors",
        "dec.safetensors",
        "index.html",
        "pretrain_loss.png",
        "dec_scores.png",
        "kmeans/overview.png",
        "ae_kmeans/overview.png",
        "dec/overview.png",
        "dec/cluster_00.png",
    ] {
        assert!(out.join(file).is_file(), "missing {file}");
    }
    // A finished run leaves no checkpoint and no temporary file.
    assert!(!out.join("checkpoint.safetensors").exists());
    no_temporaries(&out);

    // The saved model clusters the unlabelled images.
    let gallery = scratch("predict");
    ok(Command::new(BIN)
        .args([
            "predict",
            &fixture().display().to_string(),
            "--quiet",
            "--model",
        ])
        .arg(&out)
        .arg("--out")
        .arg(&gallery)
        .output()
        .unwrap());
    let predictions = std::fs::read_to_string(gallery.join("predictions.csv")).unwrap();
    let test_rows = std::fs::read_to_string(fixture().join("test.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(predictions.lines().next(), Some("filename,cluster"));
    assert_eq!(predictions.lines().count(), 1 + test_rows);
    assert!(gallery.join("gallery/overview.png").is_file());
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_dir_all(&gallery).unwrap();
}

#[test]
fn one_and_two_threads_give_the_same_bits() {
    let (a, b) = (scratch("threads1"), scratch("threads2"));
    ok(run(&tiny(&a), 1));
    ok(run(&tiny(&b), 2));
    same_outputs(&a, &b);
    std::fs::remove_dir_all(&a).unwrap();
    std::fs::remove_dir_all(&b).unwrap();
}

/// Waits until the run has written its first checkpoint, then a random while longer.
fn wait_for_checkpoint_then_some(out: &Path, child: &mut std::process::Child) -> bool {
    let start = Instant::now();
    while !out.join("checkpoint.safetensors").exists() {
        if child.try_wait().unwrap().is_some() || start.elapsed() > Duration::from_secs(120) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // "Random" from the clock: the point of the kill varies from run to run.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    std::thread::sleep(Duration::from_millis(u64::from(nanos % 1500)));
    true
}

#[test]
fn a_killed_run_resumes_to_the_same_bits() {
    let (full, killed) = (scratch("full"), scratch("killed"));
    ok(run(&tiny(&full), 2));
    let mut child = Command::new(BIN)
        .args(tiny(&killed))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let checkpointed = wait_for_checkpoint_then_some(&killed, &mut child);
    child.kill().unwrap(); // SIGKILL on unix
    child.wait().unwrap();
    assert!(checkpointed, "the run wrote no checkpoint");
    if !killed.join("results.csv").exists() {
        ok(Command::new(BIN)
            .arg("--resume")
            .arg(&killed)
            .arg("--quiet")
            .output()
            .unwrap());
    }
    same_outputs(&full, &killed);
    no_temporaries(&killed);
    std::fs::remove_dir_all(&full).unwrap();
    std::fs::remove_dir_all(&killed).unwrap();
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_with_a_checkpoint_and_resumes_to_the_same_bits() {
    let (full, stopped) = (scratch("full-int"), scratch("sigint"));
    ok(run(&tiny(&full), 2));
    let mut child = Command::new(BIN)
        .args(tiny(&stopped))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_for_checkpoint_then_some(&stopped, &mut child),
        "the run wrote no checkpoint"
    );
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("interrupted; resume with --resume"),
            "{stderr}"
        );
        assert!(stopped.join("checkpoint.safetensors").is_file());
        no_temporaries(&stopped);
        ok(Command::new(BIN)
            .arg("--resume")
            .arg(&stopped)
            .arg("--quiet")
            .output()
            .unwrap());
    }
    same_outputs(&full, &stopped);
    std::fs::remove_dir_all(&full).unwrap();
    std::fs::remove_dir_all(&stopped).unwrap();
}

#[test]
fn unlabelled_images_are_fitted_and_only_labelled_ones_scored() {
    let out = scratch("unlabelled");
    let mut args = tiny(&out);
    args.extend(["--method", "kmeans", "--unlabelled"].map(String::from));
    ok(run(&args, 2));
    // 147 fitted labelled images plus test.csv's 90; the 63 validation images are scored.
    let report = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        report.contains("(237 fit images, 63 validation images)")
            && report.contains("protocol: split + unlabelled"),
        "{report}"
    );
    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(results.lines().nth(1).unwrap().starts_with("kmeans,"));
    std::fs::remove_dir_all(&out).unwrap();
}

/// A one-line message on stderr, exit status 1 (not a panic's 101).
fn fails_cleanly(args: &[&str], expect: &str) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--quiet")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(
        stderr.contains(expect),
        "{args:?}: expected `{expect}` in {stderr}"
    );
}

#[test]
fn impossible_options_and_inputs_are_one_line_errors() {
    let data = fixture().display().to_string();
    let out = scratch("errors");
    let out_s = out.display().to_string();
    fails_cleanly(
        &[&data, "--batch-size", "0", "--out", &out_s],
        "--batch-size",
    );
    fails_cleanly(
        &[
            &data,
            "--clusters",
            "100000",
            "--method",
            "kmeans",
            "--out",
            &out_s,
        ],
        "k",
    );
    fails_cleanly(
        &["/nonexistent/deepcluster-data", "--out", &out_s],
        "/nonexistent/deepcluster-data",
    );
    fails_cleanly(&[&data, "--method", "everything"], "--method");
    fails_cleanly(&["--resume", &out_s], "checkpoint");
    // Weights of the wrong shape, and truncated weights.
    std::fs::create_dir_all(&out).unwrap();
    let bad = out.join("bad.safetensors");
    std::fs::write(&bad, b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ").unwrap();
    fails_cleanly(
        &[
            &data,
            "--method",
            "ae",
            "--ae-weights",
            &bad.display().to_string(),
            "--out",
            &out_s,
        ],
        "bad.safetensors",
    );
    fails_cleanly(&["predict", &data, "--model", &out_s], "dec.safetensors");
    std::fs::remove_dir_all(&out).unwrap();
}
