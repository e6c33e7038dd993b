//! Symlinks that lead out of their tree.
//!
//! A link copied as a link must still resolve inside the copy, or DST would point back into
//! the source drive (and a verify would read the source's bytes) or dangle once the drive is
//! gone. As rsync's `--copy-unsafe-links` does, a link is unsafe when its target is absolute,
//! climbs above the tree's root with `..`, or resolves outside the tree through another link;
//! mcopy copies such a link as the file it leads to, and mtree-list names it when listing.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::name::name_of;

/// The root directory of a path record (`src/./a/b` -> `src`; `./a` and `a` -> `.`).
pub fn record_root(record: &[u8]) -> PathBuf {
    let root = &record[..record.len() - name_of(record).len()];
    let root = root.strip_suffix(b"./").unwrap_or(root);
    let root = if root.len() > 1 { root.strip_suffix(b"/").unwrap_or(root) } else { root };
    if root.is_empty() { PathBuf::from(".") } else { PathBuf::from(OsStr::from_bytes(root)) }
}

/// Where the symlink a record names leads when it leaves its tree (its target, for
/// messages), or `None` when it stays inside.
pub fn leads_out(record: &[u8]) -> io::Result<Option<PathBuf>> {
    let link = Path::new(OsStr::from_bytes(record));
    let target = fs::read_link(link)?;
    // Lexically, as rsync judges: the link sits `depth` directories below the root.
    let mut depth = name_of(record).split(|&b| b == b'/').count() as i64 - 1;
    for component in target.components() {
        match component {
            Component::RootDir | Component::Prefix(_) => return Ok(Some(target)),
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
        }
        if depth < 0 {
            return Ok(Some(target));
        }
    }
    // And as the kernel resolves it: through other links, it must still end inside.
    let root = fs::canonicalize(record_root(record))?;
    match fs::canonicalize(link) {
        Ok(end) if end.starts_with(&root) => Ok(None),
        Ok(_) => Ok(Some(target)),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_of_records() {
        assert_eq!(record_root(b"src/./a/b"), Path::new("src"));
        assert_eq!(record_root(b"/./a"), Path::new("/"));
        assert_eq!(record_root(b"./a"), Path::new("."));
        assert_eq!(record_root(b"a/b"), Path::new("."));
    }

    #[test]
    fn links_that_stay_and_links_that_leave() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("src");
        fs::create_dir_all(root.join("d/e")).unwrap();
        fs::write(root.join("f"), "f").unwrap();
        fs::write(dir.path().join("outside"), "o").unwrap();
        let link = |name: &str, target: &str| {
            std::os::unix::fs::symlink(target, root.join(name)).unwrap();
            let mut record = root.as_os_str().as_bytes().to_vec();
            record.extend_from_slice(b"/./");
            record.extend_from_slice(name.as_bytes());
            leads_out(&record).unwrap().is_some()
        };
        assert!(!link("same", "f"));
        assert!(!link("d/e/up", "../../f"));
        assert!(link("d/e/too-far", "../../../outside"));
        assert!(link("abs", dir.path().join("outside").to_str().unwrap()));
        assert!(link("abs-inside", root.join("f").to_str().unwrap()), "absolute: tied to where SRC is");
        std::os::unix::fs::symlink(dir.path(), root.join("d/escape")).unwrap();
        assert!(link("via", "d/escape/outside"), "through another link");
    }
}
