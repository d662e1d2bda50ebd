//! Ctrl-C: the first SIGINT only raises a flag; the command line's observer
//! (`cli::run`) hands it to the experiment, which looks at it only at these points:
//!
//! - `should_stop`, after every SGD step (pretraining, DEC, IDEC) and at every epoch end
//!   and target update: the run writes a checkpoint there and stops;
//! - `should_abandon`, before each Lloyd iteration of the pixel K-Means and in N2D between
//!   UMAP and the mixture: the run stops there without a checkpoint of its own (a resume
//!   continues from the last one an earlier phase left, if any).
//!
//! Elsewhere (loading the images, K-Means on the codes, a UMAP fit, the mixture's EM,
//! writing the outputs) the press is seen at the next such point, so the run always stops
//! cleanly and no output file is left half-written. A second Ctrl-C kills at once.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C was pressed since `install`.
pub fn requested() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

#[cfg(unix)]
mod unix {
    use super::{INTERRUPTED, Ordering};

    const SIGINT: i32 = 2;
    /// `SIG_DFL`: the default action, which terminates the process.
    const SIG_DFL: usize = 0;

    unsafe extern "C" {
        /// POSIX `signal(2)` from the C library every Rust program on unix links against.
        fn signal(signum: i32, handler: usize) -> usize;
    }

    extern "C" fn on_sigint(_: i32) {
        // Only async-signal-safe work here: an atomic store, and re-arming the default
        // action so that a second Ctrl-C ends the process.
        INTERRUPTED.store(true, Ordering::Relaxed);
        // SAFETY: `signal` is async-signal-safe; SIG_DFL is a valid disposition.
        unsafe {
            signal(SIGINT, SIG_DFL);
        }
    }

    pub fn install() {
        // SAFETY: `on_sigint` has the C signature a handler needs and touches only an atomic.
        unsafe {
            signal(SIGINT, on_sigint as extern "C" fn(i32) as usize);
        }
    }
}

/// Routes Ctrl-C to the flag (a no-op where signals are not available).
pub fn install() {
    #[cfg(unix)]
    unix::install();
}
