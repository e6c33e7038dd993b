//! Hashing bytes and files: BLAKE3 (optionally multi-threaded inside one file) and SHA-256.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use clap::ValueEnum;
use sha2::Digest;

use crate::error::Error;
use crate::manifest::to_hex;
use crate::mapped::GuardedMap;
use crate::source::open_regular;

/// The checksum algorithm of a manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Algo {
    Blake3,
    Sha256,
}

/// How many threads BLAKE3 may use inside one file.
#[derive(Clone)]
pub enum Blake3Threads {
    /// Single-threaded (SIMD only).
    One,
    /// Rayon's global pool: one thread per CPU.
    Auto,
    /// A pool of its own with this many threads.
    Pool(Arc<rayon::ThreadPool>),
}

impl Blake3Threads {
    /// `0` = auto, as `--blake3-threads` and `MIRROR_B3THREADS` say.
    pub fn new(count: usize) -> io::Result<Self> {
        Ok(match count {
            0 => Blake3Threads::Auto,
            1 => Blake3Threads::One,
            n => Blake3Threads::Pool(Arc::new(
                rayon::ThreadPoolBuilder::new().num_threads(n).build().map_err(io::Error::other)?,
            )),
        })
    }
}

/// Below this many bytes, BLAKE3's multi-threading costs more than it gains.
const RAYON_MIN: usize = 1 << 20;

/// An incremental hasher of either algorithm.
pub enum Hasher {
    Blake3(Box<blake3::Hasher>),
    Sha256(sha2::Sha256),
}

impl Hasher {
    pub fn new(algo: Algo) -> Self {
        match algo {
            Algo::Blake3 => Hasher::Blake3(Box::new(blake3::Hasher::new())),
            Algo::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
        }
    }

    pub fn update(&mut self, data: &[u8], threads: &Blake3Threads) {
        match self {
            Hasher::Blake3(h) if data.len() >= RAYON_MIN => match threads {
                Blake3Threads::One => {
                    h.update(data);
                }
                Blake3Threads::Auto => {
                    h.update_rayon(data);
                }
                Blake3Threads::Pool(pool) => {
                    pool.install(|| h.update_rayon(data));
                }
            },
            Hasher::Blake3(h) => {
                h.update(data);
            }
            Hasher::Sha256(h) => h.update(data),
        }
    }

    pub fn finalize_hex(self) -> String {
        match self {
            Hasher::Blake3(h) => h.finalize().to_hex().to_string(),
            Hasher::Sha256(h) => to_hex(&h.finalize()),
        }
    }
}

/// Large sequential reads: MiB-sized, as the spec asks for spinning disks.
pub const READ_CHUNK: usize = 4 << 20;

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

/// Feeds everything `reader` yields, until end of file, to `hasher`, calling `progress` with
/// each chunk's length. The size from `stat` is not trusted: files in /proc say 0.
pub fn hash_reader(
    reader: &mut impl Read,
    hasher: &mut Hasher,
    threads: &Blake3Threads,
    progress: &dyn Fn(u64),
) -> io::Result<()> {
    BUFFER.with_borrow_mut(|buf| {
        loop {
            let n = match reader.read(buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n], threads);
            progress(n as u64);
        }
    })
}

/// How a file's bytes are fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fetch {
    /// Map large files (no copy out of the page cache); read small ones.
    Mapped,
    /// Read every file front to back in large chunks: on a hard disk, BLAKE3's threads on a
    /// map would touch far-apart parts of the file at once and make the head jump.
    Sequential,
}

/// Hashes the regular file at `path` (refusing FIFOs and devices without opening them);
/// returns the digest and the file's stat as it was opened.
pub fn hash_path(
    path: &Path,
    algo: Algo,
    threads: &Blake3Threads,
    fetch: Fetch,
    progress: &dyn Fn(u64),
) -> Result<(String, std::fs::Metadata), Error> {
    let (mut file, meta) = open_regular(path)?;
    let size = if fetch == Fetch::Sequential { 0 } else { meta.len() };
    let hex = hash_file(&mut file, size, algo, threads, progress).map_err(|e| Error::io(path, e))?;
    Ok((hex, meta))
}

/// Files at least this large are mapped rather than read: no copy out of the page cache.
/// Below it, mapping and unmapping (a TLB shoot-down across threads) cost more than the copy
/// (measured with `make bench`: 128 KiB beat b3sum's 16 KiB and 1 MiB on many small files).
pub const MMAP_MIN: u64 = 128 << 10;

/// How much of a mapping is hashed between two progress updates.
const MAPPED_SLICE: usize = 16 << 20;

/// Hashes an open file of `size` bytes (from its `fstat`; 0 to read it): mapped when it is
/// large, read with `read(2)` otherwise or wherever `mmap` is refused (FUSE with direct I/O and network
/// filesystems refuse it with ENODEV).
pub fn hash_file(
    file: &mut File,
    size: u64,
    algo: Algo,
    threads: &Blake3Threads,
    progress: &dyn Fn(u64),
) -> io::Result<String> {
    let mut hasher = Hasher::new(algo);
    let mapped = match size >= MMAP_MIN {
        true => GuardedMap::new(file, size as usize).unwrap_or(None),
        false => None,
    };
    match mapped {
        Some(map) => {
            for slice in map.bytes().chunks(MAPPED_SLICE) {
                hasher.update(slice, threads);
                if map.faulted() {
                    // A page could not be read (SIGBUS, caught): the file is unreadable.
                    return Err(io::Error::from_raw_os_error(libc::EIO));
                }
                progress(slice.len() as u64);
            }
        }
        None => hash_reader(file, &mut hasher, threads, progress)?,
    }
    Ok(hasher.finalize_hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC_BLAKE3: &str = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";
    const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn hash_bytes(algo: Algo, data: &[u8], threads: &Blake3Threads) -> String {
        let mut h = Hasher::new(algo);
        hash_reader(&mut &data[..], &mut h, threads, &|_| {}).unwrap();
        h.finalize_hex()
    }

    #[test]
    fn known_answers() {
        assert_eq!(hash_bytes(Algo::Blake3, b"abc", &Blake3Threads::One), ABC_BLAKE3);
        assert_eq!(hash_bytes(Algo::Sha256, b"abc", &Blake3Threads::One), ABC_SHA256);
    }

    #[test]
    fn thread_counts_agree_on_large_input() {
        let data: Vec<u8> = (0..9_000_000u32).map(|i| (i.wrapping_mul(2654435761u32) >> 24) as u8).collect();
        let one = hash_bytes(Algo::Blake3, &data, &Blake3Threads::One);
        assert_eq!(hash_bytes(Algo::Blake3, &data, &Blake3Threads::Auto), one);
        assert_eq!(hash_bytes(Algo::Blake3, &data, &Blake3Threads::new(3).unwrap()), one);
        assert_eq!(one, blake3::hash(&data).to_hex().to_string());
    }
}
