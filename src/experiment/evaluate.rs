//! Scoring a clustering made by any tool (`deepcluster evaluate TRUTH.csv PRED.csv`).
//!
//! Both files are CSV with a header (read by the crate's CSV reader, `format::csv`: quotes,
//! CRLF, a byte-order mark are fine). TRUTH.csv has `filename` and `label` columns,
//! PRED.csv `filename` and `cluster` (or, failing that, `label`); other columns are ignored.
//! Rows are joined on `filename`, in any order; a filename present in only one file is an
//! error, as is a filename listed twice. Labels are integers (negative ones too, such as a -1 noise label)
//! and only name groups.

use std::collections::HashMap;
use std::path::Path;

use crate::format::csv::{self, Reader, Unique};
use crate::metrics::{Scores, score};
use crate::{Error, Result};

/// How many unmatched filenames an error message names.
const NAMED_IN_ERRORS: usize = 5;

/// Joins the two files on `filename` and scores PRED's clusters against TRUTH's labels.
pub fn evaluate(truth_path: &Path, pred_path: &Path) -> Result<Scores> {
    let truth = read_labels(truth_path, &["label"])?;
    let pred = read_labels(pred_path, &["cluster", "label"])?;
    let pred_of: HashMap<&str, i64> = pred
        .iter()
        .map(|r| (r.filename.as_str(), r.label))
        .collect();
    let in_truth: HashMap<&str, ()> = truth.iter().map(|r| (r.filename.as_str(), ())).collect();

    let only_truth: Vec<&str> = truth
        .iter()
        .map(|r| r.filename.as_str())
        .filter(|f| !pred_of.contains_key(f))
        .collect();
    let only_pred: Vec<&str> = pred
        .iter()
        .map(|r| r.filename.as_str())
        .filter(|f| !in_truth.contains_key(f))
        .collect();
    if !only_truth.is_empty() || !only_pred.is_empty() {
        let mut parts = Vec::new();
        for (names, path) in [(&only_truth, truth_path), (&only_pred, pred_path)] {
            if !names.is_empty() {
                parts.push(format!(
                    "{} only in {} ({}{})",
                    names.len(),
                    path.display(),
                    names[..names.len().min(NAMED_IN_ERRORS)].join(", "),
                    if names.len() > NAMED_IN_ERRORS {
                        ", ..."
                    } else {
                        ""
                    }
                ));
            }
        }
        return Err(Error::invalid(
            "evaluate",
            format!("the files list different images: {}", parts.join("; ")),
        ));
    }

    let truth_labels: Vec<i64> = truth.iter().map(|r| r.label).collect();
    let pred_labels: Vec<i64> = truth.iter().map(|r| pred_of[r.filename.as_str()]).collect();
    score(&codes(&truth_labels), &codes(&pred_labels))
}

/// One data row: the image and its label (or cluster).
struct Row {
    filename: String,
    label: i64,
}

/// Reads the `filename` column and the first of `columns` that the header has.
fn read_labels(path: &Path, columns: &[&str]) -> Result<Vec<Row>> {
    let bytes = csv::read_file(path, "a CSV file")?;
    let mut reader = Reader::new(path, &bytes)?;
    let header = reader.header("a header line")?;
    let (filename_col, _) = header.find(path, &["filename"])?;
    let (label_col, label_name) = header.find(path, columns)?;

    let mut rows = Vec::new();
    let mut seen = Unique::default();
    while let Some(record) = reader.row(&header)? {
        let line = record.line;
        let filename = record.fields[filename_col].clone();
        seen.insert(path, line, "filename", &filename)?;
        let label = record.parse::<i64>(path, label_col, label_name, "an integer")?;
        rows.push(Row { filename, label });
    }
    if rows.is_empty() {
        return Err(Error::data(path, "no rows after the header"));
    }
    Ok(rows)
}

/// Renames integer labels to 0.. (the metrics only need them to be distinct names).
fn codes(labels: &[i64]) -> Vec<usize> {
    let mut distinct = labels.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    labels
        .iter()
        .map(|l| {
            distinct
                .binary_search(l)
                .expect("a label is among the distinct ones")
        })
        .collect()
}
