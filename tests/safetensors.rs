//! safetensors: round trip, the exact bytes, numpy's view of the file, hostile files.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use deepcluster::Error;
use deepcluster::io::safetensors::{self, Tensor};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("deepcluster-st-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Values that make byte-order and offset mistakes visible: every value distinct, including
/// the awkward ones.
fn values(n: usize, salt: f32) -> Vec<f32> {
    (0..n).map(|i| salt + i as f32 * 0.37 - 5.0).collect()
}

#[test]
fn round_trip_keeps_names_shapes_values_and_metadata() {
    let dir = temp_dir("round");
    let path = dir.join("ae.safetensors");
    let w = values(6 * 4, 0.5);
    let b = values(4, 100.0);
    let odd = vec![f32::MIN_POSITIVE, -0.0, f32::MAX, 1e-42];
    save_three(&path, &w, &b, &odd);
    let st = safetensors::load(&path).unwrap();
    // File order is sorted by name.
    let names: Vec<&str> = st.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["encoder.0.bias", "encoder.0.weight", "odd \"name\"\n"]
    );
    assert_eq!(
        st.get("encoder.0.weight"),
        Some(&Tensor {
            name: "encoder.0.weight".into(),
            shape: vec![6, 4],
            data: w.clone()
        })
    );
    assert_eq!(st.require(&path, "encoder.0.bias", &[4]).unwrap(), &b[..]);
    let got = st.require(&path, "odd \"name\"\n", &[2, 2]).unwrap();
    assert_eq!(
        got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        odd.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(st.metadata("format"), Some("pt"));
    assert_eq!(st.metadata("dims"), Some("784-500-500-2000-10"));
    let msg = st
        .require(&path, "encoder.0.weight", &[4, 6])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("shape [6, 4], expected [4, 6]"), "{msg}");
    assert!(st.require(&path, "nope", &[1]).is_err());
    // Saving the same content twice gives the same bytes.
    let first = fs::read(&path).unwrap();
    save_three(&path, &w, &b, &odd);
    assert_eq!(fs::read(&path).unwrap(), first);
    fs::remove_dir_all(&dir).unwrap();
}

fn save_three(path: &std::path::Path, w: &[f32], b: &[f32], odd: &[f32]) {
    safetensors::save(
        path,
        &[
            ("encoder.0.weight", &[6, 4], w),
            ("odd \"name\"\n", &[2, 2], odd),
            ("encoder.0.bias", &[4], b),
        ],
        &[("format", "pt"), ("dims", "784-500-500-2000-10")],
    )
    .unwrap();
}

#[test]
fn exact_bytes_of_a_small_file() {
    let dir = temp_dir("bytes");
    let path = dir.join("t.safetensors");
    safetensors::save(&path, &[("x", &[2], &[1.0, -2.0])], &[]).unwrap();
    let bytes = fs::read(&path).unwrap();
    // The data section's CRC-32 goes into __metadata__.
    let mut data = 1.0f32.to_le_bytes().to_vec();
    data.extend_from_slice(&(-2.0f32).to_le_bytes());
    let crc = deepcluster::format::crc32::crc32(&data);
    let header = format!(
        r#"{{"__metadata__":{{"crc32":"{crc:08x}"}},"x":{{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}}}"#
    );
    let padded = format!("{header:<96}"); // 91 bytes padded with spaces to 96
    let mut expected = 96u64.to_le_bytes().to_vec();
    expected.extend_from_slice(padded.as_bytes());
    expected.extend_from_slice(&1.0f32.to_le_bytes());
    expected.extend_from_slice(&(-2.0f32).to_le_bytes());
    assert_eq!(bytes, expected);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn numpy_reads_the_file_when_python_is_available() {
    let has_numpy = Command::new("python3")
        .args(["-c", "import numpy"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !has_numpy {
        eprintln!("SKIPPED: python3 with numpy is not available");
        return;
    }
    let dir = temp_dir("numpy");
    let path = dir.join("w.safetensors");
    let w: Vec<f32> = (0..12).map(|i| i as f32 * 0.25 - 1.0).collect();
    safetensors::save(
        &path,
        &[("w", &[3, 4], &w), ("b", &[4], &w[..4])],
        &[("k", "v")],
    )
    .unwrap();
    // The reader a numpy user would write from the format's description.
    let script = r#"
import json, struct, sys, numpy as np
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
h = json.loads(raw[8:8 + n])
data = raw[8 + n:]
for name in sorted(k for k in h if k != '__metadata__'):
    t = h[name]
    a, b = t['data_offsets']
    arr = np.frombuffer(data[a:b], dtype='<f4').reshape(t['shape'])
    print(name, t['dtype'], list(arr.shape), repr(float(arr.sum())), repr(float(arr.flat[-1])))
print('meta', h['__metadata__']['k'])
"#;
    let out = Command::new("python3")
        .args(["-c", script, path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let sum_w: f32 = w.iter().sum();
    let sum_b: f32 = w[..4].iter().sum();
    assert_eq!(
        text,
        format!(
            "b F32 [4] {:?} {:?}\nw F32 [3, 4] {:?} {:?}\nmeta v\n",
            sum_b as f64, w[3] as f64, sum_w as f64, w[11] as f64
        )
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// Writes `header` (unpadded) followed by `data_len` zero bytes.
fn raw_file(path: &std::path::Path, header_len: u64, header: &str, data_len: usize) {
    let mut bytes = header_len.to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(std::iter::repeat_n(0u8, data_len));
    fs::write(path, bytes).unwrap();
}

fn load_error(path: &std::path::Path) -> String {
    match safetensors::load(path) {
        Err(e @ Error::Data { .. }) => {
            let msg = e.to_string();
            assert!(msg.starts_with(&path.display().to_string()), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
            msg
        }
        other => panic!("expected a data error, got {other:?}"),
    }
}

#[test]
fn hostile_files_are_one_line_errors() {
    let dir = temp_dir("hostile");
    let p = dir.join("bad.safetensors");
    let h = |s: &str| s.len() as u64;

    fs::write(&p, [1, 2, 3]).unwrap();
    assert!(load_error(&p).contains("too short"));

    raw_file(&p, u64::MAX, "", 0);
    assert!(load_error(&p).contains("limit"));
    raw_file(&p, 200_000_000, "", 0);
    assert!(load_error(&p).contains("limit"));
    raw_file(&p, 1000, "{}", 0);
    assert!(load_error(&p).contains("past the end"));

    let cases: &[(&str, usize, &str)] = &[
        ("{\"a\":", 0, "header"),
        ("[1,2]", 0, "not a JSON object"),
        (
            r#"{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}"#,
            2,
            "only F32",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[1]}}"#,
            4,
            "no `data_offsets`",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
            4,
            "outside",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#,
            8,
            "outside",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
            8,
            "does not match",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#,
            0,
            "does not match",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,
            4,
            "non-negative",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#,
            4,
            "non-negative",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#,
            8,
            "expected 2",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            8,
            "overlap",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            8,
            "gap",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
            6,
            "trailing",
        ),
        (r#"{"__metadata__":{"k":1}}"#, 0, "not a string"),
    ];
    for (header, data_len, expect) in cases {
        raw_file(&p, h(header), header, *data_len);
        let msg = load_error(&p);
        assert!(msg.contains(expect), "{header}: {msg}");
    }

    // A valid file cut short anywhere is refused, never read as something else.
    let good = dir.join("good.safetensors");
    safetensors::save(&good, &[("w", &[5, 3], &values(15, 1.0))], &[("a", "b")]).unwrap();
    let bytes = fs::read(&good).unwrap();
    for cut in [
        0,
        4,
        8,
        20,
        bytes.len() - 60,
        bytes.len() - 4,
        bytes.len() - 1,
    ] {
        fs::write(&p, &bytes[..cut]).unwrap();
        load_error(&p);
    }
    // Every single-byte corruption of the header either loads or is a data error.
    for i in 0..bytes.len().min(8 + 120) {
        let mut b = bytes.clone();
        b[i] ^= 0x5a;
        fs::write(&p, &b).unwrap();
        if let Err(e) = safetensors::load(&p) {
            assert!(matches!(e, Error::Data { .. }), "byte {i}: {e}");
        }
    }
    let missing = dir.join("missing.safetensors");
    assert!(matches!(safetensors::load(&missing), Err(Error::Io { .. })));
    fs::remove_dir_all(&dir).unwrap();
}

/// Every file we write carries the CRC-32 of its data: a flipped bit or a zeroed block is
/// an error naming the file, not other weights. A file without the key (another tool's)
/// still loads.
#[test]
fn corruption_is_caught_by_the_data_crc() {
    let dir = temp_dir("crc");
    let path = dir.join("big.safetensors");
    let values: Vec<f32> = (0..300_000).map(|i| (i as f32 * 0.37).sin()).collect();
    safetensors::save(&path, &[("w", &[300_000], &values)], &[("k", "v")]).unwrap();
    assert_eq!(safetensors::load(&path).unwrap().metadata("k"), Some("v"));
    let good = fs::read(&path).unwrap();
    let data_start = 8 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;

    let mut flipped = good.clone();
    flipped[data_start + 123_457] ^= 0x10;
    fs::write(&path, &flipped).unwrap();
    let msg = safetensors::load(&path).unwrap_err().to_string();
    assert!(
        msg.contains("big.safetensors") && msg.contains("CRC-32"),
        "{msg}"
    );

    let mut zeroed = good.clone();
    zeroed[data_start + 100_000..data_start + 500_000].fill(0);
    fs::write(&path, &zeroed).unwrap();
    let msg = safetensors::load(&path).unwrap_err().to_string();
    assert!(msg.contains("the file is corrupt"), "{msg}");

    // The same data without the key, as numpy or PyTorch would write it: no check to make.
    let header = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  "#;
    let mut foreign = (header.len() as u64).to_le_bytes().to_vec();
    foreign.extend_from_slice(header.as_bytes());
    foreign.extend_from_slice(&[0, 0, 128, 63, 0, 0, 0, 64]); // 1.0, 2.0
    fs::write(&path, &foreign).unwrap();
    assert_eq!(
        safetensors::load(&path).unwrap().tensors[0].data,
        [1.0, 2.0]
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// A NaN or infinite weight or centre is refused at load, naming the tensor and index:
/// `predict` with one NaN centre would otherwise put every image in cluster 0.
#[test]
fn non_finite_values_are_refused_naming_the_tensor() {
    let dir = temp_dir("nan");
    let path = dir.join("dec.safetensors");
    for (bad, shown) in [(f32::NAN, "NaN"), (f32::NEG_INFINITY, "-inf")] {
        let centres = [0.5, 1.0, bad, 2.0];
        safetensors::save(&path, &[("centres", &[2, 2], &centres)], &[]).unwrap();
        let msg = safetensors::load(&path).unwrap_err().to_string();
        assert!(
            msg.contains("dec.safetensors")
                && msg.contains(&format!("tensor `centres` holds {shown} at index 2")),
            "{msg}"
        );
    }
    fs::remove_dir_all(&dir).unwrap();
}
