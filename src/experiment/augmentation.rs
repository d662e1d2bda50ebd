//! `--augment` (DEC-DA, Guo et al. 2018): which training phases see augmented batches, the
//! stream of random draws each one uses, and the page's picture of what they were shown.
//!
//! Pretraining, DEC and IDEC each draw from their own stream (the run's seed and the
//! phase), so DEC's first batches are not the same transforms as pretraining's first ones.
//! The draws of a batch depend only on (seed, phase, step, position), so an augmented run
//! is bit-identical for any thread count and resumes exactly.

use crate::Result;
use crate::data::augment::{AugmentParams, Augmenter, ImageShape};
use crate::experiment::Context;
use crate::report::augmented::{AUGMENTED_PER_ORIGINAL, write_augmented};
use crate::report::html::Figure;

/// The training phases that augment their batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Pretrain,
    Dec,
    Idec,
}

/// Originals shown in `augmented.png`.
const ORIGINALS: usize = 6;

/// The augmenter of `phase`, DEC-DA's ranges (shift 0.1, rotation 10 degrees), when the
/// run has `--augment`; None otherwise.
pub fn augmenter(ctx: &Context<'_>, phase: Phase) -> Result<Option<Augmenter>> {
    if !ctx.config.augment {
        return Ok(None);
    }
    let (h, w) = (ctx.fit.height, ctx.fit.width);
    let shape = ImageShape {
        height: h,
        width: w,
        channels: ctx.fit.images.cols() / (h * w).max(1),
    };
    // A different seed per phase; the golden-ratio multiple keeps (seed, phase) pairs
    // from colliding for any seed a user types.
    let seed = ctx
        .config
        .seed
        .wrapping_add((phase as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    Augmenter::new(AugmentParams::default(), shape, seed).map(Some)
}

/// `augmented.png`: the first fit images, each beside eight of its augmentations (the
/// pretraining stream's first step), added to the page before the training curves.
pub fn write_picture(ctx: &mut Context<'_>) -> Result<()> {
    let Some(augmenter) = augmenter(ctx, Phase::Pretrain)? else {
        return Ok(());
    };
    let originals: Vec<usize> = (0..ctx.fit.len().min(ORIGINALS)).collect();
    let path = ctx.out("augmented.png");
    write_augmented(
        &path,
        ctx.fit.images.view(),
        &originals,
        &augmenter,
        AUGMENTED_PER_ORIGINAL,
        0,
    )?;
    ctx.curves.push(Figure {
        caption: format!(
            "--augment: {} fit images (left), each beside {AUGMENTED_PER_ORIGINAL} of its \
             random shifts (up to 10 % of the side) and rotations (up to 10 degrees), as \
             pretraining, DEC and IDEC see them",
            originals.len()
        ),
        path,
    });
    Ok(())
}
