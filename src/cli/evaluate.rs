//! `evaluate TRUTH.csv PRED.csv` (owned by the metrics work, see issue 5).

use crate::{Error, Result};

pub fn main(_args: &[String]) -> Result<()> {
    Err(Error::invalid("evaluate", "not built yet"))
}
