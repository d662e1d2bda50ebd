//! Atomic file writes: results, logs, pictures and weights are never seen half-written.
//!
//! The content goes to a temporary file in the same folder (same file system, so the rename
//! is atomic), is flushed and fsynced, then renamed over the destination. A crash or Ctrl-C
//! at any moment leaves either the old file or the new one, never a mixture. The folder is
//! fsynced too, so that the rename itself survives a power cut; an error from that fsync is
//! an error of the write (as PostgreSQL treats it), except where the file system cannot
//! fsync a folder at all.
//!
//! The temporary file is created exclusively (`create_new`, O_CREAT | O_EXCL) under a name no
//! other writer uses: a symbolic link planted at a predictable name is never followed, and
//! two writers of one folder never share a temporary.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Writes to `path` atomically through `fill`, which streams the content into a buffered
/// writer (for large files such as weights, without building them in memory first).
pub fn write_atomic_with(
    path: impl AsRef<Path>,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let path = path.as_ref();
    let tmp = temporary_path(path);
    let result = (|| {
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        let mut writer = BufWriter::new(file);
        fill(&mut writer)?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            sync_folder(dir)?;
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// fsyncs a folder so that a rename in it is durable. A folder that cannot be opened or
/// fsynced on this platform or file system (EINVAL, ENOTSUP) is skipped; any other error
/// (EIO: the disk lost the rename) is returned.
fn sync_folder(dir: &Path) -> std::io::Result<()> {
    let Ok(d) = File::open(dir) else {
        return Ok(()); // not every platform opens folders
    };
    folder_sync_outcome(d.sync_all())
}

/// What a folder's fsync result means for the write: EINVAL and ENOTSUP say the file
/// system cannot fsync folders (nothing to make durable), anything else is a real failure.
fn folder_sync_outcome(result: std::io::Result<()>) -> std::io::Result<()> {
    use std::io::ErrorKind::{InvalidInput, Unsupported};
    match result {
        Err(e) if matches!(e.kind(), InvalidInput | Unsupported) => Ok(()),
        other => other,
    }
}

/// `dir/.name.PID.N.tmp`: hidden, in the destination's folder (so the rename stays on one
/// file system), unique to this process and this write, and recognisable by its suffix.
fn temporary_path(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces_leaving_no_temporary() {
        let dir = std::env::temp_dir().join(format!("deepcluster-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.csv");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "left behind: {names:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failing_writer_leaves_the_old_file() {
        let dir =
            std::env::temp_dir().join(format!("deepcluster-atomic-fail-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("weights.bin");
        write_atomic(&path, b"good").unwrap();
        let err = write_atomic_with(&path, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"good");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A symbolic link planted where a temporary might go is never written through: the
    /// temporary is created exclusively, under a fresh name.
    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_is_not_followed() {
        let dir =
            std::env::temp_dir().join(format!("deepcluster-atomic-link-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        fs::write(&victim, b"precious").unwrap();
        let path = dir.join("results.csv");
        // The name the next write would use, and the old fixed name, both as links.
        let next = temporary_path(&path);
        let n: u64 = next
            .to_string_lossy()
            .rsplit('.')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let following =
            path.with_file_name(format!(".results.csv.{}.{}.tmp", std::process::id(), n + 1));
        std::os::unix::fs::symlink(&victim, &following).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(".results.csv.tmp")).unwrap();
        let err = write_atomic(&path, b"new");
        // Either the write went through another name, or create_new refused the link.
        match err {
            Ok(()) => assert_eq!(fs::read(&path).unwrap(), b"new"),
            Err(e) => assert!(e.to_string().contains("results.csv"), "{e}"),
        }
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        fs::remove_dir_all(&dir).unwrap();
    }

    /// An EIO from the folder's fsync fails the write (the rename may be lost); a file
    /// system that cannot fsync folders at all does not.
    #[test]
    fn a_folder_fsync_error_is_an_error_unless_unsupported() {
        use std::io::{Error as E, ErrorKind};
        let eio = folder_sync_outcome(Err(E::from_raw_os_error(5)));
        assert_eq!(eio.unwrap_err().raw_os_error(), Some(5));
        assert!(folder_sync_outcome(Err(E::from(ErrorKind::InvalidInput))).is_ok());
        assert!(folder_sync_outcome(Err(E::from(ErrorKind::Unsupported))).is_ok());
        assert!(folder_sync_outcome(Ok(())).is_ok());
    }

    #[test]
    fn a_missing_folder_is_an_error_naming_the_file() {
        let path = Path::new("/nonexistent-deepcluster-dir/x.csv");
        let msg = write_atomic(path, b"x").unwrap_err().to_string();
        assert!(msg.contains("/nonexistent-deepcluster-dir/x.csv"), "{msg}");
    }
}
