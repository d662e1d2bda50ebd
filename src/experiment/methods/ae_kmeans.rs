//! Method 2: K-Means on the pretrained autoencoder's codes.

use crate::Result;
use crate::experiment::Context;
use crate::experiment::methods::{Clustering, Pretrained, nearest_centre};

pub fn run(ctx: &mut Context<'_>, pretrained: Option<&mut Pretrained>) -> Result<Clustering> {
    let pretrained = pretrained.expect("ae+kmeans needs the autoencoder");
    ctx.observer.phase("ae+kmeans", 1, false);
    // Fitted once and shared with DEC's start; then read beside the validation codes
    // (the field, not the `&mut self` method's borrow, so no copy is needed).
    pretrained.kmeans(&ctx.config.kmeans_params())?;
    let model = pretrained.kmeans.as_ref().expect("fitted just above");
    ctx.observer
        .finish(&format!("inertia {:.3}", model.inertia));
    let (assignment, confidence) = nearest_centre(model, &pretrained.validation_codes);
    Ok(Clustering {
        assignment,
        confidence,
        seconds: pretrained.started.elapsed().as_secs_f64(),
    })
}
