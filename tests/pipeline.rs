//! The command users run, end to end on the fixture data with a tiny schedule: every file
//! it writes, `predict`, `--resume` (of a run stopped at a fixed step), and one-line errors for impossible options. (Stopping
//! and resuming at every kind of point, threads and the unlabelled images are tested on the
//! library in `tests/experiment.rs`.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

/// `--resume` through the binary: a run stopped deterministically (the library's observer
/// asks for a stop after the 40th step; the checkpoint carries the command line, as the
/// binary's own observer writes it) is resumed by the binary to the bits of a full run.
fn the_binary_resumes_a_stopped_run_to_the_same_bits(full: &Path) {
    use deepcluster::cli::args::{Parsed, parse_run};
    use deepcluster::experiment::{self, Observer, Snapshot, checkpoint};

    struct StopAt(usize, Vec<String>, PathBuf);
    impl Observer for StopAt {
        fn should_stop(&mut self) -> bool {
            self.0 = self.0.saturating_sub(1);
            self.0 == 0
        }
        fn checkpoint(&mut self, snapshot: &Snapshot<'_>) -> deepcluster::Result<()> {
            checkpoint::save(&self.2, &self.1, snapshot)
        }
    }

    let stopped = scratch("stopped");
    let args = tiny(&stopped);
    let Parsed::Run(options) = parse_run(&args).unwrap() else {
        panic!("not a run")
    };
    let config = deepcluster::cli::run::config(&options);
    let mut observer = StopAt(40, args.clone(), stopped.clone());
    let outcome = experiment::run(&config, None, &mut observer);
    assert!(matches!(
        outcome,
        Err(deepcluster::Error::Interrupted { .. })
    ));
    assert!(stopped.join("checkpoint.safetensors").is_file());
    ok(Command::new(BIN)
        .arg("--resume")
        .arg(&stopped)
        .arg("--quiet")
        .output()
        .unwrap());
    same_outputs(full, &stopped);
    no_temporaries(&stopped);
    std::fs::remove_dir_all(&stopped).unwrap();
}

#[test]
fn the_run_writes_every_file_with_scores_in_range() {
    let out = scratch("files");
    let output = ok(run(&tiny(&out), 2));
    let table = String::from_utf8(output.stdout).unwrap();
    for method in ["kmeans", "ae+kmeans", "dec", "n2d"] {
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
    assert_eq!(methods, ["kmeans", "ae+kmeans", "dec", "n2d"]);

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
        "n2d.safetensors",
        "n2d/overview.png",
        "map.png",
    ] {
        assert!(out.join(file).is_file(), "missing {file}");
    }
    // N2D's map is shown in its section of the page.
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        page.contains("2-D UMAP of their codes"),
        "no map on the page"
    );
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

    // N2D's saved model too: the run's encoder, UMAP's transform of the codes, the mixture.
    let by_n2d = scratch("predict-n2d");
    ok(Command::new(BIN)
        .args(["predict", &fixture().display().to_string(), "--quiet"])
        .args(["--method", "n2d", "--model"])
        .arg(&out)
        .arg("--out")
        .arg(&by_n2d)
        .output()
        .unwrap());
    let n2d = std::fs::read_to_string(by_n2d.join("predictions.csv")).unwrap();
    assert_eq!(n2d.lines().count(), 1 + test_rows);
    for line in n2d.lines().skip(1) {
        let cluster: usize = line.rsplit(',').next().unwrap().parse().unwrap();
        assert!(cluster < 10, "{line}");
    }
    // Without the encoder beside it, an N2D model cannot cluster images: one line.
    let alone = scratch("n2d-alone");
    std::fs::create_dir_all(&alone).unwrap();
    std::fs::copy(out.join("n2d.safetensors"), alone.join("n2d.safetensors")).unwrap();
    fails_cleanly(
        &[
            "predict",
            &fixture().display().to_string(),
            "--model",
            &alone.join("n2d.safetensors").display().to_string(),
            "--out",
            &by_n2d.display().to_string(),
        ],
        "ae.safetensors",
    );
    std::fs::remove_dir_all(&alone).unwrap();
    std::fs::remove_dir_all(&by_n2d).unwrap();

    the_binary_resumes_a_stopped_run_to_the_same_bits(&out);
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_dir_all(&gallery).unwrap();
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
