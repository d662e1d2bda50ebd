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

use crate::{Error, Result};

/// Headers longer than this are refused before anything is allocated (the reference
/// implementation's limit is the same 100 MB).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;
/// A file larger than this is refused while it is read (the paper preset's DEC checkpoint,
/// the largest file the program writes, is about 30 MB).
pub const MAX_FILE_BYTES: u64 = 1 << 31;

/// Nesting deeper than this in the JSON header is refused (a well-formed header nests 3
/// deep); it keeps the recursive reader's stack small on hostile input.
const MAX_JSON_DEPTH: usize = 16;

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
    let mut json = String::from("{");
    if !metadata.is_empty() {
        let mut sorted: Vec<&(&str, &str)> = metadata.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        json.push_str("\"__metadata__\":{");
        for (i, (k, v)) in sorted.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            push_json_string(&mut json, k);
            json.push(':');
            push_json_string(&mut json, v);
        }
        json.push('}');
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
        if json.len() > 1 {
            json.push(',');
        }
        push_json_string(&mut json, name);
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let end = offset + 4 * data.len();
        json.push_str(&format!(
            ":{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
            dims.join(",")
        ));
        offset = end;
    }
    json.push('}');
    while json.len() % 8 != 0 {
        json.push(' ');
    }
    json
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
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

/// Just enough JSON to read a safetensors header: objects, arrays, strings with escapes,
/// numbers (kept as text, so integers stay exact), true, false, null.
mod json {
    use super::MAX_JSON_DEPTH;

    #[derive(Debug, PartialEq)]
    pub enum Value {
        Null,
        Bool(bool),
        Number(String),
        String(String),
        Array(Vec<Value>),
        /// Fields in file order; a repeated key is an error.
        Object(Vec<(String, Value)>),
    }

    pub fn parse(text: &str) -> Result<Value, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value(0)?;
        p.skip_space();
        if p.i != p.s.len() {
            return Err(p.error("unexpected text after the JSON value"));
        }
        Ok(v)
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn error(&self, what: &str) -> String {
            format!("{what} at byte {}", self.i)
        }

        fn skip_space(&mut self) {
            while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
                self.i += 1;
            }
        }

        fn peek(&self) -> Option<u8> {
            self.s.get(self.i).copied()
        }

        fn expect(&mut self, byte: u8) -> Result<(), String> {
            if self.peek() == Some(byte) {
                self.i += 1;
                Ok(())
            } else {
                Err(self.error(&format!("expected `{}`", byte as char)))
            }
        }

        fn value(&mut self, depth: usize) -> Result<Value, String> {
            if depth > MAX_JSON_DEPTH {
                return Err(self.error("nested too deeply"));
            }
            self.skip_space();
            match self.peek() {
                Some(b'{') => self.object(depth),
                Some(b'[') => self.array(depth),
                Some(b'"') => Ok(Value::String(self.string()?)),
                Some(b'-' | b'0'..=b'9') => self.number(),
                Some(b't') => self.word("true", Value::Bool(true)),
                Some(b'f') => self.word("false", Value::Bool(false)),
                Some(b'n') => self.word("null", Value::Null),
                Some(_) => Err(self.error("unexpected character")),
                None => Err(self.error("unexpected end")),
            }
        }

        fn word(&mut self, word: &str, v: Value) -> Result<Value, String> {
            if self.s[self.i..].starts_with(word.as_bytes()) {
                self.i += word.len();
                Ok(v)
            } else {
                Err(self.error("unexpected word"))
            }
        }

        fn object(&mut self, depth: usize) -> Result<Value, String> {
            self.expect(b'{')?;
            let mut fields: Vec<(String, Value)> = Vec::new();
            self.skip_space();
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(Value::Object(fields));
            }
            loop {
                self.skip_space();
                let key = self.string()?;
                if fields.iter().any(|(k, _)| *k == key) {
                    return Err(self.error(&format!("key `{key}` repeats")));
                }
                self.skip_space();
                self.expect(b':')?;
                let v = self.value(depth + 1)?;
                fields.push((key, v));
                self.skip_space();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b'}') => {
                        self.i += 1;
                        return Ok(Value::Object(fields));
                    }
                    _ => return Err(self.error("expected `,` or `}`")),
                }
            }
        }

        fn array(&mut self, depth: usize) -> Result<Value, String> {
            self.expect(b'[')?;
            let mut items = Vec::new();
            self.skip_space();
            if self.peek() == Some(b']') {
                self.i += 1;
                return Ok(Value::Array(items));
            }
            loop {
                items.push(self.value(depth + 1)?);
                self.skip_space();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b']') => {
                        self.i += 1;
                        return Ok(Value::Array(items));
                    }
                    _ => return Err(self.error("expected `,` or `]`")),
                }
            }
        }

        /// A number as its text: `-? digits (. digits)? ([eE] [+-]? digits)?`.
        fn number(&mut self) -> Result<Value, String> {
            let start = self.i;
            let digits = |p: &mut Self| {
                let from = p.i;
                while let Some(b'0'..=b'9') = p.peek() {
                    p.i += 1;
                }
                p.i > from
            };
            if self.peek() == Some(b'-') {
                self.i += 1;
            }
            if !digits(self) {
                return Err(self.error("malformed number"));
            }
            if self.peek() == Some(b'.') {
                self.i += 1;
                if !digits(self) {
                    return Err(self.error("malformed number"));
                }
            }
            if let Some(b'e' | b'E') = self.peek() {
                self.i += 1;
                if let Some(b'+' | b'-') = self.peek() {
                    self.i += 1;
                }
                if !digits(self) {
                    return Err(self.error("malformed number"));
                }
            }
            // Only ASCII was consumed, so this slice is valid UTF-8.
            let text = std::str::from_utf8(&self.s[start..self.i]).expect("ASCII digits");
            Ok(Value::Number(text.to_string()))
        }

        fn string(&mut self) -> Result<String, String> {
            self.expect(b'"')?;
            let mut out: Vec<u8> = Vec::new();
            loop {
                let Some(b) = self.peek() else {
                    return Err(self.error("unterminated string"));
                };
                self.i += 1;
                match b {
                    b'"' => break,
                    b'\\' => {
                        let Some(e) = self.peek() else {
                            return Err(self.error("unterminated string"));
                        };
                        self.i += 1;
                        let c = match e {
                            b'"' => '"',
                            b'\\' => '\\',
                            b'/' => '/',
                            b'b' => '\u{8}',
                            b'f' => '\u{c}',
                            b'n' => '\n',
                            b'r' => '\r',
                            b't' => '\t',
                            b'u' => self.unicode_escape()?,
                            _ => return Err(self.error("unknown escape")),
                        };
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                    0x00..=0x1f => return Err(self.error("control character in string")),
                    _ => out.push(b),
                }
            }
            // The input is a &str and escapes were encoded as UTF-8, so this cannot fail;
            // still, no panics on input.
            String::from_utf8(out).map_err(|_| self.error("invalid UTF-8 in string"))
        }

        /// After `\u`: four hex digits, or a surrogate pair `\uD8xx\uDCxx`.
        fn unicode_escape(&mut self) -> Result<char, String> {
            let hi = self.hex4()?;
            let code = if (0xD800..0xDC00).contains(&hi) {
                if !self.s[self.i..].starts_with(b"\\u") {
                    return Err(self.error("lone surrogate"));
                }
                self.i += 2;
                let lo = self.hex4()?;
                if !(0xDC00..0xE000).contains(&lo) {
                    return Err(self.error("bad surrogate pair"));
                }
                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
            } else {
                hi
            };
            char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))
        }

        fn hex4(&mut self) -> Result<u32, String> {
            let digits = self
                .s
                .get(self.i..self.i + 4)
                .ok_or_else(|| self.error("short \\u escape"))?;
            let text = std::str::from_utf8(digits).map_err(|_| self.error("bad \\u escape"))?;
            let v = u32::from_str_radix(text, 16).map_err(|_| self.error("bad \\u escape"))?;
            if text.starts_with('+') || text.starts_with('-') {
                return Err(self.error("bad \\u escape"));
            }
            self.i += 4;
            Ok(v)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn reads_nested_values_and_escapes() {
            let v =
                parse(r#" {"a\"b\u00e9\ud83d\ude00": [1, -2.5e3, true, null, {}], "c": "x\ny"} "#)
                    .unwrap();
            let Value::Object(f) = v else { panic!() };
            assert_eq!(f[0].0, "a\"bé😀");
            assert_eq!(
                f[0].1,
                Value::Array(vec![
                    Value::Number("1".into()),
                    Value::Number("-2.5e3".into()),
                    Value::Bool(true),
                    Value::Null,
                    Value::Object(vec![])
                ])
            );
            assert_eq!(f[1].1, Value::String("x\ny".into()));
        }

        #[test]
        fn refuses_malformed_text() {
            for bad in [
                "",
                "{",
                "{\"a\"}",
                "{\"a\":1,}",
                "[1 2]",
                "\"abc",
                "\"\\q\"",
                "\"\\u12\"",
                "\"\\ud800\"",
                "01x",
                "-",
                "1.",
                "{\"a\":1,\"a\":2}",
                "[1] 2",
                "tru",
                "\"\\u+123\"",
            ] {
                assert!(parse(bad).is_err(), "accepted {bad:?}");
            }
            let deep = "[".repeat(10_000);
            assert!(parse(&deep).unwrap_err().contains("nested too deeply"));
        }
    }
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
