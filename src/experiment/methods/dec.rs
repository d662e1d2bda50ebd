//! Method 3: DEC, from the pretrained encoder and the centres of K-Means on its codes,
//! trained on KL(P || Q) (`cluster::dec`). Logs `dec_log.csv` (the validation scores at
//! every target update), saves `dec.safetensors` and draws `dec_scores.png`.

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::time::Instant;

use crate::Result;
use crate::cluster::dec::{ALPHA, argmax_rows};
use crate::cluster::{Dec, DecState, Stop, TargetUpdate};
use crate::experiment::checkpoint::{Checkpoint, Snapshot};
use crate::experiment::methods::{Clustering, Pretrained};
use crate::experiment::{Context, interrupted};
use crate::io::weights;
use crate::metrics::{self, Scores};
use crate::report::html::Figure;
use crate::report::plot::{Series, line_chart};
use crate::report::table::{DecLog, DecLogRow};

pub fn run(ctx: &mut Context<'_>, pretrained: Option<&mut Pretrained>) -> Result<Clustering> {
    let pretrained = pretrained.expect("dec needs the autoencoder");
    let params = ctx.config.schedule.dec.clone();
    let (mut dec, mut state, mut log) = match ctx.resume.take() {
        Some(Checkpoint::Dec { dec, state, .. }) => {
            ctx.observer
                .note(&format!("resuming DEC at step {}", state.iter));
            let log = match state.iter.checked_sub(1) {
                Some(last) => DecLog::resume(ctx.out("dec_log.csv"), last)?,
                None => DecLog::new(ctx.out("dec_log.csv")),
            };
            (dec, state, log)
        }
        _ => {
            let centres = pretrained
                .kmeans(&ctx.config.kmeans_params())?
                .centroids
                .clone();
            (
                Dec::new(pretrained.ae.encoder.clone(), centres, ALPHA),
                DecState::new(&params),
                DecLog::new(ctx.out("dec_log.csv")),
            )
        }
    };
    let updates = params.max_iter / params.update_interval;
    ctx.observer.phase("dec", updates, true);
    let started = Instant::now();
    let (validation, truth) = (ctx.validation, ctx.truth);
    let checkpoint_every = ctx.config.checkpoint_every;
    let run = ctx.run;
    // The observer is asked from two closures (at each update, after each step).
    let observer = RefCell::new(&mut *ctx.observer);
    let mut failure = None;
    let mut stopped_at_update = false;
    let on_update = &mut |u: &TargetUpdate<'_>| {
        let mut observer = observer.borrow_mut();
        let update = u.iter / params.update_interval;
        // A checkpoint holds the state just before this update, so a resumed run
        // redoes the update (and its log row) and goes on identically.
        stopped_at_update = observer.should_stop();
        let due = checkpoint_every > 0 && update > 0 && update.is_multiple_of(checkpoint_every);
        let saved = if stopped_at_update || due {
            observer.checkpoint(&Snapshot::Dec {
                dec: u.model,
                state: u.state,
                run,
            })
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
                .map(|truth| metrics::score(truth, &u.model.predict(&validation.images)))
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
    let stop = dec.fit_until(&ctx.fit.images, &params, &mut state, on_update, &|| {
        observer.borrow_mut().should_stop()
    })?;
    let observer = observer.into_inner();
    if let Some(e) = failure {
        return Err(e);
    }
    if stop == Stop::Interrupted {
        observer.checkpoint(&Snapshot::Dec {
            dec: &dec,
            state: &state,
            run,
        })?;
    }
    if stopped_at_update || stop == Stop::Interrupted {
        return Err(interrupted(ctx.config));
    }
    observer.finish(&format!("{stop:?} after {} steps", state.iter));
    let (tensors, mut metadata) = weights::dec_tensors(&dec);
    metadata.extend(weights::ImageShape::of(ctx.fit).metadata());
    metadata.push(run.tag());
    weights::save_tensors(ctx.out(weights::DEC_FILE), &tensors, &metadata)?;

    let q = dec.soft_assign(&ctx.validation.images); // (N_val, K)
    let assignment = argmax_rows(&q);
    let confidence = q
        .iter_rows()
        .zip(&assignment)
        .map(|(row, &j)| row[j])
        .collect();
    let seconds = if pretrained.loaded {
        started.elapsed().as_secs_f64()
    } else {
        pretrained.started.elapsed().as_secs_f64()
    };
    plot_scores(ctx, &log)?;
    Ok(Clustering {
        assignment,
        confidence,
        seconds,
    })
}

/// `dec_scores.png`: ACC and NMI at each target update; nothing in an unlabelled run.
fn plot_scores(ctx: &mut Context<'_>, log: &DecLog) -> Result<()> {
    if log.rows.iter().all(|r| r.scores.is_none()) {
        return Ok(());
    }
    let path = ctx.out("dec_scores.png");
    let points = |f: fn(&Scores) -> f64| {
        log.rows
            .iter()
            .filter_map(|r| r.scores.as_ref().map(|s| (r.iter as f64, f(s))))
            .collect()
    };
    line_chart(
        &path,
        "DEC on the validation set",
        "SGD step",
        &[
            Series::new("ACC", points(|r| r.acc)),
            Series::new("NMI", points(|r| r.nmi)),
        ],
    )?;
    ctx.curves.push(Figure {
        caption: "DEC: ACC and NMI at each target update".into(),
        path,
    });
    Ok(())
}
