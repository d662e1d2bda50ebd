//! The safetensors weight format, written and read by hand so that numpy and PyTorch users
//! can open the trained weights without this program.
//!
//! ```text
//! bytes 0..8        N, the header length, a little-endian u64
//! bytes 8..8+N      a JSON object, padded with spaces to a multiple of 8 bytes:
//!                   {"__metadata__":{"key":"value",..},
//!                    "name":{"dtype":"F32","shape":[r,c],"data_offsets":[begin,end]},..}
//! bytes 8+N..       the tensors' raw little-endian f32 values, back to back;
//!                   data_offsets count from the start of this section
//! ```
//!
//! Writing follows the reference implementation (huggingface/safetensors): tensors sorted by
//! name (all are F32, so its "dtype, then name" order is just the name), `__metadata__` first,
//! compact JSON, header padded with spaces. Reading trusts nothing: a hostile or truncated
//! file is an `Error::Data` naming the file, never a panic and never an allocation larger
//! than the file itself.
//!
//! Integrity: every file this program writes carries `"crc32"` in `__metadata__`, the
//! CRC-32 of its data section as 8 hex digits. Reading verifies it when it is present (files
//! from other tools have none), so a zeroed block or a flipped bit in the weights is an error,
//! not a different result. Reading also refuses NaN and infinite values, naming the tensor:
//! nothing this program stores may hold one (a diverged run stops before it saves).

use std::path::Path;

use crate::format::json;
use crate::{Error, Result};

/// Headers longer than this are refused before anything is allocated (the reference
/// implementation's limit is the same 100 MB).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;
/// A file larger than this is refused while it is read (the paper preset's DEC checkpoint,
/// the largest file the program writes, is about 30 MB).
pub const MAX_FILE_BYTES: u64 = 1 << 31;

/// One named tensor, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// The content of a safetensors file: its tensors (in file order) and the free-form
/// `__metadata__` string pairs (sorted by key).
#[derive(Clone, Debug, PartialEq)]
pub struct SafeTensors {
    pub tensors: Vec<Tensor>,
    pub metadata: Vec<(String, String)>,
}

impl SafeTensors {
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The values of tensor `name`, which must have exactly `shape`; `path` names the file
    /// in the error.
    pub fn require(&self, path: impl AsRef<Path>, name: &str, shape: &[usize]) -> Result<&[f32]> {
        let t = self
            .get(name)
            .ok_or_else(|| Error::data(&path, format!("no tensor named `{name}`")))?;
        if t.shape != shape {
            return Err(Error::data(
                &path,
                format!(
                    "tensor `{name}` has shape {:?}, expected {:?}",
                    t.shape, shape
                ),
            ));
        }
        if let Some(i) = t.data.iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                &path,
                format!("tensor `{name}` holds {} at index {i}", t.data[i]),
            ));
        }
        Ok(&t.data)
    }

    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Writes `tensors` (name, shape, row-major values) and `metadata` to `path` atomically.
///
/// Panics if a tensor's shape does not match its length or a name repeats: those are
/// programming errors of the caller, not user input.
pub fn save(
    path: impl AsRef<Path>,
    tensors: &[(&str, &[usize], &[f32])],
    metadata: &[(&str, &str)],
) -> Result<()> {
    let mut order: Vec<&(&str, &[usize], &[f32])> = tensors.iter().collect();
    order.sort_by(|a, b| a.0.cmp(b.0));
    for pair in order.windows(2) {
        assert!(
            pair[0].0 != pair[1].0,
            "tensor name `{}` repeats",
            pair[0].0
        );
    }
    assert!(
        metadata.iter().all(|(k, _)| *k != CRC_KEY),
        "`{CRC_KEY}` is written by save itself"
    );
    let crc = format!("{:08x}", data_crc(&order));
    let mut metadata = metadata.to_vec();
    metadata.push((CRC_KEY, &crc));
    let header = header_json(&order, &metadata);

    crate::io::write_atomic_with(path, |w| {
        w.write_all(&(header.len() as u64).to_le_bytes())?;
        w.write_all(header.as_bytes())?;
        let mut bytes = Vec::with_capacity(4096);
        for (_, _, data) in &order {
            for chunk in data.chunks(1024) {
                bytes.clear();
                bytes.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
                w.write_all(&bytes)?;
            }
        }
        Ok(())
    })
}

/// The metadata key of the data section's CRC-32.
pub const CRC_KEY: &str = "crc32";

/// The CRC-32 of the data section `order` will be written as: each tensor's little-endian
/// f32 bytes, back to back.
fn data_crc(order: &[&(&str, &[usize], &[f32])]) -> u32 {
    let mut crc = crate::format::crc32::Crc32::new();
    let mut bytes = Vec::with_capacity(4096);
    for (_, _, data) in order {
        for chunk in data.chunks(1024) {
            bytes.clear();
            bytes.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
            crc.update(&bytes);
        }
    }
    crc.finish()
}

/// The JSON header, padded with spaces to a multiple of 8 bytes (so the f32 data that
/// follows is aligned when the file is memory-mapped).
fn header_json(order: &[&(&str, &[usize], &[f32])], metadata: &[(&str, &str)]) -> String {
    let mut text = String::from("{");
    if !metadata.is_empty() {
        let mut sorted: Vec<&(&str, &str)> = metadata.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        text.push_str("\"__metadata__\":{");
        for (i, (k, v)) in sorted.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            json::push_string(&mut text, k);
            text.push(':');
            json::push_string(&mut text, v);
        }
        text.push('}');
    }
    let mut offset = 0usize;
    for (name, shape, data) in order {
        let count: usize = shape.iter().product();
        assert_eq!(
            count,
            data.len(),
            "tensor `{name}`: shape {shape:?} does not match {} values",
            data.len()
        );
        if text.len() > 1 {
            text.push(',');
        }
        json::push_string(&mut text, name);
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let end = offset + 4 * data.len();
        text.push_str(&format!(
            ":{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
            dims.join(",")
        ));
        offset = end;
    }
    text.push('}');
    while text.len() % 8 != 0 {
        text.push(' ');
    }
    text
}

/// Reads every tensor and the metadata of a safetensors file written by any implementation
/// (only F32 tensors are accepted: that is all this project stores).
pub fn load(path: impl AsRef<Path>) -> Result<SafeTensors> {
    let path = path.as_ref();
    let bytes = super::read::read_capped(path, MAX_FILE_BYTES, "a safetensors file")?;
    parse(&bytes, path)
}

/// Parses the bytes of a whole safetensors file; `path` is only used in error messages.
/// Nothing is allocated beyond the header and the tensors' values, both bounded by
/// `bytes.len()`.
pub fn parse(bytes: &[u8], path: &Path) -> Result<SafeTensors> {
    let bad = |problem: String| Error::data(path, problem);
    let file_len = bytes.len() as u64;
    let Some((len_bytes, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(bad(format!(
            "{file_len} bytes is too short for a safetensors file (an 8-byte header length comes first)"
        )));
    };
    let header_len = u64::from_le_bytes(*len_bytes);
    if header_len > MAX_HEADER_BYTES {
        return Err(bad(format!(
            "header length {header_len} exceeds the {MAX_HEADER_BYTES}-byte limit"
        )));
    }
    if header_len > file_len - 8 {
        return Err(bad(format!(
            "header length {header_len} runs past the end of the {file_len}-byte file"
        )));
    }
    // header_len <= rest.len(), so it fits a usize.
    let (header, data) = rest.split_at(header_len as usize);
    let header =
        std::str::from_utf8(header).map_err(|e| bad(format!("header is not UTF-8 ({e})")))?;
    let json = json::parse(header).map_err(|e| bad(format!("header: {e}")))?;
    let (entries, metadata) = interpret_header(&json, data.len() as u64).map_err(bad)?;
    if let Some((_, stored)) = metadata.iter().find(|(k, _)| k == CRC_KEY) {
        let computed = crate::format::crc32::crc32(data);
        if u32::from_str_radix(stored, 16).ok() != Some(computed) || stored.len() != 8 {
            return Err(bad(format!(
                "the data fails its CRC-32 check (stored {stored}, computed {computed:08x}): \
                 the file is corrupt"
            )));
        }
    }

    let mut tensors = Vec::with_capacity(entries.len());
    for e in entries {
        let values: Vec<f32> = data[e.begin..e.end]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "tensor `{}` holds {} at index {i}; weights and checkpoints must be finite",
                e.name, values[i]
            )));
        }
        tensors.push(Tensor {
            data: values,
            name: e.name,
            shape: e.shape,
        });
    }
    Ok(SafeTensors { tensors, metadata })
}

/// A tensor's entry in the header, checked against the data section's length.
struct Entry {
    name: String,
    shape: Vec<usize>,
    begin: usize,
    end: usize,
}

type Metadata = Vec<(String, String)>;

/// Checks the header's structure and offsets; the error is the problem, without the path.
fn interpret_header(
    json: &json::Value,
    data_len: u64,
) -> std::result::Result<(Vec<Entry>, Metadata), String> {
    use json::Value;
    let Value::Object(fields) = json else {
        return Err("header is not a JSON object".to_string());
    };
    let mut metadata = Vec::new();
    let mut entries = Vec::new();
    for (name, value) in fields {
        if name == "__metadata__" {
            let Value::Object(pairs) = value else {
                return Err("__metadata__ is not an object".to_string());
            };
            for (k, v) in pairs {
                let Value::String(v) = v else {
                    return Err(format!("__metadata__ value of `{k}` is not a string"));
                };
                metadata.push((k.clone(), v.clone()));
            }
            continue;
        }
        let Value::Object(info) = value else {
            return Err(format!("tensor `{name}`: entry is not an object"));
        };
        let field = |key: &str| {
            info.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .ok_or_else(|| format!("tensor `{name}`: no `{key}`"))
        };
        match field("dtype")? {
            Value::String(d) if d == "F32" => {}
            Value::String(d) => {
                return Err(format!(
                    "tensor `{name}`: dtype {d} is not supported (only F32)"
                ));
            }
            _ => return Err(format!("tensor `{name}`: dtype is not a string")),
        }
        let shape = integers(field("shape")?).map_err(|p| format!("tensor `{name}`: shape {p}"))?;
        let offsets = integers(field("data_offsets")?)
            .map_err(|p| format!("tensor `{name}`: data_offsets {p}"))?;
        let [begin, end] = offsets[..] else {
            return Err(format!(
                "tensor `{name}`: data_offsets has {} numbers, expected 2",
                offsets.len()
            ));
        };
        if begin > end || end as u64 > data_len {
            return Err(format!(
                "tensor `{name}`: data_offsets [{begin},{end}] lie outside the {data_len}-byte data section"
            ));
        }
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .filter(|&c| c.checked_mul(4) == Some(end - begin))
            .ok_or_else(|| {
                format!(
                    "tensor `{name}`: shape {shape:?} does not match its {} data bytes",
                    end - begin
                )
            })?;
        debug_assert_eq!(count * 4, end - begin);
        entries.push(Entry {
            name: name.clone(),
            shape,
            begin,
            end,
        });
    }
    // As in the reference implementation, the tensors must tile the data section exactly:
    // no overlaps, no gaps, nothing left over.
    let mut by_offset: Vec<&Entry> = entries.iter().collect();
    by_offset.sort_by_key(|e| (e.begin, e.end));
    let mut expected = 0usize;
    for e in &by_offset {
        if e.begin != expected {
            return Err(format!(
                "tensor `{}`: data_offsets [{},{}] {} the previous tensor, which ends at {expected}",
                e.name,
                e.begin,
                e.end,
                if e.begin < expected {
                    "overlap"
                } else {
                    "leave a gap after"
                }
            ));
        }
        expected = e.end;
    }
    if expected as u64 != data_len {
        return Err(format!(
            "the tensors cover {expected} bytes but the data section holds {data_len} (truncated or trailing bytes)"
        ));
    }
    metadata.sort();
    Ok((entries, metadata))
}

/// A JSON array of non-negative integers that fit in usize.
fn integers(v: &json::Value) -> std::result::Result<Vec<usize>, String> {
    let json::Value::Array(items) = v else {
        return Err("is not an array".to_string());
    };
    items
        .iter()
        .map(|item| match item {
            json::Value::Number(text) => text
                .parse::<usize>()
                .map_err(|_| format!("holds {text}, not a non-negative integer")),
            _ => Err("holds something that is not a number".to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_matches_the_reference_layout() {
        let a = [1.0f32, 2.0];
        let b = [3.0f32];
        let tensors: [(&str, &[usize], &[f32]); 2] = [("b", &[1], &b), ("a", &[2, 1], &a)];
        let order: Vec<_> = {
            let mut o: Vec<_> = tensors.iter().collect();
            o.sort_by(|x, y| x.0.cmp(y.0));
            o
        };
        let h = header_json(&order, &[("z", "1"), ("format", "pt")]);
        assert_eq!(h.len() % 8, 0);
        assert_eq!(
            h.trim_end(),
            r#"{"__metadata__":{"format":"pt","z":"1"},"a":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        );
    }
}
