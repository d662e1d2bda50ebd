//! The crate's one error type, for everything a user can get wrong: files, folders,
//! command-line options, hyper-parameters, and runs that diverge or are interrupted.
//!
//! Every variant prints as a single line that names the file (and row) or the option, and
//! the problem, so that `main` can print it and exit with a non-zero status. Bugs inside the
//! numerical kernels are asserts, not errors.

use std::fmt;
use std::path::{Path, PathBuf};

/// Everything that can go wrong at the boundary of the program.
#[derive(Debug)]
pub enum Error {
    /// The operating system refused a read or write of `path`.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A data file (CSV, PNG, IDX, safetensors, checkpoint) is malformed.
    /// `row` is the 1-based line of a CSV file, where there is one.
    Data {
        path: PathBuf,
        row: Option<usize>,
        problem: String,
    },
    /// A command-line option or hyper-parameter has an impossible value.
    Invalid { what: String, problem: String },
    /// Training produced a NaN or infinite loss.
    Diverged {
        phase: String,
        epoch: usize,
        step: usize,
        loss: f32,
    },
    /// The user pressed Ctrl-C; a checkpoint was written at the last step boundary.
    Interrupted { checkpoint: Option<PathBuf> },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    pub fn data(path: impl AsRef<Path>, problem: impl Into<String>) -> Self {
        Error::Data {
            path: path.as_ref().to_path_buf(),
            row: None,
            problem: problem.into(),
        }
    }

    pub fn data_row(path: impl AsRef<Path>, row: usize, problem: impl Into<String>) -> Self {
        Error::Data {
            path: path.as_ref().to_path_buf(),
            row: Some(row),
            problem: problem.into(),
        }
    }

    pub fn invalid(what: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for Error {
    /// One line, always: control characters that came from a file (a quoted CSV field with
    /// a newline in it, a JSON string with `\n`) are printed escaped, as `\n`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.unescaped();
        if !text.contains(char::is_control) {
            return f.write_str(&text);
        }
        for c in text.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl Error {
    /// The message as its parts give it, possibly with control characters.
    fn unescaped(&self) -> String {
        match self {
            Error::Io { path, source } => format!("{}: {}", path.display(), source),
            Error::Data {
                path,
                row: Some(row),
                problem,
            } => {
                format!("{}, line {}: {}", path.display(), row, problem)
            }
            Error::Data {
                path,
                row: None,
                problem,
            } => format!("{}: {}", path.display(), problem),
            Error::Invalid { what, problem } => format!("{what}: {problem}"),
            Error::Diverged {
                phase,
                epoch,
                step,
                loss,
            } => format!(
                "{phase} diverged at epoch {epoch}, step {step} (loss = {loss}); \
                 try a smaller learning rate"
            ),
            Error::Interrupted {
                checkpoint: Some(dir),
            } => {
                format!("interrupted; resume with --resume {}", dir.display())
            }
            Error::Interrupted { checkpoint: None } => "interrupted".to_string(),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
