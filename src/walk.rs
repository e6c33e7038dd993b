//! Walking a tree: depth-first, each directory's entries sorted by their bytes, so one tree
//! always gives the same stream; memory is bounded by the tree's depth and fan-out.
//!
//! Paths come out with the root marker: walking `SRC` yields `SRC/./rel/path`.

use std::ffi::OsString;
use std::fs::{self, FileType};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::exclude::Exclude;
use crate::source::kind_name;

#[derive(Clone, Debug, Default)]
pub struct WalkOptions {
    pub exclude: Exclude,
    /// Do not descend into directories on another filesystem (`-x`).
    pub one_file_system: bool,
}

/// What the walker found at one path (always with the root marker).
#[derive(Debug)]
pub enum Event {
    /// A regular file.
    File(PathBuf),
    /// A symlink to a regular file: listed, and followed by consumers that read it.
    Symlink(PathBuf),
    /// A directory is entered (the root itself included); its entries follow.
    DirStart(PathBuf),
    /// All of a directory's entries have been yielded.
    DirEnd(PathBuf),
    /// Something not listed, and why (special file, dangling link, other filesystem).
    Skipped(PathBuf, String),
    /// A directory or root that could not be read: the exit status must say so.
    Error(PathBuf, io::Error),
}

struct Frame {
    dir: PathBuf,
    /// Sorted entries still to visit, in reverse so `pop` takes the next.
    entries: Vec<(OsString, Option<FileType>)>,
}

/// The walk of one root; an iterator of [`Event`]s.
pub struct Walk {
    options: WalkOptions,
    /// Length of `ROOT/.` in every path, to find the name after the marker.
    prefix_len: usize,
    root_dev: u64,
    stack: Vec<Frame>,
    /// Events due before the stack is consulted again (the root's own).
    queued: Vec<Event>,
}

/// `ROOT/.`: the root with trailing slashes dropped (`/` stays), then the marker.
fn marked_root(root: &Path) -> PathBuf {
    let bytes = root.as_os_str().as_encoded_bytes();
    let mut end = bytes.len();
    while end > 1 && bytes[end - 1] == b'/' {
        end -= 1;
    }
    let trimmed = Path::new(os_str(&bytes[..end]));
    trimmed.join(".")
}

fn os_str(bytes: &[u8]) -> &std::ffi::OsStr {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(bytes)
}

impl Walk {
    pub fn new(root: &Path, options: WalkOptions) -> Walk {
        let mut walk = Walk { options, prefix_len: 0, root_dev: 0, stack: Vec::new(), queued: Vec::new() };
        // The root is followed if it is a symlink, as `find -H` and `rsync SRC/` do.
        match fs::metadata(root) {
            Err(err) => walk.queued.push(Event::Error(root.to_path_buf(), err)),
            Ok(meta) if meta.is_dir() => {
                let marked = marked_root(root);
                walk.prefix_len = marked.as_os_str().len();
                walk.root_dev = meta.dev();
                walk.enter(marked);
            }
            Ok(meta) if meta.is_file() => {
                // A file operand is named by its base name: `dir/file` -> `dir/./file`.
                let parent = root.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let path = marked_root(parent).join(root.file_name().unwrap_or(root.as_os_str()));
                let is_link = fs::symlink_metadata(root).map(|m| m.file_type().is_symlink()).unwrap_or(false);
                walk.queued.push(if is_link { Event::Symlink(path) } else { Event::File(path) });
            }
            Ok(meta) => walk.queued.push(Event::Skipped(
                root.to_path_buf(),
                format!("not listed: {}", kind_name(meta.file_type())),
            )),
        }
        walk
    }

    /// Reads a directory's entries and pushes its frame, or queues the error.
    fn enter(&mut self, dir: PathBuf) {
        match read_sorted(&dir) {
            Ok(entries) => {
                self.queued.push(Event::DirStart(dir.clone()));
                self.stack.push(Frame { dir, entries });
            }
            Err(err) => self.queued.push(Event::Error(dir, err)),
        }
    }

    /// The path relative to the root marker: the name used for exclusion.
    fn name_of<'a>(&self, path: &'a Path) -> &'a Path {
        let bytes = path.as_os_str().as_encoded_bytes();
        Path::new(os_str(bytes.get(self.prefix_len + 1..).unwrap_or_default()))
    }

    fn visit(&mut self, dir: &Path, base: OsString, file_type: Option<FileType>) -> Option<Event> {
        let path = dir.join(&base);
        let file_type = match file_type {
            Some(t) => t,
            None => match fs::symlink_metadata(&path) {
                Ok(m) => m.file_type(),
                Err(err) => return Some(Event::Error(path, err)),
            },
        };
        if self.options.exclude.matches(self.name_of(&path), &base, file_type.is_dir()) {
            return None;
        }
        if file_type.is_file() {
            return Some(Event::File(path));
        }
        if file_type.is_dir() {
            if self.options.one_file_system {
                match fs::symlink_metadata(&path) {
                    Ok(m) if m.dev() != self.root_dev => {
                        return Some(Event::Skipped(path, "not descended: another filesystem (-x)".into()));
                    }
                    Ok(_) => {}
                    Err(err) => return Some(Event::Error(path, err)),
                }
            }
            self.enter(path);
            return self.queued.pop();
        }
        if file_type.is_symlink() {
            return Some(match fs::metadata(&path) {
                Ok(target) if target.is_file() => Event::Symlink(path),
                Ok(target) => Event::Skipped(
                    path,
                    format!("not listed: symlink to a {}", kind_name(target.file_type())),
                ),
                Err(err) if err.kind() == io::ErrorKind::NotFound => {
                    Event::Skipped(path, "not listed: dangling symlink".into())
                }
                Err(err) => {
                    Event::Skipped(path, format!("not listed: symlink: {}", crate::error::io_reason(&err)))
                }
            });
        }
        Some(Event::Skipped(path, format!("not listed: {}", kind_name(file_type))))
    }
}

/// A directory's entries sorted by name bytes, reversed for popping.
fn read_sorted(dir: &Path) -> io::Result<Vec<(OsString, Option<FileType>)>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        // d_type from readdir spares a stat per entry; None means ask lstat later.
        entries.push((entry.file_name(), entry.file_type().ok()));
    }
    entries.sort_unstable_by(|a, b| b.0.cmp(&a.0));
    Ok(entries)
}

impl Iterator for Walk {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.queued.pop() {
                return Some(event);
            }
            let frame = self.stack.last_mut()?;
            match frame.entries.pop() {
                Some((base, file_type)) => {
                    let dir = frame.dir.clone();
                    if let Some(event) = self.visit(&dir, base, file_type) {
                        return Some(event);
                    }
                }
                None => {
                    let frame = self.stack.pop().expect("last_mut was Some");
                    return Some(Event::DirEnd(frame.dir));
                }
            }
        }
    }
}
