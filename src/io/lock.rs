//! One run per output folder: an advisory lock on `DIR/.deepcluster.lock`, held for the
//! whole run. A second run pointed at the same `--out` stops at once with "DIR is in use by
//! another run" instead of interleaving its files with the first's.
//!
//! The lock is the operating system's (`flock` on Unix, `LockFileEx` on Windows, through
//! `File::try_lock`), so it is released when the process ends however it ends, kill -9
//! included: no stale lock to clean up, unlike a PID file. The lock file itself stays, empty.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The lock file's name inside the output folder.
pub const LOCK_FILE: &str = ".deepcluster.lock";

/// Holds the folder's lock until dropped.
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
    path: PathBuf,
}

impl FolderLock {
    /// Takes the lock of `dir` (which must exist), or fails at once if another run holds it.
    pub fn acquire(dir: &Path) -> Result<FolderLock> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(FolderLock { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(Error::invalid(
                "--out",
                format!("{} is in use by another run", dir.display()),
            )),
            Err(TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = std::env::temp_dir().join(format!("deepcluster-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let first = FolderLock::acquire(&dir).unwrap();
        let msg = FolderLock::acquire(&dir).unwrap_err().to_string();
        assert!(msg.contains("is in use by another run"), "{msg}");
        assert!(msg.contains(&dir.display().to_string()), "{msg}");
        drop(first);
        let again = FolderLock::acquire(&dir).unwrap();
        assert!(again.path().ends_with(LOCK_FILE));
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
