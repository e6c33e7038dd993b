//! Reading what is on the device, not what the page cache remembers.
//!
//! A verify run right after a copy must see a block that changed on the disk. Each file takes
//! one of these routes, and says which it took:
//! - `O_DIRECT`, where the filesystem honours it;
//! - where it would be served from the cache anyway (ext4 `data=journal`, a journalled,
//!   encrypted, verity or DAX file, a filesystem that refuses it), the file's pages are
//!   written back, dropped and checked gone (`page_cache`) before an ordinary read;
//! - data kept inline in an inode (ext4 `inline_data`, Btrfs) stays in the filesystem's
//!   memory: such a file is read from the cache and named as such;
//! - tmpfs and ramfs have no device: memory is the only copy, and the summary says so;
//! - anything else that cannot be made to reach the device (ZFS's own cache, pages that will
//!   not leave) is read from the cache and named as such, never passed off as a disk read.

use std::alloc::{Layout, alloc, dealloc};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc::sync_channel;
use std::thread;

use crate::error::Error;
use crate::hash::{Algo, Blake3Threads, Hasher};
use crate::page_cache;
use crate::physical;
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

/// How a file's bytes were read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `O_DIRECT`, honoured by the filesystem.
    Direct,
    /// Cached pages written back, dropped and checked gone, then read from the device.
    Dropped,
    /// No device lies behind the filesystem (tmpfs, ramfs): memory is the only copy.
    Memory,
    /// The device could not be reached: read from the cache, for this reason.
    Cached(&'static str),
}

/// How the reads of one file will reach the device.
enum Route {
    Direct,
    Drop,
    Memory,
    Cached(&'static str),
}

/// Hashes the regular file at `path` from the device. Returns the digest, how it read it, and
/// the file's stat as opened (before any byte was read).
pub fn hash_from_disk(
    path: &Path,
    algo: Algo,
    threads: &Blake3Threads,
    progress: &dyn Fn(u64),
) -> Result<(String, Method, std::fs::Metadata), Error> {
    // The route is decided on the first descriptor: `O_DIRECT` when the open accepts it.
    let mut known = None;
    match open_regular_with(path, libc::O_DIRECT) {
        Ok((file, meta)) => match route(&file, &meta, true) {
            Route::Direct => match hash_open(&file, meta.len(), algo, threads, progress) {
                Ok(hex) => return Ok((hex, Method::Direct, meta)),
                // Some filesystems accept O_DIRECT at open and refuse the read.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => known = Some(Route::Drop),
                Err(e) => return Err(Error::io(path, e)),
            },
            other => known = Some(other),
        },
        Err(Error::Io { source, .. }) if source.raw_os_error() == Some(libc::EINVAL) => {}
        Err(e) => return Err(e),
    }
    let (file, meta) = open_regular_with(path, 0)?;
    let method = match known.unwrap_or_else(|| route(&file, &meta, false)) {
        Route::Memory => Method::Memory,
        Route::Cached(why) => Method::Cached(why),
        Route::Direct | Route::Drop => match page_cache::drop_and_check(&file, 0, meta.len()) {
            Ok(true) => Method::Dropped,
            _ => Method::Cached("its cached pages could not be dropped"),
        },
    };
    let hex = hash_open(&file, meta.len(), algo, threads, progress).map_err(|e| Error::io(path, e))?;
    Ok((hex, method, meta))
}

/// Where `O_DIRECT` (opened with it or not: `direct`) would not reach the device, the route
/// that does, or why none does.
fn route(file: &File, meta: &std::fs::Metadata, direct: bool) -> Route {
    let fs = filesystem_of(file, meta.dev());
    if fs.memory {
        return Route::Memory;
    }
    if fs.private_cache {
        return Route::Cached("ZFS answers reads from its own cache (ARC)");
    }
    // Small files may keep their data inside the inode (ext4 inline_data, Btrfs inline
    // extents). The filesystem keeps that metadata in memory, out of reach of `O_DIRECT` and
    // of dropping pages (on ext4 even `drop_caches` leaves it): no read here reaches the
    // device, so none is passed off as one.
    if meta.len() <= INLINE_MAX
        && let Ok(Some((_, flags))) = physical::first_extent_flags(file)
        && flags & physical::FIEMAP_EXTENT_DATA_INLINE != 0
    {
        return Route::Cached("inline data, kept in the inode by the filesystem");
    }
    let flags = file_flags(file);
    let served_by_cache =
        fs.data_journal || flags & (FS_JOURNAL_DATA_FL | FS_ENCRYPT_FL | FS_VERITY_FL | FS_DAX_FL) != 0;
    if direct && !served_by_cache { Route::Direct } else { Route::Drop }
}

/// Files up to this size are asked whether their data is inline (a block at most).
const INLINE_MAX: u64 = 64 << 10;

/// Inode flags (`FS_IOC_GETFLAGS`) under which ext4 and others read through the cache even
/// with `O_DIRECT`.
const FS_ENCRYPT_FL: libc::c_long = 0x0000_0800;
const FS_JOURNAL_DATA_FL: libc::c_long = 0x0000_4000;
const FS_VERITY_FL: libc::c_long = 0x0010_0000;
const FS_DAX_FL: libc::c_long = 0x0200_0000;

fn file_flags(file: &File) -> libc::c_long {
    let mut flags: libc::c_long = 0;
    // SAFETY: FS_IOC_GETFLAGS writes one long; filesystems without it fail (ENOTTY), then 0.
    let ret =
        unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags as *mut libc::c_long) };
    if ret == 0 { flags } else { 0 }
}

/// What matters about a filesystem for reaching its device.
#[derive(Clone, Copy, Default)]
struct Filesystem {
    /// tmpfs, ramfs: no device.
    memory: bool,
    /// ZFS: its ARC is not the page cache, and nothing here can drop it.
    private_cache: bool,
    /// Mounted `data=journal`: ext4 then serves `O_DIRECT` through the cache.
    data_journal: bool,
}

/// The facts of the filesystem holding `file` (on device `dev`), looked up once per device.
fn filesystem_of(file: &File, dev: u64) -> Filesystem {
    static KNOWN: Mutex<Option<HashMap<u64, Filesystem>>> = Mutex::new(None);
    if let Some(fs) = KNOWN.lock().expect("not poisoned").as_ref().and_then(|k| k.get(&dev)) {
        return *fs;
    }
    // SAFETY: fstatfs fills the struct on success.
    let magic = unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        if libc::fstatfs(file.as_raw_fd(), &mut st) == 0 { st.f_type as i64 } else { 0 }
    };
    let ext4 = magic == libc::EXT4_SUPER_MAGIC;
    let fs = Filesystem {
        memory: magic == libc::TMPFS_MAGIC || magic == RAMFS_MAGIC,
        private_cache: magic == ZFS_SUPER_MAGIC,
        data_journal: ext4
            && super_options(dev).is_some_and(|o| o.split(',').any(|opt| opt == "data=journal")),
    };
    KNOWN.lock().expect("not poisoned").get_or_insert_with(HashMap::new).insert(dev, fs);
    fs
}

const ZFS_SUPER_MAGIC: i64 = 0x2fc1_2fc1;
const RAMFS_MAGIC: i64 = 0x8584_58f6;

/// The superblock options of the filesystem on device `dev` (`/proc/self/mountinfo`).
fn super_options(dev: u64) -> Option<String> {
    let want = format!("{}:{}", libc::major(dev), libc::minor(dev));
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        let (mount, fs) = line.split_once(" - ")?;
        (mount.split(' ').nth(2)? == want).then(|| fs.split(' ').nth(2).unwrap_or("").to_string())
    })
}

/// True on tmpfs and ramfs, where memory is the only copy.
pub fn is_memory_filesystem(file: &File) -> bool {
    file.metadata().is_ok_and(|m| filesystem_of(file, m.dev()).memory)
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
        let (hex, method, _) = hash_from_disk(&path, Algo::Blake3, &Blake3Threads::One, &|_| {}).unwrap();
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
    fn a_device_is_read_directly_and_tmpfs_is_named_as_memory() {
        let dir = tempfile::tempdir().unwrap();
        let on_disk = check_in(dir.path(), 10_000);
        let in_memory = Path::new("/dev/shm").is_dir().then(|| {
            let shm = tempfile::tempdir_in("/dev/shm").unwrap();
            check_in(shm.path(), 10_000)
        });
        let expected = if is_memory_filesystem(&File::open(dir.path().join("f")).unwrap()) {
            Method::Memory
        } else {
            Method::Direct
        };
        assert_eq!(on_disk, expected);
        assert!(matches!(in_memory, None | Some(Method::Memory)), "{in_memory:?}");
    }
}
