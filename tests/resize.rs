//! Resize + centre crop: the geometry (torchvision's), the filters' properties (constants
//! stay constant, integer shrinking gives block means, area averaging keeps the mean),
//! a naive 2-D reference, odd sizes, and OpenCV / Pillow's outputs (fixtures/resize/).

use deepcluster::data::resize::{Geometry, Image, Resizer, resize_into};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

fn random_image(w: usize, h: usize, c: usize, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..w * h * c).map(|_| rng.random()).collect()
}

fn resize(src: &[u8], (sw, sh): (usize, usize), c: usize, (dw, dh): (usize, usize)) -> Vec<f32> {
    let mut dst = vec![f32::NAN; dw * dh * c];
    let image = Image {
        pixels: src,
        width: sw,
        height: sh,
        channels: c,
    };
    Resizer::new().resize_into(image, &mut dst, dw, dh);
    dst
}

/// Output index q's (source index, weight) pairs on an axis resized from `src` to
/// `resized` pixels, written from the definitions without the crate's window logic:
/// area coverage when shrinking, the bilinear hat when growing, edges repeated.
fn naive_axis(src: usize, resized: usize, q: usize) -> Vec<(usize, f64)> {
    let s = src as f64 / resized as f64;
    if s > 1.0 {
        let (lo, hi) = (q as f64 * s, (q + 1) as f64 * s);
        (0..src)
            .map(|p| (p, (hi.min(p as f64 + 1.0) - lo.max(p as f64)).max(0.0) / s))
            .filter(|&(_, w)| w > 0.0)
            .collect()
    } else {
        let c = ((q as f64 + 0.5) * s - 0.5).clamp(0.0, (src - 1) as f64);
        (0..src)
            .map(|p| (p, (1.0 - (c - p as f64).abs()).max(0.0)))
            .filter(|&(_, w)| w > 0.0)
            .collect()
    }
}

/// The whole resize + crop by a double sum over each output pixel's 2-D window, in f64.
fn naive(src: &[u8], (sw, sh): (usize, usize), c: usize, (dw, dh): (usize, usize)) -> Vec<f64> {
    let g = Geometry::new(sw, sh, dw, dh);
    let mut out = vec![0.0; dw * dh * c];
    for v in 0..dh {
        let wy = naive_axis(sh, g.resized_h, v + g.top);
        for u in 0..dw {
            let wx = naive_axis(sw, g.resized_w, u + g.left);
            for ch in 0..c {
                let mut acc = 0.0;
                for &(y, a) in &wy {
                    for &(x, b) in &wx {
                        acc += a * b * src[(y * sw + x) * c + ch] as f64;
                    }
                }
                out[(v * dw + u) * c + ch] = acc / 255.0;
            }
        }
    }
    out
}

fn assert_close(what: &str, got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((g as f64 - w).abs() <= tol, "{what}[{i}]: {g} vs {w}");
    }
}

/// torchvision's Resize(size) + CenterCrop(size), hand-computed from its formulas: the
/// shorter side becomes the target, the longer int(size * long / short); the crop starts
/// at int(round((resized - size) / 2)), Python rounding half to even.
#[test]
fn geometry_is_torchvisions() {
    let g = |sw, sh, dw, dh| {
        let g = Geometry::new(sw, sh, dw, dh);
        (g.resized_w, g.resized_h, g.left, g.top)
    };
    assert_eq!(g(28, 28, 28, 28), (28, 28, 0, 0));
    assert_eq!(g(17, 9, 28, 28), (52, 28, 12, 0)); // int(28 * 17 / 9) = 52
    assert_eq!(g(4000, 3000, 28, 28), (37, 28, 4, 0)); // round(4.5) = 4
    assert_eq!(g(3000, 4000, 28, 28), (28, 37, 0, 4));
    assert_eq!(g(30, 28, 28, 28), (30, 28, 1, 0));
    assert_eq!(g(31, 28, 28, 28), (31, 28, 2, 0)); // round(1.5) = 2
    assert_eq!(g(28, 33, 28, 28), (28, 33, 0, 2)); // round(2.5) = 2
    assert_eq!(g(1, 1, 28, 28), (28, 28, 0, 0));
    assert_eq!(g(1, 100, 28, 28), (28, 2800, 0, 1386));
    assert_eq!(g(100, 1, 28, 28), (2800, 28, 1386, 0));
    // A non-square target: the image covers it, aspect ratio kept.
    assert_eq!(g(64, 48, 32, 16), (32, 24, 0, 4));
    assert_eq!(g(64, 16, 32, 16), (64, 16, 16, 0));
    assert_eq!(g(6, 4, 12, 8), (12, 8, 0, 0));
}

#[test]
fn a_constant_image_stays_constant() {
    for &(src, dst) in &[
        ((28, 28), (28, 28)),
        ((56, 56), (28, 28)),
        ((100, 37), (28, 28)),
        ((13, 9), (28, 28)),
        ((1, 1), (28, 28)),
        ((1, 50), (28, 28)),
        ((300, 2), (10, 7)),
        ((7, 5), (3, 11)),
    ] {
        for c in [1, 3] {
            for v in [0u8, 1, 128, 254, 255] {
                let img = vec![v; src.0 * src.1 * c];
                let out = resize(&img, src, c, dst);
                let want = v as f32 / 255.0;
                for (i, &o) in out.iter().enumerate() {
                    assert!(
                        (o - want).abs() <= 1e-6,
                        "{src:?}->{dst:?} c {c} v {v} [{i}] {o}"
                    );
                }
            }
        }
    }
}

/// An image already at the target size comes out as the loader's `to_unit` bytes, bit
/// for bit (MNIST's 28 x 28 images are untouched).
#[test]
fn the_target_size_is_the_identity() {
    let img = random_image(28, 28, 1, 1);
    let out = resize(&img, (28, 28), 1, (28, 28));
    let want: Vec<f32> = img.iter().map(|&v| deepcluster::data::to_unit(v)).collect();
    assert_eq!(out, want);
    // Cropping without scaling (s = 1 on both axes) is the identity too.
    let img = random_image(40, 28, 3, 2);
    let out = resize(&img, (40, 28), 3, (28, 28));
    for y in 0..28 {
        for x in 0..28 {
            for c in 0..3 {
                let want = img[(y * 40 + x + 6) * 3 + c] as f32 / 255.0;
                assert_eq!(out[(y * 28 + x) * 3 + c], want, "({x}, {y})");
            }
        }
    }
}

/// The crop is the centre: a 28 x 60 image needs no scaling (its shorter side is 28), and
/// the crop keeps its rows 16..44, so a bright square at rows 28..32 lands at rows
/// 12..16 of the output, nothing else bright.
#[test]
fn the_crop_picks_the_centre() {
    let (w, h) = (28, 60);
    let mut img = vec![0u8; w * h];
    // Rows 28..32 of the 60 are the centre four (the crop keeps rows 16..44).
    for y in 28..32 {
        for x in 12..16 {
            img[y * w + x] = 255;
        }
    }
    let g = Geometry::new(w, h, 28, 28);
    assert_eq!((g.resized_w, g.resized_h, g.left, g.top), (28, 60, 0, 16));
    let out = resize(&img, (w, h), 1, (28, 28));
    for y in 0..28 {
        for x in 0..28 {
            let inside = (12..16).contains(&y) && (12..16).contains(&x);
            assert_eq!(
                out[y * 28 + x],
                if inside { 1.0 } else { 0.0 },
                "({x}, {y})"
            );
        }
    }
}

/// Shrinking by an integer factor averages f x f blocks (to float rounding).
#[test]
fn integer_shrinking_gives_block_means() {
    for &(f, dw, dh, c) in &[(2, 6, 4, 1), (3, 5, 5, 3), (4, 7, 3, 1), (10, 28, 28, 1)] {
        let (sw, sh) = (dw * f, dh * f);
        let img = random_image(sw, sh, c, f as u64);
        let out = resize(&img, (sw, sh), c, (dw, dh));
        for v in 0..dh {
            for u in 0..dw {
                for ch in 0..c {
                    let mut sum = 0u32;
                    for y in v * f..(v + 1) * f {
                        for x in u * f..(u + 1) * f {
                            sum += img[(y * sw + x) * c + ch] as u32;
                        }
                    }
                    let want = sum as f64 / (f * f) as f64 / 255.0;
                    let got = out[(v * dw + u) * c + ch] as f64;
                    assert!(
                        (got - want).abs() < 1e-6,
                        "f {f} ({u}, {v}, {ch}): {got} vs {want}"
                    );
                }
            }
        }
    }
}

/// Area averaging keeps the mean brightness when nothing is cropped, whatever the factor:
/// each source pixel's weights add up to 1 / s per axis.
#[test]
fn area_shrinking_keeps_the_mean() {
    for &(src, dst, c) in &[
        ((15, 10), (6, 4), 1),
        ((100, 100), (28, 28), 1),
        ((97, 97), (28, 28), 3),
        ((70, 35), (6, 3), 3),
    ] {
        let img = random_image(src.0, src.1, c, 3);
        let out = resize(&img, src, c, dst);
        let mean_in = img.iter().map(|&v| v as f64).sum::<f64>() / img.len() as f64 / 255.0;
        let mean_out = out.iter().map(|&v| v as f64).sum::<f64>() / out.len() as f64;
        assert!(
            (mean_in - mean_out).abs() < 1e-6,
            "{src:?}: {mean_in} vs {mean_out}"
        );
    }
}

/// The separable passes equal the naive 2-D double sum, for growing (bilinear), shrinking
/// (area), mixed axes, and crops on either axis.
#[test]
fn separable_equals_the_naive_2d_reference() {
    for &(src, dst, c) in &[
        ((5, 3), (12, 12), 1),
        ((4, 7), (9, 9), 3),
        ((17, 9), (28, 28), 1),
        ((50, 3), (28, 28), 3),
        ((3, 50), (28, 28), 1),
        ((61, 45), (28, 28), 3),
        ((29, 28), (28, 28), 1),
        ((200, 90), (16, 12), 1),
    ] {
        let img = random_image(src.0, src.1, c, 4);
        let out = resize(&img, src, c, dst);
        assert_close(&format!("{src:?}"), &out, &naive(&img, src, c, dst), 2e-6);
    }
}

/// Degenerate and huge sources: 1 x 1, 1 x N, N x 1, and a 4000 x 3000 RGB photo (in well
/// under a second, checked against the naive reference).
#[test]
fn odd_sizes() {
    let one = resize(&[200], (1, 1), 1, (28, 28));
    assert!(one.iter().all(|&v| v == 200.0 / 255.0));
    for (src, c) in [((1, 37), 1), ((37, 1), 3), ((1, 2), 1), ((2, 1), 3)] {
        let img = random_image(src.0, src.1, c, 5);
        let out = resize(&img, src, c, (28, 28));
        assert_close(
            &format!("{src:?}"),
            &out,
            &naive(&img, src, c, (28, 28)),
            2e-6,
        );
    }
    let (w, h) = (4000, 3000);
    let img: Vec<u8> = (0..w * h * 3)
        .map(|i| ((i / 3 % w) * 7 + (i / 3 / w) * 13 + i % 3 * 50) as u8)
        .collect();
    let start = Instant::now();
    let out = resize(&img, (w, h), 3, (28, 28));
    let seconds = start.elapsed().as_secs_f64();
    assert!(seconds < 1.0, "4000 x 3000 -> 28 x 28 took {seconds} s");
    assert_close("4000x3000", &out, &naive(&img, (w, h), 3, (28, 28)), 1e-5);
}

/// One resizer used for several sizes in turn gives what fresh ones give, and the
/// thread-local `resize_into` is the same.
#[test]
fn a_resizer_can_be_reused() {
    let sizes = [
        ((50, 30), 1),
        ((7, 7), 3),
        ((50, 30), 1),
        ((28, 28), 1),
        ((9, 40), 3),
    ];
    let mut resizer = Resizer::new();
    for (i, &(src, c)) in sizes.iter().enumerate() {
        let img = random_image(src.0, src.1, c, i as u64);
        let fresh = resize(&img, src, c, (28, 28));
        let mut reused = vec![f32::NAN; 28 * 28 * c];
        let image = Image {
            pixels: &img,
            width: src.0,
            height: src.1,
            channels: c,
        };
        resizer.resize_into(image, &mut reused, 28, 28);
        assert_eq!(reused, fresh);
        let mut local = vec![f32::NAN; 28 * 28 * c];
        resize_into(&img, src.0, src.1, c, &mut local, 28, 28);
        assert_eq!(local, fresh);
    }
}

/// OpenCV 5.0.0 (INTER_AREA shrinking, INTER_LINEAR growing) and Pillow 13.0.0 (BOX for
/// integer shrinking, BILINEAR growing), on float32 images: within 1e-6.
#[test]
fn agrees_with_opencv_and_pillow() {
    let text = include_str!("../fixtures/resize/reference.txt");
    let mut lines = text.lines().filter(|l| !l.starts_with('#')).peekable();
    let mut cases = 0;
    let mut compared = 0;
    while let Some(header) = lines.next() {
        let words: Vec<&str> = header.split_whitespace().collect();
        assert_eq!(words[0], "case", "{header}");
        let n: Vec<usize> = words[2..].iter().map(|w| w.parse().unwrap()).collect();
        let (src, c, dst) = ((n[0], n[1]), n[2], (n[3], n[4]));
        let img: Vec<u8> = lines
            .next()
            .unwrap()
            .split_whitespace()
            .skip(1)
            .map(|w| w.parse().unwrap())
            .collect();
        let out = resize(&img, src, c, dst);
        while lines.peek().is_some_and(|l| !l.starts_with("case")) {
            let line = lines.next().unwrap();
            let mut words = line.split_whitespace();
            let library = words.next().unwrap();
            let want: Vec<f64> = words.map(|w| w.parse().unwrap()).collect();
            assert_close(
                &format!("{} vs {library}", words_name(header)),
                &out,
                &want,
                1e-6,
            );
            compared += 1;
        }
        cases += 1;
    }
    assert_eq!((cases, compared), (8, 13));
}

fn words_name(header: &str) -> &str {
    header.split_whitespace().nth(1).unwrap()
}
