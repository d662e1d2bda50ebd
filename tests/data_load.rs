//! The loaders on the fixtures: both layouts agree, the protocols split as documented, and
//! every broken input is a one-line error naming the file (and line) and the problem.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use deepcluster::data::{self, Layout, Protocol, idx};
use deepcluster::format::{crc32::crc32, inflate};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// A fresh, empty folder under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("deepcluster-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn layouts_are_detected_from_the_folder_contents() {
    assert_eq!(
        data::detect_layout(&fixture("article")).unwrap(),
        Layout::Article
    );
    assert_eq!(data::detect_layout(&fixture("idx")).unwrap(), Layout::Idx);
    assert_eq!(
        data::detect_layout(&fixture("idx-gz")).unwrap(),
        Layout::Idx
    );
    let empty = temp_dir("neither");
    let msg = data::detect_layout(&empty).unwrap_err().to_string();
    assert!(
        msg.contains("train.csv") && msg.contains("t10k-labels-idx1-ubyte"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
}

#[test]
fn all_three_fixture_layouts_give_identical_datasets() {
    let article = data::load_labelled(&fixture("article"), Protocol::Split).unwrap();
    let raw = data::load_labelled(&fixture("idx"), Protocol::Split).unwrap();
    let gz = data::load_labelled(&fixture("idx-gz"), Protocol::Split).unwrap();
    assert_eq!(article, raw);
    assert_eq!(article, gz);
    let article = data::load_unlabelled(&fixture("article")).unwrap();
    assert_eq!(article, data::load_unlabelled(&fixture("idx")).unwrap());
    assert_eq!(article, data::load_unlabelled(&fixture("idx-gz")).unwrap());
    // The last 30% of the 300 images, named by their IDX index, without labels.
    assert_eq!(article.len(), 90);
    assert_eq!(article.filenames[0], "210.png");
    assert_eq!(article.filenames[89], "299.png");
    assert_eq!(article.labels, None);
}

#[test]
fn split_protocol_fits_the_first_70_percent_in_order() {
    let l = data::load_labelled(&fixture("article"), Protocol::Split).unwrap();
    // 210 labelled images: 147 fitted, 63 validated.
    assert_eq!(l.fit.len(), 147);
    assert_eq!(l.validation.len(), 63);
    assert_eq!(l.fit.filenames[0], "0.png");
    assert_eq!(l.fit.filenames[146], "146.png");
    assert_eq!(l.validation.filenames[0], "147.png");
    assert_eq!(l.validation.filenames[62], "209.png");
    assert_eq!((l.fit.height, l.fit.width), (28, 28));
    assert_eq!(l.fit.images.shape(), (147, 784));
    // MNIST's first labels are 5 0 4 1 9 2 1 3 1 4.
    assert_eq!(
        &l.fit.labels.as_ref().unwrap()[..10],
        &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    );
    // Pixels agree with the raw IDX bytes / 255, in [0, 1].
    let raw = idx::read(&fixture("idx").join(idx::TRAIN_IMAGES)).unwrap();
    for (i, row) in l.validation.images.iter_rows().enumerate() {
        let src = &raw.data[(147 + i) * 784..(148 + i) * 784];
        for (x, &v) in row.iter().zip(src) {
            assert_eq!(*x, v as f32 / 255.0);
        }
    }
    assert_eq!(data::split_point(49_000), 34_300);
    assert_eq!(data::labelled_count(70_000), 49_000);
}

#[test]
fn all_protocol_fits_and_scores_every_labelled_image() {
    let l = data::load_labelled(&fixture("idx-gz"), Protocol::All).unwrap();
    assert_eq!(l.fit.len(), 210);
    assert_eq!(l.fit, l.validation);
    let split = data::load_labelled(&fixture("idx-gz"), Protocol::Split).unwrap();
    assert_eq!(
        l.fit.images.row(200),
        split.validation.images.row(200 - 147)
    );
}

#[test]
fn unlabelled_images_join_the_fit_set_and_leave_the_scoring_alone() {
    let dir = fixture("article");
    let l = data::load_labelled(&dir, Protocol::Split).unwrap();
    let extra = data::load_unlabelled(&dir).unwrap(); // test.csv: 90 images
    let fit = data::append_unlabelled(l.fit.clone(), extra.clone(), &dir).unwrap();
    assert_eq!(fit.images.shape(), (147 + 90, 784));
    assert_eq!(fit.labels, None);
    assert_eq!(fit.filenames[146], "146.png");
    assert_eq!(fit.filenames[147], "210.png");
    assert_eq!(fit.images.row(0), l.fit.images.row(0));
    assert_eq!(fit.images.row(147 + 89), extra.images.row(89));
    // Images of another size are refused, naming the folder.
    let mut small = extra;
    small.images = deepcluster::linalg::Matrix::zeros(4, 14 * 14); // (4, 196): four 14x14 images
    small.filenames.truncate(4);
    (small.height, small.width) = (14, 14);
    let msg = data::append_unlabelled(l.fit, small, &dir)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("14x14") && msg.contains("28x28"), "{msg}");
    assert!(msg.contains("article") && !msg.contains('\n'), "{msg}");
}

/// The error of loading `dir`'s labelled set, checked to be one line.
fn error_of(dir: &Path) -> String {
    let msg = data::load_labelled(dir, Protocol::Split)
        .unwrap_err()
        .to_string();
    assert!(!msg.contains('\n'), "{msg}");
    msg
}

#[test]
fn broken_inputs_are_one_line_errors_naming_file_line_and_problem() {
    let broken = |name: &str| fixture("broken").join(name);
    let msg = error_of(&broken("missing-image"));
    assert!(
        msg.contains("train.csv, line 4: ") && msg.contains("2.png: No such file"),
        "{msg}"
    );
    let msg = error_of(&broken("truncated-png"));
    assert!(
        msg.contains("train.csv, line 4: ") && msg.contains("2.png: not a readable PNG"),
        "{msg}"
    );
    let msg = error_of(&broken("wrong-size"));
    assert!(
        msg.contains("line 5: ")
            && msg.contains("3.png: image is 8x6, but the other images are 28x28"),
        "{msg}"
    );
    let msg = error_of(&broken("bad-label"));
    assert!(
        msg.ends_with("train.csv, line 3: label `zero` is not an integer in 0..=255"),
        "{msg}"
    );
    let msg = error_of(&broken("empty-csv"));
    assert!(
        msg.ends_with("train.csv: empty file: expected a header line naming a `filename` column"),
        "{msg}"
    );
    let msg = error_of(&broken("missing-column"));
    assert!(
        msg.contains("train.csv, line 1: no `filename` column"),
        "{msg}"
    );
    let msg = error_of(&broken("duplicate-filename"));
    assert!(
        msg.ends_with("train.csv, line 5: duplicate filename `1.png` (first on line 3)"),
        "{msg}"
    );
    let msg = error_of(&fixture("does-not-exist"));
    assert!(
        msg.ends_with("fixtures/does-not-exist: no such data folder"),
        "{msg}"
    );
    // test.csv has no labels, so it cannot be the labelled set; train.csv is missing here.
    let msg = error_of(&fixture("png"));
    assert!(msg.contains("png/train.csv: No such file"), "{msg}");
}

/// Writes a PNG signature and an IHDR chunk claiming `width` x `height`, then garbage.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = b"IHDR".to_vec();
    chunk.extend_from_slice(&width.to_be_bytes());
    chunk.extend_from_slice(&height.to_be_bytes());
    chunk.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey
    v.extend_from_slice(&13u32.to_be_bytes());
    v.extend_from_slice(&chunk);
    v.extend_from_slice(&crc32(&chunk).to_be_bytes());
    v.extend_from_slice(&[0; 64]);
    v
}

#[test]
fn huge_claimed_sizes_are_refused_before_allocating() {
    let dir = temp_dir("huge");
    fs::create_dir_all(dir.join("train")).unwrap();
    let good = fs::read(fixture("article/train/0.png")).unwrap();
    fs::write(dir.join("train/a.png"), &good).unwrap();
    fs::write(dir.join("train/b.png"), &good).unwrap();
    fs::write(dir.join("train/huge.png"), png_claiming(100_000, 100_000)).unwrap();
    // First image huge: refused by the size cap.
    fs::write(
        dir.join("train.csv"),
        "filename,label\nhuge.png,1\na.png,2\nb.png,3\n",
    )
    .unwrap();
    let msg = error_of(&dir);
    assert!(
        msg.contains("line 2: ") && msg.contains("huge.png: image is 100000x100000, more than"),
        "{msg}"
    );
    // A later image huge: refused by comparing with the set's size.
    fs::write(
        dir.join("train.csv"),
        "filename,label\na.png,1\nb.png,2\nhuge.png,3\n",
    )
    .unwrap();
    let msg = error_of(&dir);
    assert!(
        msg.contains("huge.png: image is 100000x100000, but the other images are 28x28"),
        "{msg}"
    );
    // A filename leaving the folder.
    fs::write(
        dir.join("train.csv"),
        "filename,label\na.png,1\n../train/b.png,2\n",
    )
    .unwrap();
    assert!(error_of(&dir).contains("line 3: filename `../train/b.png` leaves the data folder"));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn broken_idx_files_name_the_file() {
    let dir = temp_dir("idx-broken");
    for name in idx::FILES {
        let gz = fs::read(fixture("idx-gz").join(format!("{name}.gz"))).unwrap();
        fs::write(dir.join(format!("{name}.gz")), &gz).unwrap();
    }
    let path = dir.join(format!("{}.gz", idx::TRAIN_IMAGES));
    let gz = fs::read(&path).unwrap();
    fs::write(&path, &gz[..gz.len() / 2]).unwrap();
    let msg = error_of(&dir);
    assert!(
        msg.contains("train-images-idx3-ubyte.gz: gzip data ends early"),
        "{msg}"
    );
    fs::remove_file(&path).unwrap();
    let msg = error_of(&dir);
    assert!(
        msg.contains("no such data folder") || msg.contains("no data found"),
        "{msg}"
    );
    fs::write(
        dir.join(idx::TRAIN_IMAGES),
        b"\x00\x00\x08\x03\x00\x00\x00\x02",
    )
    .unwrap();
    let msg = error_of(&dir);
    assert!(
        msg.contains("train-images-idx3-ubyte: IDX header is truncated"),
        "{msg}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// The inflater against the system gzip on inputs that exercise each block type: stored
/// (incompressible bytes), fixed and dynamic Huffman, long overlapping runs, empty input.
#[test]
fn inflate_agrees_with_system_gzip() {
    if Command::new("gzip").arg("--version").output().is_err() {
        eprintln!("SKIPPED: no gzip on this machine");
        return;
    }
    let dir = temp_dir("gzip");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut random = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u8
    };
    let noise: Vec<u8> = (0..300_000).map(|_| random()).collect();
    let text: Vec<u8> = (0..200_000u32)
        .map(|i| b"the quick brown fox jumps over the lazy dog "[(i * i % 44) as usize])
        .collect();
    let runs: Vec<u8> = (0..500_000u32).map(|i| (i / 1000) as u8).collect();
    let inputs: [(&str, &[u8]); 5] = [
        ("empty", &[]),
        ("byte", b"x"),
        ("noise", &noise),
        ("text", &text),
        ("runs", &runs),
    ];
    for (name, input) in inputs {
        for level in ["-1", "-6", "-9"] {
            let path = dir.join(name);
            fs::write(&path, input).unwrap();
            let out = Command::new("gzip")
                .args([level, "-c"])
                .arg(&path)
                .output()
                .unwrap();
            assert!(out.status.success());
            let decoded = inflate::gunzip(&out.stdout, 1 << 24).unwrap();
            assert!(decoded == input, "{name} at {level}");
        }
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn make_dataset_command_exits_non_zero_with_one_line_on_bad_input() {
    let exe = env!("CARGO_BIN_EXE_deepcluster");
    let out_dir = temp_dir("cli-out");
    let out = Command::new(exe)
        .arg("make-dataset")
        .arg(fixture("does-not-exist"))
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("does-not-exist: no such IDX folder"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
    fs::remove_dir_all(&out_dir).unwrap();
}
