//! Hostile input, end to end: whatever a user puts in a data folder or passes as a weights
//! file, the program stops with one line on stderr naming the file (or option) and the
//! problem, and exit status 1 — never a panic (101), never a huge allocation.
//!
//! Cases already covered elsewhere are not repeated here: the loader's messages for each
//! `fixtures/broken/*` folder and a PNG header claiming 100000x100000 (tests/data_load.rs),
//! the CSV reader's messages line by line (src/data/csv.rs), hostile safetensors files
//! (tests/safetensors.rs), and `--batch-size 0` (tests/pipeline.rs, tests/args.rs).
//! Hostile files are generated into the system's temporary folder.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use deepcluster::Error;
use deepcluster::data::{self, Protocol, idx};
use deepcluster::format::crc32::crc32;
use deepcluster::io::weights;
use deepcluster::nn::{Activation, Autoencoder, Init};
use rand::SeedableRng;
use rand::rngs::StdRng;

const BIN: &str = env!("CARGO_BIN_EXE_deepcluster");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// A fresh, empty folder under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("deepcluster-hostile-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the program with `args` and `--quiet`; checks exit status 1 (an error, not a
/// panic's 101), exactly one line on stderr, and that the line contains every `expect`.
/// Returns the line.
fn fails_cleanly(args: &[&str], expect: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .arg("--quiet")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    for e in expect {
        assert!(stderr.contains(e), "{args:?}: expected `{e}` in {stderr}");
    }
    stderr
}

/// The labelled-set error of `dir`, checked to be a one-line data error.
fn load_error(dir: &Path) -> String {
    match data::load_labelled(dir, Protocol::Split) {
        Err(e @ Error::Data { .. }) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "{msg}");
            msg
        }
        other => panic!("expected a data error, got {:?}", other.map(|_| ())),
    }
}

/// A copy of the first `n` images of the article fixture, with `csv` as train.csv.
fn article_copy(name: &str, n: usize, csv: &str) -> PathBuf {
    let dir = temp_dir(name);
    fs::create_dir_all(dir.join("train")).unwrap();
    for i in 0..n {
        let png = format!("train/{i}.png");
        fs::copy(fixture("article").join(&png), dir.join(&png)).unwrap();
    }
    fs::write(dir.join("train.csv"), csv).unwrap();
    dir
}

/// `filename,label` rows for images 0..n, labelled i % 10.
fn rows(n: usize) -> String {
    (0..n).map(|i| format!("{i}.png,{}\n", i % 10)).collect()
}

#[test]
fn every_broken_fixture_makes_the_program_exit_1_with_one_line() {
    let out = temp_dir("broken-out");
    let out_s = out.display().to_string();
    let cases = [
        ("bad-label", "train.csv, line 3: label `zero`"),
        (
            "duplicate-filename",
            "train.csv, line 5: duplicate filename",
        ),
        ("empty-csv", "train.csv: empty file"),
        ("missing-column", "train.csv, line 1: no `filename` column"),
        ("missing-image", "2.png: No such file"),
        ("truncated-png", "2.png: not a readable PNG"),
        ("wrong-size", "3.png: image is 8x6"),
    ];
    let mut seen = Vec::new();
    for (name, expect) in cases {
        let dir = fixture("broken").join(name);
        fails_cleanly(&[&dir.display().to_string(), "--out", &out_s], &[expect]);
        seen.push(name.to_string());
    }
    // Every folder of fixtures/broken is a case above.
    let mut all: Vec<String> = fs::read_dir(fixture("broken"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    all.sort();
    assert_eq!(all, seen);
    fs::remove_dir_all(&out).unwrap();
}

/// A zlib stream (RFC 1950) of `len` zero bytes, compressed with fixed Huffman codes: a
/// literal 0, then back-references of length 258 at distance 1 (13 bits for 258 bytes).
fn zlib_zeros(len: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        /// `count` bits of `value`, least significant first (deflate's bit order).
        fn put(&mut self, value: u64, count: u32) {
            self.acc |= value << self.n;
            self.n += count;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u64, count: u32) {
            let reversed = (0..count).fold(0, |r, i| r | (((code >> i) & 1) << (count - 1 - i)));
            self.put(reversed, count);
        }
    }
    let mut bits = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        n: 0,
    };
    bits.put(1, 1); // the final block
    bits.put(1, 2); // fixed Huffman codes
    let mut left = len;
    if left > 0 {
        bits.code(0x30, 8); // literal 0
        left -= 1;
    }
    while left > 0 {
        // Lengths 3..=258 exist; keep the last piece at 3 or more.
        let n = if left >= 258 + 3 || left == 258 {
            258
        } else if left > 258 {
            left - 3
        } else {
            left
        };
        if n < 3 {
            bits.code(0x30, 8);
            left -= 1;
            continue;
        }
        if n == 258 {
            bits.code(0b1100_0101, 8); // length code 285
        } else {
            // Length codes 257..=284 with their extra bits (RFC 1951, 3.2.5).
            #[rustfmt::skip]
            let table: [(u16, u16, u32); 28] = [
                (257, 3, 0), (258, 4, 0), (259, 5, 0), (260, 6, 0), (261, 7, 0),
                (262, 8, 0), (263, 9, 0), (264, 10, 0), (265, 11, 1), (266, 13, 1),
                (267, 15, 1), (268, 17, 1), (269, 19, 2), (270, 23, 2), (271, 27, 2),
                (272, 31, 2), (273, 35, 3), (274, 43, 3), (275, 51, 3), (276, 59, 3),
                (277, 67, 4), (278, 83, 4), (279, 99, 4), (280, 115, 4), (281, 131, 5),
                (282, 163, 5), (283, 195, 5), (284, 227, 5),
            ];
            let &(sym, base, extra) = table.iter().rev().find(|t| t.1 as usize <= n).unwrap();
            if sym < 280 {
                bits.code((sym - 256) as u64, 7);
            } else {
                bits.code((sym - 280 + 0xc0) as u64, 8);
            }
            bits.put((n - base as usize) as u64, extra);
        }
        bits.code(0, 5); // distance code 0: distance 1
        left -= n;
    }
    bits.code(0, 7); // end of block
    bits.put(0, 7); // flush to a byte
    let mut out = bits.out;
    let adler: u32 = 1 + ((len as u64 % 65521) << 16) as u32; // a = 1, b = len * 1
    out.extend_from_slice(&adler.to_be_bytes());
    out
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    let mut typed = kind.to_vec();
    typed.extend_from_slice(body);
    out.extend_from_slice(&typed);
    out.extend_from_slice(&crc32(&typed).to_be_bytes());
}

/// A valid 8-bit grey PNG of `width` x `height` black pixels whose image data is
/// `zlib_zeros`: a small file that decodes to an enormous image.
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    png_chunk(&mut png, b"IHDR", &ihdr);
    // Each row is a filter byte (0) and `width` samples, all zeros.
    let raw = (width as usize + 1) * height as usize;
    png_chunk(&mut png, b"IDAT", &zlib_zeros(raw));
    png_chunk(&mut png, b"IEND", &[]);
    png
}

#[test]
fn the_bomb_builder_makes_real_pngs() {
    // The same construction at 300x200 decodes, with the png crate, to black.
    let bomb = png_bomb(300, 200);
    let mut reader = png::Decoder::new(std::io::Cursor::new(&bomb[..]))
        .read_info()
        .unwrap();
    let mut pixels = vec![1u8; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut pixels).unwrap();
    assert_eq!(pixels.len(), 300 * 200);
    assert!(pixels.iter().all(|&p| p == 0));
    assert!(bomb.len() < 800, "{} bytes", bomb.len());
}

#[test]
fn a_png_bomb_is_refused_from_its_header() {
    // 20000 x 20000 = 400 million pixels in 2.4 MB: refused before a single row is
    // inflated, whether it is the image that sets the size or a later one.
    let bomb = png_bomb(20_000, 20_000);
    assert!(bomb.len() < 3 << 20, "{} bytes", bomb.len());
    let dir = article_copy("bomb", 4, &format!("filename,label\n{}", rows(4)));
    fs::write(dir.join("train/0.png"), &bomb).unwrap();
    let msg = load_error(&dir);
    assert!(
        msg.contains("line 2: ") && msg.contains("0.png: image is 20000x20000, more than"),
        "{msg}"
    );
    fs::copy(fixture("article/train/0.png"), dir.join("train/0.png")).unwrap();
    fs::write(dir.join("train/3.png"), &bomb).unwrap();
    let msg = load_error(&dir);
    assert!(
        msg.contains("line 5: ")
            && msg.contains("3.png: image is 20000x20000, but the other images are 28x28"),
        "{msg}"
    );
    // A bomb within the size cap (4096 x 4096, 16 MB of pixels in 106 KB) among 28x28
    // digits: the set is refused at the first image that disagrees with the first one.
    fs::write(dir.join("train/3.png"), png_bomb(4096, 4096)).unwrap();
    let msg = load_error(&dir);
    assert!(
        msg.contains("3.png: image is 4096x4096, but the other images are 28x28"),
        "{msg}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// The peak resident memory of this process, from Linux's /proc (None elsewhere).
fn peak_rss_bytes() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[test]
fn a_png_bomb_as_the_first_image_costs_no_memory_for_the_other_rows() {
    // The first image sets the size of every row: 40 rows of 4096 x 4096 pixels would be
    // 2.7 GB of f32. Only the rows that decode may be paid for (regression: the matrix was
    // zero-filled up front, 9.7 GB and 34 s for the 210-image fixture with a 16 KB bomb).
    let dir = article_copy("bomb-first", 40, &format!("filename,label\n{}", rows(40)));
    fs::write(dir.join("train/0.png"), png_bomb(4096, 4096)).unwrap();
    let msg = load_error(&dir);
    assert!(
        msg.contains("line 3: ")
            && msg.contains("1.png: image is 28x28, but the other images are 4096x4096"),
        "{msg}"
    );
    match peak_rss_bytes() {
        Some(peak) => assert!(peak < 1 << 30, "peak resident memory {peak} bytes"),
        None => eprintln!("SKIPPED the memory check: no /proc/self/status"),
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_oversized_first_image_that_exhausts_memory_is_named() {
    // 4096 x 4096 sets the size of all 40 rows: 28 fit rows of 64 MB do not fit under a
    // 1 GiB address-space limit. The message names the first image and its size
    // (regression: "not enough memory for 28 images of 16777216 pixels", naming no image).
    let dir = article_copy("bomb-oom", 40, &format!("filename,label\n{}", rows(40)));
    fs::write(dir.join("train/0.png"), png_bomb(4096, 4096)).unwrap();
    let script = format!(
        "ulimit -v 1048576; exec {BIN} {} --method kmeans --quiet --out {}",
        dir.display(),
        dir.join("out").display()
    );
    let out = Command::new("timeout")
        .args(["60", "sh", "-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("line 2: ")
            && stderr.contains("0.png: image is 4096x4096, and the first image sets")
            && stderr.contains("28 images of that size do not fit in memory"),
        "{stderr}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_csv_line_of_megabytes_is_an_error_not_an_allocation() {
    // 8 MB on one line, unquoted, then inside a quoted field (where newlines are data).
    let long = "x".repeat(8 << 20);
    for line in [format!("{long}.png,1\n"), format!("\"{long}\n{long}\",1\n")] {
        let dir = article_copy(
            "long-line",
            3,
            &format!("filename,label\n{}{line}", rows(3)),
        );
        let msg = load_error(&dir);
        assert!(
            msg.contains("train.csv, line 5: line longer than 65536 bytes"),
            "{msg}"
        );
        assert!(msg.len() < 300, "the message must not echo the line");
        let out = dir.join("out").display().to_string();
        fails_cleanly(
            &[&dir.display().to_string(), "--out", &out],
            &["line 5: line longer than"],
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn filenames_leaving_the_data_folder_are_refused() {
    for (name, expect) in [
        (
            "../../etc/passwd",
            "filename `../../etc/passwd` leaves the data folder",
        ),
        ("/etc/passwd", "filename `/etc/passwd` is an absolute path"),
        ("0.png/../../../etc/passwd", "leaves the data folder"),
    ] {
        let dir = article_copy(
            "escape",
            4,
            &format!("filename,label\n{}{name},1\n", rows(4)),
        );
        let out = dir.join("out").display().to_string();
        fails_cleanly(
            &[&dir.display().to_string(), "--out", &out],
            &["train.csv, line 6: ", expect],
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn labels_outside_0_to_255_are_refused() {
    for label in ["256", "-1", "1e3", "99999999999999999999"] {
        let dir = article_copy(
            "labels",
            4,
            &format!("filename,label\n{}3.png,{label}\n", rows(3)),
        );
        let msg = load_error(&dir);
        assert!(
            msg.ends_with(&format!(
                "train.csv, line 5: label `{label}` is not an integer in 0..=255"
            )),
            "{msg}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_folder_of_zero_images_is_a_clear_error() {
    // The article's layout: a header and nothing else.
    let dir = article_copy("zero", 0, "filename,label\n");
    let out = dir.join("out").display().to_string();
    fails_cleanly(
        &[&dir.display().to_string(), "--out", &out],
        &["train.csv: no rows after the header: no images listed"],
    );
    fs::remove_dir_all(&dir).unwrap();
    // The IDX layout: four files of 0 images.
    let dir = temp_dir("zero-idx");
    let write_idx = |name: &str, dims: &[u32]| {
        let mut bytes = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        fs::write(dir.join(name), bytes).unwrap();
    };
    write_idx(idx::TRAIN_IMAGES, &[0, 28, 28]);
    write_idx(idx::TEST_IMAGES, &[0, 28, 28]);
    write_idx(idx::TRAIN_LABELS, &[0]);
    write_idx(idx::TEST_LABELS, &[0]);
    let out = dir.join("out").display().to_string();
    fails_cleanly(
        &[&dir.display().to_string(), "--out", &out],
        &["0 labelled images are too few"],
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn more_clusters_than_images_fails_before_any_training() {
    let out = temp_dir("k");
    let out_s = out.display().to_string();
    let data = fixture("article").display().to_string();
    for method in ["kmeans", "dec", "all"] {
        fails_cleanly(
            &[
                &data,
                "--clusters",
                "1000",
                "--method",
                method,
                "--out",
                &out_s,
            ],
            &["--clusters", "1000 clusters but only 147 images"],
        );
    }
    // Nothing was pretrained: DEC did not train its autoencoder before finding out.
    assert!(!out.join(weights::AE_FILE).exists());
    fs::remove_dir_all(&out).unwrap();
}

fn small_autoencoder(dims: &[usize]) -> Autoencoder {
    Autoencoder::new(
        dims,
        Activation::Identity,
        Activation::Sigmoid,
        Init::GlorotUniform,
        &mut StdRng::seed_from_u64(1),
    )
    .unwrap()
}

#[test]
fn weights_of_the_wrong_shape_are_a_one_line_error() {
    let dir = temp_dir("weights-shape");
    let data = fixture("article").display().to_string();
    let out = dir.join("out").display().to_string();
    // A network for 16-pixel images, given to a run on 784-pixel images.
    let small = dir.join("small.safetensors");
    weights::save_autoencoder(&small, &small_autoencoder(&[16, 8, 2])).unwrap();
    let small_s = small.display().to_string();
    for method in ["ae", "dec"] {
        fails_cleanly(
            &[
                &data,
                "--method",
                method,
                "--ae-weights",
                &small_s,
                "--out",
                &out,
            ],
            &[&small_s, "takes 16 values per image, these images have 784"],
        );
    }
    // The right architecture in the metadata, but one tensor transposed.
    let ae = small_autoencoder(&[784, 8, 2]);
    let (mut tensors, metadata) = weights::autoencoder_tensors(&ae, "");
    let w = tensors
        .iter_mut()
        .find(|t| t.0 == "encoder.0.weight")
        .unwrap();
    w.1 = vec![8, 784];
    let transposed = dir.join("transposed.safetensors");
    weights::save_tensors(&transposed, &tensors, &metadata).unwrap();
    fails_cleanly(
        &[
            &data,
            "--method",
            "ae",
            "--ae-weights",
            &transposed.display().to_string(),
            "--out",
            &out,
        ],
        &["transposed.safetensors: ", "encoder.0.weight"],
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncated_weights_are_a_one_line_error() {
    let dir = temp_dir("weights-cut");
    let data = fixture("article").display().to_string();
    let out = dir.join("out").display().to_string();
    let path = dir.join("ae.safetensors");
    weights::save_autoencoder(&path, &small_autoencoder(&[784, 8, 2])).unwrap();
    let bytes = fs::read(&path).unwrap();
    let path_s = path.display().to_string();
    // Cut in half (inside the data), and cut inside the header.
    for cut in [bytes.len() / 2, 40] {
        fs::write(&path, &bytes[..cut]).unwrap();
        fails_cleanly(
            &[
                &data,
                "--method",
                "ae",
                "--ae-weights",
                &path_s,
                "--out",
                &out,
            ],
            &[&format!("{path_s}: ")],
        );
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn metadata_claiming_huge_layers_is_refused_before_allocating() {
    // A few bytes claiming a 1048576-1048576 network (4 TB of weights): refused because
    // the file holds far fewer values, before the network is built.
    let dir = temp_dir("weights-huge");
    let path = dir.join("huge.safetensors");
    let one = [0.5f32];
    let tensors: weights::Tensors<'_> = vec![("encoder.0.bias".to_string(), vec![1], &one[..])];
    let metadata = [
        ("dims", "1048576,1048576"),
        ("code_activation", "linear"),
        ("output_activation", "linear"),
        ("alpha", "1"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    weights::save_tensors(&path, &tensors, &metadata).unwrap();
    for msg in [
        weights::load_autoencoder(&path)
            .map(|_| ())
            .unwrap_err()
            .to_string(),
        weights::load_dec(&path)
            .map(|_| ())
            .unwrap_err()
            .to_string(),
    ] {
        assert!(
            msg.contains("huge.safetensors: metadata `dims` = 1048576,1048576 needs more parameters than the file's 1 values"),
            "{msg}"
        );
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn messages_stay_on_one_line_whatever_the_file_contains() {
    // Found by fuzzing the CSV reader: a quoted field may hold a newline, and messages
    // quote fields (a header without `filename`, a duplicate name, a bad label).
    let path = Path::new("train.csv");
    for text in [
        &b"\n\"@\n\n\"\n4141"[..],
        b"filename,label\n\"a\nb\",1\n\"a\nb\",2\n",
        b"filename,label\na,\"1\r\n2\"\n",
    ] {
        let msg = data::listing::parse_listing(path, text)
            .unwrap_err()
            .to_string();
        assert!(!msg.contains(['\n', '\r']), "{msg}");
        assert!(msg.starts_with("train.csv, line "), "{msg}");
    }
    let msg = data::listing::parse_listing(path, b"\n\"@\n\n\"\n4141")
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "train.csv, line 2: no `filename` column in the header (found: @\\n\\n)"
    );
}

/// Found by fuzzing the PNG path (fuzz/artifacts/png/crash-9aec7fbe...): an 8x6 palette
/// image whose PLTE chunk is 49 bytes, not whole RGB entries. The png crate (0.18.1)
/// panicked expanding it. (Its chunk CRCs are wrong; `with_crcs` rights them, as a hostile
/// file would have them.)
#[rustfmt::skip]
const PLTE_OF_49_BYTES: [u8; 198] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x06, 0x04, 0x03, 0x00, 0x00, 0x00, 0x0c, 0x2b, 0xc2,
    0xc8, 0x00, 0x00, 0x00, 0x31, 0x50, 0x4c, 0x54, 0x45, 0x00, 0x00, 0x00, 0x25, 0x5b, 0x97, 0x4a,
    0xb6, 0x2e, 0x6f, 0x11, 0xc5, 0x94, 0x6c, 0x5c, 0xb9, 0xc7, 0xf3, 0xde, 0x22, 0x8a, 0x03, 0x7d,
    0x21, 0x28, 0xd8, 0xb8, 0x4d, 0x33, 0x4f, 0x72, 0x8e, 0xe6, 0x97, 0xe9, 0x7d, 0xbc, 0x44, 0x14,
    0xe1, 0x9f, 0xab, 0x06, 0xfa, 0x42, 0x2b, 0x55, 0xd9, 0x81, 0xf7, 0xba, 0xd9, 0x00, 0x00, 0x7a,
    0x00, 0x12, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x61, 0x54, 0x52, 0x08, 0x00, 0x00, 0x00,
    0x06, 0x10, 0x02, 0x00, 0x00, 0x00, 0x21, 0xf7, 0x94, 0xef, 0x00, 0x00, 0x00, 0x4c, 0x49, 0x44,
    0x41, 0x54, 0x78, 0x9c, 0x8d, 0x8f, 0xbb, 0x0d, 0x00, 0x20, 0x08, 0x44, 0x2d, 0x8c, 0x2b, 0xd8,
    0x69, 0x89, 0xf3, 0xb8, 0x8e, 0x3b, 0xb8, 0x83, 0xb0, 0x89, 0xfb, 0xb1, 0x82, 0x0c, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0xac, 0x29, 0xb9, 0xf6, 0x52, 0x62, 0xec, 0x04, 0x11, 0x58,
    0x58, 0x00, 0x3a, 0x3e, 0x04, 0x0c, 0xa3, 0xed, 0xab, 0x69, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// `png` with the CRC of every chunk recomputed.
fn with_crcs(png: &[u8]) -> Vec<u8> {
    let mut out = png.to_vec();
    let mut at = 8;
    while at + 12 <= out.len() {
        let len = u32::from_be_bytes(out[at..at + 4].try_into().unwrap()) as usize;
        let end = at + 8 + len;
        if end + 4 > out.len() {
            break;
        }
        let crc = crc32(&out[at + 4..end]);
        out[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        at = end + 4;
    }
    out
}

#[test]
fn a_palette_of_partial_entries_is_an_error_not_a_panic() {
    use deepcluster::data::png_grey;
    let path = Path::new("0.png");
    let bytes = with_crcs(&PLTE_OF_49_BYTES);
    let mut grey = vec![0u8; 6 * 8];
    let msg = png_grey::decode_grey(path, &bytes, (6, 8), &mut Vec::new(), &mut grey)
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "0.png: the PLTE chunk has 49 bytes, not a whole number of RGB entries"
    );
    // And through the program, as the first image of a folder.
    let dir = article_copy("plte", 4, &format!("filename,label\n{}", rows(4)));
    fs::write(dir.join("train/0.png"), &bytes).unwrap();
    let out = dir.join("out").display().to_string();
    fails_cleanly(
        &[&dir.display().to_string(), "--out", &out],
        &["line 2: ", "0.png: the PLTE chunk has 49 bytes"],
    );
    fs::remove_dir_all(&dir).unwrap();
}
