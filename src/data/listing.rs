//! The image lists of the article's layout: `train.csv` (`filename,label`) and `test.csv`
//! (`filename`).
//!
//! Read through the crate's CSV reader ([`crate::format::csv`]: quotes, CRLF, a byte-order
//! mark, blank lines): the header names the columns, `filename` is required, `label`
//! optional, other columns are ignored. A filename must stay inside the folder (relative,
//! no `..`) and appear once; a label is an integer in 0..=255. Errors name the file and the
//! 1-based line.

use std::path::{Component, Path};

use crate::format::csv::{self, Reader, Unique};
use crate::{Error, Result};

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
    let bytes = csv::read_file(path, "an image list")?;
    parse_listing(path, &bytes)
}

/// Parses an image list held in memory; `path` is only used in error messages.
pub fn parse_listing(path: &Path, bytes: &[u8]) -> Result<Listing> {
    let mut reader = Reader::new(path, bytes)?;
    let header = reader.header("a header line naming a `filename` column")?;
    let (filename_col, _) = header.find(path, &["filename"])?;
    let label_col = header.position("label");

    let mut listing = Listing {
        filenames: Vec::new(),
        labels: label_col.map(|_| Vec::new()),
        lines: Vec::new(),
    };
    let mut seen = Unique::default();
    while let Some(row) = reader.row(&header)? {
        let line = row.line;
        let filename = &row.fields[filename_col];
        check_filename(filename).map_err(|problem| Error::data_row(path, line, problem))?;
        seen.insert(path, line, "filename", filename)?;
        if let (Some(col), Some(labels)) = (label_col, listing.labels.as_mut()) {
            labels.push(row.parse::<u8>(path, col, "label", "an integer in 0..=255")?);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::csv::MAX_LINE_BYTES;

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
