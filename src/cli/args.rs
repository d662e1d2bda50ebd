//! Command-line options, parsed by hand: `deepcluster DATA_DIR [options]` and
//! `deepcluster predict DATA_DIR --model DIR [options]`.
//!
//! Every option accepts both `--opt value` and `--opt=value`. Anything a user can mistype
//! (an unknown option, a missing or malformed value, a zero where a count is needed) is an
//! `Error::Invalid` naming the option, never a panic. `--help` / `-h` anywhere returns the
//! help text instead of running.

use std::path::PathBuf;

pub use crate::experiment::Preset;
use crate::{Error, Result};

/// Which of the article's three pipelines to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// K-Means (n_init 20) on the raw pixels.
    Kmeans,
    /// The autoencoder, then K-Means on its 10-dimensional codes.
    Ae,
    /// Deep Embedded Clustering (pretrains the autoencoder first unless `--ae-weights`).
    Dec,
    /// N2D: UMAP of the autoencoder's codes, then a Gaussian mixture.
    N2d,
    /// IDEC: DEC that keeps training the decoder (reconstruction + 0.1 KL). Not in `all`.
    Idec,
    /// All four, one after the other (the article's comparison, then N2D).
    All,
}

/// Which images are fitted and which are scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolArg {
    /// The article's protocol: fit on the first 70 %, score on the last 30 %.
    Split,
    /// The paper's protocol: fit and score on every labelled image.
    All,
}

impl Method {
    /// The name as typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Kmeans => "kmeans",
            Method::Ae => "ae",
            Method::Dec => "dec",
            Method::N2d => "n2d",
            Method::Idec => "idec",
            Method::All => "all",
        }
    }
}

impl ProtocolArg {
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolArg::Split => "split",
            ProtocolArg::All => "all",
        }
    }
}

/// Options of the main command, `deepcluster DATA_DIR [options]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOptions {
    pub data_dir: PathBuf,
    pub method: Method,
    pub seed: u64,
    /// `None`: rayon's default (one thread per core).
    pub threads: Option<usize>,
    /// `None`: the preset's number of pretraining epochs.
    pub epochs: Option<usize>,
    /// `None`: the preset's batch size.
    pub batch_size: Option<usize>,
    pub clusters: usize,
    pub preset: Preset,
    pub protocol: ProtocolArg,
    /// Fit on the unlabelled images (test.csv) too; the scores stay on the validation set.
    pub unlabelled: bool,
    pub out: PathBuf,
    pub quiet: bool,
    /// Saved autoencoder weights (safetensors): skips pretraining.
    pub ae_weights: Option<PathBuf>,
    /// A checkpoint folder written by an interrupted run.
    pub resume: Option<PathBuf>,
    /// Write a checkpoint every this many epochs (pretraining) or updates (DEC).
    pub checkpoint_every: Option<usize>,
    /// DEC's most SGD steps (the preset's when None).
    pub max_iter: Option<usize>,
    /// N2D: UMAP's n_neighbors.
    pub neighbors: usize,
    /// N2D: UMAP's output dimension; None = the number of clusters.
    pub umap_dims: Option<usize>,
    /// DEC-DA's augmentation for pretraining, DEC and IDEC.
    pub augment: bool,
}

/// Options of `deepcluster predict DATA_DIR --model DIR`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PredictOptions {
    pub data_dir: PathBuf,
    /// The output folder of an earlier run: its weights and cluster centres.
    pub model: PathBuf,
    pub out: PathBuf,
    pub threads: Option<usize>,
    pub quiet: bool,
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    Run(RunOptions),
    Predict(PredictOptions),
    /// `--help` was given: print this text and exit successfully.
    Help(String),
}

pub const DEFAULT_SEED: u64 = 1;
pub const DEFAULT_CLUSTERS: usize = 10;
/// N2D's UMAP neighbours: 10 measured better than N2D's scripts' 20 on our codes (README).
pub const DEFAULT_NEIGHBORS: usize = 10;
pub const DEFAULT_OUT: &str = "results";

/// The help text of the main command.
pub fn run_help() -> String {
    format!(
        "\
deepcluster: cluster MNIST digits without labels (K-Means, autoencoder + K-Means, DEC)

usage: deepcluster DATA_DIR [options]
       deepcluster predict DATA_DIR --model DIR [options]   (see `predict --help`)
       deepcluster evaluate TRUTH.csv PRED.csv              scores any clustering
       deepcluster make-dataset IDX_DIR OUT_DIR             builds data/mnist from IDX files

DATA_DIR holds train.csv + train/*.png (the article's layout) or MNIST's IDX files.

Every option may be written `--opt value` or `--opt=value`.

options:
  --method M            kmeans | ae | dec | n2d | idec | all: which pipeline to run; all is
                        the first four (IDEC only when asked for) [default: all]
  --seed N              random seed; the same seed gives bit-identical results
                        whatever the thread count [default: {DEFAULT_SEED}]
  --threads N           worker threads, at least 1 [default: one per core]
  --epochs N            autoencoder pretraining epochs, at least 1 [default: the preset's]
  --batch-size N        mini-batch size, at least 1 [default: the preset's]
  --clusters K          number of clusters, at least 1 [default: {DEFAULT_CLUSTERS}]
  --preset P            quick | paper: quick finishes in minutes, paper is the reference
                        implementation's schedule (300 epochs, SGD lr 1) [default: quick]
  --protocol P          split | all: split fits on the first 70 % of the images and scores
                        on the last 30 %; all fits and scores on every image [default: split]
  --unlabelled          also fit on the unlabelled images (test.csv), as the DEC paper fits
                        on all of MNIST; they have no labels, so the scores do not change
                        what they measure [default: off]
  --out DIR             output folder for results.csv, logs, weights and pictures
                        [default: {DEFAULT_OUT}]
  --quiet               no progress lines on stderr [default: off]
  --ae-weights FILE     load pretrained autoencoder weights (safetensors) and skip
                        pretraining [default: none]
  --resume DIR          continue an interrupted run from its checkpoint folder [default: none]
  --checkpoint-every N  write a checkpoint every N epochs / DEC updates, at least 1
                        [default: none]
  --max-iter N          DEC's most SGD steps, at least 1 [default: the preset's, 20000]
  --neighbors N         N2D: UMAP's neighbours per point, itself included, at least 2
                        [default: {DEFAULT_NEIGHBORS}]
  --umap-dims D         N2D: UMAP's output dimensions, at least 1 [default: the clusters]
  --augment             DEC-DA: pretraining, DEC and IDEC train on freshly shifted (up to
                        10 %) and rotated (up to 10 degrees) batches; targets and codes stay
                        those of the clean images [default: off]
  -h, --help            print this help
"
    )
}

/// The help text of `predict`.
pub fn predict_help() -> String {
    format!(
        "\
deepcluster predict: cluster unlabelled images with saved weights

usage: deepcluster predict DATA_DIR --model DIR [options]

Reads DATA_DIR/test.csv and its PNG images, assigns each image to a cluster with the
weights saved by an earlier run, and writes predictions.csv (filename,cluster) plus one
montage per cluster and an overview picture.

Every option may be written `--opt value` or `--opt=value`.

options:
  --model DIR|FILE      output folder of an earlier run (its dec.safetensors, else its
                        idec.safetensors), or one such file [required]
  --out DIR             output folder [default: {DEFAULT_OUT}]
  --threads N           worker threads, at least 1 [default: one per core]
  --quiet               no progress lines on stderr [default: off]
  -h, --help            print this help
"
    )
}

/// Parses the main command's arguments (everything after the program name, starting with
/// DATA_DIR or an option).
pub fn parse_run(args: &[String]) -> Result<Parsed> {
    let mut data_dir: Option<PathBuf> = None;
    let mut o = RunOptions {
        data_dir: PathBuf::new(),
        method: Method::All,
        seed: DEFAULT_SEED,
        threads: None,
        epochs: None,
        batch_size: None,
        clusters: DEFAULT_CLUSTERS,
        preset: Preset::Quick,
        protocol: ProtocolArg::Split,
        unlabelled: false,
        out: PathBuf::from(DEFAULT_OUT),
        quiet: false,
        ae_weights: None,
        resume: None,
        checkpoint_every: None,
        max_iter: None,
        neighbors: DEFAULT_NEIGHBORS,
        umap_dims: None,
        augment: false,
    };
    let mut tokens = Tokens::new(args);
    while let Some(token) = tokens.next_token()? {
        match token {
            Token::Help => return Ok(Parsed::Help(run_help())),
            Token::Positional(p) => set_positional(&mut data_dir, p)?,
            Token::Option { name, inline } => {
                let mut value = || tokens.value(name, inline);
                match name {
                    "--method" => o.method = parse_method(&value()?)?,
                    "--seed" => o.seed = parse_number::<u64>(name, &value()?)?,
                    "--threads" => o.threads = Some(parse_positive(name, &value()?)?),
                    "--epochs" => o.epochs = Some(parse_positive(name, &value()?)?),
                    "--batch-size" => o.batch_size = Some(parse_positive(name, &value()?)?),
                    "--clusters" => o.clusters = parse_positive(name, &value()?)?,
                    "--preset" => o.preset = parse_preset(&value()?)?,
                    "--protocol" => o.protocol = parse_protocol(&value()?)?,
                    "--out" => o.out = parse_path(name, &value()?)?,
                    "--ae-weights" => o.ae_weights = Some(parse_path(name, &value()?)?),
                    "--resume" => o.resume = Some(parse_path(name, &value()?)?),
                    "--max-iter" => o.max_iter = Some(parse_positive(name, &value()?)?),
                    "--neighbors" => {
                        o.neighbors = parse_positive(name, &value()?)?;
                        if o.neighbors < 2 {
                            return Err(Error::invalid(
                                name,
                                "must be at least 2 (the point itself and one neighbour)",
                            ));
                        }
                    }
                    "--umap-dims" => o.umap_dims = Some(parse_positive(name, &value()?)?),
                    "--checkpoint-every" => {
                        o.checkpoint_every = Some(parse_positive(name, &value()?)?)
                    }
                    "--quiet" => {
                        no_value(name, inline)?;
                        o.quiet = true
                    }
                    "--unlabelled" => {
                        no_value(name, inline)?;
                        o.unlabelled = true
                    }
                    "--augment" => {
                        no_value(name, inline)?;
                        o.augment = true
                    }
                    _ => return Err(unknown_option(name)),
                }
            }
        }
    }
    // `--resume DIR` takes the data folder from the checkpoint's command line.
    if data_dir.is_none() && o.resume.is_some() {
        return Ok(Parsed::Run(o));
    }
    o.data_dir = data_dir.ok_or_else(|| {
        Error::invalid(
            "DATA_DIR",
            "missing: give the data folder, e.g. `deepcluster data/mnist`",
        )
    })?;
    Ok(Parsed::Run(o))
}

/// Parses `predict`'s arguments (everything after the word `predict`).
pub fn parse_predict(args: &[String]) -> Result<Parsed> {
    let mut data_dir: Option<PathBuf> = None;
    let mut model: Option<PathBuf> = None;
    let mut out = PathBuf::from(DEFAULT_OUT);
    let mut threads = None;
    let mut quiet = false;
    let mut tokens = Tokens::new(args);
    while let Some(token) = tokens.next_token()? {
        match token {
            Token::Help => return Ok(Parsed::Help(predict_help())),
            Token::Positional(p) => set_positional(&mut data_dir, p)?,
            Token::Option { name, inline } => {
                let mut value = || tokens.value(name, inline);
                match name {
                    "--model" => model = Some(parse_path(name, &value()?)?),
                    "--out" => out = parse_path(name, &value()?)?,
                    "--threads" => threads = Some(parse_positive(name, &value()?)?),
                    "--quiet" => {
                        no_value(name, inline)?;
                        quiet = true
                    }
                    _ => return Err(unknown_option(name)),
                }
            }
        }
    }
    let data_dir = data_dir.ok_or_else(|| {
        Error::invalid(
            "DATA_DIR",
            "missing: give the folder holding test.csv, e.g. `deepcluster predict data/mnist --model results`",
        )
    })?;
    let model = model.ok_or_else(|| {
        Error::invalid(
            "--model",
            "missing: give the output folder of an earlier run",
        )
    })?;
    Ok(Parsed::Predict(PredictOptions {
        data_dir,
        model,
        out,
        threads,
        quiet,
    }))
}

/// One command-line word, classified.
enum Token<'a> {
    Help,
    Positional(&'a str),
    /// `--name` or `--name=inline`.
    Option {
        name: &'a str,
        inline: Option<&'a str>,
    },
}

/// A cursor over the arguments that knows how options take their values.
struct Tokens<'a> {
    args: &'a [String],
    next: usize,
}

impl<'a> Tokens<'a> {
    fn new(args: &'a [String]) -> Self {
        Tokens { args, next: 0 }
    }

    fn next_token(&mut self) -> Result<Option<Token<'a>>> {
        let Some(arg) = self.args.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        let arg = arg.as_str();
        if arg == "-h" || arg == "--help" {
            return Ok(Some(Token::Help));
        }
        if let Some(body) = arg.strip_prefix("--") {
            if body.is_empty() {
                return Err(Error::invalid("--", "a bare `--` is not an option"));
            }
            return Ok(Some(match arg.split_once('=') {
                Some((name, inline)) => Token::Option {
                    name,
                    inline: Some(inline),
                },
                None => Token::Option {
                    name: arg,
                    inline: None,
                },
            }));
        }
        if arg.starts_with('-') && arg.len() > 1 {
            return Err(unknown_option(arg));
        }
        Ok(Some(Token::Positional(arg)))
    }

    /// The value of option `name`: the part after `=`, or else the next word, which must
    /// not itself look like an option (`--out --quiet` is a forgotten value, not a folder
    /// called `--quiet`).
    fn value(&mut self, name: &str, inline: Option<&'a str>) -> Result<String> {
        if let Some(v) = inline {
            return Ok(v.to_string());
        }
        match self.args.get(self.next) {
            Some(v) if !v.starts_with("--") => {
                self.next += 1;
                Ok(v.clone())
            }
            _ => Err(Error::invalid(name, "missing value")),
        }
    }
}

fn set_positional(slot: &mut Option<PathBuf>, arg: &str) -> Result<()> {
    if let Some(first) = slot {
        return Err(Error::invalid(
            "arguments",
            format!(
                "unexpected `{arg}`: the data folder was already given as `{}`",
                first.display()
            ),
        ));
    }
    *slot = Some(PathBuf::from(arg));
    Ok(())
}

fn unknown_option(name: &str) -> Error {
    Error::invalid(name, "unknown option; see --help")
}

fn no_value(name: &str, inline: Option<&str>) -> Result<()> {
    match inline {
        Some(_) => Err(Error::invalid(name, "takes no value")),
        None => Ok(()),
    }
}

fn parse_number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T> {
    value.parse::<T>().map_err(|_| {
        Error::invalid(
            name,
            format!("`{value}` is not a non-negative whole number"),
        )
    })
}

/// A count that must be at least 1 (threads, epochs, batch size, clusters, ...).
fn parse_positive(name: &str, value: &str) -> Result<usize> {
    match parse_number::<usize>(name, value)? {
        0 => Err(Error::invalid(name, "must be at least 1")),
        n => Ok(n),
    }
}

fn parse_path(name: &str, value: &str) -> Result<PathBuf> {
    if value.is_empty() {
        return Err(Error::invalid(name, "missing value"));
    }
    Ok(PathBuf::from(value))
}

fn parse_method(value: &str) -> Result<Method> {
    match value {
        "kmeans" => Ok(Method::Kmeans),
        "ae" => Ok(Method::Ae),
        "dec" => Ok(Method::Dec),
        "n2d" => Ok(Method::N2d),
        "idec" => Ok(Method::Idec),
        "all" => Ok(Method::All),
        _ => Err(Error::invalid(
            "--method",
            format!("unknown method `{value}`; expected kmeans, ae, dec, n2d, idec or all"),
        )),
    }
}

fn parse_preset(value: &str) -> Result<Preset> {
    match value {
        "quick" => Ok(Preset::Quick),
        "paper" => Ok(Preset::Paper),
        _ => Err(Error::invalid(
            "--preset",
            format!("unknown preset `{value}`; expected quick or paper"),
        )),
    }
}

fn parse_protocol(value: &str) -> Result<ProtocolArg> {
    match value {
        "split" => Ok(ProtocolArg::Split),
        "all" => Ok(ProtocolArg::All),
        _ => Err(Error::invalid(
            "--protocol",
            format!("unknown protocol `{value}`; expected split or all"),
        )),
    }
}
