//! Ctrl-C: the first SIGINT only raises a flag. The command line's observer hands it to the
//! experiment as `should_stop`, which is asked after every SGD step (pretraining and DEC)
//! and at every epoch end and target update; the run then writes a checkpoint and stops
//! cleanly, so no output file is left half-written. A second Ctrl-C kills at once.

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
