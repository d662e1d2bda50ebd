//! A run owns its output folder: when a fresh run starts, every file of the kinds a run
//! writes is removed first, so that the folder afterwards holds this run's files and no
//! others (no montage of a cluster the run no longer has, no `dec.safetensors` of an
//! earlier run that `predict` would then use, no curve of a method this run did not run).
//!
//! Only the program's own kinds are touched: the top-level files in [`TOP_FILES`], the
//! `*.png` montages inside the method folders (`kmeans/`, `ae_kmeans/`, `dec/`, `n2d/`),
//! and those folders once empty. Any other file is left where it is. The `--ae-weights`
//! file is never removed, even when it is the folder's own `ae.safetensors`.
//!
//! A checkpoint is work that can still be resumed, so it is not thrown away silently (as
//! SQLite keeps a hot journal): a fresh run refuses a folder holding another run's
//! checkpoint unless `--overwrite` is given. A checkpoint of the very same run (same
//! identity) is removed, since starting afresh gives the same bits resuming would.
//!
//! A resumed run removes nothing: its folder was cleared when it first started. The fresh
//! run writes its identity into [`RUN_FILE`]; a resume checks it, so a checkpoint copied in
//! from another run's folder is refused even though it agrees with its own command line
//! (the logs beside it are another run's).

use std::path::Path;

use crate::experiment::checkpoint;
use crate::experiment::identity::{RUN_ID_KEY, RunId};
use crate::experiment::methods::METHODS;
use crate::io::safetensors;
use crate::{Error, Result};

/// The file that says which run the folder's files belong to: the identity and a newline.
pub const RUN_FILE: &str = ".deepcluster-run";

/// The files a run may write at the top of its output folder.
pub const TOP_FILES: &[&str] = &[
    "results.csv",
    "index.html",
    "pretrain_log.csv",
    "dec_log.csv",
    "ae.safetensors",
    "dec.safetensors",
    "n2d.safetensors",
    "pretrain_loss.png",
    "pretrain_scores.png",
    "dec_scores.png",
];

/// The montage folder of a method: `ae+kmeans` becomes `ae_kmeans`.
pub fn method_folder(method: &str) -> String {
    method.replace('+', "_")
}

/// Makes `out` (which exists and whose lock this run holds) ready for a fresh run `run`:
/// refuses another run's checkpoint without `overwrite`, then removes the files of the
/// program's kinds. `keep` is a file that must stay (the `--ae-weights` input).
pub fn prepare(out: &Path, run: &RunId, overwrite: bool, keep: Option<&Path>) -> Result<()> {
    let ck = checkpoint::path(out);
    if ck.symlink_metadata().is_ok() {
        let own = safetensors::load(&ck)
            .ok()
            .is_some_and(|f| f.metadata(RUN_ID_KEY) == Some(run.id.as_str()));
        if !own && !overwrite {
            return Err(Error::invalid(
                "--out",
                format!(
                    "{} holds the checkpoint of another, interrupted run: `--resume {}` \
                     continues it, `--overwrite` starts this run in its place",
                    out.display(),
                    out.display()
                ),
            ));
        }
        remove_file(&ck)?;
    }
    let keep = keep.and_then(|k| std::fs::canonicalize(k).ok());
    let kept = |path: &Path| {
        keep.as_ref()
            .is_some_and(|k| std::fs::canonicalize(path).ok().as_ref() == Some(k))
    };
    for name in TOP_FILES {
        let path = out.join(name);
        if is_file(&path) && !kept(&path) {
            remove_file(&path)?;
        }
    }
    for method in METHODS {
        let dir = out.join(method_folder(method.name));
        if !dir.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| Error::io(&dir, e))?.path();
            let png = path.extension().is_some_and(|e| e == "png");
            if png && is_file(&path) && !kept(&path) {
                remove_file(&path)?;
            }
        }
        // Only an empty folder goes; one holding a file of the user's stays.
        let _ = std::fs::remove_dir(&dir);
    }
    crate::io::write_atomic(out.join(RUN_FILE), format!("{}\n", run.id).as_bytes())
}

/// An error unless the files in `out` were started by `run` (see [`RUN_FILE`]); checked
/// when a run resumes.
pub fn check_owner(out: &Path, run: &RunId) -> Result<()> {
    let path = out.join(RUN_FILE);
    let found = crate::io::read::read_capped(&path, 64, "a run marker").ok();
    let found = found.as_deref().map(String::from_utf8_lossy);
    match found.as_deref().map(str::trim_end) {
        Some(id) if id == run.id => Ok(()),
        Some(id) => Err(Error::data(
            checkpoint::path(out),
            format!(
                "checkpoint is from another run: the folder's files are run {id}'s (see \
                 {RUN_FILE}), the checkpoint and its options give run {}",
                run.id
            ),
        )),
        None => Err(Error::data(
            checkpoint::path(out),
            format!("checkpoint is from another run: the folder has no readable {RUN_FILE}"),
        )),
    }
}

/// A regular file or a symbolic link (removing a link removes the link, not its target).
fn is_file(path: &Path) -> bool {
    path.symlink_metadata()
        .is_ok_and(|m| m.is_file() || m.file_type().is_symlink())
}

fn remove_file(path: &Path) -> Result<()> {
    std::fs::remove_file(path).map_err(|e| Error::io(path, e))
}
