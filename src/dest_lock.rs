//! One writer per destination. mcopy holds an advisory lock (`flock`) on `DST/.mcopy.lock` for
//! its whole run, so a second run into the same DST refuses at once, naming the holder's pid,
//! instead of interleaving its files with the first. The lock file is removed at the end of a
//! run (and by SIGINT/SIGTERM); a run killed outright leaves it unlocked, and the next run
//! takes it over.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use crate::at;
use crate::cleanup::{self, Registered};
use crate::error::{display_bytes, io_reason};

/// The lock's name at DST's root: a source file of that name is not copied there.
pub const LOCK_NAME: &[u8] = b".mcopy.lock";

pub struct DestLock {
    dir: OwnedFd,
    /// Held: the lock lasts as long as this descriptor.
    _file: File,
    _registered: Registered,
}

impl DestLock {
    /// Takes DST's lock, or says who holds it; `None` where DST's root cannot be written.
    pub fn acquire(dst: &Path) -> Result<Option<DestLock>, String> {
        let shown = display_bytes(dst.as_os_str().as_encoded_bytes());
        let err = |e: io::Error| format!("{shown}/.mcopy.lock: {}", io_reason(&e));
        let dir = at::open_dir(dst).map_err(|e| format!("{shown}: {}", io_reason(&e)))?;
        loop {
            let mut file = match at::open_lock_file(dir.as_raw_fd(), LOCK_NAME) {
                Ok(f) => f,
                // Nothing can be written at DST's root, so no lock: each file's copy will say
                // why it failed (a subdirectory may still be a writable mount).
                Err(e) if matches!(e.raw_os_error(), Some(libc::EROFS | libc::EACCES | libc::EPERM)) => {
                    return Ok(None);
                }
                Err(e) => return Err(err(e)),
            };
            if !at::try_lock_exclusive(&file).map_err(err)? {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another mcopy".to_string()
                } else {
                    format!("another mcopy (pid {holder})")
                };
                return Err(format!(
                    "{shown}: {who} is writing into it; refusing to run a second writer (wait for it to finish)"
                ));
            }
            // The file locked must still be the one under the name: a run that just ended may
            // have removed it between this open and this lock.
            let locked = at::fstat(file.as_raw_fd()).map_err(err)?;
            match at::lstat(dir.as_raw_fd(), LOCK_NAME).map_err(err)? {
                Some(named) if (named.st_dev, named.st_ino) == (locked.st_dev, locked.st_ino) => {}
                _ => continue,
            }
            file.set_len(0).map_err(err)?;
            writeln!(file, "{}", std::process::id()).map_err(err)?;
            let registered = cleanup::register_lock(dir.as_raw_fd(), LOCK_NAME);
            return Ok(Some(DestLock { dir, _file: file, _registered: registered }));
        }
    }
}

impl Drop for DestLock {
    fn drop(&mut self) {
        // Removed while still held, so no other run can lock the name being removed.
        let _ = at::unlink(self.dir.as_raw_fd(), LOCK_NAME);
    }
}
