//! The command-line front end: subcommand dispatch.
//!
//! ```text
//! deepcluster DATA_DIR [options]            the article's three-way comparison
//! deepcluster make-dataset IDX_DIR OUT_DIR  builds the article's layout from MNIST's IDX files
//! deepcluster evaluate TRUTH.csv PRED.csv   scores any clustering: nmi, acc, ari
//! deepcluster predict DATA_DIR --model DIR  clusters unlabelled images with saved weights
//! ```

use crate::{Error, Result};

pub mod args;
pub mod evaluate;
pub mod interrupt;
pub mod make_dataset;
pub mod predict;
pub mod run;

/// Writes `text` to stdout, fallibly: a full disk is an error naming stdout, and a reader
/// that went away (`| head -c 0`, EPIPE) ends the output quietly, where `print!` would panic.
/// The output folder is complete before anything is printed.
pub fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io("stdout", e)),
        _ => Ok(()),
    }
}

pub fn main(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        None => Err(Error::invalid(
            "arguments",
            "expected a data folder or a subcommand; see --help",
        )),
        Some("make-dataset") => make_dataset::main(&args[1..]),
        Some("evaluate") => evaluate::main(&args[1..]),
        Some("predict") => predict::main(&args[1..]),
        Some(_) => run::main(args),
    }
}
