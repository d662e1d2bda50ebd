//! The folder-of-images layout (`data::folder`): which files, in which order, labels from
//! subfolders, the default size, grey and RGB values, resizing, unreadable files (stop or
//! skip), hidden files, symbolic links, thread-count independence and the memory bound.
//!
//! Every fixture is generated here, into a fresh temporary folder, with the `png` crate's
//! encoder: small, deterministic, and described next to the test that reads it.

use std::fs;
use std::path::{Path, PathBuf};

use deepcluster::Error;
use deepcluster::data::folder::{self, FolderOptions};
use deepcluster::data::png_grey::luma;
use deepcluster::data::{self, Colour, Layout, Protocol};

/// A fresh, empty folder under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("deepcluster-folder-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a PNG of `color` and `depth` whose stored bytes are `data` (rows packed as PNG
/// stores them), creating the parent folders.
fn write_png_raw(
    path: &Path,
    (w, h): (usize, usize),
    color: png::ColorType,
    depth: png::BitDepth,
    data: &[u8],
    palette: Option<&[u8]>,
) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = fs::File::create(path).unwrap();
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    encoder.set_color(color);
    encoder.set_depth(depth);
    encoder.set_compression(png::Compression::Fastest);
    if let Some(p) = palette {
        encoder.set_palette(p.to_vec());
    }
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(data).unwrap();
    writer.finish().unwrap();
}

/// An 8-bit PNG with 1 (grey) or 3 (RGB) channels of pixel bytes (h, w, c).
fn write_png(path: &Path, (w, h): (usize, usize), channels: usize, pixels: &[u8]) {
    assert_eq!(pixels.len(), w * h * channels);
    let color = if channels == 1 {
        png::ColorType::Grayscale
    } else {
        png::ColorType::Rgb
    };
    write_png_raw(path, (w, h), color, png::BitDepth::Eight, pixels, None);
}

/// A grey image whose pixels depend on `seed`: (h, w) bytes.
fn pattern(w: usize, h: usize, c: usize, seed: usize) -> Vec<u8> {
    (0..w * h * c)
        .map(|i| ((i * 31 + seed * 97 + (i / 7) * 13) % 256) as u8)
        .collect()
}

fn grey(dir: &Path, rel: &str, (w, h): (usize, usize), seed: usize) {
    write_png(&dir.join(rel), (w, h), 1, &pattern(w, h, 1, seed));
}

fn load(dir: &Path, options: FolderOptions) -> Result<data::Folder, Error> {
    data::load_folder(dir, &options)
}

fn sized(w: usize, h: usize) -> FolderOptions {
    FolderOptions {
        size: Some((w, h)),
        ..FolderOptions::default()
    }
}

fn unit(v: u8) -> f32 {
    v as f32 / 255.0
}

#[test]
fn images_are_found_recursively_in_sorted_path_order() {
    // Created out of order; a .txt, a .csv and a file without extension are not images.
    let dir = temp_dir("order");
    for (i, rel) in [
        "b.png",
        "a.PNG",
        "10.png",
        "2.png",
        "B.png",
        "sub/z.png",
        "sub/a.png",
        "sub-x/a.png",
        "sub/deeper/k.png",
    ]
    .iter()
    .enumerate()
    {
        grey(&dir, rel, (4, 3), i);
    }
    fs::write(dir.join("notes.txt"), "not an image").unwrap();
    fs::write(dir.join("list.csv"), "a,b\n").unwrap();
    fs::write(dir.join("png"), "no extension").unwrap();
    let f = load(&dir, FolderOptions::default()).unwrap();
    // Byte order within a folder ("10" < "2" < "B" < "a"), component by component across
    // folders ("sub" before "sub-x", though '-' < '/').
    assert_eq!(
        f.dataset.filenames,
        [
            "10.png",
            "2.png",
            "B.png",
            "a.PNG",
            "b.png",
            "sub/a.png",
            "sub/deeper/k.png",
            "sub/z.png",
            "sub-x/a.png"
        ]
    );
    assert_eq!(f.sources[5], dir.join("sub").join("a.png"));
    // Each row is its own file's pixels (the seed is the creation index).
    let first = pattern(4, 3, 1, 2); // "10.png" was created third
    let row: Vec<f32> = first.iter().map(|&v| unit(v)).collect();
    assert_eq!(f.dataset.images.row(0), row.as_slice());
    assert_eq!(f.dataset.labels, None);
    assert_eq!(f.classes, None);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn first_level_subfolders_are_the_classes() {
    let dir = temp_dir("labels");
    for (i, rel) in [
        "dogs/1.png",
        "cats/2.png",
        "cats/1.png",
        "ants/x.png",
        "dogs/0.png",
    ]
    .iter()
    .enumerate()
    {
        grey(&dir, rel, (5, 5), i);
    }
    fs::write(dir.join("README.txt"), "ignored").unwrap();
    fs::write(dir.join("cats/labels.csv"), "ignored").unwrap();
    let f = load(&dir, FolderOptions::default()).unwrap();
    assert_eq!(f.classes.as_deref().unwrap(), ["ants", "cats", "dogs"]);
    assert_eq!(
        f.dataset.filenames,
        [
            "ants/x.png",
            "cats/1.png",
            "cats/2.png",
            "dogs/0.png",
            "dogs/1.png"
        ]
    );
    assert_eq!(f.dataset.labels.as_deref().unwrap(), [0, 1, 1, 2, 2]);
    // The layout is detected, and load_labelled splits each class 7 of every 10.
    assert_eq!(data::detect_layout(&dir).unwrap(), Layout::Folder);
    let all = data::load_labelled(&dir, Protocol::All).unwrap();
    assert_eq!(all.fit.labels.as_deref().unwrap(), [0, 1, 1, 2, 2]);
    assert_eq!(all.fit, all.validation);
    for i in 0..20 {
        grey(&dir, &format!("ants/m{i:02}.png"), (5, 5), i);
    }
    let split = data::load_labelled(&dir, Protocol::Split).unwrap();
    // Rows 0..7, 10..17 and 20..25 of 25 are fitted; ants/x.png is row 20.
    assert_eq!((split.fit.len(), split.validation.len()), (19, 6));
    assert_eq!(split.fit.filenames[14], "ants/x.png");
    assert_eq!(split.validation.filenames[0], "ants/m07.png");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn any_image_outside_a_first_level_subfolder_makes_it_unlabelled() {
    // The rule: labelled iff every image is DIR/<class>/<file>, with two classes or more.
    let cases: &[(&str, &[&str], bool)] = &[
        ("two-classes", &["a/1.png", "b/1.png"], true),
        ("one-at-top", &["a/1.png", "b/1.png", "top.png"], false),
        ("one-deeper", &["a/1.png", "b/1.png", "b/c/2.png"], false),
        ("one-class", &["a/1.png", "a/2.png"], false),
        ("flat", &["1.png", "2.png"], false),
    ];
    for &(name, files, labelled) in cases {
        let dir = temp_dir(name);
        for (i, rel) in files.iter().enumerate() {
            grey(&dir, rel, (3, 3), i);
        }
        let f = load(&dir, FolderOptions::default()).unwrap();
        assert_eq!(f.dataset.labels.is_some(), labelled, "{name}");
        assert_eq!(f.classes.is_some(), labelled, "{name}");
        if !labelled {
            let msg = data::load_labelled(&dir, Protocol::All)
                .unwrap_err()
                .to_string();
            assert!(msg.contains("not sorted into class subfolders"), "{msg}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn the_default_size_is_the_most_common_one() {
    // Three 8x6, two 10x10, one 4x4 (width x height): 8x6 wins.
    let dir = temp_dir("common");
    let sizes = [(10, 10), (8, 6), (4, 4), (8, 6), (10, 10), (8, 6)];
    for (i, &s) in sizes.iter().enumerate() {
        grey(&dir, &format!("{i}.png"), s, i);
    }
    let f = load(&dir, FolderOptions::default()).unwrap();
    assert_eq!((f.dataset.width, f.dataset.height), (8, 6));
    assert_eq!(f.dataset.images.shape(), (6, 48));
    // The images already 8x6 are their own bytes.
    let row: Vec<f32> = pattern(8, 6, 1, 1).iter().map(|&v| unit(v)).collect();
    assert_eq!(f.dataset.images.row(1), row.as_slice());
    // A tie (two 8x6, two 3x3) goes to the smaller area.
    fs::remove_file(dir.join("5.png")).unwrap();
    fs::remove_file(dir.join("0.png")).unwrap();
    grey(&dir, "6.png", (3, 3), 6);
    grey(&dir, "7.png", (3, 3), 7);
    let f = load(&dir, FolderOptions::default()).unwrap();
    assert_eq!((f.dataset.width, f.dataset.height), (3, 3));
    // An explicit size overrides it, and a zero size is an option error.
    let f = load(&dir, sized(7, 5)).unwrap();
    assert_eq!((f.dataset.width, f.dataset.height), (7, 5));
    assert_eq!(f.dataset.images.shape(), (6, 35));
    let msg = load(&dir, sized(0, 5)).unwrap_err().to_string();
    assert!(msg.starts_with("--image-size: 0x5"), "{msg}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn grey_and_rgb_values_of_every_colour_type() {
    // One 3x2 image per colour type, of the same six colours; loaded at their own size.
    let rgb: [[u8; 3]; 6] = [
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
        [10, 200, 30],
        [0, 0, 0],
        [255, 255, 255],
    ];
    let greys: [u8; 6] = [0, 51, 102, 153, 204, 255];
    let dir = temp_dir("colour");
    let (w, h) = (3, 2);
    use png::{BitDepth::*, ColorType::*};
    let flat_rgb: Vec<u8> = rgb.iter().flatten().copied().collect();
    let rgba: Vec<u8> = rgb.iter().flat_map(|p| [p[0], p[1], p[2], 77]).collect();
    let rgb16: Vec<u8> = flat_rgb.iter().flat_map(|&v| [v, 0x5a]).collect();
    let ga: Vec<u8> = greys.iter().flat_map(|&g| [g, 9]).collect();
    let palette: Vec<u8> = flat_rgb.clone();
    write_png_raw(&dir.join("a-rgb.png"), (w, h), Rgb, Eight, &flat_rgb, None);
    write_png_raw(&dir.join("b-rgba.png"), (w, h), Rgba, Eight, &rgba, None);
    write_png_raw(&dir.join("c-rgb16.png"), (w, h), Rgb, Sixteen, &rgb16, None);
    write_png_raw(
        &dir.join("d-palette.png"),
        (w, h),
        Indexed,
        Eight,
        &[0, 1, 2, 3, 4, 5],
        Some(&palette),
    );
    write_png_raw(
        &dir.join("e-grey.png"),
        (w, h),
        Grayscale,
        Eight,
        &greys,
        None,
    );
    write_png_raw(
        &dir.join("f-ga.png"),
        (w, h),
        GrayscaleAlpha,
        Eight,
        &ga,
        None,
    );

    let g = load(&dir, FolderOptions::default()).unwrap();
    let c = load(
        &dir,
        FolderOptions {
            colour: Colour::Rgb,
            ..FolderOptions::default()
        },
    )
    .unwrap();
    assert_eq!((g.channels, c.channels), (1, 3));
    assert_eq!(g.dataset.images.shape(), (6, 6));
    assert_eq!(c.dataset.images.shape(), (6, 18));
    let colour_rgb: Vec<f32> = flat_rgb.iter().map(|&v| unit(v)).collect();
    let colour_grey: Vec<f32> = rgb.iter().map(|p| unit(luma(p[0], p[1], p[2]))).collect();
    assert_eq!(colour_grey[0], 76.0 / 255.0); // luma of pure red
    let grey_grey: Vec<f32> = greys.iter().map(|&v| unit(v)).collect();
    let grey_rgb: Vec<f32> = greys.iter().flat_map(|&v| [unit(v); 3]).collect();
    for i in 0..4 {
        // RGB, RGBA (alpha ignored), 16-bit (high byte), palette: the same colours.
        assert_eq!(c.dataset.images.row(i), colour_rgb.as_slice(), "{i}");
        assert_eq!(g.dataset.images.row(i), colour_grey.as_slice(), "{i}");
    }
    for i in 4..6 {
        // Grey and grey + alpha: grey as is, repeated in RGB.
        assert_eq!(g.dataset.images.row(i), grey_grey.as_slice(), "{i}");
        assert_eq!(c.dataset.images.row(i), grey_rgb.as_slice(), "{i}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_56x56_image_of_2x2_blocks_becomes_its_block_means_at_28x28() {
    // Block (bx, by) holds base + {0, 1, 2, 3}: its mean is base + 1.5. In RGB each channel
    // has its own base.
    let dir = temp_dir("blocks");
    let base = |bx: usize, by: usize, c: usize| ((bx * 7 + by * 3 + c * 50) % 250) as u8;
    let mut pixels = vec![0u8; 56 * 56 * 3];
    for y in 0..56 {
        for x in 0..56 {
            for c in 0..3 {
                pixels[(y * 56 + x) * 3 + c] = base(x / 2, y / 2, c) + (x % 2 + 2 * (y % 2)) as u8;
            }
        }
    }
    write_png(&dir.join("blocks.png"), (56, 56), 3, &pixels);
    let f = load(
        &dir,
        FolderOptions {
            size: Some((28, 28)),
            colour: Colour::Rgb,
            skip_unreadable: false,
        },
    )
    .unwrap();
    let row = f.dataset.images.row(0); // (28, 28, 3)
    for by in 0..28 {
        for bx in 0..28 {
            for c in 0..3 {
                let want = (base(bx, by, c) as f32 + 1.5) / 255.0;
                let got = row[(by * 28 + bx) * 3 + c];
                assert!((got - want).abs() < 1e-6, "({bx}, {by}, {c}): {got} {want}");
            }
        }
    }
    // A non-square source is resized on its shorter side and centre-cropped: the same
    // blocks with 8 extra columns on each side give the same 28x28.
    let mut wide = vec![0u8; 56 * 72 * 3];
    for y in 0..56 {
        wide[(y * 72 + 8) * 3..(y * 72 + 64) * 3]
            .copy_from_slice(&pixels[y * 56 * 3..(y + 1) * 56 * 3]);
    }
    write_png(&dir.join("wide.png"), (72, 56), 3, &wide);
    let f = load(
        &dir,
        FolderOptions {
            size: Some((28, 28)),
            colour: Colour::Rgb,
            skip_unreadable: false,
        },
    )
    .unwrap();
    assert_eq!(f.dataset.images.row(0), f.dataset.images.row(1));
    fs::remove_dir_all(&dir).unwrap();
}

/// A folder of good images with broken ones among them: returns the folder and the broken
/// files' names, in path order.
fn broken_folder(name: &str) -> (PathBuf, Vec<&'static str>) {
    let dir = temp_dir(name);
    for i in 0..6 {
        grey(&dir, &format!("good{i}.png"), (6, 4), i);
    }
    // The header is fine, the pixel data cut off: found by decoding, not by the header.
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, 6, 4);
        encoder.set_color(png::ColorType::Grayscale);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&pattern(6, 4, 1, 9)).unwrap();
    }
    fs::write(dir.join("cut.png"), &bytes[..bytes.len() - 20]).unwrap();
    fs::write(dir.join("empty.png"), b"").unwrap();
    fs::write(dir.join("photo.JPG"), b"\xff\xd8\xff\xe0\x00\x10JFIF\x00").unwrap();
    fs::write(dir.join("text.png"), b"hello, not a PNG").unwrap();
    (dir, vec!["cut.png", "empty.png", "photo.JPG", "text.png"])
}

#[test]
fn an_unreadable_image_stops_the_load_or_is_skipped() {
    let (dir, broken) = broken_folder("broken");
    for options in [FolderOptions::default(), sized(6, 4)] {
        // Stop: one line naming the first broken file in path order, `cut.png` (with the
        // default size, its header reads fine and `empty.png` is the first the header
        // pass refuses).
        let msg = load(&dir, options).unwrap_err().to_string();
        let first = if options.size.is_some() {
            "cut.png"
        } else {
            "empty.png"
        };
        assert!(
            msg.starts_with(&dir.join(first).display().to_string()),
            "{msg}"
        );
        assert!(!msg.contains('\n'));

        // Skip: the broken ones listed, in path order, and the rest loaded as if alone.
        let skip = FolderOptions {
            skip_unreadable: true,
            ..options
        };
        let f = load(&dir, skip).unwrap();
        let names: Vec<String> = f
            .skipped
            .iter()
            .map(|s| s.path.display().to_string())
            .collect();
        assert_eq!(names, broken);
        assert!(f.skipped[2].problem.contains("JPEG"), "{:?}", f.skipped[2]);
        assert!(f.skipped[3].problem.contains("not a PNG or JPEG"));
        assert_eq!(
            f.skipped_summary().unwrap(),
            "skipped 4 unreadable images: cut.png, empty.png, photo.JPG, text.png"
        );
        assert_eq!(f.dataset.len(), 6);
        let good = temp_dir("broken-good");
        for i in 0..6 {
            grey(&good, &format!("good{i}.png"), (6, 4), i);
        }
        let alone = load(&good, options).unwrap();
        assert_eq!(alone.dataset.images, f.dataset.images);
        assert_eq!(alone.dataset.filenames, f.dataset.filenames);
        assert_eq!(alone.skipped_summary(), None);
        fs::remove_dir_all(&good).unwrap();
    }
    // Only broken images: an error, even when skipping.
    let only = temp_dir("only-broken");
    fs::write(only.join("a.png"), b"junk").unwrap();
    let msg = load(
        &only,
        FolderOptions {
            skip_unreadable: true,
            ..FolderOptions::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(msg.contains("none of the 1 images could be read"), "{msg}");
    fs::remove_dir_all(&only).unwrap();
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn summary_lists_the_first_five_names() {
    let dir = temp_dir("summary");
    for i in 0..8 {
        fs::write(dir.join(format!("bad{i}.png")), b"junk").unwrap();
    }
    grey(&dir, "ok.png", (2, 2), 0);
    let f = load(
        &dir,
        FolderOptions {
            skip_unreadable: true,
            ..FolderOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        f.skipped_summary().unwrap(),
        "skipped 8 unreadable images: bad0.png, bad1.png, bad2.png, bad3.png, bad4.png, \
         ... (3 more)"
    );
    assert!(f.check_clusters(1).is_ok());
    let msg = f.check_clusters(2).unwrap_err().to_string();
    assert!(
        msg.ends_with("1 images are fewer than the 2 clusters asked for"),
        "{msg}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_empty_folder_is_a_one_line_error() {
    let dir = temp_dir("empty");
    fs::write(dir.join("readme.txt"), "no images here").unwrap();
    fs::create_dir_all(dir.join("sub")).unwrap();
    let msg = load(&dir, FolderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("no images found") && msg.contains("*.png, *.jpg, *.jpeg"),
        "{msg}"
    );
    let msg = data::detect_layout(&dir).unwrap_err().to_string();
    assert!(
        msg.contains("no data found") && msg.contains("*.png"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hidden_files_and_folders_are_ignored() {
    // macOS's `._x.png` resource forks and `.thumbnails/` are not images of the set.
    let dir = temp_dir("hidden");
    grey(&dir, "a/1.png", (3, 3), 0);
    grey(&dir, "b/1.png", (3, 3), 1);
    fs::write(dir.join("a/._1.png"), b"\x00\x05\x16\x07 resource fork").unwrap();
    fs::write(dir.join(".DS_Store"), b"junk").unwrap();
    grey(&dir, ".thumbnails/big.png", (9, 9), 2);
    grey(&dir, "b/.hidden.png", (9, 9), 3);
    let f = load(&dir, FolderOptions::default()).unwrap();
    assert_eq!(f.dataset.filenames, ["a/1.png", "b/1.png"]);
    assert_eq!(f.classes.as_deref().unwrap(), ["a", "b"]); // not ".thumbnails"
    fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn symbolic_links_to_folders_are_not_followed_links_to_files_are() {
    use std::os::unix::fs::symlink;
    let dir = temp_dir("links");
    grey(&dir, "x/1.png", (3, 3), 0);
    grey(&dir, "y/1.png", (3, 3), 1);
    symlink(dir.join("x"), dir.join("x/loop")).unwrap(); // x/loop -> x: a cycle
    symlink(&dir, dir.join("y/up.png")).unwrap(); // a folder named like an image
    symlink(dir.join("x/1.png"), dir.join("y/2.png")).unwrap(); // a file: followed
    symlink(dir.join("missing.png"), dir.join("y/3.png")).unwrap(); // dangling
    let msg = load(&dir, FolderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with(&dir.join("y/3.png").display().to_string()),
        "{msg}"
    );
    fs::remove_file(dir.join("y/3.png")).unwrap();
    let f = load(&dir, FolderOptions::default()).unwrap();
    assert_eq!(f.dataset.filenames, ["x/1.png", "y/1.png", "y/2.png"]);
    assert_eq!(f.dataset.images.row(0), f.dataset.images.row(2));
    fs::remove_dir_all(&dir).unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn a_fifo_named_like_an_image_is_an_error_not_a_hang() {
    let dir = temp_dir("fifo");
    grey(&dir, "a.png", (3, 3), 0);
    let fifo = dir.join("b.png");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let msg = load(&dir, FolderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("b.png") && msg.contains("FIFO"), "{msg}");
    let f = load(
        &dir,
        FolderOptions {
            skip_unreadable: true,
            ..sized(3, 3)
        },
    )
    .unwrap();
    assert_eq!(f.dataset.filenames, ["a.png"]);
    assert!(f.skipped[0].problem.contains("FIFO"));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_train_csv_still_makes_it_the_articles_layout() {
    let dir = temp_dir("article-wins");
    grey(&dir, "train/0.png", (4, 4), 0);
    assert_eq!(data::detect_layout(&dir).unwrap(), Layout::Folder);
    fs::write(dir.join("train.csv"), "filename,label\n0.png,1\n").unwrap();
    assert_eq!(data::detect_layout(&dir).unwrap(), Layout::Article);
    let idx = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/idx");
    assert_eq!(data::detect_layout(&idx).unwrap(), Layout::Idx);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_result_is_bit_identical_on_1_2_and_3_threads() {
    // 240 images of 12 sizes and both colour types, 1 in 20 broken, resized to 13x11.
    let dir = temp_dir("threads");
    let sizes = [
        (13, 11),
        (5, 7),
        (40, 9),
        (9, 40),
        (26, 22),
        (64, 48),
        (3, 3),
        (100, 75),
        (14, 12),
        (1, 30),
        (30, 1),
        (27, 23),
    ];
    let mut broken = Vec::new();
    for i in 0..240 {
        let (w, h) = sizes[i % sizes.len()];
        let rel = format!("{}/{i:03}.png", ["a", "b", "c"][i % 3]);
        if i % 20 == 7 {
            fs::create_dir_all(dir.join(&rel).parent().unwrap()).unwrap();
            fs::write(dir.join(&rel), b"broken").unwrap();
            broken.push(PathBuf::from(rel));
            continue;
        }
        let c = if i % 2 == 0 { 1 } else { 3 };
        write_png(&dir.join(rel), (w, h), c, &pattern(w, h, c, i));
    }
    let options = FolderOptions {
        size: Some((13, 11)),
        colour: Colour::Rgb,
        skip_unreadable: true,
    };
    let run = |threads: usize, options: FolderOptions| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| load(&dir, options).unwrap())
    };
    let one = run(1, options);
    broken.sort();
    let skipped: Vec<PathBuf> = one.skipped.iter().map(|s| s.path.clone()).collect();
    assert_eq!(skipped, broken);
    assert_eq!(broken.len(), 12);
    assert_eq!(one.dataset.len(), 228);
    let bits = |f: &data::Folder| -> Vec<u32> {
        f.dataset
            .images
            .as_slice()
            .iter()
            .map(|x| x.to_bits())
            .collect()
    };
    for threads in [2, 3] {
        let other = run(threads, options);
        assert_eq!(bits(&one), bits(&other), "{threads} threads");
        assert_eq!(one, other);
    }
    // The default size (the header pass) too: 20 images each of 12 sizes, less the
    // broken ones, a tie broken by area: 3x3.
    let default = FolderOptions {
        size: None,
        ..options
    };
    let one = run(1, default);
    assert_eq!((one.dataset.width, one.dataset.height), (3, 3));
    for threads in [2, 3] {
        assert_eq!(one, run(threads, default), "{threads} threads");
    }
    // Stop at the first broken file, whatever the thread count.
    let stop = FolderOptions {
        skip_unreadable: false,
        ..options
    };
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let msg = pool.install(|| load(&dir, stop).unwrap_err().to_string());
        let first = dir.join(&broken[0]).display().to_string();
        assert!(msg.starts_with(&first), "{msg}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

/// The peak resident memory of this process (VmHWM) and its current (VmRSS), in bytes.
fn memory() -> Option<(u64, u64)> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

const MEMORY_DIR: &str = "DEEPCLUSTER_FOLDER_MEMORY_DIR";
const BIG: (usize, usize) = (4000, 3000);
const BIG_COUNT: usize = 6;
const THREADS: usize = 2;

/// The child of `memory_is_the_matrix_plus_a_fixed_amount_per_thread`: run alone in its
/// own process, so that its peak memory is its own.
#[test]
#[ignore = "run by memory_is_the_matrix_plus_a_fixed_amount_per_thread"]
fn memory_child() {
    let Some(dir) = std::env::var_os(MEMORY_DIR) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .build()
        .unwrap();
    let (_, base) = memory().unwrap();
    let file = (0..BIG_COUNT)
        .map(|i| fs::metadata(dir.join(format!("{i}.png"))).unwrap().len())
        .max()
        .unwrap();
    let pixels = (BIG.0 * BIG.1) as u64;
    // Per thread: the file, and 4 bytes per source pixel (the decoder's output, converted
    // in place), plus 8 MB for the decoder's rows, the resizer and the allocator.
    let per_thread = file + 4 * pixels + (8 << 20);

    // 1. Shrunk to 28x28 in RGB: the matrix is nothing, the cost is per thread only.
    let small = pool
        .install(|| {
            data::load_folder(
                &dir,
                &FolderOptions {
                    size: Some((28, 28)),
                    colour: Colour::Rgb,
                    skip_unreadable: false,
                },
            )
        })
        .unwrap();
    assert_eq!(small.dataset.images.shape(), (BIG_COUNT, 28 * 28 * 3));
    let (peak_small, _) = memory().unwrap();
    let bound_small = base + THREADS as u64 * per_thread;
    println!(
        "MEMORY small: peak {} MiB above the start, bound {} MiB",
        (peak_small - base) >> 20,
        (bound_small - base) >> 20
    );
    assert!(peak_small <= bound_small, "{peak_small} > {bound_small}");
    drop(small);

    // 2. At their own size, grey: the matrix is (6, 12,000,000) f32, 288 MB.
    let big = pool
        .install(|| data::load_folder(&dir, &FolderOptions::default()))
        .unwrap();
    let matrix = (big.dataset.images.as_slice().len() * 4) as u64;
    assert_eq!(matrix, BIG_COUNT as u64 * pixels * 4);
    let (peak, _) = memory().unwrap();
    let bound = base + matrix * 6 / 5 + THREADS as u64 * per_thread;
    println!(
        "MEMORY big: peak {} MiB above the start for a {} MiB matrix, bound {} MiB",
        (peak - base) >> 20,
        matrix >> 20,
        (bound - base) >> 20
    );
    assert!(peak <= bound, "{peak} > {bound}");
}

#[test]
fn memory_is_the_matrix_plus_a_fixed_amount_per_thread() {
    if memory().is_none() {
        eprintln!("SKIPPED the memory check: no /proc/self/status");
        return;
    }
    let dir = temp_dir("memory");
    let (w, h) = BIG;
    for i in 0..BIG_COUNT {
        // Grey gradients with noise, stored at the fastest compression.
        let pixels: Vec<u8> = (0..w * h)
            .map(|p| {
                ((p % w / 16 + p / w / 12 + i * 40) as u32
                    ^ ((p as u32).wrapping_mul(2654435761) >> 29)) as u8
            })
            .collect();
        write_png(&dir.join(format!("{i}.png")), BIG, 1, &pixels);
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "memory_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(MEMORY_DIR, &dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stdout.lines().filter(|l| l.contains("MEMORY")) {
        eprintln!("{line}");
    }
    assert!(
        out.status.success() && stdout.contains("MEMORY big"),
        "{stdout}\n{stderr}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn find_images_and_the_extension_rule_are_public() {
    let dir = temp_dir("find");
    grey(&dir, "z/a.jpeg", (2, 2), 0); // named .jpeg, a PNG inside: the magic decides
    grey(&dir, "q.Png", (2, 2), 1);
    fs::write(dir.join("q.gif"), b"GIF89a").unwrap();
    let found = folder::find_images(&dir).unwrap();
    assert_eq!(found, [PathBuf::from("q.Png"), PathBuf::from("z/a.jpeg")]);
    let f = load(&dir, FolderOptions::default()).unwrap();
    assert_eq!(f.dataset.len(), 2);
    fs::remove_dir_all(&dir).unwrap();
}

/// JPEG photos load like PNGs, decoded in the DCT domain at the smallest scale that covers
/// the target: a 64x48 photo bound for 8x6 is decoded from its DC coefficients alone, and
/// equals libjpeg's own 1/8 decode (`fixtures/jpeg/*.RGB.8.png`) within the decoder's +-2.
#[test]
fn jpeg_photos_are_decoded_at_the_scale_the_target_allows() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/jpeg");
    for (denominator, colour, suffix) in [
        (8, Colour::Rgb, "RGB"),
        (4, Colour::Rgb, "RGB"),
        (2, Colour::Grey, "L"),
        (1, Colour::Grey, "L"),
    ] {
        let dir = temp_dir(&format!("jpeg-{denominator}-{suffix}"));
        fs::copy(fixtures.join("restart_blocks.jpg"), dir.join("photo.jpg")).unwrap();
        let size = (64 / denominator, 48 / denominator);
        let options = FolderOptions {
            size: Some(size),
            colour,
            skip_unreadable: false,
        };
        let f = load(&dir, options).unwrap();
        let row = f.dataset.images.row(0);
        let reference = fixtures.join(format!("restart_blocks.{suffix}.{denominator}.png"));
        let bytes = fs::read(&reference).unwrap();
        let mut pixels = Vec::new();
        let (h, w) = deepcluster::data::png_grey::decode_channels(
            &reference,
            &bytes,
            colour.channels(),
            &mut pixels,
        )
        .unwrap();
        assert_eq!((w, h), size);
        assert_eq!(row.len(), pixels.len());
        for (i, (&got, &want)) in row.iter().zip(&pixels).enumerate() {
            let got = (got * 255.0).round() as i32;
            assert!(
                (got - want as i32).abs() <= 2,
                "1/{denominator} {suffix}: value {i} is {got}, libjpeg {want}"
            );
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
