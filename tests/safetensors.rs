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
    let header = r#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    let padded = format!("{header:<56}"); // 54 bytes padded with spaces to 56
    let mut expected = 56u64.to_le_bytes().to_vec();
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
