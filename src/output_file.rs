//! An output file (a manifest) that is installed whole or not at all, and never in place of
//! something that is not a regular file.
//!
//! - A regular file, or a name that does not exist yet: written under a temporary beside it,
//!   synced, and renamed into place only when complete; an interrupted or failed run leaves
//!   the old file as it was. The new file keeps the mode of the file it replaces; a new one
//!   gets 0666 under the umask, as a shell's `>` gives it.
//! - A symlink: followed; the file it leads to is installed as above, beside it, and the link
//!   stays a link.
//! - A character device or a FIFO (`/dev/stdout`, `/dev/null`, a named pipe): written through,
//!   never replaced.
//! - Anything else (a directory, a socket, a block device): refused.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::at;
use crate::cleanup::{self, Registered};
use crate::temporary::{remove_stale_for, temp_name};

pub struct OutputFile {
    /// The name given, for messages.
    name: PathBuf,
    target: Target,
}

enum Target {
    /// Written through: stdout, a device, a FIFO.
    Through(Box<dyn Write + Send>),
    /// Written beside the final name and renamed into place on commit.
    Installed(Installed),
}

struct Installed {
    dir: OwnedFd,
    temp: Vec<u8>,
    base: Vec<u8>,
    file: BufWriter<File>,
    /// The mode of the file replaced, kept by its successor.
    mode: Option<u32>,
    _registered: Registered,
    committed: bool,
}

/// Where a symlink chain ends (the path itself when it is not a link; the end may not exist),
/// or `None` when the chain passes through a `/proc` descriptor link (`/dev/stdout`,
/// `/dev/fd/3`), whose target is not a path to install beside.
fn follow_links(path: &Path) -> io::Result<Option<PathBuf>> {
    let mut path = path.to_path_buf();
    for _ in 0..40 {
        if path.starts_with("/proc") {
            return Ok(None);
        }
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&path)?;
                path = match path.parent() {
                    Some(parent) if target.is_relative() => parent.join(target),
                    _ => target,
                };
            }
            Ok(_) => return Ok(Some(path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Some(path)),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

impl OutputFile {
    /// Starts writing `path` (see the module's rules for what it may be); `-` and
    /// `/dev/stdout` are this process's stdout.
    pub fn create(path: &Path) -> io::Result<OutputFile> {
        let name = path.to_path_buf();
        if path.as_os_str() == "-" || path == Path::new("/dev/stdout") {
            return Ok(OutputFile { name, target: Target::Through(Box::new(BufWriter::new(io::stdout()))) });
        }
        let through = |truncate: bool| -> io::Result<OutputFile> {
            let file = fs::OpenOptions::new()
                .write(true)
                .truncate(truncate)
                .create(truncate)
                .custom_flags(libc::O_NOCTTY)
                .open(path)?;
            Ok(OutputFile {
                name: path.to_path_buf(),
                target: Target::Through(Box::new(BufWriter::new(file))),
            })
        };
        let existing = match fs::metadata(path) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        match existing.as_ref().map(|m| m.file_type()) {
            Some(k) if k.is_char_device() || k.is_fifo() => return through(false),
            Some(k) if k.is_dir() => return Err(io::Error::from_raw_os_error(libc::EISDIR)),
            Some(k) if !k.is_file() => {
                return Err(io::Error::other(
                    "not a regular file, a character device or a FIFO: not replaced",
                ));
            }
            _ => {}
        }
        match follow_links(path)? {
            None => through(true),
            Some(real) => {
                let mode = existing.map(|m| m.mode() & 0o7777);
                Ok(OutputFile { name, target: Target::Installed(Installed::create(&real, mode)?) })
            }
        }
    }

    /// Completes the file: flushed; installed under its name (synced first unless `fsync` is
    /// false, and its directory synced after the rename).
    pub fn commit(self, fsync: bool) -> io::Result<()> {
        match self.target {
            Target::Through(mut file) => file.flush(),
            Target::Installed(installed) => installed.commit(fsync),
        }
    }

    /// True when the file is installed under its name on commit (not written through).
    pub fn installs(&self) -> bool {
        matches!(self.target, Target::Installed(_))
    }

    /// The name as given, for messages.
    pub fn name(&self) -> &Path {
        &self.name
    }
}

impl Installed {
    fn create(real: &Path, mode: Option<u32>) -> io::Result<Installed> {
        let base = real.file_name().ok_or_else(|| io::Error::other("not a file name"))?.as_bytes().to_vec();
        let parent = real.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let dir = at::open_dir(parent)?;
        // Leftovers of runs that were killed, never a live writer's.
        remove_stale_for(parent, &base)?;
        let temp = temp_name(&base);
        let registered = cleanup::register(dir.as_raw_fd(), &temp);
        let file = at::create_new(dir.as_raw_fd(), &temp, 0o666)?;
        Ok(Installed {
            dir,
            temp,
            base,
            file: BufWriter::with_capacity(64 * 1024, file),
            mode,
            _registered: registered,
            committed: false,
        })
    }

    fn commit(mut self, fsync: bool) -> io::Result<()> {
        self.file.flush()?;
        if let Some(mode) = self.mode {
            self.file.get_ref().set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        }
        if fsync {
            self.file.get_ref().sync_data()?;
        }
        at::rename(self.dir.as_raw_fd(), &self.temp, &self.base)?;
        self.committed = true;
        if fsync {
            at::fsync_fd(self.dir.as_raw_fd())?;
        }
        Ok(())
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.target {
            Target::Through(file) => file.write(buf),
            Target::Installed(installed) => installed.file.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.target {
            Target::Through(file) => file.flush(),
            Target::Installed(installed) => installed.file.flush(),
        }
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if !self.committed {
            let _ = at::unlink(self.dir.as_raw_fd(), &self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_committed_file_appears_under_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("M");
        std::fs::write(&path, "old").unwrap();
        let mut dropped = OutputFile::create(&path).unwrap();
        dropped.write_all(b"half").unwrap();
        drop(dropped);
        assert_eq!(std::fs::read(&path).unwrap(), b"old", "an abandoned write changes nothing");
        let mut committed = OutputFile::create(&path).unwrap();
        committed.write_all(b"new").unwrap();
        committed.commit(true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary left");
    }
}
