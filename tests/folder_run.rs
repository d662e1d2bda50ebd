//! "Cluster any folder of images", end to end through the binary on the generated folders
//! of `tests/common`: a labelled folder prints scores, an unlabelled one each method's
//! cluster sizes; a broken file stops the run in one line naming it, or is skipped with one
//! warning; `--colour rgb` makes 3 x H x W inputs; `predict` brings a folder to the model's
//! size and colour and refuses another colour or shape; the montages and thumbnails of a
//! grey run on colour photos are the colour originals. Tiny schedules: 1 epoch, a few DEC
//! steps, 2 clusters.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{BROKEN, broken, flat, labelled, png_bytes, root, temp_dir, texture};
use deepcluster::cluster::Dec;
use deepcluster::io::safetensors;
use deepcluster::io::weights::{self, ImageShape};
use deepcluster::linalg::Matrix;
use deepcluster::nn::{Activation, Init, Mlp};
use rand::SeedableRng;

const BIN: &str = env!("CARGO_BIN_EXE_deepcluster");

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// `deepcluster DIR` with the tiny schedule into `out`, plus `extra`.
fn run(dir: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg(dir)
        .args([
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--max-iter",
            "20",
            "--clusters",
            "2",
            "--neighbors",
            "5",
            "--threads",
            "2",
            "--out",
        ])
        .arg(out)
        .args(extra)
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

/// Exit status 1 (not a panic's 101), one line on stderr, containing `expect`.
fn one_line_error(out: Output, expect: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(expect), "expected `{expect}` in {stderr}");
    stderr
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_labelled_folder_prints_scores() {
    let dir = labelled("run-labelled");
    let out = temp_dir("run-labelled-out");
    let done = ok(run(&dir, &out, &["--quiet"]));
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(stdout.starts_with("method "), "{stdout}");
    assert!(stdout.contains("NMI") && stdout.contains("ARI"), "{stdout}");
    let csv = read(out.join("results.csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "method,nmi,acc,ari,seconds");
    assert_eq!(lines.len(), 5, "{csv}");
    for line in &lines[1..] {
        let acc: f64 = line.split(',').nth(2).unwrap().parse().unwrap();
        // Two clusters of a 2-class set: ACC is at least one half by its definition.
        assert!((0.5..=1.0).contains(&acc), "{line}");
    }
    let page = read(out.join("index.html"));
    assert!(page.contains("the images of"), "title");
    assert!(!page.contains("MNIST"), "a folder is not MNIST digits");
    assert!(page.contains("labelled by subfolder"));
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

/// The sizes of results.csv's rows (`method,sizes,seconds`), checked to be 2 clusters of
/// `n` images.
fn sizes_of(csv: &str, n: usize) -> Vec<(String, Vec<usize>)> {
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("method,sizes,seconds"));
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), 3, "{line}");
            let sizes: Vec<usize> = cells[1].split(' ').map(|v| v.parse().unwrap()).collect();
            assert_eq!(sizes.len(), 2, "{line}");
            assert_eq!(sizes.iter().sum::<usize>(), n, "{line}");
            (cells[0].to_string(), sizes)
        })
        .collect()
}

#[test]
fn an_unlabelled_folder_prints_each_methods_cluster_sizes() {
    let dir = flat("run-flat");
    let out = temp_dir("run-flat-out");
    let done = ok(run(&dir, &out, &["--quiet"]));
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(stdout.contains("cluster sizes"), "{stdout}");
    assert!(!stdout.contains("NMI"), "{stdout}");
    let rows = sizes_of(&read(out.join("results.csv")), 20);
    let methods: Vec<&str> = rows.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(methods, ["kmeans", "ae+kmeans", "dec", "n2d"]);
    // The table prints the same sizes as the file.
    for (method, sizes) in &rows {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{method} ")))
            .unwrap();
        assert!(
            line.ends_with(&format!(" {} {}", sizes[0], sizes[1])),
            "{line}"
        );
    }
    // The gallery is the result: montages without labels, a page about the folder.
    for m in ["kmeans", "ae_kmeans", "dec", "n2d"] {
        assert!(out.join(m).join("overview.png").is_file(), "{m}");
    }
    let page = read(out.join("index.html"));
    assert!(page.contains("unlabelled") && !page.contains("MNIST"));
    // No scores anywhere: the DEC log's score cells are empty.
    let log = read(out.join("dec_log.csv"));
    assert!(log.lines().nth(1).unwrap().starts_with("0,,,,"), "{log}");
    assert!(!out.join("dec_scores.png").exists());
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_broken_file_stops_the_run_or_is_skipped_with_one_warning() {
    let dir = broken("run-broken");
    let out = temp_dir("run-broken-out");
    // One line naming the file, and nothing written. With the default size the headers
    // are read first: `notes.png` has none (`cut.png`'s header is whole).
    one_line_error(
        run(&dir, &out, &["--quiet", "--method", "kmeans"]),
        "notes.png",
    );
    assert!(!out.join("results.csv").exists());
    // With a fixed size there is no header pass: the first in path order, `cut.png`.
    one_line_error(
        run(&dir, &out, &["--quiet", "--image-size", "8x8"]),
        "cut.png",
    );
    // The progressive JPEG alone names itself and its kind.
    let single = temp_dir("run-progressive");
    std::fs::copy(dir.join("progressive.jpg"), single.join("p.jpg")).unwrap();
    std::fs::copy(dir.join("d0.png"), single.join("d0.png")).unwrap();
    std::fs::copy(dir.join("d1.png"), single.join("d1.png")).unwrap();
    let msg = one_line_error(run(&single, &out, &["--quiet"]), "p.jpg");
    assert!(msg.contains("progressive"), "{msg}");

    let done = ok(run(
        &dir,
        &out,
        &["--skip-unreadable", "--method", "kmeans"],
    ));
    let stderr = String::from_utf8_lossy(&done.stderr);
    let warning = format!("skipped 3 unreadable images: {}", BROKEN.join(", "));
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("skipped")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains(&warning), "{stderr}");
    sizes_of(&read(out.join("results.csv")), 20);
    for d in [dir, out, single] {
        std::fs::remove_dir_all(&d).unwrap();
    }
}

#[test]
fn rgb_gives_three_values_per_pixel_and_predict_follows_the_model() {
    let dir = flat("run-rgb");
    let out = temp_dir("run-rgb-out");
    ok(run(
        &dir,
        &out,
        &[
            "--quiet",
            "--colour",
            "rgb",
            "--image-size",
            "6x4",
            "--method",
            "dec",
        ],
    ));
    let ae = weights::load_autoencoder(out.join(weights::AE_FILE)).unwrap();
    assert_eq!(ae.dims()[0], 3 * 4 * 6);
    let (dec, shape) = weights::load_dec_with_image(out.join(weights::DEC_FILE)).unwrap();
    assert_eq!(dec.encoder.input_dim(), 72);
    let rgb = ImageShape {
        height: 4,
        width: 6,
        channels: 3,
    };
    assert_eq!(shape, Some(rgb));
    let file = safetensors::load(out.join(weights::AE_FILE)).unwrap();
    assert_eq!(file.metadata("image_channels"), Some("3"));
    assert_eq!(
        weights::image_shape(&out.join("ae"), &file, 72).unwrap(),
        Some(rgb)
    );

    // predict on a labelled folder of other sizes: brought to 6x4 rgb, labels ignored.
    let other = labelled("predict-labelled");
    let pred = temp_dir("predict-out");
    let predict = |data: &Path, extra: &[&str]| {
        Command::new(BIN)
            .args([
                "predict",
                &s(data),
                "--model",
                &s(&out),
                "--out",
                &s(&pred),
                "--quiet",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    ok(predict(&other, &[]));
    let csv = read(pred.join("predictions.csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "filename,cluster");
    assert_eq!(lines.len(), 21);
    assert!(lines[1].starts_with("bright/b0.png,"), "{csv}");
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.ends_with(",0") || l.ends_with(",1"))
    );
    // Another colour or size than the model's is refused, naming the option.
    let msg = one_line_error(predict(&other, &["--colour", "grey"]), "--colour");
    assert!(msg.contains("6x4 rgb"), "{msg}");
    one_line_error(predict(&other, &["--image-size", "8x8"]), "--image-size");
    // The article's grey 28x28 images are not 6x4 rgb.
    let msg = one_line_error(predict(&root().join("fixtures/article"), &[]), "6x4 rgb");
    assert!(msg.contains("28x28 grey"), "{msg}");
    for d in [dir, out, other, pred] {
        std::fs::remove_dir_all(&d).unwrap();
    }
}

/// A DEC model of a 784-4-2 encoder and 2 centres, saved as trained on `shape` (or,
/// for None, as files were written before the shape was recorded).
fn tiny_model(dir: &Path, shape: Option<ImageShape>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let encoder = Mlp::new(
        &[784, 4, 2],
        &[Activation::Relu, Activation::Identity],
        Init::GlorotUniform,
        &mut rng,
    )
    .unwrap();
    let dec = Dec::new(
        encoder,
        Matrix::from_vec(2, 2, vec![0.0, 0.0, 1.0, 1.0]),
        1.0,
    );
    let path = dir.join(weights::DEC_FILE);
    match shape {
        Some(shape) => weights::save_dec_for(&path, &dec, &shape).unwrap(),
        None => weights::save_dec(&path, &dec).unwrap(),
    }
}

/// Issue 20 item 14: the article's layout with 16x49 images (784 pixels, as 28x28) is
/// refused by a model trained on 28x28, by shape; a model saved without its shape falls
/// back to the pixel count and takes them.
#[test]
fn a_28x28_model_refuses_16x49_images_by_shape() {
    let data = temp_dir("predict-16x49");
    let mut list = String::from("filename\n");
    for i in 0..3 {
        let name = format!("{i}.png");
        let png = png_bytes(
            (16, 49),
            png::ColorType::Grayscale,
            &texture(16, 49, 1, 50, i),
            None,
        );
        std::fs::create_dir_all(data.join("test")).unwrap();
        std::fs::write(data.join("test").join(&name), png).unwrap();
        list.push_str(&name);
        list.push('\n');
    }
    std::fs::write(data.join("test.csv"), list).unwrap();
    let model = temp_dir("predict-16x49-model");
    let pred = temp_dir("predict-16x49-out");
    let predict = || {
        Command::new(BIN)
            .args([
                "predict",
                &s(&data),
                "--model",
                &s(&model),
                "--out",
                &s(&pred),
                "--quiet",
            ])
            .output()
            .unwrap()
    };
    let square = ImageShape {
        height: 28,
        width: 28,
        channels: 1,
    };
    tiny_model(&model, Some(square));
    let msg = one_line_error(predict(), "28x28 grey");
    assert!(msg.contains("16x49 grey"), "{msg}");
    // The article's own 28x28 images are taken.
    let article = Command::new(BIN)
        .args([
            "predict",
            &s(&root().join("fixtures/article")),
            "--model",
            &s(&model),
        ])
        .args(["--out", &s(&pred), "--quiet"])
        .output()
        .unwrap();
    ok(article);
    // An older file without the shape: the pixel count is all there is to check.
    tiny_model(&model, None);
    ok(predict());
    assert_eq!(read(pred.join("predictions.csv")).lines().count(), 4);
    // --colour rgb / --image-size on the article's layout are refused, not ignored.
    let refused = Command::new(BIN)
        .args([
            "predict",
            &s(&data),
            "--model",
            &s(&model),
            "--colour",
            "rgb",
        ])
        .output()
        .unwrap();
    one_line_error(refused, "--colour");
    for d in [data, model, pred] {
        std::fs::remove_dir_all(&d).unwrap();
    }
}

#[test]
fn impossible_folders_and_options_are_one_line_errors() {
    let out = temp_dir("errors-out");
    // No images at all.
    let empty = temp_dir("errors-empty");
    std::fs::write(empty.join("readme.txt"), "no images here").unwrap();
    one_line_error(run(&empty, &out, &["--quiet"]), "no data found");
    // Fewer images than clusters.
    let dir = flat("errors-flat");
    let few = run(&dir, &out, &["--quiet", "--clusters", "30"]);
    // (--clusters given twice: the last one counts.)
    one_line_error(few, "30");
    // Folder options on the article's layout would be ignored: refused instead.
    let article = root().join("fixtures/article");
    for (opt, value) in [
        ("--image-size", Some("28x28")),
        ("--colour", Some("rgb")),
        ("--skip-unreadable", None),
    ] {
        let mut extra = vec!["--quiet", opt];
        extra.extend(value);
        let msg = one_line_error(run(&article, &out, &extra), opt);
        assert!(msg.contains("only for a folder of images"), "{msg}");
    }
    // --colour grey is what the article's images are: accepted (checked by the parser
    // and the layout check alone, without a run).
    let grey = deepcluster::data::FolderOptions::default();
    deepcluster::data::check_folder_options(&article, deepcluster::data::Layout::Article, &grey)
        .unwrap();
    // --unlabelled means test.csv's images; a folder has none.
    one_line_error(
        run(&dir, &out, &["--quiet", "--unlabelled"]),
        "--unlabelled",
    );
    assert!(!out.join("results.csv").exists());
    for d in [out, empty, dir] {
        std::fs::remove_dir_all(&d).unwrap();
    }
}

/// Issue 17: "montages and the gallery show the original images (in colour when they
/// are)". Flat red and blue 20x16 photos, run grey at 6x4: the montages are RGB with
/// 64x64 tiles of the photos' exact colours, and predict's thumbnails are the photos
/// themselves (20x16, RGB), not the 6x4 grey inputs the network saw.
#[test]
fn a_grey_run_on_colour_photos_shows_the_colour_originals() {
    use deepcluster::report::montage::overview_tile_at;
    use deepcluster::report::raster::{Channels, Colour, load_png};
    use deepcluster::report::tiles::ORIGINAL_TILE;

    let colours = [[200u8, 30, 60], [10, 120, 220]];
    let dir = temp_dir("run-originals");
    for i in 0..12 {
        let rgb = colours[i % 2];
        let data: Vec<u8> = (0..20 * 16).flat_map(|_| rgb).collect();
        let png = png_bytes((20, 16), png::ColorType::Rgb, &data, None);
        std::fs::write(dir.join(format!("p{i:02}.png")), png).unwrap();
    }
    let out = temp_dir("run-originals-out");
    let extra = ["--quiet", "--colour", "grey", "--image-size", "6x4"];
    ok(run(
        &dir,
        &out,
        &[&extra[..], &["--method", "dec"]].concat(),
    ));
    let ae = weights::load_autoencoder(out.join(weights::AE_FILE)).unwrap();
    assert_eq!(ae.dims()[0], 6 * 4, "the network saw 6x4 grey");
    let overview = load_png(out.join("dec/overview.png")).unwrap();
    assert_eq!(overview.channels, Channels::Rgb);
    let tile = (ORIGINAL_TILE, ORIGINAL_TILE);
    let (x0, y0) = overview_tile_at(0, 0, tile);
    let first = overview.get(x0, y0);
    assert!(
        colours
            .iter()
            .any(|&[r, g, b]| first == Colour::rgb(r, g, b)),
        "{first:?}"
    );
    // The whole 64x64 tile is that colour, framed right outside.
    assert_eq!(
        overview.get(x0 + ORIGINAL_TILE - 1, y0 + ORIGINAL_TILE - 1),
        first
    );
    assert_eq!(overview.get(x0 + ORIGINAL_TILE, y0), Colour::grey(130));

    let pred = temp_dir("run-originals-pred");
    ok(Command::new(BIN)
        .args(["predict", &s(&dir), "--model", &s(&out), "--out", &s(&pred)])
        .arg("--quiet")
        .output()
        .unwrap());
    let csv = read(pred.join("predictions.csv"));
    let line = csv.lines().find(|l| l.starts_with("p01.png,")).unwrap();
    let cluster: usize = line.rsplit(',').next().unwrap().parse().unwrap();
    let thumb = load_png(pred.join(format!("gallery/cluster_{cluster:02}/p01.png"))).unwrap();
    assert_eq!(
        (thumb.width, thumb.height, thumb.channels),
        (20, 16, Channels::Rgb)
    );
    assert!(
        thumb
            .pixels
            .chunks_exact(3)
            .all(|p| p == colours[1].as_slice())
    );
    for d in [dir, out, pred] {
        std::fs::remove_dir_all(&d).unwrap();
    }
}
