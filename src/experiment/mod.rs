//! The experiment: the tutorial's comparison as a library call.
//!
//! [`run`] loads the images, runs the chosen [`methods`] one after the other (pretraining
//! the autoencoder once, before the first method that needs it), scores each on the
//! validation images, and writes everything into the output folder: `results.csv`, the
//! logs, the weights, the montages and `index.html`. It returns the results table; it
//! prints nothing. Progress, stop requests (Ctrl-C) and checkpoints go through an
//! [`Observer`].
//!
//! Read in this order: `schedule` (what the presets mean), `methods` (the table, then one
//! file per method), `pretrain` (the shared autoencoder), `checkpoint` (the file a stopped
//! run resumes from), `observer`; `evaluate` scores a clustering made by any other tool.

use std::path::PathBuf;
use std::time::Instant;

use crate::cluster::KMeansParams;
use crate::data::{self, Dataset, Protocol};
use crate::metrics;
use crate::report::html::{self, Embedding, Figure, MethodSection, Page};
use crate::report::montage::{ClusterPictures, write_montages};
use crate::report::table::{ResultRow, write_results_csv};
use crate::{Error, Result};

pub mod augmentation;
pub mod checkpoint;
pub mod evaluate;
pub mod methods;
pub mod observer;
pub mod pretrain;
pub mod schedule;

pub use checkpoint::{Checkpoint, Snapshot};
pub use methods::{Clustering, METHODS, Method, Needs, Pretrained};
pub use observer::{Observer, Silent};
pub use schedule::{Preset, PretrainOptimizer, Schedule, TrainOptimizer};

/// Everything a run depends on.
#[derive(Clone, Debug)]
pub struct Config {
    /// The article's layout (train.csv + PNGs) or MNIST's IDX files.
    pub data_dir: PathBuf,
    pub protocol: Protocol,
    /// Fit on the unlabelled images (test.csv) too; the scores stay on the validation set.
    pub unlabelled: bool,
    /// The names of the methods to run, from [`METHODS`], in order.
    pub methods: Vec<&'static str>,
    /// K.
    pub clusters: usize,
    pub seed: u64,
    pub schedule: Schedule,
    /// The preset's name, for the page's summary.
    pub preset: Preset,
    /// Where every output file goes.
    pub out: PathBuf,
    /// Saved autoencoder weights (safetensors): skips pretraining.
    pub ae_weights: Option<PathBuf>,
    /// Offer a checkpoint every this many epochs (pretraining) or target updates (DEC);
    /// 0 = only when the run is stopped.
    pub checkpoint_every: usize,
    /// N2D: UMAP's n_neighbors (the point itself included, as umap-learn counts).
    pub umap_neighbors: usize,
    /// N2D: UMAP's output dimension; None = the number of clusters, as N2D does.
    pub umap_dims: Option<usize>,
    /// DEC-DA's augmentation (`augmentation`): pretraining, DEC and IDEC train on freshly
    /// shifted and rotated batches; targets, stop rules and every method's codes stay
    /// those of the clean images.
    pub augment: bool,
}

impl Config {
    /// K-Means as every method runs it: K clusters, the schedule's restarts, the run's seed.
    pub fn kmeans_params(&self) -> KMeansParams {
        KMeansParams {
            k: self.clusters,
            n_init: self.schedule.kmeans_n_init,
            seed: self.seed,
            ..KMeansParams::default()
        }
    }
}

/// What a method sees while it runs: the configuration, the data, the observer, and the
/// output folder's shared parts.
pub struct Context<'a> {
    pub config: &'a Config,
    pub fit: &'a Dataset,
    pub validation: &'a Dataset,
    /// The validation images' classes, (N_val,).
    pub truth: &'a [usize],
    pub observer: &'a mut dyn Observer,
    /// The checkpoint this run resumes from, until the phase it belongs to takes it.
    pub resume: Option<Checkpoint>,
    /// The training curves drawn so far, for the page.
    pub curves: Vec<Figure>,
}

impl Context<'_> {
    /// A file in the output folder.
    pub fn out(&self, name: &str) -> PathBuf {
        self.config.out.join(name)
    }
}

/// The error a stopped run returns: its checkpoint is in the output folder.
pub(crate) fn interrupted(config: &Config) -> Error {
    Error::Interrupted {
        checkpoint: Some(config.out.clone()),
    }
}

/// Runs the experiment of `config`, continuing from `resume` (a checkpoint of a run with
/// the same configuration) when given. Returns the results table, which is also written to
/// `results.csv`; a run stopped by the observer returns `Error::Interrupted`.
pub fn run(
    config: &Config,
    resume: Option<Checkpoint>,
    observer: &mut dyn Observer,
) -> Result<Vec<ResultRow>> {
    let methods = config
        .methods
        .iter()
        .map(|&name| {
            methods::find(name)
                .ok_or_else(|| Error::invalid("method", format!("no method called `{name}`")))
        })
        .collect::<Result<Vec<_>>>()?;
    let started = Instant::now();
    let mut data = data::load_labelled(&config.data_dir, config.protocol)?;
    if config.unlabelled {
        let extra = data::load_unlabelled(&config.data_dir)?;
        data.fit = data::append_unlabelled(data.fit, extra, &config.data_dir)?;
    }
    let truth: Vec<usize> = match &data.validation.labels {
        Some(labels) => labels.iter().map(|&l| l as usize).collect(),
        None => {
            return Err(Error::data(
                &config.data_dir,
                "the labelled images have no labels to score against",
            ));
        }
    };
    // Checked here, not only by K-Means, so that DEC alone does not pretrain first.
    if config.clusters > data.fit.len() {
        return Err(Error::invalid(
            "--clusters",
            format!(
                "k = {} clusters but only {} images to fit in {}",
                config.clusters,
                data.fit.len(),
                config.data_dir.display()
            ),
        ));
    }
    observer.note(&format!(
        "loaded {} fit and {} validation images of {}x{} from {} in {:.1} s",
        data.fit.len(),
        data.validation.len(),
        data.fit.height,
        data.fit.width,
        config.data_dir.display(),
        started.elapsed().as_secs_f64()
    ));
    std::fs::create_dir_all(&config.out).map_err(|e| Error::io(&config.out, e))?;
    // One run per output folder, for the whole run: a second one stops here in one line.
    let _lock = crate::io::lock::FolderLock::acquire(&config.out)?;

    let mut ctx = Context {
        config,
        fit: &data.fit,
        validation: &data.validation,
        truth: &truth,
        observer,
        resume,
        curves: Vec::new(),
    };
    if config.augment {
        augmentation::write_picture(&mut ctx)?;
    }
    let mut results = Vec::new();
    let mut sections = Vec::new();
    let mut pretrained: Option<Pretrained> = None;
    for method in methods {
        let clustering = match method.needs {
            Needs::Pixels => (method.run)(&mut ctx, None)?,
            Needs::Autoencoder => {
                if pretrained.is_none() {
                    pretrained = Some(pretrain::pretrain(&mut ctx)?);
                }
                (method.run)(&mut ctx, pretrained.as_mut())?
            }
        };
        let (row, section) = record(&mut ctx, method.name, &clustering)?;
        results.push(row);
        sections.push(section);
    }
    finish(ctx, &results, sections)?;
    Ok(results)
}

/// Scores a method's clustering, and draws its montages into `out/<name>/`.
fn record(
    ctx: &mut Context<'_>,
    method: &str,
    clustering: &Clustering,
) -> Result<(ResultRow, MethodSection)> {
    let s = metrics::score(ctx.truth, &clustering.assignment)?;
    let seconds = clustering.seconds;
    ctx.observer.note(&format!(
        "{method}: NMI {:.4}  ACC {:.4}  ARI {:.4}  ({seconds:.1} s)",
        s.nmi, s.acc, s.ari
    ));
    let row = ResultRow {
        method: method.to_string(),
        nmi: s.nmi,
        acc: s.acc,
        ari: s.ari,
        seconds,
    };
    let pictures = ClusterPictures {
        images: &ctx.validation.images,
        height: ctx.validation.height,
        width: ctx.validation.width,
        assignment: &clustering.assignment,
        confidence: &clustering.confidence,
        labels: Some(ctx.truth),
        clusters: ctx.config.clusters,
    };
    // The output sub-folder of a method's pictures: `ae+kmeans` becomes `ae_kmeans`.
    let montages = write_montages(ctx.out(&method.replace('+', "_")), &pictures)?;
    let section = MethodSection {
        name: method.to_string(),
        montages,
    };
    Ok((row, section))
}

/// results.csv and index.html; removes the checkpoint of a now finished run.
fn finish(ctx: Context<'_>, results: &[ResultRow], methods: Vec<MethodSection>) -> Result<()> {
    let c = ctx.config;
    write_results_csv(ctx.out("results.csv"), results)?;
    let protocol = match c.protocol {
        Protocol::Split => "split",
        Protocol::All => "all",
    };
    let page = Page {
        title: "deepcluster: MNIST digits clustered without labels".into(),
        summary: vec![
            format!(
                "data: {} ({} fit images, {} validation images)",
                c.data_dir.display(),
                ctx.fit.len(),
                ctx.validation.len()
            ),
            format!(
                "protocol: {protocol}{}, preset: {}, seed: {}",
                if c.unlabelled { " + unlabelled" } else { "" },
                c.preset.as_str(),
                c.seed
            ),
        ],
        results: results.to_vec(),
        curves: ctx.curves,
        methods,
    };
    html::write_index(c.out.join("index.html"), &page, Embedding::Auto)?;
    // The run is complete: a checkpoint left now would only resume into a finished run.
    let stale = checkpoint::path(&c.out);
    if stale.exists() {
        std::fs::remove_file(&stale).map_err(|e| Error::io(&stale, e))?;
    }
    ctx.observer.note(&format!("wrote {}", c.out.display()));
    Ok(())
}
