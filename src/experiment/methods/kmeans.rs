//! Method 1: K-Means++ (the schedule's restarts, 20) on the raw pixels.

use std::time::Instant;

use crate::Result;
use crate::experiment::Context;
use crate::experiment::methods::{Clustering, Pretrained, nearest_centre};

pub fn run(ctx: &mut Context<'_>, _: Option<&mut Pretrained>) -> Result<Clustering> {
    ctx.observer.phase("kmeans", 1, false);
    let started = Instant::now();
    let model = ctx.config.kmeans_params().fit(ctx.fit.images.view())?;
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
