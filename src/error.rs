//! The library's error type: every error names the path it is about.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub enum Error {
    /// An operating-system error on a path.
    Io { path: PathBuf, source: io::Error },
    /// A path that is not a regular file (a FIFO, a device, a directory): never opened.
    NotRegular { path: PathBuf, kind: &'static str },
    /// A record whose name cannot be used (empty, or unsafe where that matters).
    BadName { path: PathBuf, reason: &'static str },
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io { path: path.into(), source }
    }

    pub fn path(&self) -> &Path {
        match self {
            Error::Io { path, .. } | Error::NotRegular { path, .. } | Error::BadName { path, .. } => path,
        }
    }
}

impl fmt::Display for Error {
    /// `path: reason`, as b3sum and coreutils print it after the tool's name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = display_bytes(self.path().as_os_str().as_encoded_bytes());
        if let (true, Error::BadName { reason, .. }) = (path.is_empty(), self) {
            return f.write_str(reason);
        }
        match self {
            Error::Io { source, .. } => write!(f, "{path}: {}", io_reason(source)),
            Error::NotRegular { kind, .. } => write!(f, "{path}: not a regular file ({kind}), not opened"),
            Error::BadName { reason, .. } => write!(f, "{path}: {reason}"),
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

/// The OS reason without Rust's "(os error N)" suffix, as C tools print it.
pub fn io_reason(err: &io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Path bytes for a human on stderr: invalid UTF-8 shown as `\xNN`, control bytes escaped,
/// so a name with a newline still fits on one line of a log.
pub fn display_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}
