//! `deepcluster DATA_DIR [options]`: the tutorial's three-way comparison.
//!
//! Arguments -> `experiment::Config` -> `experiment::run` -> the table on stdout. The
//! numerics, the files and the checkpoint format are the experiment's; this file only
//! builds the configuration, and its observer draws progress on stderr, reads the Ctrl-C
//! flag and writes checkpoints where `--resume` will look for them.

use std::path::PathBuf;

use crate::cli::args::{self, ALL_METHODS, Parsed, ProtocolArg, RunOptions};
use crate::cli::interrupt;
use crate::cli::print_stdout;
use crate::data::Protocol;
use crate::experiment::checkpoint::{self, Snapshot};
use crate::experiment::methods::{self, METHODS, Needs};
use crate::experiment::{self, Checkpoint, Config, Observer, Schedule};
use crate::report::progress::Progress;
use crate::report::table::format_results_table;
use crate::{Error, Result};

pub fn main(args: &[String]) -> Result<()> {
    let options = match args::parse_run(args)? {
        Parsed::Run(options) => options,
        Parsed::Help(text) => {
            return print_stdout(&text);
        }
        Parsed::Predict(_) => unreachable!("parse_run only parses the main command"),
    };
    check_combinations(&options)?;
    interrupt::install();
    let Some(dir) = options.resume.clone() else {
        return in_pool(options.threads, || run(&options, args, None));
    };
    // Resume: the checkpoint's own command line decides everything that shapes the results;
    // only the thread count (which cannot change a bit) and --quiet may be given anew.
    check_resume_alone(&options, args)?;
    let saved = checkpoint::load(&dir, |saved_args| {
        let schedule = schedule(&saved_options(saved_args)?);
        Ok((schedule.pretrain_optimizer.build(), schedule.dec))
    })?;
    let mut resumed = saved_options(&saved.args)?;
    resumed.out = dir;
    // The paths as the run resolved them, so that a resume from another working folder
    // reads the same files (the run's identity, checked by the experiment, covers them).
    if let Some(data_dir) = saved.data_dir {
        resumed.data_dir = data_dir;
    }
    if let Some(ae) = saved.ae_weights {
        resumed.ae_weights = Some(ae);
    }
    resumed.threads = options.threads.or(resumed.threads);
    resumed.quiet = options.quiet;
    in_pool(resumed.threads, || {
        run(&resumed, &saved.args, Some(saved.checkpoint))
    })
}

/// The options that are only given with `--resume`: the rest comes from the checkpoint.
const RESUME_OPTIONS: &[&str] = &["--resume", "--threads", "--quiet"];

/// With `--resume`, any option but `--threads` and `--quiet`, or a DATA_DIR, would be
/// silently ignored (the checkpoint's command line decides): refuse it, naming it.
fn check_resume_alone(options: &RunOptions, args: &[String]) -> Result<()> {
    if !options.data_dir.as_os_str().is_empty() {
        return Err(Error::invalid(
            "--resume",
            format!(
                "DATA_DIR `{}` cannot be given with --resume: the checkpoint names its data \
                 (only --threads and --quiet may be given)",
                options.data_dir.display()
            ),
        ));
    }
    // The parser has accepted the words, so every word starting with `--` is an option's
    // name (a value never starts with `--`).
    for arg in args {
        let name = arg.split_once('=').map_or(arg.as_str(), |(n, _)| n);
        if arg.starts_with("--") && !RESUME_OPTIONS.contains(&name) {
            return Err(Error::invalid(
                name,
                "cannot be given with --resume: the checkpoint's command line decides it \
                 (only --threads and --quiet may be given)",
            ));
        }
    }
    Ok(())
}

/// Options that would be silently ignored together.
fn check_combinations(o: &RunOptions) -> Result<()> {
    let on_pixels = methods::by_option(o.method).is_some_and(|m| m.needs == Needs::Pixels);
    if o.ae_weights.is_some() && on_pixels {
        return Err(Error::invalid(
            "--ae-weights",
            format!(
                "`--method {}` clusters the raw pixels and uses no autoencoder",
                o.method
            ),
        ));
    }
    if o.ae_weights.is_some() && o.epochs.is_some() {
        return Err(Error::invalid(
            "--epochs",
            "the autoencoder of --ae-weights is loaded, not pretrained: no epochs to set",
        ));
    }
    Ok(())
}

/// The options of a checkpoint's saved command line.
fn saved_options(args: &[String]) -> Result<RunOptions> {
    match args::parse_run(args)? {
        Parsed::Run(o) if o.resume.is_none() => Ok(o),
        _ => Err(Error::invalid(
            "--resume",
            "the checkpoint's command line is not a run",
        )),
    }
}

/// The preset, with `--epochs`, `--max-iter` and `--batch-size` applied.
pub fn schedule(o: &RunOptions) -> Schedule {
    let mut s = Schedule::preset(o.preset);
    if let Some(epochs) = o.epochs {
        s.pretrain_epochs = epochs;
    }
    if let Some(max_iter) = o.max_iter {
        s.dec.max_iter = max_iter;
        s.idec.dec.max_iter = max_iter;
    }
    if let Some(batch) = o.batch_size {
        s.pretrain_batch = batch;
        s.dec.batch_size = batch;
        s.idec.dec.batch_size = batch;
    }
    s
}

/// The experiment's configuration for these options.
pub fn config(o: &RunOptions) -> Config {
    // The table's names: `all` is every method marked `in_all`, in the table's order.
    let methods = match methods::by_option(o.method) {
        Some(m) => vec![m.name],
        None => {
            debug_assert_eq!(o.method, ALL_METHODS);
            METHODS
                .iter()
                .filter(|m| m.in_all)
                .map(|m| m.name)
                .collect()
        }
    };
    Config {
        data_dir: o.data_dir.clone(),
        folder: o.folder,
        protocol: match o.protocol {
            ProtocolArg::Split => Protocol::Split,
            ProtocolArg::All => Protocol::All,
        },
        unlabelled: o.unlabelled,
        methods,
        clusters: o.clusters,
        seed: o.seed,
        schedule: schedule(o),
        preset: o.preset,
        out: o.out.clone(),
        ae_weights: o.ae_weights.clone(),
        checkpoint_every: o.checkpoint_every.unwrap_or(0),
        umap_neighbors: o.neighbors,
        umap_dims: o.umap_dims,
        overwrite: o.overwrite,
        augment: o.augment,
    }
}

/// Runs `f` on a rayon pool of `threads` workers (all cores if None), so that `--threads`
/// governs every parallel loop of the run.
pub fn in_pool<T: Send>(threads: Option<usize>, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(t) = threads {
        builder = builder.num_threads(t);
    }
    let pool = builder
        .build()
        .map_err(|e| Error::invalid("--threads", e.to_string()))?;
    pool.install(f)
}

/// The command line's observer: progress lines, Ctrl-C, checkpoints in the output folder
/// with the command line that `--resume` rebuilds the configuration from.
struct Console<'a> {
    progress: Progress,
    out: PathBuf,
    args: &'a [String],
}

impl Observer for Console<'_> {
    fn phase(&mut self, name: &str, total: usize, at_most: bool) {
        Observer::phase(&mut self.progress, name, total, at_most);
    }

    fn update(&mut self, done: usize, text: &str) {
        self.progress.update(done, text);
    }

    fn finish(&mut self, text: &str) {
        self.progress.finish(text);
    }

    fn note(&mut self, text: &str) {
        self.progress.note(text);
    }

    fn should_stop(&mut self) -> bool {
        interrupt::requested()
    }

    fn should_abandon(&mut self) -> bool {
        interrupt::requested()
    }

    fn checkpoint(&mut self, snapshot: &Snapshot<'_>) -> Result<()> {
        checkpoint::save(&self.out, self.args, snapshot)
    }
}

fn run(options: &RunOptions, args: &[String], resume: Option<Checkpoint>) -> Result<()> {
    let mut console = Console {
        progress: Progress::new(options.quiet),
        out: options.out.clone(),
        args,
    };
    let results = experiment::run(&config(options), resume, &mut console)?;
    print_stdout(&format_results_table(&results))
}
