//! The one way a running experiment talks to the outside: progress, stop requests (Ctrl-C)
//! and checkpoints all pass through an [`Observer`].
//!
//! The experiment never prints, never looks at signals and never decides where a
//! checkpoint lives: the command line's observer draws progress lines, reads the Ctrl-C
//! flag and writes `checkpoint.safetensors`; a test's observer can count steps and ask for
//! a stop at exactly the N-th one.

use crate::Result;
use crate::experiment::checkpoint::Snapshot;
use crate::report::progress::Progress;

/// What an experiment reports, and the two questions it asks.
///
/// Every method has a default that does nothing (and never stops), so an observer only
/// writes what it cares about.
pub trait Observer {
    /// A phase of `total` units (epochs, target updates) begins; with `at_most` the count
    /// is an upper bound (DEC may converge earlier).
    fn phase(&mut self, _name: &str, _total: usize, _at_most: bool) {}

    /// `done` units of the current phase are finished; `text` describes the latest.
    fn update(&mut self, _done: usize, _text: &str) {}

    /// The current phase ends.
    fn finish(&mut self, _text: &str) {}

    /// A line of information outside any phase's count.
    fn note(&mut self, _text: &str) {}

    /// Asked after every training step and at every epoch end or target update: `true`
    /// stops the run there, with a checkpoint, as Ctrl-C does. Once it has said `true` it
    /// should keep saying it (the experiment may ask again before it has stopped).
    fn should_stop(&mut self) -> bool {
        false
    }

    /// Asked where the run holds nothing worth a checkpoint (before each Lloyd iteration of
    /// the pixel K-Means, and in N2D between UMAP and the mixture: both recomputed by a
    /// resumed run): `true` ends the run there, with no checkpoint of its own. The command line says yes once Ctrl-C was pressed, so a
    /// long K-Means stops too; the default never does.
    fn should_abandon(&mut self) -> bool {
        false
    }

    /// A checkpoint is due (every `checkpoint_every` epochs or updates, or because the run
    /// stops): keep it, typically with `checkpoint::save`. Returning an error ends the run.
    fn checkpoint(&mut self, _snapshot: &Snapshot<'_>) -> Result<()> {
        Ok(())
    }
}

/// An observer that sees nothing and never stops a run.
pub struct Silent;

impl Observer for Silent {}

/// Progress lines on stderr (nothing with `Progress::new(true)`); no stops, no checkpoints.
impl Observer for Progress {
    fn phase(&mut self, name: &str, total: usize, at_most: bool) {
        if at_most {
            self.phase_at_most(name, total);
        } else {
            Progress::phase(self, name, total);
        }
    }

    fn update(&mut self, done: usize, text: &str) {
        Progress::update(self, done, text);
    }

    fn finish(&mut self, text: &str) {
        Progress::finish(self, text);
    }

    fn note(&mut self, text: &str) {
        Progress::note(self, text);
    }
}
