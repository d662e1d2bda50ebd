//! `deepcluster predict DATA_DIR --model DIR`: arguments -> configuration -> call -> print.
//!
//! The clustering, the model files and the gallery are `experiment::predict`'s; this file
//! parses the options, runs it in a pool of `--threads` threads with progress lines on
//! stderr (none with `--quiet`), and says what was written.

use crate::Result;
use crate::cli::args::{self, Parsed, PredictOptions};
use crate::cli::run::in_pool;
use crate::experiment::predict::{self, Config};
use crate::report::progress::Progress;

pub fn main(args: &[String]) -> Result<()> {
    match args::parse_predict(args)? {
        Parsed::Predict(options) => in_pool(options.threads, || run(&options)),
        Parsed::Help(text) => crate::cli::print_stdout(&text),
        Parsed::Run(_) => unreachable!("parse_predict only parses predict"),
    }
}

fn run(options: &PredictOptions) -> Result<()> {
    let mut progress = Progress::new(options.quiet);
    let config = Config {
        data_dir: options.data_dir.clone(),
        model: options.model.clone(),
        out: options.out.clone(),
        image_size: options.image_size,
        colour: options.colour,
        skip_unreadable: options.skip_unreadable,
        method: options.method,
    };
    let done = predict::predict(&config, &mut progress)?;
    let sizes: Vec<String> = done.cluster_sizes.iter().map(usize::to_string).collect();
    progress.note(&format!(
        "wrote {} and the gallery in {} (cluster sizes {})",
        done.predictions.display(),
        done.gallery.display(),
        sizes.join(" ")
    ));
    Ok(())
}
