//! Image-folder fixtures for the end-to-end tests, made by code instead of committed:
//! small (a few hundred bytes an image), deterministic (the same bytes every run), written
//! with the `png` crate's encoder (the crate's own dependency) into a fresh temporary
//! folder, plus three JPEGs copied from `fixtures/jpeg` (made by its documented script).
//!
//! - [`labelled`]: `bright/` and `dark/`, 10 images each, so a 2-cluster run has something
//!   to find; mixed sizes (most 8x8, some 12x10) and colour types (grey, RGB, palette, and
//!   `fixtures/jpeg/grey.jpg`, 33x20).
//! - [`flat`]: the same kinds of images with no subfolders (unlabelled), plus
//!   `fixtures/jpeg/mixed.jpg` (YCbCr, 35x21).
//! - [`broken`]: [`flat`] plus a truncated PNG, a progressive JPEG
//!   (`fixtures/jpeg/refused_progressive.jpg`) and a text file named `notes.png`.

#![allow(dead_code)] // each test file uses some of these

pub mod blobs;

use std::fs;
use std::path::{Path, PathBuf};

/// The crate's root folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh, empty folder under the system's temporary directory.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("deepcluster-fix-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The bytes of a PNG of `color` (8-bit) holding `data`, (h, w, channels) or palette
/// indices.
pub fn png_bytes(
    (w, h): (usize, usize),
    color: png::ColorType,
    data: &[u8],
    palette: Option<&[u8]>,
) -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, w as u32, h as u32);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        if let Some(p) = palette {
            encoder.set_palette(p.to_vec());
        }
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(data).unwrap();
        writer.finish().unwrap();
    }
    bytes
}

/// A textured image around brightness `level`: (h, w, c) bytes, varying with `seed`.
pub fn texture(w: usize, h: usize, c: usize, level: u8, seed: usize) -> Vec<u8> {
    (0..w * h * c)
        .map(|i| level.saturating_add(((i * 7 + seed * 13) % 40) as u8))
        .collect()
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// Ten images of one brightness into `dir`: 6 grey 8x8, 2 RGB 12x10, 1 palette 8x8 (a
/// palette of two colours at that brightness), and `jpeg` copied if given.
fn images(dir: &Path, prefix: &str, level: u8, jpeg: Option<&str>) {
    for i in 0..6 {
        let data = texture(8, 8, 1, level, i);
        write(
            &dir.join(format!("{prefix}{i}.png")),
            &png_bytes((8, 8), png::ColorType::Grayscale, &data, None),
        );
    }
    for i in 6..8 {
        let data = texture(12, 10, 3, level, i);
        write(
            &dir.join(format!("{prefix}{i}.png")),
            &png_bytes((12, 10), png::ColorType::Rgb, &data, None),
        );
    }
    let palette = [level, level, level, level + 30, level + 20, level + 10];
    let indices: Vec<u8> = (0..64).map(|i| (i % 3 == 0) as u8).collect();
    write(
        &dir.join(format!("{prefix}8.png")),
        &png_bytes((8, 8), png::ColorType::Indexed, &indices, Some(&palette)),
    );
    match jpeg {
        Some(name) => {
            let bytes = fs::read(root().join("fixtures/jpeg").join(name)).unwrap();
            write(&dir.join(format!("{prefix}9.jpg")), &bytes);
        }
        None => {
            let data = texture(8, 8, 1, level, 9);
            write(
                &dir.join(format!("{prefix}9.png")),
                &png_bytes((8, 8), png::ColorType::Grayscale, &data, None),
            );
        }
    }
}

/// `bright/` (level 190) and `dark/` (level 20): the labelled folder.
pub fn labelled(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    images(&dir.join("bright"), "b", 190, Some("grey.jpg"));
    images(&dir.join("dark"), "d", 20, None);
    dir
}

/// Twenty images, bright and dark, no subfolders: the unlabelled folder.
pub fn flat(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    images(&dir, "b", 190, Some("mixed.jpg"));
    images(&dir, "d", 20, None);
    dir
}

/// The names [`broken`] adds to [`flat`], in path order.
pub const BROKEN: [&str; 3] = ["cut.png", "notes.png", "progressive.jpg"];

/// [`flat`] with a truncated PNG, a text file named `.png` and a progressive JPEG.
pub fn broken(name: &str) -> PathBuf {
    let dir = flat(name);
    let good = png_bytes(
        (8, 8),
        png::ColorType::Grayscale,
        &texture(8, 8, 1, 100, 0),
        None,
    );
    write(&dir.join("cut.png"), &good[..good.len() - 20]);
    write(&dir.join("notes.png"), b"shopping list: milk, eggs\n");
    let progressive = fs::read(root().join("fixtures/jpeg/refused_progressive.jpg")).unwrap();
    write(&dir.join("progressive.jpg"), &progressive);
    dir
}
