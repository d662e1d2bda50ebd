//! File formats that sit off the clustering path: skip on first reading.
//!
//! Each file is one format, written by hand because the crate's only runtime dependencies
//! are rand, png and rayon. Nothing here knows about images, networks or clusters; the
//! modules that do (the data loader, `evaluate`, the logs, the weights) call in:
//!
//! - [`csv`]: one reader (RFC 4180 quoting, a byte-order mark, CRLF, errors naming the file
//!   and the line) and one writer (quoting only the fields that need it), for the image
//!   lists, `evaluate`'s files, the logs, `results.csv` and `predictions.csv`;
//! - [`json`]: the small JSON reader and string writer inside a safetensors header;
//! - [`inflate`]: gzip and DEFLATE decompression, for MNIST's `.gz` IDX files;
//! - [`crc32`]: the checksum of gzip, PNG and the safetensors files this program writes;
//! - [`png`]: the one PNG encoder, for `make-dataset`'s images and every picture.

pub mod crc32;
pub mod csv;
pub mod inflate;
pub mod json;
pub mod png;
