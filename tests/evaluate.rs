//! `deepcluster evaluate TRUTH.csv PRED.csv`: the join on filename, the printed line, errors.

use std::path::{Path, PathBuf};
use std::process::Command;

use deepcluster::cli::evaluate::evaluate;

/// A fresh folder for one test's files.
fn folder(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "deepcluster-evaluate-{}-{test}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The hand-worked case of tests/metrics.rs (truth [0,0,0,1,1,1], pred [0,0,1,1,2,2]:
/// NMI = (4/3) ln 2 / ln 6 = 0.515804, ACC = 4/6, ARI = 8/33), with PRED's rows shuffled,
/// quoted, CRLF line ends, a byte-order mark, an extra column, and renamed clusters.
#[test]
fn joins_on_filename_and_prints_one_line() {
    let dir = folder("join");
    let truth = write(
        &dir,
        "truth.csv",
        "filename,label\na.png,0\nb.png,0\nc.png,0\nd.png,1\ne.png,1\nf.png,1\n",
    );
    let pred = write(
        &dir,
        "pred.csv",
        "\u{feff}cluster,score,filename\r\n-1,0.5,\"f.png\"\r\n7,1,a.png\r\n3,1,c.png\r\n7,1,b.png\r\n3,1,d.png\r\n-1,1,e.png\r\n",
    );
    let s = evaluate(&truth, &pred).unwrap();
    assert!((s.nmi - 4.0 / 3.0 * 2f64.ln() / 6f64.ln()).abs() < 1e-12);
    assert!((s.acc - 4.0 / 6.0).abs() < 1e-12);
    assert!((s.ari - 8.0 / 33.0).abs() < 1e-12);

    let out = Command::new(env!("CARGO_BIN_EXE_deepcluster"))
        .arg("evaluate")
        .arg(&truth)
        .arg(&pred)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "nmi=0.515804 acc=0.666667 ari=0.242424\n"
    );
}

/// PRED may name its column `label` instead of `cluster`.
#[test]
fn pred_may_use_a_label_column() {
    let dir = folder("label");
    let truth = write(&dir, "t.csv", "filename,label\na,1\nb,2\n");
    let pred = write(&dir, "p.csv", "filename,label\nb,5\na,4\n");
    let s = evaluate(&truth, &pred).unwrap();
    assert_eq!((s.nmi, s.acc, s.ari), (1.0, 1.0, 1.0));
}

#[test]
fn rows_in_only_one_file_are_an_error_naming_them() {
    let dir = folder("missing");
    let truth = write(&dir, "t.csv", "filename,label\na,1\nb,2\nc,2\n");
    let pred = write(&dir, "p.csv", "filename,cluster\na,0\nb,1\nz,1\n");
    let e = evaluate(&truth, &pred).unwrap_err().to_string();
    assert!(e.contains("1 only in") && e.contains("t.csv (c)"), "{e}");
    assert!(e.contains("p.csv (z)"), "{e}");

    let out = Command::new(env!("CARGO_BIN_EXE_deepcluster"))
        .args(["evaluate".as_ref(), truth.as_os_str(), pred.as_os_str()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: evaluate: "));
}

#[test]
fn malformed_files_are_errors_naming_file_and_line() {
    let dir = folder("malformed");
    let truth = write(&dir, "t.csv", "filename,label\na,1\nb,2\n");
    let err = |name: &str, text: &str| {
        let pred = write(&dir, name, text);
        evaluate(&truth, &pred).unwrap_err().to_string()
    };
    assert!(
        err("p1.csv", "filename,group\na,1\n")
            .contains("p1.csv, line 1: no `cluster` or `label` column")
    );
    assert!(err("p2.csv", "name,cluster\na,1\n").contains("no `filename` column"));
    assert!(
        err("p3.csv", "filename,cluster\na,x\nb,1\n")
            .contains("p3.csv, line 2: cluster `x` is not an integer")
    );
    assert!(
        err("p4.csv", "filename,cluster\na,1\na,2\n").contains("line 3: duplicate filename `a`")
    );
    assert!(
        err("p5.csv", "filename,cluster\na\n").contains("line 2: 1 fields, but the header has 2")
    );
    assert!(err("p6.csv", "").contains("empty file"));
    assert!(err("p7.csv", "filename,cluster\n").contains("no rows"));
    let missing = dir.join("nope.csv");
    assert!(evaluate(&truth, &missing).is_err());
    assert!(
        deepcluster::cli::main(&["evaluate".into(), "one.csv".into()])
            .unwrap_err()
            .to_string()
            .contains("usage")
    );
}
