//! Hostile data folders, continued (issue 20): files that expand past the memory there is,
//! files that are not regular files (a FIFO, a device), files without end. Each ends in one
//! line on stderr naming the file and exit status 1: no abort, no hang, no unbounded read.
//! Unix-only where a FIFO, `/dev/zero` or `ulimit` is needed.

#![cfg(unix)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_deepcluster");

/// A fresh, empty folder under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "deepcluster-hostile-data-{name}-{}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `sh -c script` (which execs the program), killing it after `limit`; returns
/// (exit code, stderr). A hang fails the test instead of hanging it.
fn run_sh(script: &str, limit: Duration) -> (Option<i32>, String) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return (status.code(), stderr);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{script}` still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The IDX header of `dims` unsigned bytes.
fn idx_header(dims: &[u32]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v
}

/// LSB-first bit writer, as DEFLATE packs its bits; Huffman codes go in MSB first.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}
impl Bits {
    fn put(&mut self, value: u32, len: u32) {
        self.acc |= (value as u64) << self.n;
        self.n += len;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
    fn code(&mut self, code: u32, len: u32) {
        self.put(code.reverse_bits() >> (32 - len), len);
    }
}

/// A gzip file of `prefix` then `zeros` zero bytes, in one fixed-Huffman block: literals,
/// then back-references of length 258 at distance 1 (13 bits each), so it is about
/// 160 times smaller than what it expands to.
fn gzip_bomb(prefix: &[u8], zeros: usize) -> Vec<u8> {
    let mut bits = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3],
        acc: 0,
        n: 0,
    };
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // BTYPE 01: fixed codes
    // Fixed literal codes: 0..143 are 8 bits from 0x30; 256 is 7 bits of 0; 285 is 0xC5.
    let literal = |bits: &mut Bits, b: u8| {
        if b < 144 {
            bits.code(0x30 + b as u32, 8)
        } else {
            bits.code(0x190 + (b as u32 - 144), 9)
        }
    };
    for &b in prefix {
        literal(&mut bits, b);
    }
    literal(&mut bits, 0);
    let mut left = zeros - 1;
    while left >= 258 {
        bits.code(0xC5, 8); // length 258
        bits.code(0, 5); // distance code 0: distance 1
        left -= 258;
    }
    for _ in 0..left {
        literal(&mut bits, 0);
    }
    bits.code(0, 7); // end of block
    bits.put(0, 7); // flush to a byte
    let mut out = bits.out;
    // The trailer's CRC-32, streamed over the zeros a block at a time (never held whole).
    let mut crc = deepcluster::format::crc32::Crc32::new();
    crc.update(prefix);
    let block = vec![0u8; 1 << 16];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(block.len());
        crc.update(&block[..n]);
        left -= n;
    }
    out.extend_from_slice(&crc.finish().to_le_bytes());
    out.extend_from_slice(&((prefix.len() + zeros) as u32).to_le_bytes());
    out
}

/// An IDX folder whose 2.5 MB `train-images-idx3-ubyte.gz` holds 500,000 blank 28x28
/// images: 392 MB of bytes, 1.5 GB as f32. Under a 1 GiB address-space limit the loader
/// must say it lacks memory, naming the folder, where an infallible allocation aborts.
#[test]
fn a_small_gz_that_inflates_past_memory_is_an_error() {
    let dir = temp_dir("idx-bomb");
    let count = 500_000u32;
    let header = idx_header(&[count, 28, 28]);
    fs::write(
        dir.join("train-images-idx3-ubyte.gz"),
        gzip_bomb(&header, count as usize * 784),
    )
    .unwrap();
    let mut labels = idx_header(&[count]);
    labels.resize(labels.len() + count as usize, 0);
    fs::write(dir.join("train-labels-idx1-ubyte"), labels).unwrap();
    let mut test = idx_header(&[1, 28, 28]);
    test.resize(test.len() + 784, 0);
    fs::write(dir.join("t10k-images-idx3-ubyte"), test).unwrap();
    let mut test_labels = idx_header(&[1]);
    test_labels.push(0);
    fs::write(dir.join("t10k-labels-idx1-ubyte"), test_labels).unwrap();
    let gz = fs::metadata(dir.join("train-images-idx3-ubyte.gz"))
        .unwrap()
        .len();
    assert!(gz < 3_000_000, "{gz} bytes");

    let script = format!(
        "ulimit -v 1048576; exec {BIN} {} --method kmeans --quiet --out {}",
        dir.display(),
        dir.join("out").display()
    );
    let (code, stderr) = run_sh(&script, Duration::from_secs(120));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not enough memory"), "{stderr}");
    assert!(stderr.contains(&dir.display().to_string()), "{stderr}");
    let _ = fs::remove_dir_all(&dir);
}

/// A copy of `fixtures/article` in a fresh temporary folder, to plant things in.
fn article_copy(name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/article");
    let dir = temp_dir(name);
    for part in ["train", "test"] {
        fs::create_dir_all(dir.join(part)).unwrap();
        for entry in fs::read_dir(src.join(part)).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), dir.join(part).join(entry.file_name())).unwrap();
        }
        let csv = format!("{part}.csv");
        fs::copy(src.join(&csv), dir.join(&csv)).unwrap();
    }
    dir
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// The program on `dir` (plus `extra` arguments) must stop within 60 s with exit status 1
/// and one line on stderr containing every `expect`.
#[track_caller]
fn fails_in_one_line(dir: &Path, extra: &str, expect: &[&str]) -> String {
    let script = format!(
        "exec {BIN} {} --method kmeans --quiet --out {} {extra}",
        dir.display(),
        dir.join("out").display()
    );
    let (code, stderr) = run_sh(&script, Duration::from_secs(60));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    for e in expect {
        assert!(stderr.contains(e), "expected `{e}` in {stderr}");
    }
    stderr
}

#[test]
fn a_fifo_named_like_a_png_or_the_list_is_refused_not_waited_on() {
    let dir = article_copy("fifo-png");
    fs::remove_file(dir.join("train/5.png")).unwrap();
    mkfifo(&dir.join("train/5.png"));
    fails_in_one_line(&dir, "", &["train/5.png", "FIFO", "not a regular file"]);
    let _ = fs::remove_dir_all(&dir);

    let dir = article_copy("fifo-csv");
    fs::remove_file(dir.join("train.csv")).unwrap();
    mkfifo(&dir.join("train.csv"));
    fails_in_one_line(&dir, "", &["train.csv", "FIFO"]);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn devices_and_folders_are_refused_without_being_read() {
    // /dev/zero never ends: read through a cap it would still cost the cap; it is refused
    // as a device before a byte is read.
    let dir = article_copy("dev-zero");
    fs::remove_file(dir.join("train.csv")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("train.csv")).unwrap();
    fails_in_one_line(&dir, "", &["train.csv", "character device"]);
    fs::remove_file(dir.join("train.csv")).unwrap();
    fs::create_dir(dir.join("train.csv")).unwrap();
    fails_in_one_line(&dir, "", &["train.csv", "a folder"]);
    let _ = fs::remove_dir_all(&dir);

    // The same for a weights file.
    let dir = article_copy("dev-zero-weights");
    fails_in_one_line(
        &dir,
        "--method ae --ae-weights /dev/zero",
        &["/dev/zero", "character device"],
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_list_with_one_gigantic_line_is_refused_after_64_kib() {
    // A sparse 1 GiB train.csv of zero bytes: one line, never a newline. It is refused
    // once 64 KiB of that line have been read, not after reading the gigabyte.
    let dir = article_copy("long-line");
    let file = fs::File::create(dir.join("train.csv")).unwrap();
    file.set_len(1 << 30).unwrap();
    drop(file);
    let start = Instant::now();
    fails_in_one_line(
        &dir,
        "",
        &["train.csv", "line 1", "longer than 65536 bytes"],
    );
    assert!(start.elapsed() < Duration::from_secs(20));
    let _ = fs::remove_dir_all(&dir);
}

/// Two runs into one `--out`: the second stops at once, in one line, while the first holds
/// the folder (here the test process holds its lock, as a running program would).
#[test]
fn a_second_run_into_a_folder_in_use_is_refused() {
    let dir = article_copy("in-use");
    let out = dir.join("out");
    fs::create_dir_all(&out).unwrap();
    let held = deepcluster::io::lock::FolderLock::acquire(&out).unwrap();
    fails_in_one_line(&dir, "", &["is in use by another run"]);
    drop(held);
    let _ = fs::remove_dir_all(&dir);
}

/// `evaluate` reads its two CSV files like the loader does: a device is refused unread.
#[test]
fn evaluate_refuses_a_device() {
    let dir = temp_dir("evaluate-dev");
    let truth = dir.join("truth.csv");
    fs::write(&truth, "filename,label\na.png,0\n").unwrap();
    let script = format!("exec {BIN} evaluate {} /dev/zero", truth.display());
    let (code, stderr) = run_sh(&script, Duration::from_secs(30));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("/dev/zero") && stderr.contains("character device"),
        "{stderr}"
    );
    let _ = fs::remove_dir_all(&dir);
}

/// An argument that is not UTF-8 is a one-line error, not a panic.
#[test]
fn a_non_utf8_argument_is_an_error_not_a_panic() {
    use std::os::unix::ffi::OsStrExt;
    let out = Command::new(BIN)
        .arg("data/mnist")
        .arg("--out")
        .arg(std::ffi::OsStr::from_bytes(b"out\xff"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not valid UTF-8"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

/// A reader that goes away (`| head -c 0`) ends the table quietly: exit 0, no panic, and
/// the output folder complete (the table is printed after every file is written).
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let dir = article_copy("closed-stdout");
    let out = dir.join("out");
    let mut child = Command::new(BIN)
        .arg(&dir)
        .args(["--method", "kmeans", "--quiet", "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone before anything is written
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.join("results.csv").is_file() && out.join("index.html").is_file());
    let _ = fs::remove_dir_all(&dir);
}
