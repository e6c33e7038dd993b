//! The page cache between a reader and the device: a file's cached pages written back and
//! dropped, then checked gone with `mincore`, so the reads that follow must reach the device.
//!
//! The check errs one way only: to a process that neither owns nor could write the file,
//! `mincore` answers "every page resident", which reads here as "not dropped", never as a
//! false "gone".

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// Bytes of a file mapped at once to ask `mincore` about them.
const WINDOW: u64 = 1 << 30;

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as u64 } else { 4096 }
}

/// Writes back and drops the cached pages of `file` in `offset..offset + len` (a regular file
/// or a block device), and checks that none is left. `Ok(false)`: some stayed (mapped by a
/// program, pinned by the filesystem, or the check cannot be trusted).
pub fn drop_and_check(file: &File, offset: u64, len: u64) -> io::Result<bool> {
    if len == 0 {
        return Ok(true);
    }
    for _ in 0..2 {
        let fd = file.as_raw_fd();
        let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
            | libc::SYNC_FILE_RANGE_WRITE
            | libc::SYNC_FILE_RANGE_WAIT_AFTER;
        // SAFETY: plain syscalls on an open descriptor; a dirty page cannot be dropped, so
        // it is written back first (no device flush: only the cache matters here).
        unsafe {
            libc::sync_file_range(fd, offset as i64, len as i64, flags);
            libc::posix_fadvise(fd, offset as i64, len as i64, libc::POSIX_FADV_DONTNEED);
        }
        if resident_pages(file, offset, len)? == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// How many pages of `offset..offset + len` are in the page cache.
fn resident_pages(file: &File, offset: u64, len: u64) -> io::Result<u64> {
    let page = page_size();
    let mut at = offset / page * page;
    let end = offset + len;
    let mut resident = 0;
    let mut vec = Vec::new();
    while at < end {
        let span = (end - at).min(WINDOW);
        let pages = span.div_ceil(page) as usize;
        // SAFETY: a fresh read-only shared mapping of the file, never dereferenced, only asked
        // about with mincore and unmapped below.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                span as usize,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                at as i64,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        vec.resize(pages, 0u8);
        // SAFETY: map covers span bytes; vec holds one byte per page of it.
        let ret = unsafe { libc::mincore(map, span as usize, vec.as_mut_ptr()) };
        let err = io::Error::last_os_error();
        // SAFETY: unmapping the mapping made above.
        unsafe { libc::munmap(map, span as usize) };
        if ret != 0 {
            return Err(err);
        }
        resident += vec.iter().filter(|&&b| b & 1 == 1).count() as u64;
        at += span;
    }
    Ok(resident)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn written_pages_are_resident_until_dropped() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&vec![7u8; 1 << 20]).unwrap();
        file.flush().unwrap();
        let f = file.as_file();
        assert!(resident_pages(f, 0, 1 << 20).unwrap() > 0, "just written: cached");
        let dropped = drop_and_check(f, 0, 1 << 20).unwrap();
        let on_tmpfs = crate::disk_read::is_memory_filesystem(f);
        assert_eq!(dropped, !on_tmpfs, "a device behind it: gone; tmpfs: kept");
    }
}
