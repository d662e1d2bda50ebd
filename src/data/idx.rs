//! MNIST's own format, IDX (raw or gzip-compressed): a big-endian header, then the bytes.
//!
//! ```text
//! magic  u32  0x0000_08DD  (08 = unsigned bytes, DD = number of dimensions)
//! dims   u32 x DD          e.g. (60000, 28, 28) for images, (60000,) for labels
//! data   u8 x product(dims), row-major
//! ```
//!
//! A folder in this layout holds the four standard files, each either raw or `.gz`. The
//! 70,000 images are taken in the order the README of `../shared/data/mnist` fixes: the
//! training file, then the t10k file.

use std::path::{Path, PathBuf};

use crate::format::inflate;
use crate::{Error, Result};

/// The four standard file names, without `.gz`.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
pub const FILES: [&str; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];

/// No IDX file we read may expand beyond this (MNIST's largest is 47 MB); a guard against a
/// corrupt or hostile `.gz`.
const MAX_DECOMPRESSED: usize = 1 << 31;

/// One IDX file: its dimensions and its bytes.
pub struct Idx {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// All images of an IDX folder: the training file then the t10k file, concatenated.
pub struct IdxImages {
    /// (count, height * width) u8 pixels, row-major.
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
    pub count: usize,
    pub height: usize,
    pub width: usize,
}

/// `dir/name.gz` or `dir/name`, whichever exists (the compressed one first).
pub fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(format!("{name}.gz")), dir.join(name)]
        .into_iter()
        .find(|p| p.is_file())
}

/// True when `dir` holds the training images file of the IDX layout.
pub fn looks_like_idx(dir: &Path) -> bool {
    find(dir, TRAIN_IMAGES).is_some()
}

/// Reads one IDX file, decompressing it if it starts with the gzip magic number.
pub fn read(path: &Path) -> Result<Idx> {
    // A raw file holds at most the decompressed cap plus the largest header.
    let cap = MAX_DECOMPRESSED as u64 + 4 + 4 * 255;
    let bytes = crate::io::read::read_capped(path, cap, "an IDX file")?;
    from_bytes(path, bytes)
}

/// Reads an IDX file held in `bytes` (raw, or gzip-compressed); `path` is only used in
/// error messages.
pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Idx> {
    let bytes = if inflate::is_gzip(&bytes) {
        inflate::gunzip(&bytes, MAX_DECOMPRESSED).map_err(|e| Error::data(path, e.to_string()))?
    } else {
        bytes
    };
    parse(path, bytes)
}

/// Checks the header of an IDX file held in `bytes` and splits off its data.
fn parse(path: &Path, mut bytes: Vec<u8>) -> Result<Idx> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(Error::data(path, "not an IDX file (bad magic number)"));
    }
    if bytes[2] != 0x08 {
        return Err(Error::data(
            path,
            format!(
                "IDX data type 0x{:02x} is not unsigned bytes (0x08)",
                bytes[2]
            ),
        ));
    }
    let ndims = bytes[3] as usize;
    let header_len = 4 + 4 * ndims;
    if bytes.len() < header_len {
        return Err(Error::data(path, "IDX header is truncated"));
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|d| {
            let b = &bytes[4 + 4 * d..8 + 4 * d];
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        })
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::data(path, "IDX dimensions overflow"))?;
    let found = bytes.len() - header_len;
    if found != expected {
        return Err(Error::data(
            path,
            format!("IDX dimensions {dims:?} need {expected} data bytes, found {found}"),
        ));
    }
    bytes.drain(..header_len);
    Ok(Idx { dims, data: bytes })
}

/// Reads the four files of an IDX folder and concatenates training then t10k.
pub fn read_dir(dir: &Path) -> Result<IdxImages> {
    let path_of = |name: &str| {
        find(dir, name).ok_or_else(|| {
            Error::data(
                dir.join(name),
                format!("missing IDX file (looked for {name} and {name}.gz)"),
            )
        })
    };
    let mut parts = Vec::new();
    for (images, labels) in [(TRAIN_IMAGES, TRAIN_LABELS), (TEST_IMAGES, TEST_LABELS)] {
        let (images_path, labels_path) = (path_of(images)?, path_of(labels)?);
        let images = read(&images_path)?;
        let labels = read(&labels_path)?;
        if images.dims.len() != 3 {
            return Err(Error::data(
                &images_path,
                format!(
                    "expected 3 dimensions (count, rows, cols), found {:?}",
                    images.dims
                ),
            ));
        }
        if labels.dims.len() != 1 || labels.dims[0] != images.dims[0] {
            return Err(Error::data(
                &labels_path,
                format!(
                    "expected {} labels to match {}, found dimensions {:?}",
                    images.dims[0],
                    images_path.display(),
                    labels.dims
                ),
            ));
        }
        parts.push((images_path, images, labels));
    }
    let (_, train, train_labels) = parts.remove(0);
    let (test_path, test, test_labels) = parts.remove(0);
    let (height, width) = (train.dims[1], train.dims[2]);
    if (test.dims[1], test.dims[2]) != (height, width) {
        return Err(Error::data(
            &test_path,
            format!(
                "images are {}x{}, the training images {}x{}",
                test.dims[2], test.dims[1], width, height
            ),
        ));
    }
    if height == 0 || width == 0 {
        return Err(Error::data(&test_path, "images have zero size"));
    }
    let count = train.dims[0] + test.dims[0];
    let mut pixels = train.data;
    // Exact, and fallible: a doubling `extend` could ask for twice the training set.
    pixels.try_reserve_exact(test.data.len()).map_err(|_| {
        Error::data(
            &test_path,
            format!("not enough memory for {count} images of {width}x{height}"),
        )
    })?;
    pixels.extend_from_slice(&test.data);
    drop(test);
    let mut labels = train_labels.data;
    labels.extend_from_slice(&test_labels.data);
    Ok(IdxImages {
        pixels,
        labels,
        count,
        height,
        width,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(magic: u32, dims: &[u32]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    #[test]
    fn parses_a_tiny_image_file() {
        let mut bytes = header(0x0803, &[2, 1, 3]);
        bytes.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        let idx = parse(Path::new("x"), bytes).unwrap();
        assert_eq!(idx.dims, vec![2, 1, 3]);
        assert_eq!(idx.data, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn wrong_length_and_magic_are_errors_naming_the_file() {
        let mut bytes = header(0x0803, &[2, 1, 3]);
        bytes.extend_from_slice(&[1, 2, 3]);
        let msg = parse(Path::new("imgs"), bytes).err().unwrap().to_string();
        assert!(
            msg.starts_with("imgs: ") && msg.contains("found 3"),
            "{msg}"
        );
        let msg = parse(Path::new("imgs"), b"\x89PNG".to_vec())
            .err()
            .unwrap()
            .to_string();
        assert!(msg.contains("magic"), "{msg}");
        let msg = parse(Path::new("imgs"), header(0x0d03, &[1, 1, 1]))
            .err()
            .unwrap()
            .to_string();
        assert!(msg.contains("unsigned bytes"), "{msg}");
    }
}
