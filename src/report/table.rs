//! The results table (stdout), `results.csv`, and the training logs `pretrain_log.csv` and
//! `dec_log.csv`.
//!
//! Numbers are written with a fixed number of decimals, never Rust's shortest round-trip
//! form, so two runs with the same seed produce byte-identical files (except the seconds
//! column, which measures the machine). Every file is rewritten whole and atomically on each
//! change: they hold at most a few thousand short lines, and a reader never sees half a row.

use std::path::{Path, PathBuf};

use crate::format::csv;
use crate::metrics::Scores;
use crate::{Error, Result};

/// Decimals for scores (NMI, ACC, ARI) and losses.
pub const DECIMALS: usize = 6;

/// One method's final scores on the evaluation images.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultRow {
    /// `kmeans`, `ae+kmeans` or `dec`.
    pub method: String,
    /// NMI, ACC and ARI on the validation images; None when the images have no labels
    /// (an unlabelled folder), where the cluster sizes are the result.
    pub scores: Option<Scores>,
    /// The number of evaluation images in each cluster, (K,).
    pub sizes: Vec<usize>,
    /// Wall-clock time of the method, including what it builds on that it ran itself.
    pub seconds: f64,
}

/// How many images each of `clusters` clusters holds in `assignment`, (clusters,).
pub fn cluster_sizes(assignment: &[usize], clusters: usize) -> Vec<usize> {
    let mut sizes = vec![0; clusters];
    for &c in assignment {
        sizes[c] += 1;
    }
    sizes
}

/// Sizes as one space-separated field: `12 8 10`.
fn sizes_text(sizes: &[usize]) -> String {
    let words: Vec<String> = sizes.iter().map(|s| s.to_string()).collect();
    words.join(" ")
}

/// Whether every row has scores (a labelled run): the tables then show NMI, ACC and ARI,
/// otherwise the cluster sizes.
pub fn all_scored(rows: &[ResultRow]) -> bool {
    rows.iter().all(|r| r.scores.is_some())
}

/// The table printed on stdout, columns aligned. A labelled run:
///
/// ```text
/// method        NMI     ACC     ARI  seconds
/// kmeans     0.4998  0.5421  0.3662     45.2
/// ```
///
/// an unlabelled one (sizes of clusters 0, 1, 2, ..., last so that they need no width):
///
/// ```text
/// method  seconds  cluster sizes
/// kmeans      0.1  12 8 10
/// ```
pub fn format_results_table(rows: &[ResultRow]) -> String {
    let name_w = rows
        .iter()
        .map(|r| r.method.chars().count())
        .chain(["method".len()])
        .max()
        .unwrap_or(6);
    if !all_scored(rows) {
        let mut out = format!("{:<name_w$}  {:>8}  cluster sizes\n", "method", "seconds");
        for r in rows {
            out.push_str(&format!(
                "{:<name_w$}  {:>8.1}  {}\n",
                r.method,
                r.seconds,
                sizes_text(&r.sizes)
            ));
        }
        return out;
    }
    let mut out = format!(
        "{:<name_w$}  {:>6}  {:>6}  {:>6}  {:>8}\n",
        "method", "NMI", "ACC", "ARI", "seconds"
    );
    for r in rows {
        let s = r.scores.expect("all rows are scored");
        out.push_str(&format!(
            "{:<name_w$}  {:>6.4}  {:>6.4}  {:>6.4}  {:>8.1}\n",
            r.method, s.nmi, s.acc, s.ari, r.seconds
        ));
    }
    out
}

/// `results.csv`, one row per method: `method,nmi,acc,ari,seconds` for a labelled run;
/// for an unlabelled one `method,sizes,seconds`, where `sizes` is the cluster sizes in
/// cluster order separated by spaces (`kmeans,12 8 10,0.05`), one field that needs no
/// quoting. A labelled run's file is exactly as it always was.
pub fn write_results_csv(path: impl AsRef<Path>, rows: &[ResultRow]) -> Result<()> {
    if !all_scored(rows) {
        let mut log = CsvLog::new(path, &["method", "sizes", "seconds"]);
        for r in rows {
            log.push(&[
                Cell::Text(r.method.clone()),
                Cell::Text(sizes_text(&r.sizes)),
                Cell::Fixed(r.seconds, 2),
            ]);
        }
        return log.save();
    }
    let mut log = CsvLog::new(path, &["method", "nmi", "acc", "ari", "seconds"]);
    for r in rows {
        let s = r.scores.expect("all rows are scored");
        log.push(&[
            Cell::Text(r.method.clone()),
            Cell::Float(s.nmi),
            Cell::Float(s.acc),
            Cell::Float(s.ari),
            Cell::Fixed(r.seconds, 2),
        ]);
    }
    log.save()
}

/// One value of a CSV row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Int(u64),
    /// Written with `DECIMALS` decimals.
    Float(f64),
    /// Written with the given number of decimals.
    Fixed(f64, usize),
    /// Quoted by the CSV writer when it holds a comma, a quote or a line break (RFC 4180).
    Text(String),
    /// Not measured at this row (e.g. accuracy on epochs where it is not computed).
    Empty,
}

impl Cell {
    fn render(&self) -> String {
        match self {
            Cell::Int(v) => v.to_string(),
            Cell::Float(v) => format!("{v:.DECIMALS$}"),
            Cell::Fixed(v, d) => format!("{v:.d$}"),
            Cell::Text(s) => s.clone(),
            Cell::Empty => String::new(),
        }
    }
}

/// A small CSV file kept in memory ([`csv::Writer`]) and rewritten atomically on every
/// `append`.
#[derive(Clone, Debug)]
pub struct CsvLog {
    path: PathBuf,
    csv: csv::Writer,
}

impl CsvLog {
    /// A log with the header `columns`; nothing is written until the first `append`/`save`.
    pub fn new(path: impl AsRef<Path>, columns: &[&str]) -> Self {
        CsvLog {
            path: path.as_ref().to_path_buf(),
            csv: csv::Writer::new(columns),
        }
    }

    /// Adds a row in memory only.
    #[track_caller]
    pub fn push(&mut self, cells: &[Cell]) {
        let row: Vec<String> = cells.iter().map(Cell::render).collect();
        self.csv.row(&row);
    }

    /// Adds a row and rewrites the file.
    pub fn append(&mut self, cells: &[Cell]) -> Result<()> {
        self.push(cells);
        self.save()
    }

    /// Writes the header and every row so far, atomically.
    pub fn save(&self) -> Result<()> {
        crate::io::write_atomic(&self.path, self.csv.text().as_bytes())
    }

    /// Reopens a log an earlier (interrupted) run wrote, for `--resume`: the header must be
    /// `columns`; the rows for which `keep` is true are kept (rows after the checkpoint are
    /// dropped, they will be written again) and returned split into cells. A missing file
    /// gives an empty log. Read through the crate's CSV reader, so a log that a spreadsheet
    /// saved again (CRLF, a byte-order mark) reopens too; the kept rows are written back as
    /// this program writes them.
    pub fn reopen(
        path: impl AsRef<Path>,
        columns: &[&str],
        mut keep: impl FnMut(&[&str]) -> bool,
    ) -> Result<(Self, Vec<Vec<String>>)> {
        let path = path.as_ref();
        let mut log = CsvLog::new(path, columns);
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((log, Vec::new())),
            Err(e) => return Err(Error::io(path, e)),
        };
        let expected = columns.join(",");
        let mut reader = csv::Reader::new(path, &bytes)?;
        let header = reader.header(&format!("the header `{expected}`"))?;
        if !header.is(columns) {
            return Err(Error::data_row(
                path,
                header.line,
                format!("header `{}`, expected `{expected}`", header.names.join(",")),
            ));
        }
        let mut kept = Vec::new();
        while let Some(row) = reader.row(&header)? {
            let cells: Vec<&str> = row.fields.iter().map(String::as_str).collect();
            if keep(&cells) {
                log.csv.row(&row.fields);
                kept.push(row.fields);
            }
        }
        Ok((log, kept))
    }

    pub fn text(&self) -> &str {
        self.csv.text()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `pretrain_log.csv`: `epoch,loss,acc,nmi`; acc and nmi only on the epochs where the
/// AE+K-Means score was computed. Kept in memory as well, for the loss curve.
#[derive(Clone, Debug)]
pub struct PretrainLog {
    log: CsvLog,
    /// (epoch, loss) for the curve.
    pub losses: Vec<(usize, f64)>,
    /// (epoch, acc, nmi) where computed.
    pub scores: Vec<(usize, f64, f64)>,
}

impl PretrainLog {
    pub fn new(path: impl AsRef<Path>) -> Self {
        PretrainLog {
            log: CsvLog::new(path, &["epoch", "loss", "acc", "nmi"]),
            losses: Vec::new(),
            scores: Vec::new(),
        }
    }

    /// Continues the log of an interrupted run from its checkpoint at `last_epoch`: rows up
    /// to and including it are kept, later ones dropped.
    pub fn resume(path: impl AsRef<Path>, last_epoch: usize) -> Result<Self> {
        let path = path.as_ref();
        let (log, rows) = CsvLog::reopen(path, &["epoch", "loss", "acc", "nmi"], |cells| {
            cells[0].parse::<usize>().is_ok_and(|e| e <= last_epoch)
        })?;
        let mut losses = Vec::new();
        let mut scores = Vec::new();
        for row in &rows {
            let epoch = parse_cell::<usize>(path, row, 0)?;
            losses.push((epoch, parse_cell::<f64>(path, row, 1)?));
            if !row[2].is_empty() {
                scores.push((
                    epoch,
                    parse_cell::<f64>(path, row, 2)?,
                    parse_cell::<f64>(path, row, 3)?,
                ));
            }
        }
        Ok(PretrainLog {
            log,
            losses,
            scores,
        })
    }

    /// `acc_nmi`: the AE+K-Means accuracy and NMI after this epoch, if computed.
    pub fn append(&mut self, epoch: usize, loss: f64, acc_nmi: Option<(f64, f64)>) -> Result<()> {
        self.losses.push((epoch, loss));
        let (acc, nmi) = match acc_nmi {
            Some((acc, nmi)) => {
                self.scores.push((epoch, acc, nmi));
                (Cell::Float(acc), Cell::Float(nmi))
            }
            None => (Cell::Empty, Cell::Empty),
        };
        self.log
            .append(&[Cell::Int(epoch as u64), Cell::Float(loss), acc, nmi])
    }

    pub fn csv(&self) -> &CsvLog {
        &self.log
    }
}

/// One DEC target-distribution update, as logged in `dec_log.csv`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecLogRow {
    /// The SGD step at which the target p was recomputed.
    pub iter: usize,
    /// ACC, NMI and ARI on the validation images; None in an unlabelled run (empty cells).
    pub scores: Option<Scores>,
    /// KL(P || Q) over the fit set (or the mean batch loss since the last update).
    pub loss: f64,
    /// Labels that changed since the previous update; `None` at the first update.
    pub changed: Option<usize>,
}

/// `dec_log.csv`: `iter,acc,nmi,ari,loss,changed` (acc, nmi, ari empty when unlabelled). Kept in memory as well, for the curves.
#[derive(Clone, Debug)]
pub struct DecLog {
    log: CsvLog,
    pub rows: Vec<DecLogRow>,
}

impl DecLog {
    pub fn new(path: impl AsRef<Path>) -> Self {
        DecLog {
            log: CsvLog::new(path, &["iter", "acc", "nmi", "ari", "loss", "changed"]),
            rows: Vec::new(),
        }
    }

    /// Continues the log of an interrupted run from its checkpoint at step `last_iter`.
    pub fn resume(path: impl AsRef<Path>, last_iter: usize) -> Result<Self> {
        let path = path.as_ref();
        let columns = ["iter", "acc", "nmi", "ari", "loss", "changed"];
        let (log, cells) = CsvLog::reopen(path, &columns, |cells| {
            cells[0].parse::<usize>().is_ok_and(|i| i <= last_iter)
        })?;
        let mut rows = Vec::new();
        for row in &cells {
            let scores = match row[1].as_str() {
                "" => None,
                _ => Some(Scores {
                    acc: parse_cell(path, row, 1)?,
                    nmi: parse_cell(path, row, 2)?,
                    ari: parse_cell(path, row, 3)?,
                }),
            };
            rows.push(DecLogRow {
                iter: parse_cell(path, row, 0)?,
                scores,
                loss: parse_cell(path, row, 4)?,
                changed: match row[5].as_str() {
                    "" => None,
                    _ => Some(parse_cell(path, row, 5)?),
                },
            });
        }
        Ok(DecLog { log, rows })
    }

    pub fn append(&mut self, row: DecLogRow) -> Result<()> {
        self.rows.push(row);
        let score = |f: fn(&Scores) -> f64| {
            row.scores
                .as_ref()
                .map_or(Cell::Empty, |s| Cell::Float(f(s)))
        };
        self.log.append(&[
            Cell::Int(row.iter as u64),
            score(|s| s.acc),
            score(|s| s.nmi),
            score(|s| s.ari),
            Cell::Float(row.loss),
            row.changed.map_or(Cell::Empty, |c| Cell::Int(c as u64)),
        ])
    }

    pub fn csv(&self) -> &CsvLog {
        &self.log
    }
}

/// Cell `column` of a reopened log's row, parsed.
fn parse_cell<T: std::str::FromStr>(path: &Path, row: &[String], column: usize) -> Result<T> {
    row[column].parse().map_err(|_| {
        Error::data(
            path,
            format!(
                "`{}` in row `{}` is not a number",
                row[column],
                row.join(",")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopen_keeps_the_rows_up_to_the_checkpoint_and_writes_them_back_as_written() {
        let dir = std::env::temp_dir().join(format!("deepcluster-csvlog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pretrain_log.csv");
        let columns = ["epoch", "loss", "acc", "nmi"];

        let mut log = CsvLog::new(&path, &columns);
        log.append(&[Cell::Int(1), Cell::Float(0.5), Cell::Empty, Cell::Empty])
            .unwrap();
        log.append(&[
            Cell::Int(2),
            Cell::Float(0.25),
            Cell::Float(0.75),
            Cell::Float(0.125),
        ])
        .unwrap();
        let written = log.text().to_string();
        assert_eq!(
            written,
            "epoch,loss,acc,nmi\n1,0.500000,,\n2,0.250000,0.750000,0.125000\n"
        );

        // Rows after the checkpoint (epoch 2) are dropped; the kept text is what was written.
        let (again, rows) = CsvLog::reopen(&path, &columns, |c| c[0] == "1").unwrap();
        assert_eq!(again.text(), "epoch,loss,acc,nmi\n1,0.500000,,\n");
        assert_eq!(rows, vec![vec!["1", "0.500000", "", ""]]);

        // A spreadsheet's re-save (byte-order mark, CRLF) reopens to the same rows and text.
        let saved_again = format!("\u{feff}{}", written.replace('\n', "\r\n"));
        std::fs::write(&path, saved_again).unwrap();
        let (resaved, _) = CsvLog::reopen(&path, &columns, |_| true).unwrap();
        assert_eq!(resaved.text(), written);

        let refused = |text: &str| {
            std::fs::write(&path, text).unwrap();
            let e = CsvLog::reopen(&path, &columns, |_| true).unwrap_err();
            e.to_string()
                .strip_prefix(&format!("{}, ", path.display()))
                .unwrap()
                .to_string()
        };
        assert_eq!(
            refused("epoch,loss\n1,0.5\n"),
            "line 1: header `epoch,loss`, expected `epoch,loss,acc,nmi`"
        );
        assert_eq!(
            refused("epoch,loss,acc,nmi\n1,0.5,,\n2,0.25\n"),
            "line 3: 2 fields, but the header has 4"
        );
        let (missing, rows) = CsvLog::reopen(dir.join("absent.csv"), &columns, |_| true).unwrap();
        assert_eq!((missing.text(), rows.len()), ("epoch,loss,acc,nmi\n", 0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
