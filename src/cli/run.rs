//! `deepcluster DATA_DIR [options]`: the tutorial's three-way comparison.
//!
//! 1. K-Means (k-means++, 20 restarts) on the raw pixels;
//! 2. the 784-500-500-2000-10 autoencoder trained on reconstruction, then K-Means on its
//!    10-d codes;
//! 3. DEC: that encoder plus a Student's t clustering layer, trained on KL(P || Q).
//!
//! Each method fits on the fit images and is scored on the validation images (the article's
//! ordered 70/30 split, or every labelled image with `--protocol all`). Everything a run
//! writes goes to the output folder; the table goes to stdout, progress to stderr.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::cli::args::{self, Method, Parsed, ProtocolArg, RunOptions};
use crate::cli::checkpoint::{self, Checkpoint};
use crate::cli::interrupt;
use crate::cli::schedule::Schedule;
use crate::cluster::dec::argmax_rows;
use crate::cluster::{Dec, DecState, KMeans, KMeansParams, Stop, TargetUpdate};
use crate::data::{self, Dataset, Protocol};
use crate::io::weights;
use crate::linalg::Matrix;
use crate::metrics::{self, Scores};
use crate::nn::{Autoencoder, FitConfig};
use crate::report::html::{self, Embedding, Figure, MethodSection, Page};
use crate::report::montage::{ClusterPictures, write_montages};
use crate::report::plot::{Series, line_chart};
use crate::report::progress::Progress;
use crate::report::table::{
    DecLog, DecLogRow, PretrainLog, ResultRow, print_results_table, write_results_csv,
};
use crate::{Error, Result};

pub fn main(args: &[String]) -> Result<()> {
    let options = match args::parse_run(args)? {
        Parsed::Run(options) => options,
        Parsed::Help(text) => {
            print!("{text}");
            return Ok(());
        }
        Parsed::Predict(_) => unreachable!("parse_run only parses the main command"),
    };
    interrupt::install();
    let Some(dir) = options.resume.clone() else {
        return in_pool(options.threads, || run(&options, args, None));
    };
    // Resume: the checkpoint's own command line decides everything that shapes the results;
    // only the thread count (which cannot change a bit) and --quiet may be given anew.
    let saved = checkpoint::load(&dir, |saved_args| {
        let schedule = Schedule::from_options(&saved_options(saved_args)?);
        Ok((schedule.pretrain_optimizer.build(), schedule.dec))
    })?;
    let mut resumed = saved_options(&saved.args)?;
    resumed.out = dir;
    resumed.threads = options.threads.or(resumed.threads);
    resumed.quiet = options.quiet;
    in_pool(resumed.threads, || {
        run(&resumed, &saved.args, Some(saved.checkpoint))
    })
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

/// What one method produced on the validation images.
struct Clustering {
    scores: Scores,
    /// The cluster of each validation image, (N_val,).
    assignment: Vec<usize>,
    /// How surely each image belongs to its cluster (higher = surer), (N_val,).
    confidence: Vec<f32>,
}

/// The run's shared context: options, data, the validation labels, progress, output folder.
struct Run<'a> {
    options: &'a RunOptions,
    /// The command line, saved in checkpoints.
    args: &'a [String],
    /// The checkpoint this run resumes from, until the phase it belongs to takes it.
    resume: Option<Checkpoint>,
    schedule: Schedule,
    fit: Dataset,
    validation: Dataset,
    /// The validation images' classes, (N_val,).
    truth: Vec<usize>,
    progress: Progress,
    results: Vec<ResultRow>,
    sections: Vec<MethodSection>,
    curves: Vec<Figure>,
}

fn run(options: &RunOptions, args: &[String], resume: Option<Checkpoint>) -> Result<()> {
    let mut progress = Progress::new(options.quiet);
    let protocol = match options.protocol {
        ProtocolArg::Split => Protocol::Split,
        ProtocolArg::All => Protocol::All,
    };
    let started = Instant::now();
    let mut data = data::load_labelled(&options.data_dir, protocol)?;
    if options.unlabelled {
        let extra = data::load_unlabelled(&options.data_dir)?;
        data.fit = data::append_unlabelled(data.fit, extra, &options.data_dir)?;
    }
    let truth: Vec<usize> = match &data.validation.labels {
        Some(labels) => labels.iter().map(|&l| l as usize).collect(),
        None => {
            return Err(Error::data(
                &options.data_dir,
                "the labelled images have no labels to score against",
            ));
        }
    };
    // Checked here, not only by K-Means, so that `--method dec` does not pretrain first.
    if options.clusters > data.fit.len() {
        return Err(Error::invalid(
            "--clusters",
            format!(
                "k = {} clusters but only {} images to fit in {}",
                options.clusters,
                data.fit.len(),
                options.data_dir.display()
            ),
        ));
    }
    progress.note(&format!(
        "loaded {} fit and {} validation images of {}x{} from {} in {:.1} s",
        data.fit.len(),
        data.validation.len(),
        data.fit.height,
        data.fit.width,
        options.data_dir.display(),
        started.elapsed().as_secs_f64()
    ));
    std::fs::create_dir_all(&options.out).map_err(|e| Error::io(&options.out, e))?;

    let mut run = Run {
        options,
        args,
        resume,
        schedule: Schedule::from_options(options),
        fit: data.fit,
        validation: data.validation,
        truth,
        progress,
        results: Vec::new(),
        sections: Vec::new(),
        curves: Vec::new(),
    };
    let method = options.method;
    if matches!(method, Method::Kmeans | Method::All) {
        run.kmeans_on_pixels()?;
    }
    if matches!(method, Method::Ae | Method::Dec | Method::All) {
        let pretrain_started = Instant::now();
        let (ae, final_kmeans) = run.autoencoder()?;
        let score = method != Method::Dec;
        let codes_kmeans = run.kmeans_on_codes(&ae, final_kmeans, pretrain_started, score)?;
        if matches!(method, Method::Dec | Method::All) {
            run.dec(&ae, codes_kmeans, pretrain_started)?;
        }
    }
    run.finish()
}

impl Run<'_> {
    fn out(&self, name: &str) -> PathBuf {
        self.options.out.join(name)
    }

    fn kmeans_params(&self) -> KMeansParams {
        KMeansParams {
            k: self.options.clusters,
            n_init: self.schedule.kmeans_n_init,
            seed: self.options.seed,
            ..KMeansParams::default()
        }
    }

    /// Scores a K-Means model on validation features (N_val, D); confidence is minus the
    /// squared distance to the own centre.
    fn score_kmeans(&self, model: &KMeans, features: &Matrix) -> Result<Clustering> {
        let distances = model.distances(features.view()); // (N_val, k)
        let mut assignment = Vec::with_capacity(distances.rows());
        let mut confidence = Vec::with_capacity(distances.rows());
        for row in distances.iter_rows() {
            let (j, d) = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::INFINITY),
                    |best, (j, &d)| if d < best.1 { (j, d) } else { best },
                );
            assignment.push(j);
            confidence.push(-d);
        }
        let scores = metrics::score(&self.truth, &assignment)?;
        Ok(Clustering {
            scores,
            assignment,
            confidence,
        })
    }

    /// Adds a method's row to the table and its montages to the page.
    fn record(&mut self, method: &str, clustering: &Clustering, seconds: f64) -> Result<()> {
        let s = clustering.scores;
        self.progress.note(&format!(
            "{method}: NMI {:.4}  ACC {:.4}  ARI {:.4}  ({seconds:.1} s)",
            s.nmi, s.acc, s.ari
        ));
        self.results.push(ResultRow {
            method: method.to_string(),
            nmi: s.nmi,
            acc: s.acc,
            ari: s.ari,
            seconds,
        });
        let pictures = ClusterPictures {
            images: &self.validation.images,
            height: self.validation.height,
            width: self.validation.width,
            assignment: &clustering.assignment,
            confidence: &clustering.confidence,
            labels: Some(&self.truth),
            clusters: self.options.clusters,
        };
        let montages = write_montages(self.out(&folder_name(method)), &pictures)?;
        self.sections.push(MethodSection {
            name: method.to_string(),
            montages,
        });
        Ok(())
    }

    /// Method 1: K-Means on the pixels.
    fn kmeans_on_pixels(&mut self) -> Result<()> {
        self.progress.phase("kmeans", 1);
        let started = Instant::now();
        let model = self.kmeans_params().fit(self.fit.images.view())?;
        let clustering = self.score_kmeans(&model, &self.validation.images)?;
        let seconds = started.elapsed().as_secs_f64();
        self.progress.finish(&format!(
            "inertia {:.1}, {} iterations",
            model.inertia, model.n_iter
        ));
        self.record("kmeans", &clustering, seconds)
    }

    /// The pretrained autoencoder: loaded with `--ae-weights`, else trained here, logging
    /// the loss every epoch and AE+K-Means scores every `score_every` epochs.
    /// Method 2's first half: the autoencoder, pretrained (or loaded). Also returns the
    /// K-Means on its final codes when pretraining already fitted it to score the last
    /// epoch, so that it is not fitted twice.
    fn autoencoder(&mut self) -> Result<(Autoencoder, Option<KMeans>)> {
        let input = self.fit.images.cols();
        if let Some(path) = &self.options.ae_weights {
            let ae = weights::load_autoencoder(path)?;
            if ae.dims()[0] != input {
                return Err(Error::data(
                    path,
                    format!(
                        "the autoencoder takes {} values per image, these images have {input}",
                        ae.dims()[0]
                    ),
                ));
            }
            self.progress
                .note(&format!("loaded the autoencoder from {}", path.display()));
            return Ok((ae, None));
        }
        if matches!(self.resume, Some(Checkpoint::Dec { .. })) {
            // Pretraining had finished: its weights and log are in the output folder.
            let ae = weights::load_autoencoder(self.out(weights::AE_FILE))?;
            let log = PretrainLog::resume(self.out("pretrain_log.csv"), usize::MAX)?;
            self.plot_pretraining(&log)?;
            return Ok((ae, None));
        }
        let s = self.schedule.clone();
        let dims = s.dims(input);
        let (mut ae, mut optimizer, mut done, mut mid, mut log) = match self.resume.take() {
            Some(Checkpoint::Pretrain {
                epoch,
                mid,
                ae,
                optimizer,
            }) => {
                self.progress
                    .note(&format!("resuming pretraining after epoch {epoch}"));
                let log = PretrainLog::resume(self.out("pretrain_log.csv"), epoch)?;
                (ae, optimizer, epoch, mid, log)
            }
            _ => {
                let mut rng = StdRng::seed_from_u64(self.options.seed);
                let ae = Autoencoder::new(
                    &dims,
                    s.code_activation,
                    s.output_activation,
                    s.init,
                    &mut rng,
                )?;
                (
                    ae,
                    s.pretrain_optimizer.build(),
                    0,
                    None,
                    PretrainLog::new(self.out("pretrain_log.csv")),
                )
            }
        };
        self.progress.phase("pretrain", s.pretrain_epochs);
        self.progress.note(&format!(
            "pretraining {} for {} epochs, batch {}, {}",
            dims_text(&dims),
            s.pretrain_epochs,
            s.pretrain_batch,
            s.pretrain_optimizer.describe()
        ));
        // Train in segments that end where the encoder is scored (every `score_every`
        // epochs) or checkpointed. The shuffle of an epoch depends only on (seed, epoch),
        // so segments see exactly the batches one long call would.
        let every = if s.score_every == 0 {
            s.pretrain_epochs
        } else {
            s.score_every
        };
        let checkpoint_every = self.options.checkpoint_every.unwrap_or(0);
        // The first multiple of `period` after `done` (never, for a period of 0).
        let next = |done: usize, period: usize| {
            done.checked_div(period)
                .map_or(usize::MAX, |q| (q + 1) * period)
        };
        let mut final_kmeans = None;
        while done < s.pretrain_epochs {
            let end = next(done, every)
                .min(next(done, checkpoint_every))
                .min(s.pretrain_epochs);
            let cfg = FitConfig {
                start_epoch: done,
                mid_epoch: mid.take(),
                ..FitConfig::new(end, s.pretrain_batch, self.options.seed)
            };
            let mut losses = Vec::new();
            let mut interrupted = false;
            let progress = &mut self.progress;
            // Ctrl-C is looked at after every step; at the end of an epoch the callback
            // sees it first and stops on the epoch boundary.
            let stopped_inside = ae.fit_until(
                &self.fit.images,
                &cfg,
                &mut optimizer,
                &mut |r| {
                    progress.update(r.epoch, &format!("loss {:.5}", r.loss));
                    losses.push((r.epoch, r.loss as f64));
                    interrupted = interrupt::requested();
                    if interrupted {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                },
                &interrupt::requested,
            )?;
            interrupted |= stopped_inside.is_some();
            let reached = losses.last().map_or(done, |l| l.0);
            let scored_epoch = reached.is_multiple_of(every) || reached == s.pretrain_epochs;
            let scores = if reached > done && scored_epoch {
                let codes = ae.encoder.predict(&self.fit.images);
                let model = self.kmeans_params().fit(codes.view())?;
                let clustering =
                    self.score_kmeans(&model, &ae.encoder.predict(&self.validation.images))?;
                if reached == s.pretrain_epochs {
                    final_kmeans = Some(model);
                }
                Some((clustering.scores.acc, clustering.scores.nmi))
            } else {
                None
            };
            for (i, &(epoch, loss)) in losses.iter().enumerate() {
                let last = i + 1 == losses.len();
                log.append(epoch, loss, if last { scores } else { None })?;
            }
            if let Some((acc, nmi)) = scores {
                self.progress.note(&format!(
                    "epoch {reached}: AE+K-Means ACC {acc:.4} NMI {nmi:.4}"
                ));
            }
            done = reached;
            let due =
                checkpoint_every > 0 && (done % checkpoint_every == 0 || done == s.pretrain_epochs);
            if interrupted || due {
                let position = (done, stopped_inside);
                checkpoint::save_pretrain(&self.options.out, self.args, position, &ae, &optimizer)?;
            }
            if interrupted {
                return Err(Error::Interrupted {
                    checkpoint: Some(self.options.out.clone()),
                });
            }
        }
        self.progress.finish(&format!(
            "final loss {:.5}",
            log.losses.last().map_or(f64::NAN, |l| l.1)
        ));
        weights::save_autoencoder(self.out(weights::AE_FILE), &ae)?;
        self.plot_pretraining(&log)?;
        Ok((ae, final_kmeans))
    }

    fn plot_pretraining(&mut self, log: &PretrainLog) -> Result<()> {
        let path = self.out("pretrain_loss.png");
        let losses = log.losses.iter().map(|&(e, l)| (e as f64, l)).collect();
        line_chart(
            &path,
            "Autoencoder reconstruction loss (MSE)",
            "epoch",
            &[Series::new("loss", losses)],
        )?;
        self.curves.push(Figure {
            caption: "Pretraining: reconstruction loss per epoch".into(),
            path,
        });
        if !log.scores.is_empty() {
            let path = self.out("pretrain_scores.png");
            let acc = log.scores.iter().map(|&(e, a, _)| (e as f64, a)).collect();
            let nmi = log.scores.iter().map(|&(e, _, n)| (e as f64, n)).collect();
            line_chart(
                &path,
                "AE + K-Means on the validation set",
                "epoch",
                &[Series::new("ACC", acc), Series::new("NMI", nmi)],
            )?;
            self.curves.push(Figure {
                caption: "Pretraining: AE+K-Means ACC and NMI".into(),
                path,
            });
        }
        Ok(())
    }

    /// Method 2: K-Means on the autoencoder's codes. Returns the K-Means model, which also
    /// gives DEC its initial centres (the paper's section 3.2). `fitted` is that model when
    /// pretraining already fitted it (same codes, same seed: the same model).
    fn kmeans_on_codes(
        &mut self,
        ae: &Autoencoder,
        fitted: Option<KMeans>,
        pretrain_started: Instant,
        score: bool,
    ) -> Result<KMeans> {
        let mut encoder = ae.encoder.clone();
        self.progress.phase("ae+kmeans", 1);
        let model = match fitted {
            Some(model) => model,
            None => {
                let codes = encoder.predict(&self.fit.images); // (N_fit, 10)
                self.kmeans_params().fit(codes.view())?
            }
        };
        self.progress
            .finish(&format!("inertia {:.3}", model.inertia));
        if score {
            let clustering =
                self.score_kmeans(&model, &encoder.predict(&self.validation.images))?;
            let seconds = pretrain_started.elapsed().as_secs_f64();
            self.record("ae+kmeans", &clustering, seconds)?;
        }
        Ok(model)
    }

    /// Method 3: DEC, from the pretrained encoder and the centres of K-Means on its codes.
    fn dec(&mut self, ae: &Autoencoder, init: KMeans, pretrain_started: Instant) -> Result<()> {
        let params = self.schedule.dec.clone();
        let (mut dec, mut state, mut log) = match self.resume.take() {
            Some(Checkpoint::Dec { dec, state }) => {
                self.progress
                    .note(&format!("resuming DEC at step {}", state.iter));
                let log = match state.iter.checked_sub(1) {
                    Some(last) => DecLog::resume(self.out("dec_log.csv"), last)?,
                    None => DecLog::new(self.out("dec_log.csv")),
                };
                (dec, state, log)
            }
            _ => (
                Dec::new(ae.encoder.clone(), init.centroids),
                DecState::new(&params),
                DecLog::new(self.out("dec_log.csv")),
            ),
        };
        let updates = params.max_iter / params.update_interval;
        self.progress.phase_at_most("dec", updates);
        let started = Instant::now();
        let (validation, truth, progress) = (&self.validation, &self.truth, &mut self.progress);
        let (out, args) = (&self.options.out, self.args);
        let checkpoint_every = self.options.checkpoint_every.unwrap_or(0);
        let mut failure = None;
        let mut interrupted = false;
        let on_update = &mut |u: &TargetUpdate<'_>| {
            let update = u.iter / params.update_interval;
            // A checkpoint holds the state just before this update, so a resumed run
            // redoes the update (and its log row) and goes on identically.
            interrupted = interrupt::requested();
            let due = checkpoint_every > 0 && update > 0 && update.is_multiple_of(checkpoint_every);
            let saved = if interrupted || due {
                checkpoint::save_dec(out, args, u.model, u.state, params.alpha)
            } else {
                Ok(())
            };
            if interrupted {
                failure = saved.err();
                return ControlFlow::Break(());
            }
            // Score the model as it is now on the validation images.
            let mut model = u.model.clone();
            let pred = model.predict(&validation.images, params.alpha);
            let row = saved
                .and_then(|()| metrics::score(truth, &pred))
                .map(|s| DecLogRow {
                    iter: u.iter,
                    acc: s.acc,
                    nmi: s.nmi,
                    ari: s.ari,
                    loss: u.loss as f64,
                    changed: (u.iter > 0).then_some(u.changed),
                });
            match row.and_then(|row| {
                progress.update(
                    update,
                    &format!(
                        "step {} KL {:.5} changed {:.2}% ACC {:.4} NMI {:.4}",
                        u.iter,
                        u.loss,
                        100.0 * u.changed as f64 / u.labels.len() as f64,
                        row.acc,
                        row.nmi
                    ),
                );
                log.append(row)
            }) {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    failure = Some(e);
                    ControlFlow::Break(())
                }
            }
        };
        // Ctrl-C is also looked at after every SGD step, between two updates.
        let stop = dec.fit_until(
            &self.fit.images,
            &params,
            &mut state,
            on_update,
            &interrupt::requested,
        )?;
        if let Some(e) = failure {
            return Err(e);
        }
        if stop == Stop::Interrupted {
            checkpoint::save_dec(out, args, &dec, &state, params.alpha)?;
        }
        if interrupted || stop == Stop::Interrupted {
            return Err(Error::Interrupted {
                checkpoint: Some(out.clone()),
            });
        }
        self.progress
            .finish(&format!("{stop:?} after {} steps", state.iter));
        weights::save_dec(self.out(weights::DEC_FILE), &dec, params.alpha)?;

        let q = dec.soft_assign(&self.validation.images, params.alpha); // (N_val, K)
        let assignment = argmax_rows(&q);
        let confidence = q
            .iter_rows()
            .zip(&assignment)
            .map(|(row, &j)| row[j])
            .collect();
        let scores = metrics::score(&self.truth, &assignment)?;
        let clustering = Clustering {
            scores,
            assignment,
            confidence,
        };
        let seconds = if self.options.ae_weights.is_some() {
            started.elapsed().as_secs_f64()
        } else {
            pretrain_started.elapsed().as_secs_f64()
        };
        self.record("dec", &clustering, seconds)?;

        let path = self.out("dec_scores.png");
        let points =
            |f: fn(&DecLogRow) -> f64| log.rows.iter().map(|r| (r.iter as f64, f(r))).collect();
        line_chart(
            &path,
            "DEC on the validation set",
            "SGD step",
            &[
                Series::new("ACC", points(|r| r.acc)),
                Series::new("NMI", points(|r| r.nmi)),
            ],
        )?;
        self.curves.push(Figure {
            caption: "DEC: ACC and NMI at each target update".into(),
            path,
        });
        Ok(())
    }

    /// The table, results.csv and index.html.
    fn finish(mut self) -> Result<()> {
        write_results_csv(self.out("results.csv"), &self.results)?;
        print_results_table(&self.results);
        let o = self.options;
        let page = Page {
            title: "deepcluster: MNIST digits clustered without labels".into(),
            summary: vec![
                format!(
                    "data: {} ({} fit images, {} validation images)",
                    o.data_dir.display(),
                    self.fit.len(),
                    self.validation.len()
                ),
                format!(
                    "protocol: {}{}, preset: {}, seed: {}",
                    o.protocol.as_str(),
                    if o.unlabelled { " + unlabelled" } else { "" },
                    o.preset.as_str(),
                    o.seed
                ),
            ],
            results: std::mem::take(&mut self.results),
            curves: std::mem::take(&mut self.curves),
            methods: std::mem::take(&mut self.sections),
        };
        html::write_index(self.out("index.html"), &page, Embedding::Auto)?;
        // The run is complete: a checkpoint left now would only resume into a finished run.
        let stale = checkpoint::path(&o.out);
        if stale.exists() {
            std::fs::remove_file(&stale).map_err(|e| Error::io(&stale, e))?;
        }
        self.progress.note(&format!("wrote {}", o.out.display()));
        Ok(())
    }
}

/// The output sub-folder of a method's pictures: `ae+kmeans` becomes `ae_kmeans`.
fn folder_name(method: &str) -> String {
    method.replace('+', "_")
}

fn dims_text(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("-")
}
