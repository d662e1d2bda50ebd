//! The fixtures under `fixtures/`: how they are made, and checks that they still are what
//! this file says.
//!
//! Regenerate them (needs MNIST's IDX .gz files in `../shared/data/mnist` or `$MNIST_IDX_DIR`,
//! and the system `gzip`) with
//! `cargo test --release --test data_fixtures -- --ignored regenerate`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use deepcluster::data::{self, idx};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The first `TRAIN_N` training and `TEST_N` t10k images of MNIST: 300 in all, so the
/// labelled set is the first 210 and the unlabelled one the last 90.
const TRAIN_N: usize = 250;
const TEST_N: usize = 50;

/// The colour-type fixtures are 8 wide and 6 high: not square, not 28x28.
pub const W: usize = 8;
pub const H: usize = 6;

/// Every (name, colour type, bit depth) PNG allows, plus a palette image with a tRNS chunk.
pub const PNG_KINDS: &[(&str, png::ColorType, png::BitDepth)] = {
    use png::BitDepth::*;
    use png::ColorType::*;
    &[
        ("grey-1", Grayscale, One),
        ("grey-2", Grayscale, Two),
        ("grey-4", Grayscale, Four),
        ("grey-8", Grayscale, Eight),
        ("grey-16", Grayscale, Sixteen),
        ("grey-alpha-8", GrayscaleAlpha, Eight),
        ("grey-alpha-16", GrayscaleAlpha, Sixteen),
        ("rgb-8", Rgb, Eight),
        ("rgb-16", Rgb, Sixteen),
        ("rgba-8", Rgba, Eight),
        ("rgba-16", Rgba, Sixteen),
        ("palette-1", Indexed, One),
        ("palette-2", Indexed, Two),
        ("palette-4", Indexed, Four),
        ("palette-8", Indexed, Eight),
        ("palette-8-trns", Indexed, Eight),
    ]
};

/// The 16-bit sample of channel `c` at (x, y): spread over the range, different per channel.
fn sample16(x: usize, y: usize, c: usize) -> u16 {
    ((x * 7919 + y * 10007 + c * 21011 + 123) % 65536) as u16
}

/// The palette colour of index `i` (RGB).
fn palette_colour(i: usize) -> [u8; 3] {
    [
        (i * 37 % 256) as u8,
        (i * 91 % 256) as u8,
        (i * 151 % 256) as u8,
    ]
}

/// The sample stored at (x, y), channel `c`, for a bit depth of `bits` (palette: the index).
fn stored(x: usize, y: usize, c: usize, bits: u32) -> u16 {
    if bits == 16 {
        sample16(x, y, c)
    } else {
        ((x + W * y + 3 * c) % (1 << bits)) as u16
    }
}

/// What each pixel should become, computed from the definitions in the docs rather than the
/// loader's code: low depths scaled to 0..=255, 16 bits keep their high byte, colour becomes
/// BT.601 luma rounded, alpha ignored.
pub fn expected_grey(color: png::ColorType, depth: png::BitDepth, x: usize, y: usize) -> u8 {
    let bits = depth as u32;
    let to8 = |v: u16| -> f64 {
        if bits == 16 {
            (v >> 8) as f64
        } else {
            (v as f64 * 255.0 / ((1u32 << bits) - 1) as f64).round()
        }
    };
    let luma = |r: f64, g: f64, b: f64| (0.299 * r + 0.587 * g + 0.114 * b + 0.5).floor() as u8;
    match color {
        png::ColorType::Grayscale | png::ColorType::GrayscaleAlpha => {
            to8(stored(x, y, 0, bits)) as u8
        }
        png::ColorType::Rgb | png::ColorType::Rgba => luma(
            to8(stored(x, y, 0, bits)),
            to8(stored(x, y, 1, bits)),
            to8(stored(x, y, 2, bits)),
        ),
        png::ColorType::Indexed => {
            let [r, g, b] = palette_colour(stored(x, y, 0, bits) as usize);
            luma(r as f64, g as f64, b as f64)
        }
    }
}

fn encode_kind(name: &str, color: png::ColorType, depth: png::BitDepth) -> Vec<u8> {
    let bits = depth as u32;
    let channels = color.samples();
    // Pack each row's samples MSB-first at `bits` per sample (big-endian for 16).
    let mut data = Vec::new();
    for y in 0..H {
        let mut acc: u32 = 0;
        let mut n = 0;
        for x in 0..W {
            for c in 0..channels {
                // Alpha (the last channel of GA / RGBA) varies too, down to fully transparent.
                let v = stored(x, y, c, bits);
                if bits == 16 {
                    data.extend_from_slice(&v.to_be_bytes());
                } else {
                    acc = (acc << bits) | v as u32;
                    n += bits;
                    if n == 8 {
                        data.push(acc as u8);
                        acc = 0;
                        n = 0;
                    }
                }
            }
        }
        if n > 0 {
            data.push((acc << (8 - n)) as u8);
        }
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, W as u32, H as u32);
    enc.set_color(color);
    enc.set_depth(depth);
    if color == png::ColorType::Indexed {
        let palette: Vec<u8> = (0..1usize << bits).flat_map(palette_colour).collect();
        enc.set_palette(palette);
        if name.ends_with("trns") {
            // Every other palette entry fully transparent: the loader must ignore it.
            let trns: Vec<u8> = (0..1usize << bits)
                .map(|i| if i % 2 == 0 { 0 } else { 255 })
                .collect();
            enc.set_trns(trns);
        }
    }
    let mut w = enc.write_header().unwrap();
    w.write_image_data(&data).unwrap();
    w.finish().unwrap();
    out
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn write_idx(path: &Path, magic: u32, dims: &[usize], data: &[u8]) {
    let mut v = magic.to_be_bytes().to_vec();
    for &d in dims {
        v.extend_from_slice(&(d as u32).to_be_bytes());
    }
    v.extend_from_slice(data);
    write(path, &v);
}

/// A broken copy of the first four fixture images, as its own article-layout folder.
fn broken_case(name: &str, csv: &[u8], images: &[(&str, Vec<u8>)]) {
    let dir = root().join("fixtures/broken").join(name);
    let _ = fs::remove_dir_all(&dir);
    write(&dir.join("train.csv"), csv);
    for (file, bytes) in images {
        write(&dir.join("train").join(file), bytes);
    }
}

#[test]
#[ignore = "writes fixtures/; run by hand to regenerate them"]
fn regenerate() {
    let fixtures = root().join("fixtures");
    let mnist = std::env::var_os("MNIST_IDX_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/data/mnist"));

    // IDX, raw and gzip (the system gzip, so the .gz files also test the inflater).
    let mut pairs = Vec::new();
    for (images, labels, n) in [
        (idx::TRAIN_IMAGES, idx::TRAIN_LABELS, TRAIN_N),
        (idx::TEST_IMAGES, idx::TEST_LABELS, TEST_N),
    ] {
        let im = idx::read(&mnist.join(format!("{images}.gz"))).unwrap();
        let lb = idx::read(&mnist.join(format!("{labels}.gz"))).unwrap();
        let (rows, cols) = (im.dims[1], im.dims[2]);
        write_idx(
            &fixtures.join("idx").join(images),
            0x0803,
            &[n, rows, cols],
            &im.data[..n * rows * cols],
        );
        write_idx(
            &fixtures.join("idx").join(labels),
            0x0801,
            &[n],
            &lb.data[..n],
        );
        pairs.push(images);
        pairs.push(labels);
    }
    let _ = fs::remove_dir_all(fixtures.join("idx-gz"));
    fs::create_dir_all(fixtures.join("idx-gz")).unwrap();
    for name in pairs {
        let out = Command::new("gzip")
            .args(["-9", "-n", "-c"])
            .arg(fixtures.join("idx").join(name))
            .output()
            .unwrap();
        assert!(out.status.success());
        write(
            &fixtures.join("idx-gz").join(format!("{name}.gz")),
            &out.stdout,
        );
    }

    // The article's layout, by the project's own make-dataset.
    let _ = fs::remove_dir_all(fixtures.join("article"));
    data::make_dataset(&fixtures.join("idx-gz"), &fixtures.join("article")).unwrap();

    // One PNG of each colour type and bit depth, listed in test.csv (no labels).
    let _ = fs::remove_dir_all(fixtures.join("png"));
    let mut list = String::from("filename\n");
    for &(name, color, depth) in PNG_KINDS {
        write(
            &fixtures.join("png/test").join(format!("{name}.png")),
            &encode_kind(name, color, depth),
        );
        list.push_str(&format!("{name}.png\n"));
    }
    write(&fixtures.join("png/test.csv"), list.as_bytes());

    // Broken inputs, each a folder of four images (0..3.png) and a train.csv.
    let article = fixtures.join("article/train");
    let img = |i: usize| fs::read(article.join(format!("{i}.png"))).unwrap();
    let four = || -> Vec<(&str, Vec<u8>)> {
        vec![
            ("0.png", img(0)),
            ("1.png", img(1)),
            ("2.png", img(2)),
            ("3.png", img(3)),
        ]
    };
    let good_csv = b"filename,label\n0.png,5\n1.png,0\n2.png,4\n3.png,1\n";
    let mut images = four();
    images.remove(2);
    broken_case("missing-image", good_csv, &images);
    let mut images = four();
    let len = images[2].1.len();
    images[2].1.truncate(len / 2);
    broken_case("truncated-png", good_csv, &images);
    let mut images = four();
    images[3].1 = encode_kind("grey-8", png::ColorType::Grayscale, png::BitDepth::Eight);
    broken_case("wrong-size", good_csv, &images);
    broken_case(
        "bad-label",
        b"filename,label\n0.png,5\n1.png,zero\n2.png,4\n3.png,1\n",
        &four(),
    );
    broken_case("empty-csv", b"", &four());
    broken_case(
        "missing-column",
        b"file,label\n0.png,5\n1.png,0\n2.png,4\n3.png,1\n",
        &four(),
    );
    broken_case(
        "duplicate-filename",
        b"filename,label\n0.png,5\n1.png,0\n2.png,4\n1.png,0\n",
        &four(),
    );
}

/// The committed article fixture is exactly what make-dataset builds from the committed
/// IDX fixture today: the build is deterministic, and the fixtures are not stale.
#[test]
fn article_fixture_is_a_byte_identical_rebuild_of_the_idx_fixture() {
    let out = std::env::temp_dir().join(format!("deepcluster-rebuild-{}", std::process::id()));
    let _ = fs::remove_dir_all(&out);
    data::make_dataset(&root().join("fixtures/idx"), &out).unwrap();
    let committed = root().join("fixtures/article");
    let mut compared = 0;
    for sub in ["", "train", "test"] {
        for entry in fs::read_dir(committed.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let rebuilt = out.join(sub).join(path.file_name().unwrap());
                assert_eq!(
                    fs::read(&path).unwrap(),
                    fs::read(&rebuilt).unwrap(),
                    "{} differs",
                    path.display()
                );
                compared += 1;
            }
        }
    }
    // 300 PNGs, two lists and the README; and nothing extra in the rebuild.
    assert_eq!(compared, 303);
    let rebuilt_count: usize = ["train", "test"]
        .iter()
        .map(|s| fs::read_dir(out.join(s)).unwrap().count())
        .sum();
    assert_eq!(rebuilt_count, 300);
    fs::remove_dir_all(&out).unwrap();
}

/// The raw and gzip IDX fixtures hold the same bytes: the inflater agrees with gzip(1).
#[test]
fn gzip_fixtures_inflate_to_the_raw_fixtures() {
    for name in idx::FILES {
        let raw = idx::read(&root().join("fixtures/idx").join(name)).unwrap();
        let gz = idx::read(&root().join("fixtures/idx-gz").join(format!("{name}.gz"))).unwrap();
        assert_eq!(raw.dims, gz.dims, "{name}");
        assert_eq!(raw.data, gz.data, "{name}");
    }
}

/// Each colour type and bit depth decodes to the grey the docs promise.
#[test]
fn every_png_colour_type_and_depth_becomes_the_documented_grey() {
    let set = data::load_unlabelled(&root().join("fixtures/png")).unwrap();
    assert_eq!((set.height, set.width), (H, W));
    assert_eq!(set.len(), PNG_KINDS.len());
    assert_eq!(set.labels, None);
    for (i, &(name, color, depth)) in PNG_KINDS.iter().enumerate() {
        assert_eq!(set.filenames[i], format!("{name}.png"));
        let row = set.images.row(i);
        for y in 0..H {
            for x in 0..W {
                let want = expected_grey(color, depth, x, y) as f32 / 255.0;
                assert_eq!(row[y * W + x], want, "{name} at ({x}, {y})");
            }
        }
    }
}
