//! Reading a file the program did not just write: only a regular file, and never more than
//! a cap. A FIFO named like a PNG would block `open` or `read` forever; `/dev/zero` named
//! `train.csv` would be read until memory runs out. So every input goes through here.
//!
//! On Linux the file is opened non-blocking (a FIFO then opens at once instead of waiting
//! for a writer; for a regular file the flag changes nothing) and its type is checked on
//! the open descriptor, so a file swapped between a check and the open is still caught.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

/// Opens `path` for reading if, and only if, it is a regular file (symbolic links are
/// followed). Errors name the file and what it is instead: a folder, a FIFO, a device.
pub fn open_regular(path: &Path) -> Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK, the same value on every Linux architecture Rust supports but alpha
        // and parisc, where the program is not built.
        const O_NONBLOCK: i32 = 0o4000;
        options.custom_flags(O_NONBLOCK);
    }
    #[cfg(not(target_os = "linux"))]
    {
        // Without the flag, check before opening: opening a FIFO would wait for a writer.
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        check_regular(path, &meta)?;
    }
    let file = options.open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    check_regular(path, &meta)?;
    Ok(file)
}

/// An error unless `meta` is a regular file's.
fn check_regular(path: &Path, meta: &Metadata) -> Result<()> {
    if meta.is_file() {
        return Ok(());
    }
    let kind = if meta.is_dir() {
        "a folder"
    } else {
        special_kind(meta)
    };
    Err(Error::data(
        path,
        format!("is {kind}, not a regular file; only regular files are read"),
    ))
}

#[cfg(unix)]
fn special_kind(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &Metadata) -> &'static str {
    "not a file"
}

/// Reads the whole regular file `path`, refusing one of more than `cap` bytes; `what`
/// names the kind of file in the message ("an image list may be at most ...").
pub fn read_capped(path: &Path, cap: u64, what: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    read_capped_into(path, cap, what, &mut bytes)?;
    Ok(bytes)
}

/// [`read_capped`] into a caller's buffer (cleared first), so that a loop over many files
/// reuses one allocation.
pub fn read_capped_into(path: &Path, cap: u64, what: &str, bytes: &mut Vec<u8>) -> Result<()> {
    bytes.clear();
    let file = open_regular(path)?;
    // The cap is applied while reading: the size `stat` reports can change under us.
    file.take(cap.saturating_add(1))
        .read_to_end(bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > cap {
        return Err(too_large(path, cap, what));
    }
    Ok(())
}

/// Reads at most the first `max` bytes of the regular file `path` into `bytes` (cleared
/// first): a header, when the rest of the file is not needed yet.
pub fn read_head_into(path: &Path, max: u64, bytes: &mut Vec<u8>) -> Result<()> {
    bytes.clear();
    open_regular(path)?
        .take(max)
        .read_to_end(bytes)
        .map_err(|e| Error::io(path, e))?;
    Ok(())
}

fn too_large(path: &Path, cap: u64, what: &str) -> Error {
    Error::data(path, format!("larger than the {cap} bytes {what} may be"))
}

/// Reads a text file of lines (a CSV), refusing the file past `cap` bytes and, while
/// reading, any line longer than `max_line` bytes: a corrupt 1 GB line is refused after
/// `max_line` bytes, not after it has all been read.
pub fn read_lines_capped(path: &Path, cap: u64, max_line: usize, what: &str) -> Result<Vec<u8>> {
    let mut file = open_regular(path)?.take(cap.saturating_add(1));
    let mut bytes: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    // line_start: where the line being read began; line: its 1-based number.
    let (mut line_start, mut line) = (0usize, 1usize);
    loop {
        let n = match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, e)),
        };
        let start = bytes.len();
        bytes.extend_from_slice(&chunk[..n]);
        if bytes.len() as u64 > cap {
            return Err(too_large(path, cap, what));
        }
        for (i, &b) in bytes[start..].iter().enumerate() {
            if b == b'\n' {
                line_start = start + i + 1;
                line += 1;
            }
        }
        if bytes.len() - line_start > max_line {
            return Err(Error::data_row(
                path,
                line,
                format!("line longer than {max_line} bytes"),
            ));
        }
    }
    Ok(bytes)
}
