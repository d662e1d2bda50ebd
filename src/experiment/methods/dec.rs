//! Method 3: DEC, from the pretrained encoder and the centres of K-Means on its codes,
//! trained on KL(P || Q) (`cluster::dec`). Logs `dec_log.csv` (the validation scores at
//! every target update), saves `dec.safetensors` and draws `dec_scores.png`.
//!
//! [`train`] is the part DEC shares with IDEC (`methods::idec`): any model of DEC's loop
//! ([`SelfTrainedMethod`]) started from the pretrained autoencoder, logged, checkpointed
//! and scored the same way; with `--augment`, on augmented batches.

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

use crate::Result;
use crate::cluster::dec::{ALPHA, SelfTrained};
use crate::cluster::{Dec, DecParams, DecState, Stop, TargetUpdate};
use crate::data::augment::Augmenter;
use crate::experiment::augmentation::{self, Phase};
use crate::experiment::checkpoint::{Checkpoint, Snapshot};
use crate::experiment::identity::RunId;
use crate::experiment::methods::{Clustering, Pretrained};
use crate::experiment::{Context, Schedule, interrupted};
use crate::io::weights;
use crate::linalg::Matrix;
use crate::metrics::{self, Scores};
use crate::report::html::Figure;
use crate::report::plot::{Series, line_chart};
use crate::report::table::{DecLog, DecLogRow};

pub fn run(ctx: &mut Context<'_>, pretrained: Option<&mut Pretrained>) -> Result<Clustering> {
    train::<Dec>(ctx, pretrained.expect("dec needs the autoencoder"))
}

/// What the experiment needs of a model that DEC's loop trains (DEC, IDEC).
pub trait SelfTrainedMethod: SelfTrained + Sized {
    /// The method's name: of its log (`<name>_log.csv`), curve and progress phase.
    const METHOD: &'static str;
    /// Its weights file in the output folder.
    const WEIGHTS: &'static str;
    /// The loop's parameters in `schedule`.
    fn params(schedule: &Schedule) -> DecParams;
    /// A fresh model: the pretrained autoencoder and the K-Means centres (K, D) of its codes.
    fn start(pretrained: &Pretrained, centres: Matrix) -> Self;
    /// The model and state of a checkpoint of this method's phase; None for another's.
    fn resume(checkpoint: Checkpoint, schedule: &Schedule) -> Option<(Self, DecState)>;
    /// The checkpoint of the model and `state`, tagged with the run's identity.
    fn snapshot<'a>(&'a self, state: &'a DecState, run: &'a RunId) -> Snapshot<'a>;
    /// Trains on x (N, d0) from `state`: `Dec::fit_augmented` or `Idec::fit_augmented`.
    #[allow(clippy::too_many_arguments)]
    fn fit(
        &mut self,
        x: &Matrix,
        schedule: &Schedule,
        state: &mut DecState,
        augment: Option<&Augmenter>,
        on_update: &mut dyn FnMut(&TargetUpdate<'_, Self>) -> ControlFlow<()>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Stop>;
    /// The augmentation stream of its phase.
    const PHASE: Phase;
    /// Writes the model's weights, with `extra` metadata (image shape, run identity).
    fn save(&self, path: &Path, extra: Vec<(String, String)>) -> Result<()>;
}

impl SelfTrainedMethod for Dec {
    const METHOD: &'static str = "dec";
    const WEIGHTS: &'static str = weights::DEC_FILE;
    const PHASE: Phase = Phase::Dec;

    fn params(schedule: &Schedule) -> DecParams {
        schedule.dec.clone()
    }

    fn start(pretrained: &Pretrained, centres: Matrix) -> Self {
        Dec::new(pretrained.ae.encoder.clone(), centres, ALPHA)
    }

    fn resume(checkpoint: Checkpoint, _: &Schedule) -> Option<(Self, DecState)> {
        match checkpoint {
            Checkpoint::Dec { dec, state, .. } => Some((dec, state)),
            _ => None,
        }
    }

    fn snapshot<'a>(&'a self, state: &'a DecState, run: &'a RunId) -> Snapshot<'a> {
        Snapshot::Dec {
            dec: self,
            state,
            run,
        }
    }

    fn fit(
        &mut self,
        x: &Matrix,
        schedule: &Schedule,
        state: &mut DecState,
        augment: Option<&Augmenter>,
        on_update: &mut dyn FnMut(&TargetUpdate<'_, Self>) -> ControlFlow<()>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Stop> {
        self.fit_augmented(x, &schedule.dec, state, augment, on_update, stop)
    }

    fn save(&self, path: &Path, extra: Vec<(String, String)>) -> Result<()> {
        let (tensors, mut metadata) = weights::dec_tensors(self);
        metadata.extend(extra);
        weights::save_tensors(path, &tensors, &metadata)
    }
}

/// Trains an `M` from the pretrained autoencoder (or from the run's checkpoint), logging
/// the validation scores at every target update, and clusters the validation images by
/// argmax_j q_ij.
pub fn train<M: SelfTrainedMethod>(
    ctx: &mut Context<'_>,
    pretrained: &mut Pretrained,
) -> Result<Clustering> {
    let schedule = &ctx.config.schedule;
    let params = M::params(schedule);
    let name = M::METHOD;
    let log_path = ctx.out(&format!("{name}_log.csv"));
    let resumed = ctx.resume.take().and_then(|c| M::resume(c, schedule));
    let (mut model, mut state, mut log) = match resumed {
        Some((model, state)) => {
            ctx.observer
                .note(&format!("resuming {} at step {}", M::NAME, state.iter));
            let log = match state.iter.checked_sub(1) {
                Some(last) => DecLog::resume(&log_path, last)?,
                None => DecLog::new(&log_path),
            };
            (model, state, log)
        }
        None => {
            let centres = pretrained
                .kmeans(&ctx.config.kmeans_params())?
                .centroids
                .clone();
            (
                M::start(pretrained, centres),
                DecState::new(&params),
                DecLog::new(&log_path),
            )
        }
    };
    let augment = augmentation::augmenter(ctx, M::PHASE)?;
    let updates = params.max_iter / params.update_interval;
    ctx.observer.phase(name, updates, true);
    let started = Instant::now();
    let (validation, truth) = (ctx.validation, ctx.truth);
    let checkpoint_every = ctx.config.checkpoint_every;
    let run = ctx.run;
    // The observer is asked from two closures (at each update, after each step).
    let observer = RefCell::new(&mut *ctx.observer);
    let mut failure = None;
    let mut stopped_at_update = false;
    let on_update = &mut |u: &TargetUpdate<'_, M>| {
        let mut observer = observer.borrow_mut();
        let update = u.iter / params.update_interval;
        // A checkpoint holds the state just before this update, so a resumed run
        // redoes the update (and its log row) and goes on identically.
        stopped_at_update = observer.should_stop();
        let due = checkpoint_every > 0 && update > 0 && update.is_multiple_of(checkpoint_every);
        let saved = if stopped_at_update || due {
            observer.checkpoint(&u.model.snapshot(u.state, run))
        } else {
            Ok(())
        };
        if stopped_at_update {
            failure = saved.err();
            return ControlFlow::Break(());
        }
        // Score the model as it is now on the validation images.
        // Unlabelled images (truth None) have nothing to score against.
        let scores = saved.and_then(|()| {
            truth
                .map(|truth| metrics::score(truth, &u.model.dec().predict(&validation.images)))
                .transpose()
        });
        let row = scores.map(|scores| DecLogRow {
            iter: u.iter,
            scores,
            loss: u.loss as f64,
            changed: (u.iter > 0).then_some(u.changed),
        });
        match row.and_then(|row| {
            let scored = row.scores.map_or(String::new(), |s| {
                format!(" ACC {:.4} NMI {:.4}", s.acc, s.nmi)
            });
            observer.update(
                update,
                &format!(
                    "step {} KL {:.5} changed {:.2}%{scored}",
                    u.iter,
                    u.loss,
                    100.0 * u.changed as f64 / u.labels.len() as f64,
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
    // The observer is also asked after every SGD step, between two updates.
    let stop = model.fit(
        &ctx.fit.images,
        &ctx.config.schedule,
        &mut state,
        augment.as_ref(),
        on_update,
        &|| observer.borrow_mut().should_stop(),
    )?;
    let observer = observer.into_inner();
    if let Some(e) = failure {
        return Err(e);
    }
    if stop == Stop::Interrupted {
        observer.checkpoint(&model.snapshot(&state, run))?;
    }
    if stopped_at_update || stop == Stop::Interrupted {
        return Err(interrupted(ctx.config));
    }
    observer.finish(&format!("{stop:?} after {} steps", state.iter));
    // The weights carry the images' shape (for predict) and the run's identity.
    let mut extra = weights::ImageShape::of(ctx.fit).metadata();
    extra.push(run.tag());
    model.save(&ctx.out(M::WEIGHTS), extra)?;

    let (assignment, confidence) = model.dec().assign(&ctx.validation.images);
    let seconds = if pretrained.loaded {
        started.elapsed().as_secs_f64()
    } else {
        pretrained.started.elapsed().as_secs_f64()
    };
    plot_scores(ctx, M::METHOD, M::NAME, &log)?;
    Ok(Clustering {
        assignment,
        confidence,
        seconds,
    })
}

/// `<name>_scores.png` (`dec_scores.png`): ACC and NMI at each target update; nothing in an
/// unlabelled run.
fn plot_scores(ctx: &mut Context<'_>, name: &str, title: &str, log: &DecLog) -> Result<()> {
    if log.rows.iter().all(|r| r.scores.is_none()) {
        return Ok(());
    }
    let path = ctx.out(&format!("{name}_scores.png"));
    let points = |f: fn(&Scores) -> f64| {
        log.rows
            .iter()
            .filter_map(|r| r.scores.as_ref().map(|s| (r.iter as f64, f(s))))
            .collect()
    };
    line_chart(
        &path,
        &format!("{title} on the validation set"),
        "SGD step",
        &[
            Series::new("ACC", points(|r| r.acc)),
            Series::new("NMI", points(|r| r.nmi)),
        ],
    )?;
    ctx.curves.push(Figure {
        caption: format!("{title}: ACC and NMI at each target update"),
        path,
    });
    Ok(())
}
