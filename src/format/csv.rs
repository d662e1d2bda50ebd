//! CSV, read and written by hand: the one reader and the one writer of the crate, used by
//! the image lists (`data::listing`), `evaluate`'s files, the logs (`report::table`),
//! `results.csv` and `predictions.csv`.
//!
//! Reading accepts the CSV that spreadsheets and pandas write (RFC 4180): fields may be
//! quoted (`"a,b"`, with `""` for a quote inside, and line breaks kept inside the quotes);
//! lines may end in CRLF or LF; a UTF-8 byte-order mark and a missing final newline are
//! accepted; blank lines are skipped. The first non-blank record is the header. Every error
//! names the file and the 1-based line the record starts on.
//!
//! Writing is the inverse for what this program writes: LF line ends, no byte-order mark,
//! and a field quoted only when it holds a comma, a quote or a line break, so that a file of
//! numbers and plain names reads exactly as `format!` would have written it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use crate::{Error, Result};

/// A record longer than this is refused: the files read here have short lines, and the
/// cap keeps a corrupt file from turning into one giant allocation.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// A CSV file larger than this is refused before it is read (70,000 rows take 1 MB).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Reads a CSV file the program did not write: a regular file only, through the caps
/// above, so that `/dev/zero` or a one-line gigabyte is refused, not read until memory runs
/// out. `what` names the kind of file in the message ("an image list").
pub fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    crate::io::read::read_lines_capped(path, MAX_FILE_BYTES, MAX_LINE_BYTES, what)
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

/// One record: its fields, unquoted, and the line of the file it starts on.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

impl Record {
    /// Field `column`, surrounding spaces trimmed, parsed as a `T`; otherwise an error naming
    /// the file and the line: "`name` `text` is not `expected`".
    pub fn parse<T: FromStr>(
        &self,
        path: &Path,
        column: usize,
        name: &str,
        expected: &str,
    ) -> Result<T> {
        let text = self.fields[column].trim();
        text.parse().map_err(|_| {
            Error::data_row(
                path,
                self.line,
                format!("{name} `{text}` is not {expected}"),
            )
        })
    }
}

/// The header record: the names of the columns, as written (not trimmed).
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub line: usize,
    pub names: Vec<String>,
}

impl Header {
    /// The first column named `name` (surrounding spaces ignored).
    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|h| h.trim() == name)
    }

    /// The first of `names` that the header has, and its column; otherwise an error naming
    /// the file, the header's line, what was looked for and what was found.
    pub fn find<'n>(&self, path: &Path, names: &[&'n str]) -> Result<(usize, &'n str)> {
        names
            .iter()
            .find_map(|&name| self.position(name).map(|i| (i, name)))
            .ok_or_else(|| {
                let wanted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                Error::data_row(
                    path,
                    self.line,
                    format!(
                        "no {} column in the header (found: {})",
                        wanted.join(" or "),
                        self.names.join(", ")
                    ),
                )
            })
    }

    /// Whether the header is exactly `columns`, in order.
    pub fn is(&self, columns: &[&str]) -> bool {
        self.names.len() == columns.len() && self.names.iter().zip(columns).all(|(a, b)| a == b)
    }
}

/// Reads CSV text record by record; errors are `Error::Data` naming the file and the line.
pub struct Reader<'a> {
    path: &'a Path,
    records: Records<'a>,
}

impl<'a> Reader<'a> {
    /// A reader of the file's bytes (see [`text_of`]); `path` is only used in messages.
    pub fn new(path: &'a Path, bytes: &'a [u8]) -> Result<Self> {
        Ok(Reader {
            path,
            records: Records::new(text_of(path, bytes)?),
        })
    }

    /// The next record that is not blank, or None at the end of the text.
    pub fn record(&mut self) -> Result<Option<Record>> {
        loop {
            match self.records.next_record() {
                None => return Ok(None),
                Some(Err((line, problem))) => {
                    return Err(Error::data_row(self.path, line, problem));
                }
                Some(Ok((_, fields))) if fields.len() == 1 && fields[0].trim().is_empty() => {}
                Some(Ok((line, fields))) => return Ok(Some(Record { line, fields })),
            }
        }
    }

    /// The header: the first non-blank record. A file without one is an error, "empty
    /// file: expected `expected`".
    pub fn header(&mut self, expected: &str) -> Result<Header> {
        match self.record()? {
            Some(Record { line, fields }) => Ok(Header {
                line,
                names: fields,
            }),
            None => Err(Error::data(
                self.path,
                format!("empty file: expected {expected}"),
            )),
        }
    }

    /// The next data row, which must have as many fields as `header`; None at the end.
    pub fn row(&mut self, header: &Header) -> Result<Option<Record>> {
        let Some(record) = self.record()? else {
            return Ok(None);
        };
        if record.fields.len() != header.names.len() {
            return Err(Error::data_row(
                self.path,
                record.line,
                format!(
                    "{} fields, but the header has {}",
                    record.fields.len(),
                    header.names.len()
                ),
            ));
        }
        Ok(Some(record))
    }
}

/// The line each value of a key column (a filename) was first seen on, so that a value
/// listed twice is an error naming both lines.
#[derive(Debug, Default)]
pub struct Unique {
    first_line: HashMap<String, usize>,
}

impl Unique {
    /// Records `value` of `column`, seen on `line`; an error if it was seen before.
    pub fn insert(&mut self, path: &Path, line: usize, column: &str, value: &str) -> Result<()> {
        match self.first_line.insert(value.to_string(), line) {
            Some(first) => Err(Error::data_row(
                path,
                line,
                format!("duplicate {column} `{value}` (first on line {first})"),
            )),
            None => Ok(()),
        }
    }
}

/// A field as written: quoted, with `""` for a quote, when it holds a comma, a quote or a
/// line break; unchanged otherwise.
pub fn quote(field: &str) -> Cow<'_, str> {
    if field.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
}

/// CSV text built in memory, a header then rows, each line ending in LF.
#[derive(Clone, Debug, PartialEq)]
pub struct Writer {
    columns: usize,
    text: String,
}

impl Writer {
    /// The text so far is the header line naming `columns`.
    pub fn new(columns: &[&str]) -> Self {
        let mut writer = Writer {
            columns: columns.len(),
            text: String::new(),
        };
        writer.line(columns);
        writer
    }

    /// Appends one row; it must have as many fields as the header.
    #[track_caller]
    pub fn row<S: AsRef<str>>(&mut self, fields: &[S]) {
        assert_eq!(
            fields.len(),
            self.columns,
            "row width differs from the header"
        );
        self.line(fields);
    }

    fn line<S: AsRef<str>>(&mut self, fields: &[S]) {
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.text.push(',');
            }
            self.text.push_str(&quote(field.as_ref()));
        }
        self.text.push('\n');
    }

    /// The header and every row so far.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Splits CSV text into records (lists of fields), tracking line numbers: the tokenizer
/// under [`Reader`].
struct Records<'a> {
    text: &'a [u8],
    source: &'a str,
    pos: usize,
    line: usize,
}

type RecordResult = std::result::Result<(usize, Vec<String>), (usize, String)>;

impl<'a> Records<'a> {
    fn new(source: &'a str) -> Self {
        Records {
            text: source.as_bytes(),
            source,
            pos: 0,
            line: 1,
        }
    }

    /// The next record and the line it starts on, or None at the end of the text.
    fn next_record(&mut self) -> Option<RecordResult> {
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

    fn records(text: &str) -> Result<Vec<Record>> {
        let mut reader = Reader::new(Path::new("t.csv"), text.as_bytes())?;
        let mut out = Vec::new();
        while let Some(r) = reader.record()? {
            out.push(r);
        }
        Ok(out)
    }

    fn fields(r: &Record) -> Vec<&str> {
        r.fields.iter().map(String::as_str).collect()
    }

    #[test]
    fn quotes_crlf_bom_blank_lines_and_no_final_newline() {
        let text = "\u{feff}a,\"b,c\"\r\n\r\n\"say \"\"hi\"\"\",\"two\nlines\"\n\nx,";
        let r = records(text).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].line, fields(&r[0])), (1, vec!["a", "b,c"]));
        assert_eq!(
            (r[1].line, fields(&r[1])),
            (3, vec!["say \"hi\"", "two\nlines"])
        );
        assert_eq!((r[2].line, fields(&r[2])), (6, vec!["x", ""]));
    }

    fn err(text: &str) -> String {
        records(text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_file_and_the_line_of_the_record() {
        assert_eq!(err("a\n\"b\n"), "t.csv, line 2: unterminated quoted field");
        assert_eq!(
            err("a\n\n\"b\"c\n"),
            "t.csv, line 3: unexpected character after a closing quote"
        );
        let long = format!("a\n{}\n", "x".repeat(MAX_LINE_BYTES + 1));
        assert_eq!(
            err(&long),
            format!("t.csv, line 2: line longer than {MAX_LINE_BYTES} bytes")
        );
        let not_utf8 = Reader::new(Path::new("t.csv"), b"a\nb\n\xff")
            .err()
            .unwrap();
        assert_eq!(not_utf8.to_string(), "t.csv, line 3: not UTF-8 text");
    }

    #[test]
    fn header_rows_and_duplicates() {
        let path = Path::new("t.csv");
        let mut reader = Reader::new(path, b"\n id , name\n1,a\n2\n").unwrap();
        let header = reader.header("a header").unwrap();
        assert_eq!(header.line, 2);
        assert_eq!(header.find(path, &["x", "name"]).unwrap(), (1, "name"));
        assert_eq!(
            header.find(path, &["x", "y"]).unwrap_err().to_string(),
            "t.csv, line 2: no `x` or `y` column in the header (found:  id ,  name)"
        );
        assert!(!header.is(&["id", "name"]));
        assert_eq!(reader.row(&header).unwrap().unwrap().line, 3);
        assert_eq!(
            reader.row(&header).unwrap_err().to_string(),
            "t.csv, line 4: 1 fields, but the header has 2"
        );
        let empty = Reader::new(path, b"\xef\xbb\xbf\r\n")
            .unwrap()
            .header("a header");
        assert_eq!(
            empty.unwrap_err().to_string(),
            "t.csv: empty file: expected a header"
        );
        let mut seen = Unique::default();
        seen.insert(path, 2, "filename", "a").unwrap();
        seen.insert(path, 3, "filename", "b").unwrap();
        assert_eq!(
            seen.insert(path, 7, "filename", "a")
                .unwrap_err()
                .to_string(),
            "t.csv, line 7: duplicate filename `a` (first on line 2)"
        );
    }

    #[test]
    fn writer_quotes_only_what_needs_it_and_reads_back() {
        let mut w = Writer::new(&["filename", "cluster"]);
        let names = [
            "0.png",
            "a,b.png",
            "say \"hi\".png",
            "two\nlines",
            "cr\r",
            "",
        ];
        for (i, name) in names.iter().enumerate() {
            w.row(&[name.to_string(), i.to_string()]);
        }
        assert_eq!(
            w.text(),
            "filename,cluster\n0.png,0\n\"a,b.png\",1\n\"say \"\"hi\"\".png\",2\n\
             \"two\nlines\",3\n\"cr\r\",4\n,5\n"
        );
        let mut reader = Reader::new(Path::new("w.csv"), w.text().as_bytes()).unwrap();
        let header = reader.header("a header").unwrap();
        assert!(header.is(&["filename", "cluster"]));
        for (i, name) in names.iter().enumerate() {
            let row = reader.row(&header).unwrap().unwrap();
            assert_eq!(row.fields, vec![name.to_string(), i.to_string()]);
        }
        assert_eq!(reader.row(&header).unwrap(), None);
    }

    #[test]
    #[should_panic(expected = "row width differs from the header")]
    fn writer_refuses_a_row_of_the_wrong_width() {
        Writer::new(&["a", "b"]).row(&["1"]);
    }
}
