//! An output file (a manifest) written under a temporary name beside its final one and
//! renamed into place only when it is complete: an interrupted or failed run never leaves a
//! partial file under the final name, and SIGINT/SIGTERM remove the temporary.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::at;
use crate::cleanup::{self, Registered};

pub struct AtomicFile {
    dir: OwnedFd,
    temp: Vec<u8>,
    name: Vec<u8>,
    file: BufWriter<File>,
    _registered: Registered,
    committed: bool,
}

impl AtomicFile {
    /// Starts writing `path` as `.NAME.tmp.PID` in the same directory.
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        let name = path.file_name().ok_or_else(|| io::Error::other("not a file name"))?.as_bytes().to_vec();
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let dir = at::open_dir(parent)?;
        let mut temp = b".".to_vec();
        temp.extend_from_slice(&name);
        temp.extend_from_slice(format!(".tmp.{}", std::process::id()).as_bytes());
        at::unlink(dir.as_raw_fd(), &temp)?;
        let registered = cleanup::register(dir.as_raw_fd(), &temp);
        let file = at::create_new(dir.as_raw_fd(), &temp)?;
        Ok(AtomicFile {
            dir,
            temp,
            name,
            file: BufWriter::with_capacity(64 * 1024, file),
            _registered: registered,
            committed: false,
        })
    }

    /// Flushes, syncs (unless `fsync` is false), and renames the file into place.
    pub fn commit(mut self, fsync: bool) -> io::Result<()> {
        self.file.flush()?;
        if fsync {
            self.file.get_ref().sync_data()?;
        }
        at::rename(self.dir.as_raw_fd(), &self.temp, &self.name)?;
        self.committed = true;
        Ok(())
    }

    /// The final name, for messages.
    pub fn name(&self) -> &OsStr {
        OsStr::from_bytes(&self.name)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for AtomicFile {
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
        let mut dropped = AtomicFile::create(&path).unwrap();
        dropped.write_all(b"half").unwrap();
        drop(dropped);
        assert_eq!(std::fs::read(&path).unwrap(), b"old", "an abandoned write changes nothing");
        let mut committed = AtomicFile::create(&path).unwrap();
        committed.write_all(b"new").unwrap();
        committed.commit(true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary left");
    }
}
