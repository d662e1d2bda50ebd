//! The organised gallery the article asks for: one folder per cluster holding a thumbnail of
//! every member, named after its source file, plus the montages and overview of
//! [`super::montage`].
//!
//! ```text
//! gallery/cluster_00/17.png  gallery/cluster_00/203.png  ...
//! gallery/cluster_01/5.png   ...
//! gallery/overview.png  gallery/cluster_00.png  ...
//! ```
//!
//! A thumbnail shows the image's original when the pictures have `originals` (a folder of
//! images): the source file decoded again in colour, its shorter side brought to
//! [`THUMBNAIL_SIDE`](super::tiles::THUMBNAIL_SIDE) (never enlarged, nothing cropped; see
//! [`super::tiles`]), grey when nothing in it is in colour. Otherwise (MNIST, IDX, the
//! article's layout) it is the image's row at its own size, as the network saw it. The
//! thumbnails are made in parallel, each thread decoding one file at a time; the files
//! are the same whatever the number of threads.
//!
//! Thumbnails are plain writes, not atomic ones: there are thousands, an fsync each would
//! take minutes, and a half-written thumbnail costs nothing (rerun `predict`).

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::montage::{ClusterPictures, Montages, write_montages};
use super::raster::{Image, encode_png};
use super::tiles::{self, Originals, Unreadable, grey_if_neutral};
use crate::{Error, Result};

/// What `write_gallery` wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Gallery {
    /// `folders[k]` holds cluster k's thumbnails.
    pub folders: Vec<PathBuf>,
    /// `thumbnails[i]` is image i's file.
    pub thumbnails: Vec<PathBuf>,
    pub montages: Montages,
    /// The images whose original could not be read again for a thumbnail or a montage
    /// (their network input was drawn instead), in row order, each once.
    pub unreadable: Vec<Unreadable>,
}

/// A file name that is safe in any folder: the source name's last component, with
/// anything but letters, digits, `.`, `-` and `_` replaced by `_`, ending in `.png`.
pub fn thumbnail_name(source: &str) -> String {
    let last = source.rsplit(['/', '\\']).next().unwrap_or(source);
    let stem = last.strip_suffix(".png").unwrap_or(last);
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let clean = clean.trim_start_matches('.');
    if clean.is_empty() {
        "image.png".to_string()
    } else {
        format!("{clean}.png")
    }
}

/// Writes the gallery into `dir`: `names[i]` is image i's source file name (from
/// `test.csv`). Old `.png` files in the cluster folders are removed first, and so are the
/// folders and montages of clusters this clustering does not have (an earlier `predict`
/// with more clusters), so the gallery shows this clustering only.
pub fn write_gallery(
    dir: impl AsRef<Path>,
    pictures: &ClusterPictures,
    names: &[String],
) -> Result<Gallery> {
    let dir = dir.as_ref();
    let n = pictures.images.rows();
    assert_eq!(names.len(), n, "one name per image");
    let montages = write_montages(dir, pictures)?;

    let digits = (pictures.clusters - 1).to_string().len().max(2);
    let folders: Vec<PathBuf> = (0..pictures.clusters)
        .map(|k| dir.join(format!("cluster_{k:0digits$}")))
        .collect();
    remove_stale_clusters(dir, &folders, &montages)?;
    for folder in &folders {
        clear_pngs(folder)?;
        std::fs::create_dir_all(folder).map_err(|e| Error::io(folder, e))?;
    }

    let mut taken = std::collections::HashSet::new();
    let mut thumbnails = Vec::with_capacity(n);
    for (i, source) in names.iter().enumerate() {
        let k = pictures.assignment[i];
        let mut name = thumbnail_name(source);
        // Two sources with the same cleaned name keep both thumbnails.
        if !taken.insert((k, name.clone())) {
            name = format!("{i}_{name}");
            taken.insert((k, name.clone()));
        }
        thumbnails.push(folders[k].join(name));
    }

    // Each image's thumbnail, written as soon as it is made: one decoded original per
    // thread at a time. Collected in row order, so the first error (and the list of
    // unreadable originals) does not depend on the threads.
    let written: Vec<Result<Option<Unreadable>>> = thumbnails
        .par_iter()
        .enumerate()
        .map_init(Originals::new, |originals, (i, path)| {
            let (img, unreadable) = thumbnail(pictures, i, originals);
            std::fs::write(path, encode_png(&img)?).map_err(|e| Error::io(path, e))?;
            Ok(unreadable)
        })
        .collect();
    let mut unreadable = montages.unreadable.clone();
    for result in written {
        unreadable.extend(result?);
    }
    unreadable.sort_by_key(|u| u.row);
    unreadable.dedup_by_key(|u| u.row);
    Ok(Gallery {
        folders,
        thumbnails,
        montages,
        unreadable,
    })
}

/// Image `i`'s thumbnail: its original at thumbnail size when there are originals and it
/// can be read again (else, reported, its network input), or its row at its own size.
fn thumbnail(
    pictures: &ClusterPictures,
    i: usize,
    originals: &mut Originals,
) -> (Image, Option<Unreadable>) {
    let Some(paths) = pictures.originals else {
        return (pictures.image(i), None);
    };
    match originals.picture(&paths[i], tiles::thumbnail_size) {
        Ok(img) => (grey_if_neutral(img), None),
        Err(e) => (
            pictures.image(i),
            Some(Unreadable {
                row: i,
                error: e.to_string(),
            }),
        ),
    }
}

/// Removes what an earlier gallery left in `dir` for clusters this one does not have: a
/// `cluster_<digits>` folder that is not one of `folders` (its PNGs, then the folder if
/// nothing else is in it) and a `cluster_<digits>.png` montage that is not one of
/// `montages`'. Nothing else is touched: only files of the gallery's own kinds.
fn remove_stale_clusters(dir: &Path, folders: &[PathBuf], montages: &Montages) -> Result<()> {
    let ours = |name: &str| {
        name.strip_prefix("cluster_")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
    };
    let kept: Vec<PathBuf> = montages.files();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if path.is_dir() && ours(name) && !folders.contains(&path) {
            clear_pngs(&path)?;
            // A folder that still holds something the gallery did not write stays.
            let _ = std::fs::remove_dir(&path);
        } else if path.is_file()
            && name.strip_suffix(".png").is_some_and(ours)
            && !kept.contains(&path)
        {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

fn clear_pngs(folder: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(folder, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| Error::io(folder, e))?.path();
        if path.extension().is_some_and(|x| x == "png") && path.is_file() {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_safe() {
        assert_eq!(thumbnail_name("123.png"), "123.png");
        assert_eq!(thumbnail_name("test/45.png"), "45.png");
        assert_eq!(thumbnail_name("../../etc/passwd"), "passwd.png");
        assert_eq!(thumbnail_name("a b*c"), "a_b_c.png");
        assert_eq!(thumbnail_name(".."), "image.png");
        assert_eq!(thumbnail_name(""), "image.png");
    }
}
