//! Opening source files: regular files only, and a FIFO or device is never opened.

use std::fs::{self, File, FileType, Metadata, OpenOptions};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::error::Error;

/// Opens `path` (following symlinks, as b3sum does) if it is a regular file.
///
/// The type is checked with `stat` before `open`, because opening a FIFO blocks and opening a
/// device can have effects (a tape rewinds); and again on the open descriptor, in case the
/// path was replaced in between (`O_NONBLOCK` keeps that open from blocking on a FIFO).
pub fn open_regular(path: &Path) -> Result<(File, Metadata), Error> {
    open_regular_with(path, 0)
}

/// [`open_regular`] with extra `open(2)` flags (`O_DIRECT`, say).
pub fn open_regular_with(path: &Path, flags: i32) -> Result<(File, Metadata), Error> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::NotRegular { path: path.into(), kind: kind_name(meta.file_type()) });
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | flags)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::NotRegular { path: path.into(), kind: kind_name(meta.file_type()) });
    }
    Ok((file, meta))
}

/// A short human name for a file type, for "skipped" and "not opened" messages.
pub fn kind_name(ft: FileType) -> &'static str {
    if ft.is_dir() {
        "directory"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_file() {
        "regular file"
    } else {
        "unknown type"
    }
}
