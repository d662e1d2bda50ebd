//! Method 1: K-Means++ (the schedule's restarts, 20) on the raw pixels; a stop request
//! (Ctrl-C) is honoured between Lloyd iterations.

use std::cell::RefCell;
use std::time::Instant;

use crate::Result;
use crate::experiment::methods::{Clustering, Pretrained, nearest_centre};
use crate::experiment::{Context, interrupted_before_checkpoint};

pub fn run(ctx: &mut Context<'_>, _: Option<&mut Pretrained>) -> Result<Clustering> {
    ctx.observer.phase("kmeans", 1, false);
    let started = Instant::now();
    // Ctrl-C is honoured between Lloyd iterations; K-Means is recomputed on resume, so it
    // leaves no checkpoint of its own.
    let observer = RefCell::new(&mut *ctx.observer);
    let fitted = ctx
        .config
        .kmeans_params()
        .fit_until(ctx.fit.images.view(), &|| {
            observer.borrow_mut().should_abandon()
        })?;
    let Some(model) = fitted else {
        return Err(interrupted_before_checkpoint(ctx.config));
    };
    let (assignment, confidence) = nearest_centre(&model, &ctx.validation.images);
    let seconds = started.elapsed().as_secs_f64();
    ctx.observer.finish(&format!(
        "inertia {:.1}, {} iterations",
        model.inertia, model.n_iter
    ));
    Ok(Clustering {
        assignment,
        confidence,
        seconds,
    })
}
