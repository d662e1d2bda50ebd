//! `make-dataset IDX_DIR OUT_DIR` (owned by the data work, see issue 2).

use crate::{Error, Result};

pub fn main(_args: &[String]) -> Result<()> {
    Err(Error::invalid("make-dataset", "not built yet"))
}
