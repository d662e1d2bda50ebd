//! The autoencoder that methods 2 and 3 share: loaded with `--ae-weights`, else trained on
//! the fit images (with `--augment`, on freshly augmented batches that it learns to
//! reconstruct, as DEC-DA pretrains), logging the loss every epoch (`pretrain_log.csv`)
//! and AE+K-Means scores on the validation images every `score_every` epochs (not with
//! `--clusters auto`, whose k is chosen on the finished codes), and saved as
//! `ae.safetensors`.
//!
//! Training runs in segments that end where the encoder is scored or a checkpoint is due.
//! The shuffle of an epoch depends only on (seed, epoch), so the segments see exactly the
//! batches one long call would, and a run resumed from a checkpoint goes on identically.

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::cluster::KMeans;
use crate::experiment::augmentation::{self, Phase};
use crate::experiment::checkpoint::{Checkpoint, Snapshot};
use crate::experiment::methods::{Pretrained, nearest_centre};
use crate::experiment::{Context, interrupted};
use crate::io::weights;
use crate::metrics;
use crate::nn::{Autoencoder, FitConfig};
use crate::report::html::Figure;
use crate::report::plot::{Series, line_chart};
use crate::report::table::PretrainLog;
use crate::{Error, Result};

/// The pretrained autoencoder and its codes of the fit and validation images.
pub fn pretrain(ctx: &mut Context<'_>) -> Result<Pretrained> {
    let started = Instant::now();
    let (ae, kmeans, loaded) = autoencoder(ctx)?;
    Ok(Pretrained {
        fit_codes: ae.encoder.predict(&ctx.fit.images), // (N_fit, D)
        validation_codes: ae.encoder.predict(&ctx.validation.images), // (N_val, D)
        ae,
        kmeans,
        umap: None,
        started,
        loaded,
    })
}

/// The autoencoder, whether it was loaded, and the K-Means on its final codes when the
/// last epoch's score already fitted it (so that it is not fitted twice).
fn autoencoder(ctx: &mut Context<'_>) -> Result<(Autoencoder, Option<KMeans>, bool)> {
    let input = ctx.fit.images.cols();
    if let Some(path) = &ctx.config.ae_weights {
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
        ctx.observer
            .note(&format!("loaded the autoencoder from {}", path.display()));
        return Ok((ae, None, true));
    }
    if matches!(
        ctx.resume,
        Some(Checkpoint::Dec { .. } | Checkpoint::Idec { .. })
    ) {
        // Pretraining had finished: its weights and log are in the output folder. The DEC
        // (or IDEC) checkpoint depends on that very encoder, so it must be this run's own.
        let path = ctx.out(weights::AE_FILE);
        let file = crate::io::safetensors::load(&path)?;
        ctx.run.check_file(&path, &file)?;
        let ae = weights::autoencoder_from(&path, &file, "")?;
        let log = PretrainLog::resume(ctx.out("pretrain_log.csv"), usize::MAX)?;
        plot(ctx, &log)?;
        return Ok((ae, None, false));
    }
    let s = ctx.config.schedule.clone();
    let seed = ctx.config.seed;
    let dims = s.dims(input);
    let (mut ae, mut optimizer, mut done, mut mid, mut log) = match ctx.resume.take() {
        Some(Checkpoint::Pretrain {
            epoch,
            mid,
            ae,
            optimizer,
            ..
        }) => {
            ctx.observer
                .note(&format!("resuming pretraining after epoch {epoch}"));
            let log = PretrainLog::resume(ctx.out("pretrain_log.csv"), epoch)?;
            (ae, optimizer, epoch, mid, log)
        }
        _ => {
            let mut rng = StdRng::seed_from_u64(seed);
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
                PretrainLog::new(ctx.out("pretrain_log.csv")),
            )
        }
    };
    let augment = augmentation::augmenter(ctx, Phase::Pretrain)?;
    ctx.observer.phase("pretrain", s.pretrain_epochs, false);
    ctx.observer.note(&format!(
        "pretraining {} for {} epochs, batch {}, {}{}",
        dims_text(&dims),
        s.pretrain_epochs,
        s.pretrain_batch,
        s.pretrain_optimizer.describe(),
        if augment.is_some() {
            ", on augmented batches"
        } else {
            ""
        }
    ));
    let every = if s.score_every == 0 {
        s.pretrain_epochs
    } else {
        s.score_every
    };
    let checkpoint_every = ctx.config.checkpoint_every;
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
            augment,
            ..FitConfig::new(end, s.pretrain_batch, seed)
        };
        let mut losses = Vec::new();
        let mut stop_at_epoch = false;
        // The observer is asked after every step; at the end of an epoch the callback
        // asks first and stops on the epoch boundary.
        let observer = RefCell::new(&mut *ctx.observer);
        let stopped_inside = ae.fit_until(
            &ctx.fit.images,
            &cfg,
            &mut optimizer,
            &mut |r| {
                let mut observer = observer.borrow_mut();
                observer.update(r.epoch, &format!("loss {:.5}", r.loss));
                losses.push((r.epoch, r.loss as f64));
                stop_at_epoch = observer.should_stop();
                if stop_at_epoch {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
            &|| observer.borrow_mut().should_stop(),
        )?;
        let stopping = stop_at_epoch || stopped_inside.is_some();
        let reached = losses.last().map_or(done, |l| l.0);
        let scored_epoch = reached.is_multiple_of(every) || reached == s.pretrain_epochs;
        // Unlabelled images have nothing to score against: K-Means on the codes is then
        // only needed after the last epoch, for AE+K-Means. With `--clusters auto` there is
        // no k to score with until pretraining is done.
        let last_epoch = reached == s.pretrain_epochs;
        let k_known = ctx.config.clusters.fixed().is_some();
        let scores =
            if reached > done && scored_epoch && k_known && (ctx.truth.is_some() || last_epoch) {
                let codes = ae.encoder.predict(&ctx.fit.images);
                let model = ctx.config.kmeans_params().fit(codes.view())?;
                let scores = match ctx.truth {
                    Some(truth) => {
                        let validation_codes = ae.encoder.predict(&ctx.validation.images);
                        let (assignment, _) = nearest_centre(&model, &validation_codes);
                        let scores = metrics::score(truth, &assignment)?;
                        Some((scores.acc, scores.nmi))
                    }
                    None => None,
                };
                if last_epoch {
                    final_kmeans = Some(model);
                }
                scores
            } else {
                None
            };
        for (i, &(epoch, loss)) in losses.iter().enumerate() {
            let last = i + 1 == losses.len();
            log.append(epoch, loss, if last { scores } else { None })?;
        }
        if let Some((acc, nmi)) = scores {
            ctx.observer.note(&format!(
                "epoch {reached}: AE+K-Means ACC {acc:.4} NMI {nmi:.4}"
            ));
        }
        done = reached;
        let due =
            checkpoint_every > 0 && (done % checkpoint_every == 0 || done == s.pretrain_epochs);
        if stopping || due {
            ctx.observer.checkpoint(&Snapshot::Pretrain {
                epoch: done,
                mid: stopped_inside,
                ae: &ae,
                optimizer: &optimizer,
                run: ctx.run,
            })?;
        }
        if stopping {
            return Err(interrupted(ctx.config));
        }
    }
    ctx.observer.finish(&format!(
        "final loss {:.5}",
        log.losses.last().map_or(f64::NAN, |l| l.1)
    ));
    // The weights carry the run's identity, which a DEC checkpoint checks on resume, and
    // the shape of the images, which predict checks.
    let (tensors, mut metadata) = weights::autoencoder_tensors(&ae, "");
    metadata.extend(weights::ImageShape::of(ctx.fit).metadata());
    metadata.push(ctx.run.tag());
    weights::save_tensors(ctx.out(weights::AE_FILE), &tensors, &metadata)?;
    plot(ctx, &log)?;
    Ok((ae, final_kmeans, false))
}

/// `pretrain_loss.png` and, when the encoder was scored, `pretrain_scores.png`.
fn plot(ctx: &mut Context<'_>, log: &PretrainLog) -> Result<()> {
    let path = ctx.out("pretrain_loss.png");
    let losses = log.losses.iter().map(|&(e, l)| (e as f64, l)).collect();
    line_chart(
        &path,
        "Autoencoder reconstruction loss (MSE)",
        "epoch",
        &[Series::new("loss", losses)],
    )?;
    ctx.curves.push(Figure {
        caption: "Pretraining: reconstruction loss per epoch".into(),
        path,
    });
    if !log.scores.is_empty() {
        let path = ctx.out("pretrain_scores.png");
        let acc = log.scores.iter().map(|&(e, a, _)| (e as f64, a)).collect();
        let nmi = log.scores.iter().map(|&(e, _, n)| (e as f64, n)).collect();
        line_chart(
            &path,
            "AE + K-Means on the validation set",
            "epoch",
            &[Series::new("ACC", acc), Series::new("NMI", nmi)],
        )?;
        ctx.curves.push(Figure {
            caption: "Pretraining: AE+K-Means ACC and NMI".into(),
            path,
        });
    }
    Ok(())
}

fn dims_text(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("-")
}
