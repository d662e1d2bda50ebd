//! `evaluate TRUTH.csv PRED.csv`: scores a clustering made by any tool (the join on
//! `filename` is `experiment::evaluate`). Prints `nmi=<f> acc=<f> ari=<f>` with 6 decimals.

use std::path::Path;

pub use crate::experiment::evaluate::evaluate;
use crate::{Error, Result};

pub fn main(args: &[String]) -> Result<()> {
    let [truth, pred] = args else {
        return Err(Error::invalid(
            "evaluate",
            "usage: evaluate TRUTH.csv PRED.csv (TRUTH: filename,label; PRED: filename,cluster)",
        ));
    };
    let s = evaluate(Path::new(truth), Path::new(pred))?;
    crate::cli::print_stdout(&format!(
        "nmi={:.6} acc={:.6} ari={:.6}\n",
        s.nmi, s.acc, s.ari
    ))
}
