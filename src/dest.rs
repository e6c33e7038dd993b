//! The destination tree: names resolved under DST one component at a time, never through a
//! symlink, directories created as needed, and the check that SRC and DST do not overlap.

use std::cell::RefCell;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::at;

pub struct Destination {
    /// `None` for a destination that does not exist yet (a dry run does not create it).
    root: Option<OwnedFd>,
    path: PathBuf,
}

/// The directory of the last file a thread wrote (destination root, directory name, open
/// descriptor): consecutive files share it.
type CachedDir = (RawFd, Vec<u8>, Rc<OwnedFd>);

thread_local! {
    static LAST_DIR: RefCell<Option<CachedDir>> = const { RefCell::new(None) };
}

/// An open directory of DST, and the base name of an entry in it.
pub struct Parent<'n> {
    pub dir: Rc<OwnedFd>,
    pub base: &'n [u8],
}

impl Parent<'_> {
    pub fn fd(&self) -> RawFd {
        self.dir.as_raw_fd()
    }
}

impl Destination {
    pub fn open(path: &Path) -> io::Result<Destination> {
        Ok(Destination { root: Some(at::open_dir(path)?), path: path.to_path_buf() })
    }

    /// A destination that does not exist: every lookup finds nothing (for `--dry-run`).
    pub fn missing(path: &Path) -> Destination {
        Destination { root: None, path: path.to_path_buf() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The root directory's descriptor (`None` for a missing destination).
    pub fn root_fd(&self) -> Option<RawFd> {
        self.root.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// `DST/name`, for messages.
    pub fn display(&self, name: &[u8]) -> PathBuf {
        self.path.join(OsStr::from_bytes(name))
    }

    /// The directory that holds `name`, creating missing directories (mode from `dir_mode` of
    /// the directory's name, plus u+rwx so the copy can fill it) unless `create` is false,
    /// then `Ok(None)` when one is missing. A symlink on the way is refused, never followed.
    pub fn parent<'n>(
        &self,
        name: &'n [u8],
        create: bool,
        dir_mode: &dyn Fn(&[u8]) -> u32,
    ) -> io::Result<Option<Parent<'n>>> {
        let (dir_name, base) = match name.iter().rposition(|&b| b == b'/') {
            Some(i) => (&name[..i], &name[i + 1..]),
            None => (&b""[..], name),
        };
        let Some(root_fd) = &self.root else { return Ok(None) };
        let root = root_fd.as_raw_fd();
        let cached = LAST_DIR.with_borrow(|last| match last {
            Some((r, n, fd)) if *r == root && n == dir_name => Some(Rc::clone(fd)),
            _ => None,
        });
        if let Some(dir) = cached {
            return Ok(Some(Parent { dir, base }));
        }
        let mut dir: Option<OwnedFd> = None;
        let mut done = 0;
        for component in dir_name.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
            done += component.len() + 1;
            let at_fd = dir.as_ref().map_or(root, AsRawFd::as_raw_fd);
            let next = match at::open_subdir(at_fd, component) {
                Ok(fd) => fd,
                Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                    match at::mkdir(at_fd, component, dir_mode(&dir_name[..done - 1]) | 0o700) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(e),
                    }
                    at::open_subdir(at_fd, component)?
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(refuse_link(e, &dir_name[..done - 1])),
            };
            dir = Some(next);
        }
        let dir = Rc::new(match dir {
            Some(fd) => fd,
            None => root_fd.try_clone()?,
        });
        LAST_DIR.with_borrow_mut(|last| *last = Some((root, dir_name.to_vec(), Rc::clone(&dir))));
        Ok(Some(Parent { dir, base }))
    }
}

/// Turns "is a symlink" (ELOOP) and "not a directory" into a message naming the entry of DST
/// that is in the way.
pub fn refuse_link(e: io::Error, what: &[u8]) -> io::Error {
    match e.raw_os_error() {
        Some(libc::ELOOP) | Some(libc::ENOTDIR) => io::Error::other(format!(
            "{} in DST is a symlink or not a directory: a symlink inside DST is never followed",
            crate::error::display_bytes(what)
        )),
        _ => e,
    }
}

/// The (device, inode) of `dir` and of each directory above it, up to `/`, `dir` first. Walking
/// `..` from the open directory asks the kernel, not the spelling: a symlink or a bind mount
/// leads to the same identities.
fn ancestry(dir: &Path) -> io::Result<Vec<(u64, u64)>> {
    let mut fd = at::open_dir(dir)?;
    let mut chain: Vec<(u64, u64)> = Vec::new();
    loop {
        let st = at::fstat(fd.as_raw_fd())?;
        let id = (st.st_dev, st.st_ino);
        if chain.last() == Some(&id) {
            return Ok(chain); // `/` is its own parent
        }
        chain.push(id);
        fd = at::open_parent(fd.as_raw_fd())?;
    }
}

/// The nearest directory that exists at or above `path` (DST may not exist yet).
fn nearest_existing(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    while !existing.is_dir() {
        match existing.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => existing = parent.to_path_buf(),
            _ => return PathBuf::from(if path.is_absolute() { "/" } else { "." }),
        }
    }
    existing
}

/// Refuses SRC and DST that overlap either way, before anything is written: DST inside SRC
/// (or the same directory) would copy a tree into itself; SRC inside DST would overwrite the
/// source with its own copy. Identities are compared, so a symlink or a bind mount that hides
/// the overlap from the spelling of the paths does not.
pub fn check_no_overlap(src: &Path, dst: &Path) -> Result<(), String> {
    let shown = |p: &Path| crate::error::display_bytes(p.as_os_str().as_bytes());
    let src_is_dir = std::fs::metadata(src)
        .map_err(|e| format!("{}: {}", shown(src), crate::error::io_reason(&e)))?
        .is_dir();
    // A single file is a tree of one: it overlaps DST when its directory lies inside DST.
    let src_dir =
        if src_is_dir { src.to_path_buf() } else { nearest_existing(src.parent().unwrap_or(Path::new("."))) };
    let src_chain =
        ancestry(&src_dir).map_err(|e| format!("{}: {}", shown(src), crate::error::io_reason(&e)))?;
    let dst_dir = nearest_existing(dst);
    let dst_chain =
        ancestry(&dst_dir).map_err(|e| format!("{}: {}", shown(&dst_dir), crate::error::io_reason(&e)))?;
    let (src_id, dst_id) = (src_chain[0], dst_chain[0]);
    if src_is_dir && src_id == dst_id && dst_dir == dst {
        return Err(format!(
            "SRC {} and DST {} are the same directory: refusing to copy a tree onto itself",
            shown(src),
            shown(dst)
        ));
    }
    if src_is_dir && dst_chain.contains(&src_id) {
        return Err(format!(
            "DST {} is inside SRC {}: refusing to copy a tree into itself",
            shown(dst),
            shown(src)
        ));
    }
    if dst_dir == dst && src_chain.contains(&dst_id) {
        return Err(format!(
            "SRC {} is inside DST {}: copying would overwrite the source; refusing",
            shown(src),
            shown(dst)
        ));
    }
    Ok(())
}
