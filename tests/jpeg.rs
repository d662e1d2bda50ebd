//! The JPEG decoder against libjpeg-turbo's own decodes (fixtures/jpeg/, made by
//! make_fixtures.py with Pillow), at full scale and at 1/2, 1/4, 1/8; EXIF orientation;
//! the refused kinds; broken files; and a deterministic mini-fuzz.
//!
//! The bound: every pixel within 2 levels of libjpeg's, and the mean absolute difference
//! below 0.5 levels, per image, channel and scale.

use std::fs;
use std::path::{Path, PathBuf};

use deepcluster::data::jpeg::{
    self, Channels, Image, JpegError, MAX_PIXELS, Options, Orientation, Scale, decode, read_info,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/jpeg")
        .join(name)
}

fn bytes(name: &str) -> Vec<u8> {
    fs::read(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A PNG written by Pillow: (width, height, channels, pixels).
fn read_png(name: &str) -> (usize, usize, usize, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes(name)));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let channels = info.color_type.samples();
    (info.width as usize, info.height as usize, channels, buf)
}

/// (max abs difference, mean abs difference) between our decode and libjpeg's.
fn compare(ours: &Image, reference: &str) -> (u8, f64) {
    let (w, h, c, want) = read_png(reference);
    assert_eq!((ours.width, ours.height), (w, h), "{reference}: size");
    assert_eq!(ours.channels.count(), c, "{reference}: channels");
    let mut max = 0u8;
    let mut sum = 0u64;
    for (&a, &b) in ours.pixels.iter().zip(&want) {
        let d = a.abs_diff(b);
        max = max.max(d);
        sum += d as u64;
    }
    (max, sum as f64 / want.len() as f64)
}

const DECODED: [&str; 19] = [
    "grey",
    "s444",
    "s422",
    "s420",
    "s411",
    "s440",
    "s311",
    "mixed",
    "s421x",
    "scans_separate",
    "scans_mixed",
    "rgb",
    "restart_blocks",
    "restart_rows",
    "restart_grey",
    "size_1x1",
    "size_17x9",
    "size_4095x3",
    "size_1x1_grey",
];

fn options(scale: Scale, channels: Channels) -> Options {
    Options {
        scale,
        channels,
        orientation: Orientation::Ignore,
    }
}

#[test]
fn pixels_match_libjpeg_at_every_scale() {
    let mut report = String::new();
    let mut failed = false;
    for name in DECODED {
        let file = bytes(&format!("{name}.jpg"));
        let info = read_info(&file).unwrap();
        let modes: &[(Channels, &str)] = if info.components == 1 {
            &[(Channels::Grey, "L")]
        } else {
            &[(Channels::Grey, "L"), (Channels::Rgb, "RGB")]
        };
        for &(channels, mode) in modes {
            for scale in Scale::ALL {
                let ours = decode(&file, &options(scale, channels)).unwrap();
                let reference = format!("{name}.{mode}.{}.png", scale.denominator());
                let (max, mean) = compare(&ours, &reference);
                report += &format!("{reference:28} max {max} mean {mean:.3}\n");
                failed |= max > 2 || mean >= 0.5;
            }
        }
    }
    println!("{report}");
    assert!(!failed, "outside the bound (max 2, mean < 0.5):\n{report}");
}

#[test]
fn every_exif_orientation_is_applied_as_pillow_does() {
    for tag in 1..=8u8 {
        let name = format!("orient_{tag}");
        let file = bytes(&format!("{name}.jpg"));
        let info = read_info(&file).unwrap();
        assert_eq!((info.width, info.height, info.orientation), (17, 9, tag));
        let upright = Options {
            channels: Channels::Rgb,
            ..Options::default()
        };
        let ours = decode(&file, &upright).unwrap();
        assert_eq!(
            compare(&ours, &format!("{name}.oriented.png")),
            (0, 0.0),
            "{name}"
        );
        // At every scale the turn is the same one applied to the stored pixels.
        for scale in Scale::ALL {
            let stored = decode(&file, &options(scale, Channels::Grey)).unwrap();
            let turned = decode(
                &file,
                &Options {
                    scale,
                    ..Options::default()
                },
            )
            .unwrap();
            let (w, h, p) = jpeg::orient::apply(tag, stored.width, stored.height, 1, stored.pixels);
            assert_eq!((turned.width, turned.height, turned.pixels), (w, h, p));
            assert_eq!(info.output_size(scale, Orientation::Apply), (w, h));
        }
    }
}

#[test]
fn refused_kinds_name_their_feature() {
    for (name, feature) in [
        ("refused_progressive", "progressive (SOF2)"),
        ("refused_cmyk", "4-component (CMYK or YCCK)"),
        ("refused_arithmetic", "arithmetic-coded (SOF9)"),
        ("refused_12bit", "12-bit"),
        ("refused_lossless", "lossless (SOF3)"),
        ("refused_hierarchical", "hierarchical (SOF5)"),
    ] {
        let file = bytes(&format!("{name}.jpg"));
        let want = JpegError::Unsupported(feature.into());
        assert_eq!(read_info(&file), Err(want.clone()), "{name}");
        assert_eq!(
            decode(&file, &Options::default()),
            Err(want.clone()),
            "{name}"
        );
        let message = want.to_string();
        assert!(
            message.contains(feature) && !message.contains('\n'),
            "{message}"
        );
    }
}

/// The offset of the first scan's entropy-coded data (after the SOS segment).
fn scan_data(file: &[u8]) -> usize {
    let sos = file.windows(2).position(|w| w == [0xff, 0xda]).unwrap();
    sos + 2 + u16::from_be_bytes([file[sos + 2], file[sos + 3]]) as usize
}

/// `file` with the SOF's height and width replaced.
fn with_size(file: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut f = file.to_vec();
    let sof = f.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
    f[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    f[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    f
}

#[test]
fn broken_files_give_one_line_naming_the_file() {
    let good = bytes("s420.jpg");
    let start = scan_data(&good);
    let mut broken: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("not a JPEG", b"\x89PNG\r\n\x1a\n".to_vec()),
        ("huge", with_size(&good, 65535, 65535)),
        ("large claim, little data", with_size(&good, 8000, 8000)),
        ("zero width", with_size(&good, 0, 9)),
        ("zero height", with_size(&good, 17, 0)),
    ];
    // All-ones bits (0xFF stuffed as 0xFF 0x00) are never a JPEG Huffman code.
    let mut bad_code = good.clone();
    for i in 0..8 {
        bad_code[start + 2 * i] = 0xff;
        bad_code[start + 2 * i + 1] = 0x00;
    }
    broken.push(("bad Huffman code", bad_code));
    // A restart interval the data does not have: RST0 is expected after MCU 1.
    let mut dri = good[..2].to_vec();
    dri.extend([0xff, 0xdd, 0, 4, 0, 1]);
    dri.extend(&good[2..]);
    broken.push(("missing restart marker", dri));
    for cut in [
        3,
        20,
        100,
        start - 1,
        start + 5,
        (start + good.len()) / 2,
        good.len() - 3,
    ] {
        broken.push(("truncated", good[..cut].to_vec()));
    }
    // Cut inside the last of three scans, and just before it: the colour image is
    // incomplete. (Its grey image is not: Y, the first scan, is whole, and decoding stops
    // once the components the output needs are decoded.)
    let scans = bytes("scans_separate.jpg");
    let last_sos = scans.windows(2).rposition(|w| w == [0xff, 0xda]).unwrap();
    broken.push(("truncated before scan 3", scans[..last_sos].to_vec()));
    broken.push(("truncated in scan 3", scans[..last_sos + 30].to_vec()));
    let path = Path::new("photos/cat.jpg");
    let rgb = options(Scale::Full, Channels::Rgb);
    assert!(decode(&broken.last().unwrap().1, &Options::default()).is_ok());
    for (what, file) in &broken {
        let options = rgb;
        let e = decode(file, &options).expect_err(what);
        let message = deepcluster::Error::data(path, e.to_string()).to_string();
        assert!(message.starts_with("photos/cat.jpg: "), "{what}: {message}");
        assert!(!message.contains('\n'), "{what}: {message}");
        println!("{what:28} {message}");
    }
    assert!(matches!(
        decode(&broken[2].1, &Options::default()),
        Err(JpegError::TooLarge { .. })
    ));
    assert_eq!(
        read_info(&broken[2].1),
        Err(JpegError::TooLarge {
            width: 65535,
            height: 65535
        })
    );
    // 8000 x 8000 is within MAX_PIXELS, but 4 blocks a byte is the most the data can hold:
    // refused before the planes are allocated.
    let info = read_info(&broken[3].1).unwrap();
    assert!(info.width * info.height <= MAX_PIXELS);
    assert_eq!(
        decode(&broken[3].1, &Options::default()),
        Err(JpegError::Truncated)
    );
}

#[test]
fn a_missing_eoi_is_tolerated_as_libjpeg_does() {
    // libjpeg warns ("Premature end of JPEG file") and gives the whole image; so does this
    // decoder, which stops reading once the last scan is decoded.
    let good = bytes("s420.jpg");
    assert!(good.ends_with(&[0xff, 0xd9]));
    let options = options(Scale::Full, Channels::Rgb);
    let whole = decode(&good, &options).unwrap();
    assert_eq!(decode(&good[..good.len() - 2], &options).unwrap(), whole);
    let mut trailing = good.clone();
    trailing.extend(b"trailing bytes");
    assert_eq!(decode(&trailing, &options).unwrap(), whole);
}

#[test]
fn scale_is_chosen_as_pillow_draft_chooses_it() {
    assert_eq!(Scale::at_least(1600, 1200, (32, 32)), Scale::Eighth);
    assert_eq!(Scale::at_least(200, 100, (32, 32)), Scale::Half); // 100 / 32 = 3
    assert_eq!(Scale::at_least(255, 300, (32, 32)), Scale::Quarter);
    assert_eq!(Scale::at_least(40, 400, (32, 32)), Scale::Full);
    assert_eq!(Scale::at_least(10, 10, (32, 32)), Scale::Full);
    let info = read_info(&bytes("size_17x9.jpg")).unwrap();
    assert_eq!(info.output_size(Scale::Eighth, Orientation::Apply), (3, 2));
}

/// A small deterministic generator (xorshift64*), so that the mutations are the same on
/// every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_files_never_panic() {
    // A few thousand random mutations of the fixtures: flipped bits, overwritten bytes,
    // inserted and removed bytes, cuts. Each decodes or gives a one-line error; a decoded
    // image has the size read_info promises. JPEG_FUZZ_ROUNDS=n runs n rounds instead, and
    // JPEG_FUZZ_SEED another sequence (for a longer stress run, by hand).
    let rounds: usize = std::env::var("JPEG_FUZZ_ROUNDS").map_or(4000, |v| v.parse().unwrap());
    let seed: u64 =
        std::env::var("JPEG_FUZZ_SEED").map_or(0x9e37_79b9_7f4a_7c15, |v| v.parse().unwrap());
    let seeds: Vec<Vec<u8>> = [
        "s420",
        "s422",
        "grey",
        "s411",
        "mixed",
        "restart_blocks",
        "orient_6",
        "rgb",
    ]
    .iter()
    .map(|n| bytes(&format!("{n}.jpg")))
    .collect();
    let mut rng = Rng(seed | 1);
    let (mut decoded, mut refused) = (0, 0);
    for round in 0..rounds {
        let mut f = seeds[round % seeds.len()].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(f.len());
            match rng.below(6) {
                0 => f[at] ^= 1 << rng.below(8),
                1 => f[at] = rng.next() as u8,
                2 => f[at] = [0x00, 0xff, 0x01, 0x10, 0x11, 0x22, 0x44][rng.below(7)],
                3 => f.insert(at, rng.next() as u8),
                4 => {
                    f.remove(at);
                }
                _ => f.truncate(at.max(2)),
            }
            if f.is_empty() {
                break;
            }
        }
        let options = Options {
            scale: Scale::ALL[rng.below(4)],
            channels: [Channels::Grey, Channels::Rgb][rng.below(2)],
            orientation: [Orientation::Apply, Orientation::Ignore][rng.below(2)],
        };
        match decode(&f, &options) {
            Ok(image) => {
                let info = read_info(&f).unwrap();
                let (w, h) = info.output_size(options.scale, options.orientation);
                assert_eq!((image.width, image.height), (w, h), "round {round}");
                assert_eq!(image.pixels.len(), w * h * options.channels.count());
                decoded += 1;
            }
            Err(e) => {
                assert!(!e.to_string().contains('\n'));
                refused += 1;
            }
        }
    }
    println!("{decoded} decoded, {refused} refused");
    assert!(
        decoded > 100 && refused > 100,
        "{decoded} decoded, {refused} refused"
    );
}
