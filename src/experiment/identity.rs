//! A run's identity: one 64-bit hash of everything that shapes its results, so that the
//! files of two runs can never be mixed without it being noticed.
//!
//! The hash covers
//! - the options that change a bit of the results: the methods, K, the seed, the preset and
//!   every field of the schedule (epochs, batch size, learning rates, DEC's `max_iter`...,
//!   through the schedule's `Debug` text), the protocol, `--unlabelled`, UMAP's neighbours
//!   and dimensions;
//! - the bytes of the `--ae-weights` file, when one is given;
//! - the data folder's canonical path, and the data as loaded: every pixel (its f32 bits),
//!   every label, the image size. Hashing the loaded matrix rather than a listing of names,
//!   sizes and times catches an image replaced by another of the same size, and costs one
//!   pass over pixels that are already in memory.
//!
//! The thread count, `--quiet`, `--checkpoint-every` and `--out` are left out: they change
//! no bit of the results (a run may be resumed with another thread count).
//!
//! The identity is written into the checkpoint and into every weights file
//! (`__metadata__` key `run_id`) and onto `index.html`. `--resume` refuses a checkpoint
//! whose identity differs from the one its own options and the data give now (another
//! run's checkpoint, changed options, changed data), and a DEC checkpoint refuses an
//! `ae.safetensors` that another run wrote.
//!
//! The hash is FNV-1a (Fowler, Noll, Vo), 64 bits: not a cryptographic hash, only a
//! guard against accidents, which is what a run identity is.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::data::Dataset;
use crate::experiment::Config;
use crate::io::safetensors::SafeTensors;
use crate::{Error, Result};

/// The `__metadata__` key of the identity in checkpoints and weights files.
pub const RUN_ID_KEY: &str = "run_id";
/// The checkpoint's keys for the canonical data folder and `--ae-weights` file, which
/// `--resume` uses instead of the paths as typed (relative to another working folder).
pub const DATA_DIR_KEY: &str = "data_dir";
pub const AE_WEIGHTS_KEY: &str = "ae_weights";

/// FNV-1a's 64-bit offset basis and prime.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over a stream of bytes: for each byte, xor it in, then multiply by the prime.
#[derive(Clone, Copy, Debug)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(FNV_OFFSET)
    }
}

impl Fnv64 {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }

    pub fn finish(self) -> u64 {
        self.0
    }
}

/// FNV-1a of `bytes` in one call.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h = Fnv64::new();
    h.update(bytes);
    h.finish()
}

/// Who a run is: its identity, and the canonical paths `--resume` needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunId {
    /// 16 hex digits.
    pub id: String,
    /// The data folder, canonical (absolute, no symbolic links).
    pub data_dir: PathBuf,
    /// The `--ae-weights` file, canonical.
    pub ae_weights: Option<PathBuf>,
}

/// A digest of a data set: the image size, then per image FNV-1a of its pixels' f32 bits
/// (hashed in parallel, one image per task), then the labels. The per-image hashes are
/// combined in image order, so the digest does not depend on the thread count.
fn data_digest(h: &mut Fnv64, set: &Dataset) {
    h.update(&(set.height as u64).to_le_bytes());
    h.update(&(set.width as u64).to_le_bytes());
    h.update(&(set.images.rows() as u64).to_le_bytes());
    h.update(&(set.images.cols() as u64).to_le_bytes());
    let cols = set.images.cols().max(1);
    let rows: Vec<u64> = set
        .images
        .as_slice()
        .par_chunks(cols)
        .map(|row| {
            let mut r = Fnv64::new();
            for v in row {
                r.update(&v.to_bits().to_le_bytes());
            }
            r.finish()
        })
        .collect();
    for r in rows {
        h.update(&r.to_le_bytes());
    }
    match &set.labels {
        Some(labels) => {
            h.update(b"labels");
            h.update(labels);
        }
        None => h.update(b"no labels"),
    }
}

/// A path as metadata text; a checkpoint cannot record a path that is not UTF-8.
pub fn path_text(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| {
        Error::data(
            path,
            "the path is not valid UTF-8, which a checkpoint cannot record",
        )
    })
}

impl RunId {
    /// The identity of the run of `config` on the loaded `fit` and `validation` sets.
    pub fn of(config: &Config, fit: &Dataset, validation: &Dataset) -> Result<RunId> {
        let canonical = |p: &Path| std::fs::canonicalize(p).map_err(|e| Error::io(p, e));
        let data_dir = canonical(&config.data_dir)?;
        let ae_weights = config.ae_weights.as_deref().map(canonical).transpose()?;
        let ae_hash = match &config.ae_weights {
            Some(path) => {
                let bytes = crate::io::read::read_capped(
                    path,
                    crate::io::safetensors::MAX_FILE_BYTES,
                    "a weights file",
                )?;
                format!("{:016x}", fnv1a(&bytes))
            }
            None => "none".to_string(),
        };
        let options = format!(
            "methods={:?}\nclusters={:?}\nseed={}\npreset={}\nprotocol={:?}\nunlabelled={}\n\
             neighbors={}\numap_dims={:?}\nschedule={:?}\nfolder={:?}\naugment={}\nae_weights={ae_hash}\n\
             data_dir={}\n",
            config.methods,
            config.clusters,
            config.seed,
            config.preset.as_str(),
            config.protocol,
            config.unlabelled,
            config.umap_neighbors,
            config.umap_dims,
            config.schedule,
            config.folder,
            config.augment,
            data_dir.display(),
        );
        let mut h = Fnv64::new();
        h.update(options.as_bytes());
        h.update(b"fit");
        data_digest(&mut h, fit);
        h.update(b"validation");
        data_digest(&mut h, validation);
        Ok(RunId {
            id: format!("{:016x}", h.finish()),
            data_dir,
            ae_weights,
        })
    }

    /// The metadata pair that tags a file as this run's.
    pub fn tag(&self) -> (String, String) {
        (RUN_ID_KEY.to_string(), self.id.clone())
    }

    /// An error unless the weights file `file` (read from `path`) was written by this run.
    pub fn check_file(&self, path: &Path, file: &SafeTensors) -> Result<()> {
        match file.metadata(RUN_ID_KEY) {
            Some(id) if id == self.id => Ok(()),
            Some(id) => Err(Error::data(
                path,
                format!(
                    "written by another run (run {id}; this run is {}): the checkpoint \
                     depends on this run's own file",
                    self.id
                ),
            )),
            None => Err(Error::data(
                path,
                format!(
                    "carries no run identity (`{RUN_ID_KEY}`); the checkpoint depends on \
                     the file of run {}",
                    self.id
                ),
            )),
        }
    }

    /// An error unless a checkpoint that carries `saved` (its `run_id`) belongs to this
    /// run; `path` is the checkpoint's.
    pub fn check_checkpoint(&self, path: &Path, saved: Option<&str>) -> Result<()> {
        match saved {
            Some(id) if id == self.id => Ok(()),
            Some(id) => Err(Error::data(
                path,
                format!(
                    "checkpoint is from another run: it was written by run {id}, the options \
                     and data give run {} (changed data, options or --ae-weights file?)",
                    self.id
                ),
            )),
            None => Err(Error::data(
                path,
                "checkpoint is from another run: it carries no run identity",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        // From the FNV reference (Noll's test suite): "", "a", "foobar".
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
        // Streaming in pieces is the same as one call.
        let mut h = Fnv64::new();
        h.update(b"foo");
        h.update(b"bar");
        assert_eq!(h.finish(), fnv1a(b"foobar"));
    }
}
