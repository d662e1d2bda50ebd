//! Command-line options, parsed by hand: `deepcluster DATA_DIR [options]` and
//! `deepcluster predict DATA_DIR --model DIR [options]`.
//!
//! Every option accepts both `--opt value` and `--opt=value`. Anything a user can mistype
//! (an unknown option, a missing or malformed value, a zero where a count is needed) is an
//! `Error::Invalid` naming the option, never a panic. `--help` / `-h` anywhere returns the
//! help text instead of running.

use std::path::PathBuf;

pub use crate::data::{Colour, FolderOptions};
use crate::experiment::methods::{self, METHODS};
pub use crate::experiment::{Clusters, Preset};
use crate::{Error, Result};

/// Which images are fitted and which are scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolArg {
    /// The article's protocol: fit on the first 70 %, score on the last 30 %.
    Split,
    /// The paper's protocol: fit and score on every labelled image.
    All,
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
    /// `--method`: a method of the table (`experiment::METHODS`) by the name `--method`
    /// takes (`Method::option`: `ae` for ae+kmeans), or [`ALL_METHODS`].
    pub method: &'static str,
    pub seed: u64,
    /// `None`: rayon's default (one thread per core).
    pub threads: Option<usize>,
    /// `None`: the preset's number of pretraining epochs.
    pub epochs: Option<usize>,
    /// `None`: the preset's batch size.
    pub batch_size: Option<usize>,
    /// `--clusters K`, or `auto` / `auto:MIN-MAX`.
    pub clusters: Clusters,
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
    /// Start afresh in a folder holding another run's checkpoint.
    pub overwrite: bool,
    /// A folder of images: `--image-size`, `--colour`, `--skip-unreadable`.
    pub folder: FolderOptions,
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
    /// `--image-size WxH`; None: the model's size.
    pub image_size: Option<(usize, usize)>,
    /// `--colour`; None: the model's colour mode.
    pub colour: Option<Colour>,
    /// `--skip-unreadable`.
    pub skip_unreadable: bool,
    /// `--method dec|idec|n2d`: which of the folder's models; None: dec, else idec, else n2d.
    pub method: Option<PredictMethod>,
}

/// The saved models `predict` can cluster with (`experiment::predict`'s).
pub use crate::experiment::predict::PredictMethod;

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
/// The most worker threads `--threads` accepts: creating 100,000 threads takes seconds
/// before failing; 1024 is far beyond any machine's cores and cheap to create.
pub const MAX_THREADS: usize = 1024;

/// The help text of the main command.
pub fn run_help() -> String {
    let method_list = options().join(" | ");
    format!(
        "\
deepcluster: cluster MNIST digits without labels (K-Means, autoencoder + K-Means, DEC)

usage: deepcluster DATA_DIR [options]
       deepcluster predict DATA_DIR --model DIR [options]   (see `predict --help`)
       deepcluster evaluate TRUTH.csv PRED.csv              scores any clustering
       deepcluster make-dataset IDX_DIR OUT_DIR             builds data/mnist from IDX files

DATA_DIR holds train.csv + train/*.png (the article's layout), MNIST's IDX files, or any
folder of images (*.png, *.jpg, *.jpeg, found recursively): labelled by first-level
subfolder (DIR/<class>/<image>), else unlabelled (every image fitted and clustered, the
table shows each method's cluster sizes instead of scores).

Every option may be written `--opt value` or `--opt=value`.

options:
  --method M            {method_list} | {ALL_METHODS}: which pipeline to run; all is
                        the first four (IDEC only when asked for) [default: all]
  --seed N              random seed; the same seed gives bit-identical results
                        whatever the thread count [default: {DEFAULT_SEED}]
  --threads N           worker threads, 1 to {MAX_THREADS} [default: one per core]
  --epochs N            autoencoder pretraining epochs, at least 1 [default: the preset's]
  --batch-size N        mini-batch size, at least 1 [default: the preset's]
  --clusters K          number of clusters, at least 1, or `auto` (chosen by the BIC of
                        N2D's Gaussian mixture over k = 2..20; pretrains the autoencoder
                        first, whatever the method) or `auto:MIN-MAX`, 2 <= MIN < MAX
                        [default: {DEFAULT_CLUSTERS}]
  --preset P            quick | paper: quick finishes in minutes, paper is the reference
                        implementation's schedule (300 epochs, SGD lr 1) [default: quick]
  --protocol P          split | all: split fits on the first 70 % of the images and scores
                        on the last 30 %; all fits and scores on every image [default: split]
  --unlabelled          also fit on the unlabelled images (test.csv), as the DEC paper fits
                        on all of MNIST; they have no labels, so the scores do not change
                        what they measure [default: off]
  --out DIR             output folder for results.csv, logs, weights and pictures; a run
                        owns it: it first removes the files of the kinds it writes (results,
                        logs, weights, curves, montages), no others [default: {DEFAULT_OUT}]
  --overwrite           start afresh even if --out holds another run's checkpoint (refused
                        without it) [default: off]
  --quiet               no progress lines on stderr [default: off]
  --ae-weights FILE     load pretrained autoencoder weights (safetensors) and skip
                        pretraining; not with --epochs or --method kmeans [default: none]
  --resume DIR          continue an interrupted run from its checkpoint folder; its saved
                        command line decides everything but --threads and --quiet, the only
                        options allowed beside it [default: none]
  --checkpoint-every N  write a checkpoint every N epochs / DEC updates, at least 1
                        [default: none]
  --max-iter N          DEC's most SGD steps, at least 1 [default: the preset's, 20000]
  --neighbors N         N2D: UMAP's neighbours per point, itself included, at least 2
                        [default: {DEFAULT_NEIGHBORS}]
  --umap-dims D         N2D: UMAP's output dimensions, at least 1 [default: the clusters]
  --image-size WxH      a folder of images: bring every image to W x H pixels (resize the
                        shorter side, centre-crop) [default: the most common size]
  --colour C            a folder of images: grey | rgb; rgb gives 3 x W x H inputs per
                        image [default: grey]
  --skip-unreadable     a folder of images: leave out files that cannot be decoded (warns
                        once with the count and the first names) instead of stopping
                        [default: off]
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

Reads DATA_DIR's unlabelled images (test.csv and its PNGs, the IDX layout's last 30 %, or
every image of a folder of images, its subfolder labels ignored), assigns each image to a
cluster with the weights saved by an earlier run, and writes predictions.csv
(filename,cluster) plus one montage per cluster and an overview picture. A folder's images
are brought to the model's size and colour mode.

Every option may be written `--opt value` or `--opt=value`.

options:
  --model DIR|FILE      output folder of an earlier run, or one of its model files
                        (dec.safetensors, idec.safetensors, n2d.safetensors) [required]
  --method M            dec | idec | n2d: which of the folder's models (n2d also reads the
                        folder's ae.safetensors) [default: dec, else idec, else n2d]
  --out DIR             output folder [default: {DEFAULT_OUT}]
  --threads N           worker threads, 1 to {MAX_THREADS} [default: one per core]
  --quiet               no progress lines on stderr [default: off]
  --image-size WxH      a folder of images: must be the model's size [default: the model's]
  --colour C            a folder of images: grey | rgb, must be the model's
                        [default: the model's]
  --skip-unreadable     a folder of images: leave out files that cannot be decoded
                        [default: off]
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
        method: ALL_METHODS,
        seed: DEFAULT_SEED,
        threads: None,
        epochs: None,
        batch_size: None,
        clusters: Clusters::Fixed(DEFAULT_CLUSTERS),
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
        overwrite: false,
        folder: FolderOptions::default(),
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
                    "--threads" => o.threads = Some(parse_threads(name, &value()?)?),
                    "--epochs" => o.epochs = Some(parse_positive(name, &value()?)?),
                    "--batch-size" => o.batch_size = Some(parse_positive(name, &value()?)?),
                    "--clusters" => o.clusters = parse_clusters(&value()?)?,
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
                    "--image-size" => o.folder.size = Some(parse_size(name, &value()?)?),
                    "--colour" => o.folder.colour = parse_colour(name, &value()?)?,
                    "--skip-unreadable" => {
                        no_value(name, inline)?;
                        o.folder.skip_unreadable = true
                    }
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
                    "--overwrite" => {
                        no_value(name, inline)?;
                        o.overwrite = true
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
    let (mut image_size, mut colour, mut skip_unreadable) = (None, None, false);
    let mut method = None;
    let mut tokens = Tokens::new(args);
    while let Some(token) = tokens.next_token()? {
        match token {
            Token::Help => return Ok(Parsed::Help(predict_help())),
            Token::Positional(p) => set_positional(&mut data_dir, p)?,
            Token::Option { name, inline } => {
                let mut value = || tokens.value(name, inline);
                match name {
                    "--model" => model = Some(parse_path(name, &value()?)?),
                    "--method" => method = Some(parse_predict_method(&value()?)?),
                    "--out" => out = parse_path(name, &value()?)?,
                    "--threads" => threads = Some(parse_threads(name, &value()?)?),
                    "--image-size" => image_size = Some(parse_size(name, &value()?)?),
                    "--colour" => colour = Some(parse_colour(name, &value()?)?),
                    "--skip-unreadable" => {
                        no_value(name, inline)?;
                        skip_unreadable = true
                    }
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
        image_size,
        colour,
        skip_unreadable,
        method,
    }))
}

/// `predict --method`: dec, idec or n2d.
fn parse_predict_method(value: &str) -> Result<PredictMethod> {
    match value {
        "dec" => Ok(PredictMethod::Dec),
        "idec" => Ok(PredictMethod::Idec),
        "n2d" => Ok(PredictMethod::N2d),
        _ => Err(Error::invalid(
            "--method",
            format!("predict takes dec, idec or n2d, not `{value}`"),
        )),
    }
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

/// A thread count, 1 to `MAX_THREADS`.
fn parse_threads(name: &str, value: &str) -> Result<usize> {
    match parse_positive(name, value)? {
        n if n > MAX_THREADS => Err(Error::invalid(
            name,
            format!("{n} threads: at most {MAX_THREADS}"),
        )),
        n => Ok(n),
    }
}

fn parse_path(name: &str, value: &str) -> Result<PathBuf> {
    if value.is_empty() {
        return Err(Error::invalid(name, "missing value"));
    }
    Ok(PathBuf::from(value))
}

/// The largest width or height `--image-size` takes: a 65536 x 65536 RGB matrix row is
/// already 48 GiB, so anything larger is a typo, not a wish.
pub const MAX_IMAGE_SIDE: usize = 1 << 16;

/// `WxH` (or `WXH`), each a whole number from 1 to [`MAX_IMAGE_SIDE`]: (width, height).
fn parse_size(name: &str, value: &str) -> Result<(usize, usize)> {
    let bad = || {
        Error::invalid(
            name,
            format!("`{value}` is not WxH, two whole numbers such as 28x28"),
        )
    };
    let (w, h) = value.split_once(['x', 'X']).ok_or_else(bad)?;
    let side = |s: &str| -> Result<usize> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        match s.parse::<usize>() {
            Ok(0) => Err(Error::invalid(
                name,
                format!("`{value}`: width and height must be at least 1"),
            )),
            Ok(n) if n <= MAX_IMAGE_SIDE => Ok(n),
            _ => Err(Error::invalid(
                name,
                format!("`{value}`: width and height must be at most {MAX_IMAGE_SIDE}"),
            )),
        }
    };
    Ok((side(w)?, side(h)?))
}

/// `grey` (also `gray`) or `rgb`.
fn parse_colour(name: &str, value: &str) -> Result<Colour> {
    match value {
        "grey" | "gray" => Ok(Colour::Grey),
        "rgb" => Ok(Colour::Rgb),
        _ => Err(Error::invalid(
            name,
            format!("unknown colour mode `{value}`; expected grey or rgb"),
        )),
    }
}

/// `--clusters`: K (at least 1), `auto` (k = 2..=20) or `auto:MIN-MAX` with 2 <= MIN < MAX.
fn parse_clusters(value: &str) -> Result<Clusters> {
    let name = "--clusters";
    let Some(rest) = value.strip_prefix("auto") else {
        return parse_positive(name, value).map(Clusters::Fixed);
    };
    if rest.is_empty() {
        return Ok(Clusters::AUTO);
    }
    let range = rest.strip_prefix(':').and_then(|r| r.split_once('-'));
    let bounds = range.and_then(|(lo, hi)| Some((lo.parse().ok()?, hi.parse().ok()?)));
    let Some((min, max)) = bounds else {
        return Err(Error::invalid(
            name,
            format!("`{value}` is neither a number, `auto` nor `auto:MIN-MAX` (e.g. auto:2-20)"),
        ));
    };
    if min < 2 {
        return Err(Error::invalid(
            name,
            format!("`{value}`: auto compares clusterings, so MIN must be at least 2"),
        ));
    }
    if min >= max {
        return Err(Error::invalid(
            name,
            format!(
                "`{value}`: MIN must be below MAX, e.g. auto:{min}-{}",
                min + 8
            ),
        ));
    }
    Ok(Clusters::Auto { min, max })
}

/// `--method`'s value for every method of the table that has `in_all`.
pub const ALL_METHODS: &str = "all";

/// The names `--method` takes for the table's methods, in the table's order.
fn options() -> Vec<&'static str> {
    METHODS.iter().map(|m| m.option).collect()
}

fn parse_method(value: &str) -> Result<&'static str> {
    if value == ALL_METHODS {
        return Ok(ALL_METHODS);
    }
    match methods::by_option(value) {
        Some(m) => Ok(m.option),
        None => Err(Error::invalid(
            "--method",
            format!(
                "unknown method `{value}`; expected {} or {ALL_METHODS}",
                options().join(", ")
            ),
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
