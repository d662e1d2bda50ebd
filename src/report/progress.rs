//! Progress on stderr, so stdout keeps only the results table.
//!
//! On a terminal, one live line is redrawn in place (`\r`): phase, epoch or step, loss and
//! the estimated time left. When stderr is a file or a pipe (CI logs, `2> log.txt`),
//! carriage returns would make a mess, so each finished unit (an epoch, a DEC update) gets
//! one plain line instead and in-between ticks are dropped. `--quiet` silences both.
//!
//! ```text
//! pretrain  epoch 12/50  loss 0.0213  ETA 1m40s        (live, redrawn)
//! pretrain 12/50 loss 0.0213 (elapsed 25.1s, ETA 1m40s) (plain, one per epoch)
//! ```

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Where progress goes and in which form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Nothing is written.
    Quiet,
    /// One line redrawn in place: stderr is a terminal.
    Live,
    /// One line per finished unit: stderr is a file or a pipe.
    Plain,
}

/// Redraw the live line at most this often; a training step takes milliseconds and a
/// terminal cannot usefully show more.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

pub struct Progress {
    mode: Mode,
    out: Box<dyn Write + Send>,
    phase: String,
    total: usize,
    /// The phase may end before `total` (DEC stops once its labels settle): the ETA is then
    /// only an upper bound, and says so.
    open_ended: bool,
    started: Instant,
    last_draw: Option<Instant>,
    /// Characters of the live line now on screen, to blank out a longer previous line.
    drawn: usize,
}

impl Progress {
    /// Progress on stderr: live when stderr is a terminal, plain otherwise, silent if `quiet`.
    pub fn new(quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Live
        } else {
            Mode::Plain
        };
        Self::with_writer(mode, Box::new(std::io::stderr()))
    }

    /// Progress in `mode` into any writer (tests capture it in a buffer).
    pub fn with_writer(mode: Mode, out: Box<dyn Write + Send>) -> Self {
        Progress {
            mode,
            out,
            phase: String::new(),
            total: 0,
            open_ended: false,
            started: Instant::now(),
            last_draw: None,
            drawn: 0,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Starts a phase of `total` units (epochs, DEC updates, K-Means restarts).
    pub fn phase(&mut self, name: &str, total: usize) {
        self.end_live_line();
        self.phase = name.to_string();
        self.total = total;
        self.open_ended = false;
        self.started = Instant::now();
        self.last_draw = None;
    }

    /// Like `phase`, for a phase that may stop early (at most `total` units): its ETA is
    /// shown as `ETA at most ...`.
    pub fn phase_at_most(&mut self, name: &str, total: usize) {
        self.phase(name, total);
        self.open_ended = true;
    }

    /// Unit `done` of the phase has finished; `msg` is e.g. `loss 0.0213`. Always shown:
    /// redrawn live, or as one plain line.
    pub fn update(&mut self, done: usize, msg: &str) {
        let eta = self.eta(done as f64);
        match self.mode {
            Mode::Quiet => {}
            Mode::Live => self.draw_live(done as f64, msg, eta),
            Mode::Plain => {
                let line = format!(
                    "{} {}/{} {} (elapsed {}, ETA {})",
                    self.phase,
                    done,
                    self.total,
                    msg,
                    format_duration(self.started.elapsed()),
                    self.format_eta(eta),
                );
                self.write_line(&line);
            }
        }
    }

    /// Progress inside a unit (`done` may be fractional: 3.4 = a third of the way through
    /// unit 4). Only a terminal shows it, at most ten times a second.
    pub fn tick(&mut self, done: f64, msg: &str) {
        if self.mode != Mode::Live {
            return;
        }
        let now = Instant::now();
        if self
            .last_draw
            .is_some_and(|t| now.duration_since(t) < REDRAW_EVERY)
        {
            return;
        }
        let eta = self.eta(done);
        self.draw_live(done, msg, eta);
    }

    /// Ends the phase with a summary line (kept on screen).
    pub fn finish(&mut self, msg: &str) {
        if self.mode == Mode::Quiet {
            return;
        }
        self.end_live_line();
        let line = format!(
            "{} done in {}: {}",
            self.phase,
            format_duration(self.started.elapsed()),
            msg
        );
        self.write_line(&line);
    }

    /// A standalone message such as `loaded 70000 images`.
    pub fn note(&mut self, msg: &str) {
        if self.mode == Mode::Quiet {
            return;
        }
        self.end_live_line();
        self.write_line(msg);
    }

    /// Time left, extrapolated from the average pace so far.
    fn eta(&self, done: f64) -> Option<Duration> {
        if done <= 0.0 || self.total == 0 {
            return None;
        }
        let left = (self.total as f64 - done).max(0.0);
        Some(self.started.elapsed().mul_f64(left / done))
    }

    fn format_eta(&self, eta: Option<Duration>) -> String {
        match eta {
            None => "?".to_string(),
            Some(d) if self.open_ended => format!("at most {}", format_duration(d)),
            Some(d) => format_duration(d),
        }
    }

    fn draw_live(&mut self, done: f64, msg: &str, eta: Option<Duration>) {
        let step = if done.fract() == 0.0 {
            format!("{}", done as usize)
        } else {
            format!("{done:.1}")
        };
        let line = format!(
            "{}  {}/{}  {}  ETA {}",
            self.phase,
            step,
            self.total,
            msg,
            self.format_eta(eta)
        );
        let width = line.chars().count();
        // Spaces blank out what is left of a longer previous line.
        let pad = self.drawn.saturating_sub(width);
        let _ = write!(self.out, "\r{line}{}", " ".repeat(pad));
        let _ = self.out.flush();
        self.drawn = width;
        self.last_draw = Some(Instant::now());
    }

    fn end_live_line(&mut self) {
        if self.mode == Mode::Live && self.drawn > 0 {
            let _ = writeln!(self.out);
            self.drawn = 0;
        }
    }

    fn write_line(&mut self, line: &str) {
        // Progress is best effort: a closed stderr must not stop training.
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.end_live_line();
    }
}

/// `42.0s`, `3m05s`, `1h02m`: short enough for a status line.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        let s = s.round() as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let m = (s / 60.0).round() as u64;
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn run(mode: Mode) -> String {
        let cap = Captured::default();
        {
            let mut p = Progress::with_writer(mode, Box::new(cap.clone()));
            p.note("loaded 100 images");
            p.phase("pretrain", 3);
            for epoch in 1..=3 {
                p.tick(epoch as f64 - 0.5, "loss 0.5");
                p.update(epoch, &format!("loss 0.{epoch}"));
            }
            p.finish("loss 0.3");
            p.phase_at_most("dec", 2);
            p.update(1, "acc 0.9");
        }
        cap.text()
    }

    #[test]
    fn plain_mode_writes_one_line_per_unit_and_no_carriage_returns() {
        let text = run(Mode::Plain);
        assert!(!text.contains('\r'));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert_eq!(lines[0], "loaded 100 images");
        assert!(
            lines[1].starts_with("pretrain 1/3 loss 0.1 (elapsed "),
            "{}",
            lines[1]
        );
        assert!(
            lines[3].starts_with("pretrain 3/3 loss 0.3"),
            "{}",
            lines[3]
        );
        assert!(lines[3].contains("ETA 0.0s"), "{}", lines[3]);
        assert!(lines[4].starts_with("pretrain done in "), "{}", lines[4]);
        assert!(lines[5].starts_with("dec 1/2 acc 0.9"), "{}", lines[5]);
        // DEC may stop early: its ETA is an upper bound, and says so.
        assert!(lines[5].contains(", ETA at most "), "{}", lines[5]);
        assert!(!lines[1].contains("at most"), "{}", lines[1]);
    }

    #[test]
    fn live_mode_redraws_one_line() {
        let text = run(Mode::Live);
        assert!(text.contains("\rpretrain  1/3  loss 0.1  ETA "), "{text:?}");
        // The first tick of a phase is drawn (nothing drawn yet), fractional.
        assert!(
            text.contains("\rpretrain  0.5/3  loss 0.5  ETA "),
            "{text:?}"
        );
        // The live line is ended before the summary and at the end.
        assert!(text.contains("\npretrain done in "), "{text:?}");
        assert!(text.ends_with('\n'), "{text:?}");
    }

    #[test]
    fn quiet_mode_writes_nothing() {
        assert_eq!(run(Mode::Quiet), "");
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(format_duration(Duration::from_millis(4300)), "4.3s");
        assert_eq!(format_duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(format_duration(Duration::from_secs(3725)), "1h02m");
    }
}
