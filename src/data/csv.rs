//! The image lists of the article's layout: `train.csv` (`filename,label`) and `test.csv`
//! (`filename`).
//!
//! A small hand-written reader for the CSV that spreadsheets and pandas write (RFC 4180):
//! the header names the columns, `filename` is required, `label` optional, other columns are
//! ignored; fields may be quoted (`"a,b"`, with `""` for a quote inside); lines may end in
//! CRLF or LF; a UTF-8 byte-order mark and a missing final newline are accepted; blank lines
//! are skipped. Errors name the file and the 1-based line.

use std::collections::HashMap;
use std::path::{Component, Path};

use crate::{Error, Result};

/// A record longer than this is refused: image lists have short lines, and the cap keeps a
/// corrupt file from turning into one giant allocation.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// A list file larger than this is refused before it is read (70,000 rows take 1 MB).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// The rows of an image list.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    /// Relative paths, checked not to leave the folder they are resolved in.
    pub filenames: Vec<String>,
    /// Present when the header has a `label` column.
    pub labels: Option<Vec<u8>>,
    /// The line of the file each row starts on, for error messages about its image.
    pub lines: Vec<usize>,
}

/// Reads and checks an image list.
pub fn read_listing(path: &Path) -> Result<Listing> {
    let bytes =
        crate::io::read::read_lines_capped(path, MAX_FILE_BYTES, MAX_LINE_BYTES, "an image list")?;
    parse_listing(path, &bytes)
}

/// The text of a CSV file's bytes: a UTF-8 byte-order mark dropped, and bytes that are not
/// UTF-8 an error naming the file and the line they are on.
pub fn text_of<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        Error::data_row(path, line, "not UTF-8 text")
    })
}

/// Parses an image list held in memory; `path` is only used in error messages.
pub fn parse_listing(path: &Path, bytes: &[u8]) -> Result<Listing> {
    let mut records = Records::new(text_of(path, bytes)?);

    // The header: the first non-blank record.
    let (header_line, header) = loop {
        match records.next_record() {
            Some(Err((line, problem))) => return Err(Error::data_row(path, line, problem)),
            Some(Ok((_, fields))) if is_blank(&fields) => continue,
            Some(Ok(record)) => break record,
            None => {
                return Err(Error::data(
                    path,
                    "empty file: expected a header line naming a `filename` column",
                ));
            }
        }
    };
    let mut columns: HashMap<&str, usize> = HashMap::new();
    for (i, name) in header.iter().enumerate() {
        columns.entry(name.trim()).or_insert(i);
    }
    let filename_col = *columns.get("filename").ok_or_else(|| {
        Error::data_row(
            path,
            header_line,
            format!(
                "no `filename` column in the header (found: {})",
                header.join(", ")
            ),
        )
    })?;
    let label_col = columns.get("label").copied();

    let mut listing = Listing {
        filenames: Vec::new(),
        labels: label_col.map(|_| Vec::new()),
        lines: Vec::new(),
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    while let Some(record) = records.next_record() {
        let (line, fields) =
            record.map_err(|(line, problem)| Error::data_row(path, line, problem))?;
        if is_blank(&fields) {
            continue;
        }
        if fields.len() != header.len() {
            return Err(Error::data_row(
                path,
                line,
                format!(
                    "{} fields, but the header has {}",
                    fields.len(),
                    header.len()
                ),
            ));
        }
        let filename = &fields[filename_col];
        check_filename(filename).map_err(|problem| Error::data_row(path, line, problem))?;
        if let Some(first) = seen.insert(filename.clone(), line) {
            return Err(Error::data_row(
                path,
                line,
                format!("duplicate filename `{filename}` (first on line {first})"),
            ));
        }
        if let (Some(col), Some(labels)) = (label_col, listing.labels.as_mut()) {
            let text = fields[col].trim();
            let label = text.parse::<u8>().map_err(|_| {
                Error::data_row(
                    path,
                    line,
                    format!("label `{text}` is not an integer in 0..=255"),
                )
            })?;
            labels.push(label);
        }
        listing.filenames.push(filename.clone());
        listing.lines.push(line);
    }
    if listing.filenames.is_empty() {
        return Err(Error::data(
            path,
            "no rows after the header: no images listed",
        ));
    }
    Ok(listing)
}

fn is_blank(fields: &[String]) -> bool {
    fields.len() == 1 && fields[0].trim().is_empty()
}

/// A filename must stay inside the folder it is resolved in: relative, no `..`.
fn check_filename(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("empty filename".into());
    }
    for component in Path::new(name).components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!("filename `{name}` leaves the data folder (`..`)"));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("filename `{name}` is an absolute path"));
            }
        }
    }
    Ok(())
}

/// Splits CSV text into records (lists of fields), tracking line numbers. Also used by
/// `cli::evaluate` to read its label files.
pub(crate) struct Records<'a> {
    text: &'a [u8],
    source: &'a str,
    pos: usize,
    line: usize,
}

pub(crate) type RecordResult = std::result::Result<(usize, Vec<String>), (usize, String)>;

impl<'a> Records<'a> {
    pub(crate) fn new(source: &'a str) -> Self {
        Records {
            text: source.as_bytes(),
            source,
            pos: 0,
            line: 1,
        }
    }

    /// The next record and the line it starts on, or None at the end of the text.
    pub(crate) fn next_record(&mut self) -> Option<RecordResult> {
        if self.pos >= self.text.len() {
            return None;
        }
        let start_line = self.line;
        let start = self.pos;
        let mut fields = Vec::new();
        loop {
            let field = match self.field() {
                Ok(f) => f,
                Err(problem) => return Some(Err((start_line, problem))),
            };
            fields.push(field);
            if self.pos - start > MAX_LINE_BYTES {
                return Some(Err((
                    start_line,
                    format!("line longer than {MAX_LINE_BYTES} bytes"),
                )));
            }
            match self.text.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'\r') => {
                    self.pos += 1;
                    if self.text.get(self.pos) == Some(&b'\n') {
                        self.pos += 1;
                    }
                    self.line += 1;
                    break;
                }
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                    break;
                }
                None => break,
                Some(_) => unreachable!("a field ends at a separator or the end"),
            }
        }
        Some(Ok((start_line, fields)))
    }

    /// One field, leaving `pos` on the separator (or end) that follows it.
    fn field(&mut self) -> std::result::Result<String, String> {
        let start = self.pos;
        if self.text.get(self.pos) != Some(&b'"') {
            while let Some(&b) = self.text.get(self.pos) {
                if matches!(b, b',' | b'\r' | b'\n') {
                    break;
                }
                self.pos += 1;
                if self.pos - start > MAX_LINE_BYTES {
                    return Err(format!("line longer than {MAX_LINE_BYTES} bytes"));
                }
            }
            return Ok(self.source[start..self.pos].to_string());
        }
        // Quoted: runs up to the closing quote; `""` is a quote; newlines are kept.
        self.pos += 1;
        let mut value = String::new();
        let mut run = self.pos;
        loop {
            if self.pos - start > MAX_LINE_BYTES {
                return Err(format!("line longer than {MAX_LINE_BYTES} bytes"));
            }
            match self.text.get(self.pos) {
                None => return Err("unterminated quoted field".into()),
                Some(b'"') => {
                    value.push_str(&self.source[run..self.pos]);
                    if self.text.get(self.pos + 1) == Some(&b'"') {
                        value.push('"');
                        self.pos += 2;
                        run = self.pos;
                    } else {
                        self.pos += 1;
                        break;
                    }
                }
                Some(b'\n') => {
                    self.line += 1;
                    self.pos += 1;
                }
                Some(_) => self.pos += 1,
            }
        }
        match self.text.get(self.pos) {
            None | Some(b',' | b'\r' | b'\n') => Ok(value),
            Some(_) => Err("unexpected character after a closing quote".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Listing> {
        parse_listing(Path::new("list.csv"), text.as_bytes())
    }

    #[test]
    fn plain_file_with_labels() {
        let l = parse("filename,label\n0.png,5\n1.png,0\n").unwrap();
        assert_eq!(l.filenames, vec!["0.png", "1.png"]);
        assert_eq!(l.labels, Some(vec![5, 0]));
        assert_eq!(l.lines, vec![2, 3]);
    }

    #[test]
    fn bom_crlf_quotes_extra_columns_and_no_final_newline() {
        let text = "\u{feff}id,\"label\",filename\r\n7,3,\"a,\"\"b\"\".png\"\r\n\r\n8, 4 ,c.png";
        let l = parse(text).unwrap();
        assert_eq!(l.filenames, vec!["a,\"b\".png", "c.png"]);
        assert_eq!(l.labels, Some(vec![3, 4]));
        assert_eq!(l.lines, vec![2, 4]);
    }

    #[test]
    fn quoted_newline_counts_lines() {
        let l = parse("filename,note\n\"a.png\",\"two\nlines\"\nb.png,x\n").unwrap();
        assert_eq!(l.lines, vec![2, 4]);
        assert_eq!(l.labels, None);
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn every_problem_names_file_and_line() {
        assert_eq!(
            err(""),
            "list.csv: empty file: expected a header line naming a `filename` column"
        );
        assert!(err("name,label\na,1\n").starts_with("list.csv, line 1: no `filename` column"));
        assert_eq!(
            err("filename,label\na,1\nb,x\n"),
            "list.csv, line 3: label `x` is not an integer in 0..=255"
        );
        assert!(err("filename,label\na,256\n").contains("line 2: label `256`"));
        assert!(err("filename,label\na,1\na,2\n").contains("line 3: duplicate filename `a`"));
        assert!(err("filename,label\n../a,1\n").contains("leaves the data folder"));
        assert!(err("filename,label\n/etc/passwd,1\n").contains("absolute path"));
        assert!(err("filename,label\na\n").contains("line 2: 1 fields, but the header has 2"));
        assert!(err("filename\n\"a\n").contains("line 2: unterminated"));
        assert!(err("filename\n\"a\"b\n").contains("after a closing quote"));
        assert!(err("filename\n").contains("no images listed"));
        let long = format!("filename\n{}\n", "x".repeat(MAX_LINE_BYTES + 10));
        assert!(err(&long).contains("line 2: line longer than"));
        let bad = parse_listing(Path::new("l.csv"), b"filename\n\xff\n").unwrap_err();
        assert_eq!(bad.to_string(), "l.csv, line 2: not UTF-8 text");
    }
}
