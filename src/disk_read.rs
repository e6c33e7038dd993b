//! Reading what is on the device, not what the page cache remembers.
//!
//! A verify run right after a copy must see a block that changed on the disk. Files are read
//! with `O_DIRECT` where the filesystem allows it; elsewhere their dirty pages are written
//! back and their cached pages dropped (`fdatasync` + `POSIX_FADV_DONTNEED`) before reading.
//! Where neither works (tmpfs has no device behind it) the file is read normally.

use std::alloc::{Layout, alloc, dealloc};
use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc::sync_channel;
use std::thread;

use crate::error::Error;
use crate::hash::{Algo, Blake3Threads, Hasher};
use crate::source::open_regular_with;

/// Each read: large and sequential, as `dd iflag=direct bs=4M`.
pub const CHUNK: usize = 4 << 20;
/// `O_DIRECT` wants buffers, offsets and lengths aligned to the logical block size.
const ALIGN: usize = 4096;

/// A heap buffer aligned for `O_DIRECT`.
pub struct AlignedBuf {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the buffer is uniquely owned heap memory.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    pub fn new(len: usize) -> AlignedBuf {
        let layout = Layout::from_size_align(len, ALIGN).expect("valid layout");
        // SAFETY: layout has non-zero size.
        let ptr = unsafe { alloc(layout) };
        assert!(!ptr.is_null(), "out of memory");
        AlignedBuf { ptr, len }
    }

    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: ptr points to len bytes owned by self; reads fill them before use.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    fn as_ref(&self, n: usize) -> &[u8] {
        // SAFETY: the first n bytes were written by read.
        unsafe { std::slice::from_raw_parts(self.ptr, n.min(self.len)) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in new with this layout.
        unsafe { dealloc(self.ptr, Layout::from_size_align(self.len, ALIGN).expect("valid layout")) }
    }
}

thread_local! {
    static BUFFER: RefCell<Option<AlignedBuf>> = const { RefCell::new(None) };
}

/// How a file was read, for tests and for the curious.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Direct,
    Dropped,
    Cached,
}

/// Hashes the regular file at `path` from the device. Returns the digest and how it read it.
pub fn hash_from_disk(
    path: &Path,
    algo: Algo,
    threads: &Blake3Threads,
    progress: &dyn Fn(u64),
) -> Result<(String, Method), Error> {
    match open_regular_with(path, libc::O_DIRECT) {
        Ok((file, meta)) => match hash_open(&file, meta.len(), algo, threads, progress) {
            Ok(hex) => return Ok((hex, Method::Direct)),
            // Some filesystems accept O_DIRECT at open and refuse the read: read another way.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(Error::io(path, e)),
        },
        Err(Error::Io { source, .. }) if source.raw_os_error() == Some(libc::EINVAL) => {}
        Err(e) => return Err(e),
    }
    let (file, meta) = open_regular_with(path, 0)?;
    let method = drop_cached_pages(&file);
    let hex = hash_open(&file, meta.len(), algo, threads, progress).map_err(|e| Error::io(path, e))?;
    Ok((hex, method))
}

/// Writes back and evicts the file's cached pages, so the reads that follow reach the device.
fn drop_cached_pages(file: &File) -> Method {
    let fd = file.as_raw_fd();
    // SAFETY: plain syscalls on an open descriptor.
    let synced = unsafe { libc::fdatasync(fd) } == 0;
    let dropped = unsafe { libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_DONTNEED) } == 0;
    // tmpfs accepts both and keeps its pages: they are the only copy, nothing to bypass.
    if synced && dropped && !is_tmpfs(file) { Method::Dropped } else { Method::Cached }
}

fn is_tmpfs(file: &File) -> bool {
    // SAFETY: fstatfs fills the struct on success.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::fstatfs(file.as_raw_fd(), &mut st) == 0 && st.f_type == libc::TMPFS_MAGIC
    }
}

/// Reads into `buf` at `offset` until it is full or the file ends.
fn read_full(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        // A short O_DIRECT read means the end of the file: the next offset would be unaligned.
        if filled % ALIGN != 0 {
            break;
        }
    }
    Ok(filled)
}

/// Hashes an open file. A file larger than one chunk is read by a helper thread into two
/// buffers in turn, so the device is busy while the previous chunk is hashed.
fn hash_open(
    file: &File,
    size: u64,
    algo: Algo,
    threads: &Blake3Threads,
    progress: &dyn Fn(u64),
) -> io::Result<String> {
    let mut hasher = Hasher::new(algo);
    if size <= CHUNK as u64 {
        BUFFER.with_borrow_mut(|slot| -> io::Result<()> {
            let buf = slot.get_or_insert_with(|| AlignedBuf::new(CHUNK));
            // Ask for the file's size rounded up, plus a block to see the end: O_DIRECT pins
            // every page of the request, so a 4 MiB request for a small file costs dearly.
            let want = ((size as usize / ALIGN) + 1) * ALIGN;
            let mut offset = 0;
            loop {
                // The size from stat is a hint: read to the end, whatever it said.
                let n = read_full(file, &mut buf.as_mut()[..want.min(CHUNK)], offset)?;
                hasher.update(buf.as_ref(n), threads);
                progress(n as u64);
                offset += n as u64;
                if n < want.min(CHUNK) {
                    return Ok(());
                }
            }
        })?;
        return Ok(hasher.finalize_hex());
    }
    let (full_tx, full_rx) = sync_channel::<io::Result<(AlignedBuf, usize)>>(1);
    let (empty_tx, empty_rx) = sync_channel::<AlignedBuf>(2);
    empty_tx.send(AlignedBuf::new(CHUNK)).expect("room for two");
    empty_tx.send(AlignedBuf::new(CHUNK)).expect("room for two");
    thread::scope(|scope| {
        scope.spawn(move || {
            let mut offset = 0;
            while let Ok(mut buf) = empty_rx.recv() {
                let read = read_full(file, buf.as_mut(), offset);
                let done = !matches!(read, Ok(n) if n == CHUNK);
                if let Ok(n) = read {
                    offset += n as u64;
                }
                if full_tx.send(read.map(|n| (buf, n))).is_err() || done {
                    return;
                }
            }
        });
        for read in full_rx {
            let (buf, n) = read?;
            hasher.update(buf.as_ref(n), threads);
            progress(n as u64);
            let _ = empty_tx.send(buf);
        }
        Ok(())
    })
    .map(|()| hasher.finalize_hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_in(dir: &Path, len: usize) -> Method {
        let path = dir.join("f");
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let (hex, method) = hash_from_disk(&path, Algo::Blake3, &Blake3Threads::One, &|_| {}).unwrap();
        assert_eq!(hex, blake3::hash(&data).to_hex().as_str(), "len {len}");
        method
    }

    #[test]
    fn every_size_around_the_chunk_and_block_edges() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 1, 4095, 4096, 4097, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 4097] {
            check_in(dir.path(), len);
        }
    }

    #[test]
    fn pages_are_dropped_where_a_device_holds_the_data_and_kept_on_tmpfs() {
        let on_disk = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(on_disk.path(), b"x").unwrap();
        let expected = if is_tmpfs(on_disk.as_file()) { Method::Cached } else { Method::Dropped };
        assert_eq!(drop_cached_pages(on_disk.as_file()), expected);
        let shm = Path::new("/dev/shm");
        if shm.is_dir() {
            let in_memory = tempfile::NamedTempFile::new_in(shm).unwrap();
            assert_eq!(drop_cached_pages(in_memory.as_file()), Method::Cached);
        }
    }
}
