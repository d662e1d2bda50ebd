//! `deepcluster make-dataset IDX_DIR OUT_DIR`: builds the article's layout (train.csv,
//! test.csv, train/*.png, test/*.png, README.md) from MNIST's four IDX files, raw or .gz.

use std::path::Path;

use crate::{Error, Result};

pub fn main(args: &[String]) -> Result<()> {
    let [idx_dir, out_dir] = args else {
        return Err(Error::invalid(
            "make-dataset",
            "usage: deepcluster make-dataset IDX_DIR OUT_DIR",
        ));
    };
    let (idx_dir, out_dir) = (Path::new(idx_dir), Path::new(out_dir));
    let start = std::time::Instant::now();
    crate::data::make_dataset(idx_dir, out_dir)?;
    eprintln!(
        "make-dataset: wrote {} from {} in {:.1} s",
        out_dir.display(),
        idx_dir.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
