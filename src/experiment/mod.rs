//! The experiment: the tutorial's comparison as a library call.
//!
//! [`run`] loads the images, runs the chosen [`methods`] one after the other (pretraining
//! the autoencoder once, before the first method that needs it, or before everything when
//! `--clusters auto` chooses k on its codes: [`choose_k`]), scores each on the
//! validation images, and writes everything into the output folder: `results.csv`, the
//! logs, the weights, the montages and `index.html`. It returns the results table; it
//! prints nothing. Progress, stop requests (Ctrl-C) and checkpoints go through an
//! [`Observer`].
//!
//! Read in this order: `schedule` (what the presets mean), `methods` (the table, then one
//! file per method), `augmentation` (`--augment`'s streams of shifted and rotated
//! batches), `pretrain` (the shared autoencoder), `checkpoint` (the file a stopped
//! run resumes from), `observer`, `choose_k` (`--clusters auto`), `identity` (what makes
//! two runs the same run) and `outputs` (a run owns its output folder); `evaluate` scores a
//! clustering made by any other tool, and `predict` clusters new images with a model a run
//! saved (`deepcluster predict`).

use std::path::PathBuf;
use std::time::Instant;

use crate::cluster::KMeansParams;
use crate::data::{self, Dataset, FolderOptions, Images, Layout, Protocol};
use crate::metrics;
use crate::report::html::{self, Embedding, Figure, MethodSection, Page};
use crate::report::montage::{ClusterPictures, write_montages};
use crate::report::table::{ResultRow, cluster_sizes, write_results_csv};
use crate::report::tiles;
use crate::{Error, Result};

pub mod augmentation;
pub mod checkpoint;
pub mod choose_k;
pub mod evaluate;
pub mod identity;
pub mod methods;
pub mod observer;
pub mod outputs;
pub mod predict;
pub mod pretrain;
pub mod schedule;

pub use checkpoint::{Checkpoint, Snapshot};
pub use choose_k::Clusters;
pub use methods::{Clustering, METHODS, Method, Needs, Pretrained};
pub use observer::{Observer, Silent};
pub use schedule::{Preset, PretrainOptimizer, Schedule, TrainOptimizer};

/// Everything a run depends on.
#[derive(Clone, Debug)]
pub struct Config {
    /// The article's layout (train.csv + PNGs), MNIST's IDX files, or a folder of images.
    pub data_dir: PathBuf,
    /// How a folder of images is loaded (size, colour, unreadable files); must be the
    /// default for the other layouts, which are used as they are.
    pub folder: FolderOptions,
    pub protocol: Protocol,
    /// Fit on the unlabelled images (test.csv) too; the scores stay on the validation set.
    pub unlabelled: bool,
    /// The names of the methods to run, from [`METHODS`], in order.
    pub methods: Vec<&'static str>,
    /// K, or `auto`: chosen by BIC once the autoencoder is pretrained ([`choose_k`]).
    pub clusters: Clusters,
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
    /// A fresh run may replace another run's checkpoint in `out` (see `outputs`).
    pub overwrite: bool,
    /// DEC-DA's augmentation (`augmentation`): pretraining, DEC and IDEC train on freshly
    /// shifted and rotated batches; targets, stop rules and every method's codes stay
    /// those of the clean images.
    pub augment: bool,
}

impl Config {
    /// K, the number of clusters every method uses. With `Clusters::Auto`, [`run`] chooses
    /// it before the first method and hands the methods a configuration with it fixed, so a
    /// method never sees `Auto`.
    #[track_caller]
    pub fn k(&self) -> usize {
        self.clusters
            .fixed()
            .expect("--clusters auto is chosen before any method runs")
    }

    /// K-Means as every method runs it: K clusters, the schedule's restarts, the run's seed.
    pub fn kmeans_params(&self) -> KMeansParams {
        KMeansParams {
            k: self.k(),
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
    /// The validation images' classes, (N_val,); None for an unlabelled folder, whose
    /// validation images are the fit images, and which nothing scores.
    pub truth: Option<&'a [usize]>,
    /// The source file of each validation image, (N_val,), for a folder of images: the
    /// montages show these originals. None for the article's layout and IDX.
    pub originals: Option<&'a [PathBuf]>,
    /// Whether the warning about originals that could not be read again was printed (it
    /// is printed once a run, by the first method whose pictures met one).
    pub warned_unreadable: bool,
    pub observer: &'a mut dyn Observer,
    /// The run's identity, written into its checkpoints and weights.
    pub run: &'a identity::RunId,
    /// The checkpoint this run resumes from, until the phase it belongs to takes it.
    pub resume: Option<Checkpoint>,
    /// The training curves drawn so far, for the page.
    pub curves: Vec<Figure>,
    /// The pictures the running method drew of its result (N2D's map), for its section.
    pub figures: Vec<Figure>,
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

/// The error of a run stopped where it holds no state of its own (K-Means): resumable
/// only if an earlier part of the run left a checkpoint.
pub(crate) fn interrupted_before_checkpoint(config: &Config) -> Error {
    let saved = checkpoint::path(&config.out).is_file();
    Error::Interrupted {
        checkpoint: saved.then(|| config.out.clone()),
    }
}

/// Runs the experiment of `config`, continuing from `resume` (a checkpoint of a run with
/// the same identity, which is checked) when given. Returns the results table, which is also written to
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
    let images = load(config, observer)?;
    // An unlabelled folder is fitted and clustered whole: its "validation" set is the fit
    // set itself (nothing is held out), and it has no truth to score against.
    let fit = &images.fit;
    let validation = images.validation.as_ref().unwrap_or(fit);
    let truth = images.truth.as_deref();
    // Checked here, not only by K-Means, so that DEC alone does not pretrain first.
    if config.clusters.max() > fit.len() {
        return Err(Error::invalid(
            "--clusters",
            format!(
                "k = {} clusters but only {} images to fit in {}",
                config.clusters.max(),
                fit.len(),
                config.data_dir.display()
            ),
        ));
    }
    observer.note(&format!(
        "loaded {} fit and {} validation images of {}x{}{} from {} in {:.1} s",
        fit.len(),
        validation.len(),
        fit.height,
        fit.width,
        if images.channels == 3 { " rgb" } else { "" },
        config.data_dir.display(),
        started.elapsed().as_secs_f64()
    ));
    let run = identity::RunId::of(config, fit, validation)?;
    std::fs::create_dir_all(&config.out).map_err(|e| Error::io(&config.out, e))?;
    // One run per output folder, for the whole run: a second one stops here in one line.
    let _lock = crate::io::lock::FolderLock::acquire(&config.out)?;
    match &resume {
        Some(saved) => {
            let path = checkpoint::path(&config.out);
            run.check_checkpoint(&path, saved.run_id())?;
            outputs::check_owner(&config.out, &run)?;
            let shape = (fit.len(), fit.images.cols());
            // With `--clusters auto` the k is chosen again, as before, from the same codes.
            let k = config.clusters.fixed();
            checkpoint::validate(&path, saved, &config.schedule, shape, k)?;
        }
        None => outputs::prepare(
            &config.out,
            &run,
            config.overwrite,
            config.ae_weights.as_deref(),
        )?,
    }

    // With `--clusters auto`, the configuration the methods see, k chosen.
    let chosen: Config;
    let mut ctx = Context {
        config,
        fit,
        validation,
        truth,
        originals: images.validation_sources.as_deref(),
        warned_unreadable: false,
        observer,
        run: &run,
        resume,
        curves: Vec::new(),
        figures: Vec::new(),
    };
    if config.augment {
        augmentation::write_picture(&mut ctx)?;
    }
    let mut results = Vec::new();
    let mut sections = Vec::new();
    let mut pretrained: Option<Pretrained> = None;
    if let Clusters::Auto { min, max } = config.clusters {
        let shared = pretrained.insert(pretrain::pretrain(&mut ctx)?);
        let k = choose_k::choose(&mut ctx, shared, min, max)?;
        chosen = Config {
            clusters: Clusters::Fixed(k),
            ..config.clone()
        };
        ctx.config = &chosen;
    }
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
    finish(ctx, images.layout, &results, sections)?;
    Ok(results)
}

/// The images of a run: fitted, held out for scoring, and the held-out images' classes.
struct RunImages {
    fit: Dataset,
    /// None: the validation images are `fit` (an unlabelled folder).
    validation: Option<Dataset>,
    /// The validation images' classes, (N_val,); None when unlabelled.
    truth: Option<Vec<usize>>,
    layout: Layout,
    /// 1 (grey) or 3 (RGB).
    channels: usize,
    /// The source file of each validation image, for a folder of images.
    validation_sources: Option<Vec<PathBuf>>,
}

/// Loads `config.data_dir` ([`data::load_images`]), with the unlabelled images of
/// `--unlabelled` appended to the fit set; warns once about the files a folder left out.
fn load(config: &Config, observer: &mut dyn Observer) -> Result<RunImages> {
    let loaded = data::load_images(&config.data_dir, config.protocol, &config.folder)?;
    if let Some(skipped) = &loaded.skipped {
        observer.note(&format!("warning: {skipped}"));
    }
    if config.unlabelled && loaded.layout == Layout::Folder {
        return Err(Error::invalid(
            "--unlabelled",
            "only for the article's layout and IDX files; a folder's images are all \
             fitted already",
        ));
    }
    let (layout, channels) = (loaded.layout, loaded.channels);
    let validation_sources = loaded.validation_sources;
    match loaded.images {
        Images::Unlabelled(all) => Ok(RunImages {
            fit: all,
            validation: None,
            truth: None,
            layout,
            channels,
            validation_sources,
        }),
        Images::Labelled(mut data) => {
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
            Ok(RunImages {
                fit: data.fit,
                validation: Some(data.validation),
                truth: Some(truth),
                layout,
                channels,
                validation_sources,
            })
        }
    }
}

/// Scores a method's clustering, and draws its montages into `out/<name>/`.
fn record(
    ctx: &mut Context<'_>,
    method: &str,
    clustering: &Clustering,
) -> Result<(ResultRow, MethodSection)> {
    let scores = match ctx.truth {
        Some(truth) => Some(metrics::score(truth, &clustering.assignment)?),
        None => None,
    };
    let sizes = cluster_sizes(&clustering.assignment, ctx.config.k());
    let seconds = clustering.seconds;
    ctx.observer.note(&match scores {
        Some(s) => format!(
            "{method}: NMI {:.4}  ACC {:.4}  ARI {:.4}  ({seconds:.1} s)",
            s.nmi, s.acc, s.ari
        ),
        None => format!("{method}: cluster sizes {sizes:?}  ({seconds:.1} s)"),
    });
    let row = ResultRow {
        method: method.to_string(),
        scores,
        sizes,
        seconds,
    };
    let v = ctx.validation;
    let pictures = ClusterPictures {
        images: &v.images,
        height: v.height,
        width: v.width,
        // A row is (height, width, channels): 1 for grey, 3 for a folder loaded in RGB.
        channels: v.channels(),
        assignment: &clustering.assignment,
        confidence: &clustering.confidence,
        labels: ctx.truth,
        clusters: ctx.config.k(),
        originals: ctx.originals,
    };
    // The output sub-folder of a method's pictures: `ae+kmeans` becomes `ae_kmeans`.
    let montages = write_montages(ctx.out(&outputs::method_folder(method)), &pictures)?;
    if !ctx.warned_unreadable
        && let Some(warning) = tiles::unreadable_warning(&montages.unreadable)
    {
        ctx.observer.note(&warning);
        ctx.warned_unreadable = true;
    }
    let section = MethodSection {
        name: method.to_string(),
        figures: std::mem::take(&mut ctx.figures),
        montages,
    };
    Ok((row, section))
}

/// results.csv and index.html; removes the checkpoint of a now finished run.
fn finish(
    ctx: Context<'_>,
    layout: Layout,
    results: &[ResultRow],
    methods: Vec<MethodSection>,
) -> Result<()> {
    let c = ctx.config;
    write_results_csv(ctx.out("results.csv"), results)?;
    let protocol = match c.protocol {
        Protocol::Split => "split",
        Protocol::All => "all",
    };
    let (title, data, protocol) = if layout != Layout::Folder {
        (
            "deepcluster: MNIST digits clustered without labels".to_string(),
            format!(
                "data: {} ({} fit images, {} validation images)",
                c.data_dir.display(),
                ctx.fit.len(),
                ctx.validation.len()
            ),
            format!(
                "protocol: {protocol}{}",
                if c.unlabelled { " + unlabelled" } else { "" }
            ),
        )
    } else if ctx.truth.is_some() {
        (
            format!("deepcluster: the images of {}", c.data_dir.display()),
            format!(
                "data: {} ({} fit images, {} validation images, labelled by subfolder)",
                c.data_dir.display(),
                ctx.fit.len(),
                ctx.validation.len()
            ),
            format!("protocol: {protocol}"),
        )
    } else {
        (
            format!("deepcluster: the images of {}", c.data_dir.display()),
            format!(
                "data: {} ({} images, unlabelled: every image fitted and clustered)",
                c.data_dir.display(),
                ctx.fit.len()
            ),
            "protocol: none (no labels, nothing held out)".to_string(),
        )
    };
    let page = Page {
        title,
        summary: vec![
            data,
            format!(
                "{protocol}, preset: {}, seed: {}",
                c.preset.as_str(),
                c.seed
            ),
            format!("run: {}", ctx.run.id),
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
