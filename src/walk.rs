//! Walking a tree: depth-first, each directory's entries sorted by their bytes, so one tree
//! always gives the same stream; memory is bounded by the tree's depth and fan-out.
//!
//! Paths come out with the root marker: walking `SRC` yields `SRC/./rel/path`.

use std::ffi::{CStr, CString, OsStr};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::device::is_rotational;
use crate::error::io_reason;
use crate::exclude::Exclude;
use crate::physical::disk_order_key;
use crate::source::kind_name;

#[derive(Clone, Debug, Default)]
pub struct WalkOptions {
    pub exclude: Exclude,
    /// Do not descend into directories on another filesystem (`-x`).
    pub one_file_system: bool,
    pub order: Order,
}

/// The order of each directory's entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Order {
    /// Sorted by name bytes.
    #[default]
    Name,
    /// The regular files by where their data starts on the disk (FIEMAP), then the other
    /// entries by name: fewer seeks on a hard disk.
    Physical,
    /// Physical on a rotational device (as sysfs tells), else by name.
    Auto,
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

/// An entry's type as `readdir` tells it (`d_type`), so that no entry needs a `stat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Symlink,
    Special(&'static str),
    /// DT_UNKNOWN: the filesystem does not say; ask `lstat`.
    Unknown,
}

impl Kind {
    fn from_d_type(d_type: u8) -> Kind {
        match d_type {
            libc::DT_REG => Kind::File,
            libc::DT_DIR => Kind::Dir,
            libc::DT_LNK => Kind::Symlink,
            libc::DT_FIFO => Kind::Special("fifo"),
            libc::DT_SOCK => Kind::Special("socket"),
            libc::DT_CHR => Kind::Special("character device"),
            libc::DT_BLK => Kind::Special("block device"),
            _ => Kind::Unknown,
        }
    }

    fn from_metadata(meta: &fs::Metadata) -> Kind {
        let ft = meta.file_type();
        if ft.is_file() {
            Kind::File
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_symlink() {
            Kind::Symlink
        } else {
            Kind::Special(kind_name(ft))
        }
    }
}

/// One directory's entries, sorted by name bytes. The names share one buffer: a tree of
/// millions of files costs no allocation per entry.
struct Listing {
    names: Vec<u8>,
    entries: Vec<(usize, usize, Kind)>,
}

impl Listing {
    fn name(&self, i: usize) -> &OsStr {
        let (start, len, _) = self.entries[i];
        OsStr::from_bytes(&self.names[start..start + len])
    }
}

struct Frame {
    dir: PathBuf,
    listing: Listing,
    /// Index of the next entry to visit.
    next: usize,
}

/// The walk of one root; an iterator of [`Event`]s.
pub struct Walk {
    options: WalkOptions,
    /// Length of `ROOT/.` in every path, to find the name after the marker.
    prefix_len: usize,
    root_dev: u64,
    stack: Vec<Frame>,
    /// An event due before the stack is consulted again.
    queued: Option<Event>,
}

/// `ROOT/.`: the root with trailing slashes dropped (`/` stays), then the marker.
fn marked_root(root: &Path) -> PathBuf {
    // Only the marker may be a `.` component: `src/.`, `src/./d` and `a//b` are spelled
    // `src`, `src/d` and `a/b` first (a leading `./` stays), so the first `/./` of a record
    // is always the one that starts its name.
    let bytes = root.as_os_str().as_bytes();
    let mut clean: Vec<u8> = if bytes.starts_with(b"/") { b"/".to_vec() } else { Vec::new() };
    for (i, component) in bytes.split(|&b| b == b'/').filter(|c| !c.is_empty()).enumerate() {
        if component == b"." && !(i == 0 && clean.is_empty()) {
            continue;
        }
        if !clean.is_empty() && !clean.ends_with(b"/") {
            clean.push(b'/');
        }
        clean.extend_from_slice(component);
    }
    if clean.is_empty() {
        clean.push(b'.');
    }
    Path::new(OsStr::from_bytes(&clean)).join(".")
}

impl Walk {
    pub fn new(root: &Path, options: WalkOptions) -> Walk {
        let mut walk = Walk { options, prefix_len: 0, root_dev: 0, stack: Vec::new(), queued: None };
        // The root is followed if it is a symlink, as `find -H` and `rsync SRC/` do.
        walk.queued = match fs::metadata(root) {
            Err(err) => Some(Event::Error(root.to_path_buf(), err)),
            Ok(meta) if meta.is_dir() => {
                if walk.options.order == Order::Auto {
                    let hdd = is_rotational(root) == Some(true);
                    walk.options.order = if hdd { Order::Physical } else { Order::Name };
                }
                let marked = marked_root(root);
                walk.prefix_len = marked.as_os_str().len();
                walk.root_dev = meta.dev();
                Some(walk.enter(marked))
            }
            Ok(meta) if meta.is_file() => {
                // A file operand is named by its base name: `dir/file` -> `dir/./file`.
                let parent = root.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let path = marked_root(parent).join(root.file_name().unwrap_or(root.as_os_str()));
                let is_link = fs::symlink_metadata(root).is_ok_and(|m| m.file_type().is_symlink());
                Some(if is_link { Event::Symlink(path) } else { Event::File(path) })
            }
            Ok(meta) => Some(Event::Skipped(
                root.to_path_buf(),
                format!("not listed: {}", kind_name(meta.file_type())),
            )),
        };
        walk
    }

    /// Reads a directory and pushes its frame: `DirStart`, or the error reading it.
    fn enter(&mut self, dir: PathBuf) -> Event {
        match read_sorted(&dir) {
            Ok(mut listing) => {
                if self.options.order == Order::Physical {
                    sort_physically(&dir, &mut listing);
                }
                self.stack.push(Frame { dir: dir.clone(), listing, next: 0 });
                Event::DirStart(dir)
            }
            Err(err) => Event::Error(dir, err),
        }
    }

    fn is_excluded(&self, path: &Path, base: &OsStr, kind: Kind) -> bool {
        let bytes = path.as_os_str().as_bytes();
        let name = Path::new(OsStr::from_bytes(bytes.get(self.prefix_len + 1..).unwrap_or_default()));
        self.options.exclude.matches(name, base, kind == Kind::Dir)
    }

    /// The event for one entry of a directory, or `None` when it is excluded.
    fn visit(&mut self, path: PathBuf, base_len: usize, kind: Kind) -> Option<Event> {
        let kind = match kind {
            Kind::Unknown => match fs::symlink_metadata(&path) {
                Ok(meta) => Kind::from_metadata(&meta),
                Err(err) => return Some(Event::Error(path, err)),
            },
            known => known,
        };
        if !self.options.exclude.is_empty() {
            let bytes = path.as_os_str().as_bytes();
            let base = OsStr::from_bytes(&bytes[bytes.len() - base_len..]);
            if self.is_excluded(&path, base, kind) {
                return None;
            }
        }
        Some(match kind {
            Kind::File => Event::File(path),
            Kind::Dir => {
                if self.options.one_file_system {
                    match fs::symlink_metadata(&path) {
                        Ok(m) if m.dev() != self.root_dev => {
                            return Some(Event::Skipped(
                                path,
                                "not descended: another filesystem (-x)".into(),
                            ));
                        }
                        Ok(_) => {}
                        Err(err) => return Some(Event::Error(path, err)),
                    }
                }
                self.enter(path)
            }
            Kind::Symlink => match fs::metadata(&path) {
                Ok(target) if target.is_file() => Event::Symlink(path),
                Ok(target) => {
                    let why = format!("not listed: symlink to a {}", kind_name(target.file_type()));
                    Event::Skipped(path, why)
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound => {
                    Event::Skipped(path, "not listed: dangling symlink".into())
                }
                Err(err) => Event::Skipped(path, format!("not listed: symlink: {}", io_reason(&err))),
            },
            Kind::Special(what) => Event::Skipped(path, format!("not listed: {what}")),
            Kind::Unknown => unreachable!("resolved above"),
        })
    }
}

/// Reads a directory with `readdir`, keeping `d_type`, and sorts the entries by name bytes.
fn read_sorted(dir: &Path) -> io::Result<Listing> {
    let c_dir = CString::new(dir.as_os_str().as_bytes())?;
    // SAFETY: c_dir is a valid C string; the stream is closed below on every path.
    let stream = unsafe { libc::opendir(c_dir.as_ptr()) };
    if stream.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut listing = Listing { names: Vec::new(), entries: Vec::new() };
    let result = loop {
        // SAFETY: errno is thread-local; readdir64 reads an open stream, and the entry it
        // returns stays valid until the next call on that stream.
        let entry = unsafe {
            *libc::__errno_location() = 0;
            libc::readdir64(stream)
        };
        if entry.is_null() {
            let err = io::Error::last_os_error();
            break if err.raw_os_error() == Some(0) { Ok(()) } else { Err(err) };
        }
        // SAFETY: see above.
        let (name, d_type) =
            unsafe { (CStr::from_ptr((*entry).d_name.as_ptr()).to_bytes(), (*entry).d_type) };
        if name == b"." || name == b".." {
            continue;
        }
        listing.entries.push((listing.names.len(), name.len(), Kind::from_d_type(d_type)));
        listing.names.extend_from_slice(name);
    };
    // SAFETY: the stream came from opendir and is closed once.
    unsafe { libc::closedir(stream) };
    result?;
    let names = &listing.names;
    listing.entries.sort_unstable_by(|a, b| names[a.0..a.0 + a.1].cmp(&names[b.0..b.0 + b.1]));
    Ok(listing)
}

/// Puts a listing's regular files first, by where their data lies on the disk, and the other
/// entries after them, by name (the sort is stable: ties keep name order).
fn sort_physically(dir: &Path, listing: &mut Listing) {
    let keys: Vec<(bool, u64)> = (0..listing.entries.len())
        .map(|i| match listing.entries[i].2 {
            Kind::File => {
                let path = dir.join(listing.name(i));
                // O_NONBLOCK: if the entry became a FIFO since readdir, opening must not block.
                let file = fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
                    .open(path);
                (false, file.map_or(u64::MAX, |f| disk_order_key(&f)))
            }
            _ => (true, 0),
        })
        .collect();
    let mut order: Vec<usize> = (0..listing.entries.len()).collect();
    order.sort_by_key(|&i| keys[i]);
    listing.entries = order.into_iter().map(|i| listing.entries[i]).collect();
}

impl Iterator for Walk {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.queued.take() {
                return Some(event);
            }
            let frame = self.stack.last_mut()?;
            if frame.next == frame.listing.entries.len() {
                let frame = self.stack.pop().expect("last_mut was Some");
                return Some(Event::DirEnd(frame.dir));
            }
            let i = frame.next;
            frame.next += 1;
            let base = frame.listing.name(i);
            let path = frame.dir.join(base);
            let (base_len, kind) = (base.len(), frame.listing.entries[i].2);
            if let Some(event) = self.visit(path, base_len, kind) {
                return Some(event);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_the_only_dot_component_of_a_root() {
        for (root, marked) in [
            ("src", "src/."),
            ("src/", "src/."),
            ("src/.", "src/."),
            ("src/./d", "src/d/."),
            ("a//b/", "a/b/."),
            ("./src", "./src/."),
            (".", "./."),
            ("./", "./."),
            ("/", "/."),
            ("/./x", "/x/."),
        ] {
            assert_eq!(marked_root(Path::new(root)), Path::new(marked), "{root}");
        }
    }

    #[test]
    fn root_marker_keeps_a_lone_slash() {
        assert_eq!(marked_root(Path::new("/")), Path::new("/."));
        assert_eq!(marked_root(Path::new("src///")), Path::new("src/."));
        assert_eq!(marked_root(Path::new(".")), Path::new("./."));
    }
}
