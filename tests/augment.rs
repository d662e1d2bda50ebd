//! DEC-DA's augmentation (src/data/augment.rs): the transform against exact geometric
//! cases and SciPy's output of Keras's matrix, the random draws, and determinism over
//! thread counts.
//!
//!     cargo test --release --test augment

use deepcluster::data::augment::{
    Affine, AugmentParams, Augmenter, Centre, ImageShape, Transform, transform_image,
};
use deepcluster::linalg::Matrix;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// An (h, w, c) image of distinct, irregular values k / 255, so that a swapped axis or an
/// off-by-one shows.
fn pattern(shape: ImageShape) -> Vec<f32> {
    (0..shape.len())
        .map(|k| ((k * 37 + 11) % 256) as f32 / 255.0)
        .collect()
}

fn transformed(src: &[f32], shape: ImageShape, t: Transform, centre: Centre) -> Vec<f32> {
    // NaN, so that a pixel the transform forgets to write shows.
    let mut dst = vec![f32::NAN; shape.len()];
    transform_image(src, &mut dst, shape, &t, centre);
    dst
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(
            0.0,
            |m, d| if d.is_nan() { f32::INFINITY } else { m.max(d) },
        )
}

const SHAPES: [ImageShape; 4] = [
    ImageShape {
        height: 28,
        width: 28,
        channels: 1,
    },
    ImageShape {
        height: 7,
        width: 5,
        channels: 1,
    },
    ImageShape {
        height: 6,
        width: 8,
        channels: 3,
    },
    ImageShape {
        height: 1,
        width: 4,
        channels: 2,
    },
];

#[test]
fn zero_shift_and_rotation_is_exactly_the_identity() {
    for shape in SHAPES {
        let src = pattern(shape);
        for centre in [Centre::Grid, Centre::Keras2018] {
            let out = transformed(&src, shape, Transform::IDENTITY, centre);
            assert_eq!(out, src, "{shape:?} {centre:?}");
        }
    }
}

#[test]
fn an_integer_shift_is_a_translation_with_the_edge_repeated() {
    for shape in SHAPES {
        let src = pattern(shape);
        let (h, w, c) = (shape.height as i64, shape.width as i64, shape.channels);
        for (tx, ty) in [(2i64, -3i64), (-1, 1), (0, 4), (-9, 0), (3, 3)] {
            let t = Transform {
                theta: 0.0,
                tx: tx as f64,
                ty: ty as f64,
            };
            for centre in [Centre::Grid, Centre::Keras2018] {
                let out = transformed(&src, shape, t, centre);
                for r in 0..h {
                    for col in 0..w {
                        // Keras: output (r, col) reads input (r + tx, col + ty).
                        let (sr, sc) = ((r + tx).clamp(0, h - 1), (col + ty).clamp(0, w - 1));
                        for ch in 0..c {
                            let o = ((r * w + col) as usize) * c + ch;
                            let s = ((sr * w + sc) as usize) * c + ch;
                            assert_eq!(out[o], src[s], "{shape:?} t=({tx}, {ty}) at ({r}, {col})");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn quarter_turns_of_a_square_image_are_index_rotations() {
    // Keras's R(theta) in (row, col): out[r][col] = in[n-1-col][r] for +90 degrees, which
    // is a clockwise turn as displayed (numpy's rot90(k=-1)); SciPy agrees (see the
    // fixture script).
    for n in [5usize, 28] {
        let shape = ImageShape::grey(n, n);
        let src = pattern(shape);
        // The input pixel that output (r, c) shows after a quarter turn by `theta`.
        let source = |theta: f64, r: usize, c: usize| match theta {
            90.0 => (n - 1 - c, r),
            -90.0 => (c, n - 1 - r),
            _ => (n - 1 - r, n - 1 - c), // 180
        };
        for theta in [90.0, -90.0, 180.0] {
            let t = Transform {
                theta,
                tx: 0.0,
                ty: 0.0,
            };
            let out = transformed(&src, shape, t, Centre::Grid);
            let want: Vec<f32> = (0..n * n)
                .map(|k| {
                    let (sr, sc) = source(theta, k / n, k % n);
                    src[sr * n + sc]
                })
                .collect();
            // cos(90 degrees) is 6e-17, not 0: a sample a hair off the pixel centre.
            assert!(max_abs_diff(&out, &want) < 1e-6, "n={n} theta={theta}");
        }
    }
}

#[test]
fn keras_matrix_hand_worked() {
    // 3x3 image, grid centre (1, 1), theta = 90: a = [[0, -1], [1, 0]];
    // b = c + a (t - c) with t = (2, 0): t - c = (1, -1), a (t - c) = (1, 1), b = (2, 2).
    let shape = ImageShape::grey(3, 3);
    let t = Transform {
        theta: 90.0,
        tx: 2.0,
        ty: 0.0,
    };
    let m = Affine::keras(&t, shape, Centre::Grid);
    let close = |x: f64, y: f64| (x - y).abs() < 1e-12;
    assert!(close(m.a[0][0], 0.0) && close(m.a[0][1], -1.0));
    assert!(close(m.a[1][0], 1.0) && close(m.a[1][1], 0.0));
    assert!(close(m.b[0], 2.0) && close(m.b[1], 2.0), "{m:?}");
    // The centre, shifted by t first, turns about itself: output (1, 1) - t = (-1, 1)
    // reads input c + R (o - c + t) = (1, 1) + R (2, 0) = (1, 3).
    let (r, c) = m.apply(1.0, 1.0);
    assert!(close(r, 1.0) && close(c, 3.0), "({r}, {c})");
    // Keras before 2020: centre (2, 2) for a 3x3 image.
    assert_eq!(Centre::Keras2018.point(3, 3), (2.0, 2.0));
    assert_eq!(Centre::Grid.point(28, 28), (13.5, 13.5));
}

/// One record of fixtures/augment/reference.txt.
struct Case {
    name: String,
    shape: ImageShape,
    centre: Centre,
    t: Transform,
    input: Vec<f32>,
    output: Vec<f64>,
}

fn reference_cases() -> Vec<Case> {
    let text = std::fs::read_to_string("fixtures/augment/reference.txt")
        .expect("fixtures/augment/reference.txt (made by make_reference.py)");
    let mut lines = text.lines();
    let mut cases = Vec::new();
    while let Some(head) = lines.next() {
        let f: Vec<&str> = head.split(' ').collect();
        assert_eq!(f[0], "case", "{head}");
        let num = |s: &str| -> f64 { s.parse().expect("a number") };
        let shape = ImageShape {
            height: f[2].parse().unwrap(),
            width: f[3].parse().unwrap(),
            channels: f[4].parse().unwrap(),
        };
        let centre = match f[5] {
            "grid" => Centre::Grid,
            "keras2018" => Centre::Keras2018,
            other => panic!("centre {other}"),
        };
        let t = Transform {
            theta: num(f[6]),
            tx: num(f[7]),
            ty: num(f[8]),
        };
        let values = |line: Option<&str>, tag: &str| -> Vec<f64> {
            let line = line.expect("a values line");
            let rest = line.strip_prefix(tag).expect(tag);
            rest.split_whitespace().map(num).collect()
        };
        let input: Vec<f32> = values(lines.next(), "input ")
            .into_iter()
            .map(|v| v as f32)
            .collect();
        let output = values(lines.next(), "output ");
        assert_eq!(input.len(), shape.len());
        assert_eq!(output.len(), shape.len());
        cases.push(Case {
            name: f[1].to_string(),
            shape,
            centre,
            t,
            input,
            output,
        });
    }
    cases
}

#[test]
fn matches_scipy_on_kerass_matrix() {
    // The transform computes coordinates and weights in f32; 1e-5 is 20x the f32 rounding
    // of a [0, 1] pixel (6e-8) times the few operations involved, and 300x below one grey
    // level (1/255), so a wrong half pixel, sign or axis fails by orders of magnitude.
    const TOL: f64 = 1e-5;
    let cases = reference_cases();
    assert_eq!(cases.len(), 30);
    let mut worst = 0.0f64;
    for case in &cases {
        let out = transformed(&case.input, case.shape, case.t, case.centre);
        let err = out
            .iter()
            .zip(&case.output)
            .map(|(&a, &b)| (a as f64 - b).abs())
            .fold(0.0, f64::max);
        assert!(
            err <= TOL,
            "{} {:?} {:?}: max |ours - scipy| = {err:e}",
            case.name,
            case.centre,
            case.t
        );
        worst = worst.max(err);
    }
    eprintln!("worst |ours - scipy| over {} cases: {worst:e}", cases.len());
}

#[test]
fn the_fixture_can_tell_the_centres_and_signs_apart() {
    // A check that the fixture test above can fail: the right numbers under the wrong
    // centre, or with the shift's sign flipped, are far from SciPy's.
    for case in reference_cases()
        .iter()
        .filter(|c| c.t.tx != 0.0 || c.t.theta != 0.0)
    {
        let other = match case.centre {
            Centre::Grid => Centre::Keras2018,
            Centre::Keras2018 => Centre::Grid,
        };
        let flipped = Transform {
            tx: -case.t.tx,
            ty: -case.t.ty,
            ..case.t
        };
        let mut wrong = Vec::new();
        if case.t.theta != 0.0 {
            wrong.push((case.t, other)); // a pure shift does not depend on the centre
        }
        if case.t.tx != 0.0 || case.t.ty != 0.0 {
            wrong.push((flipped, case.centre));
        }
        for (t, centre) in wrong {
            let out = transformed(&case.input, case.shape, t, centre);
            let err = out
                .iter()
                .zip(&case.output)
                .map(|(&a, &b)| (a as f64 - b).abs())
                .fold(0.0, f64::max);
            assert!(
                err > 1e-2,
                "{} {:?}: a wrong variant matched ({err:e})",
                case.name,
                t
            );
        }
    }
}

#[test]
fn outputs_are_convex_combinations_of_inputs() {
    let shape = ImageShape::grey(28, 28);
    let mut rng = StdRng::seed_from_u64(5);
    let src: Vec<f32> = (0..shape.len())
        .map(|_| rng.random_range(0.0..1.0))
        .collect();
    let aug = Augmenter::new(AugmentParams::default(), shape, 1).unwrap();
    for k in 0..50 {
        let out = transformed(&src, shape, aug.transform(0, k), Centre::Grid);
        assert!(out.iter().all(|&v| (0.0..=1.0).contains(&v)), "image {k}");
    }
}

/// Draws of theta, tx, ty for many (step, position) keys.
fn draws(aug: &Augmenter, count: usize) -> Vec<Transform> {
    (0..count)
        .map(|i| aug.transform((i / 256) as u64, i % 256))
        .collect()
}

#[test]
fn draws_are_in_range_and_roughly_uniform() {
    // A non-square image shows that tx scales with the height and ty with the width.
    let shape = ImageShape::grey(20, 40);
    let aug = Augmenter::new(AugmentParams::default(), shape, 42).unwrap();
    let n = 25_600;
    let d = draws(&aug, n);
    for (name, range, get) in [
        (
            "theta",
            10.0,
            (|t: &Transform| t.theta) as fn(&Transform) -> f64,
        ),
        ("tx", 2.0, |t| t.tx),
        ("ty", 4.0, |t| t.ty),
    ] {
        let v: Vec<f64> = d.iter().map(get).collect();
        assert!(
            v.iter().all(|x| (-range..range).contains(x)),
            "{name} outside"
        );
        // Mean: U(-a, a) has standard deviation a / sqrt(3); the mean of n has a / sqrt(3n).
        let mean = v.iter().sum::<f64>() / n as f64;
        let sd_of_mean = range / (3.0 * n as f64).sqrt();
        assert!(mean.abs() < 4.0 * sd_of_mean, "{name} mean {mean}");
        // Ten equal bins of 2560 expected each (binomial sd 48): within 5 sd.
        let mut bins = [0usize; 10];
        for x in &v {
            bins[(((x + range) / (2.0 * range)) * 10.0) as usize] += 1;
        }
        for (b, &count) in bins.iter().enumerate() {
            assert!(
                count.abs_diff(n / 10) < 240,
                "{name} bin {b}: {count} of {n}"
            );
        }
    }
    // The three draws of one image are independent: their correlation is near 0 (sd of a
    // sample correlation is 1 / sqrt(n) = 0.006).
    let corr = |a: &dyn Fn(&Transform) -> f64, b: &dyn Fn(&Transform) -> f64| {
        let (ma, mb) = (
            d.iter().map(a).sum::<f64>() / n as f64,
            d.iter().map(b).sum::<f64>() / n as f64,
        );
        let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
        for t in &d {
            let (x, y) = (a(t) - ma, b(t) - mb);
            sab += x * y;
            saa += x * x;
            sbb += y * y;
        }
        sab / (saa * sbb).sqrt()
    };
    assert!(corr(&|t| t.theta, &|t| t.tx).abs() < 0.03);
    assert!(corr(&|t| t.tx, &|t| t.ty).abs() < 0.03);
    // Neighbouring keys are independent too: position k against k + 1 of the same step.
    let pairs: Vec<(f64, f64)> = (0..n - 1)
        .filter(|i| i % 256 != 255)
        .map(|i| (d[i].theta, d[i + 1].theta))
        .collect();
    let m = pairs.len() as f64;
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / m,
        pairs.iter().map(|p| p.1).sum::<f64>() / m,
    );
    let cov = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / m;
    assert!((cov / (100.0 / 3.0)).abs() < 0.03, "neighbour correlation");
}

#[test]
fn zero_ranges_give_no_change() {
    let params = AugmentParams {
        width_shift: 0.0,
        height_shift: 0.0,
        rotation: 0.0,
        ..AugmentParams::default()
    };
    let shape = ImageShape::grey(28, 28);
    let images = images(40, shape, 3);
    let aug = Augmenter::new(params, shape, 9).unwrap();
    let rows: Vec<usize> = (0..40).rev().collect();
    let mut out = Matrix::filled(rows.len(), shape.len(), f32::NAN);
    aug.augment_batch(images.view(), &rows, 17, out.view_mut());
    assert_eq!(out, images.select_rows(&rows));
}

#[test]
fn bad_parameters_are_errors_that_name_them() {
    let shape = ImageShape::grey(28, 28);
    let base = AugmentParams::default();
    for (params, word) in [
        (
            AugmentParams {
                width_shift: -0.1,
                ..base
            },
            "width shift",
        ),
        (
            AugmentParams {
                height_shift: 1.0,
                ..base
            },
            "height shift",
        ),
        (
            AugmentParams {
                rotation: f64::NAN,
                ..base
            },
            "rotation",
        ),
        (
            AugmentParams {
                rotation: 270.0,
                ..base
            },
            "rotation",
        ),
    ] {
        let err = Augmenter::new(params, shape, 0).unwrap_err().to_string();
        assert!(err.contains(word), "{err}");
        assert!(!err.contains('\n'));
    }
    let err = Augmenter::new(base, ImageShape::grey(0, 28), 0).unwrap_err();
    assert!(err.to_string().contains("augmentation"), "{err}");
    assert!(Augmenter::new(base, shape, 0).is_ok());
}

/// `n` random (h, w, c) images in [0, 1], one per row.
fn images(n: usize, shape: ImageShape, seed: u64) -> Matrix {
    let mut rng = StdRng::seed_from_u64(seed);
    Matrix::from_fn(n, shape.len(), |_, _| rng.random_range(0.0..1.0))
}

fn batch(aug: &Augmenter, x: &Matrix, rows: &[usize], step: u64) -> Matrix {
    let mut out = Matrix::filled(rows.len(), x.cols(), f32::NAN);
    aug.augment_batch(x.view(), rows, step, out.view_mut());
    out
}

#[test]
fn a_batch_row_is_its_image_under_its_own_transform() {
    for shape in [ImageShape::grey(28, 28), SHAPES[2]] {
        let x = images(60, shape, 1);
        let aug = Augmenter::new(AugmentParams::default(), shape, 77).unwrap();
        // Repeated and unordered rows, more than one parallel block.
        let rows: Vec<usize> = (0..100).map(|k| (k * 7) % 60).collect();
        let out = batch(&aug, &x, &rows, 3);
        for (k, &i) in rows.iter().enumerate() {
            let want = transformed(x.row(i), shape, aug.transform(3, k), Centre::Grid);
            assert_eq!(out.row(k), &want[..], "row {k}");
        }
    }
}

#[test]
fn same_bits_for_one_two_and_three_threads() {
    let shape = ImageShape::grey(28, 28);
    let x = images(300, shape, 2);
    let aug = Augmenter::new(AugmentParams::default(), shape, 2024).unwrap();
    let rows: Vec<usize> = (0..256).map(|k| (k * 131 + 5) % 300).collect();
    let runs: Vec<Matrix> = (1..=3)
        .map(|t| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap();
            pool.install(|| batch(&aug, &x, &rows, 11))
        })
        .collect();
    let bits = |m: &Matrix| m.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&runs[0]), bits(&runs[1]));
    assert_eq!(bits(&runs[0]), bits(&runs[2]));
    assert!(runs[0].as_slice().iter().all(|v| !v.is_nan()));
}

#[test]
fn same_seed_same_batch_other_step_or_seed_another() {
    let shape = ImageShape::grey(28, 28);
    let x = images(64, shape, 4);
    let rows: Vec<usize> = (0..64).collect();
    let aug = Augmenter::new(AugmentParams::default(), shape, 1).unwrap();
    let again = Augmenter::new(AugmentParams::default(), shape, 1).unwrap();
    let other_seed = Augmenter::new(AugmentParams::default(), shape, 2).unwrap();
    let a = batch(&aug, &x, &rows, 5);
    assert_eq!(a, batch(&again, &x, &rows, 5));
    for (what, b) in [
        ("next step", batch(&aug, &x, &rows, 6)),
        ("other seed", batch(&other_seed, &x, &rows, 5)),
    ] {
        // Every image changes, not just some.
        for k in 0..rows.len() {
            assert_ne!(a.row(k), b.row(k), "{what}: row {k} unchanged");
        }
    }
    // Within a batch, two copies of one image get different transforms.
    let twice = batch(&aug, &x, &[0, 0], 5);
    assert_ne!(twice.row(0), twice.row(1));
}
