//! Copying one file into DST: into a temporary beside the target, hashed as it is read,
//! synced, given the source's mode, owner and times, then renamed into place.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use crate::at;
use crate::cleanup;
use crate::dest::{Destination, Parent};
use crate::dest_lock::LOCK_NAME;
use crate::error::Error;
use crate::expect::{Expect, Lookup};
use crate::hash::{Algo, Blake3Threads, Hasher, READ_CHUNK};
use crate::link::leads_out;
use crate::name::{name_of, unsafe_reason};
use crate::progress::Progress;
use crate::source::open_regular;
use crate::temporary::{parse_temp_name, temp_name};

pub struct CopyOptions<'a> {
    /// Hash what is read (for `--hash-out` or `--expect`) with this algorithm.
    pub hash: Option<Algo>,
    /// Also hash a file skipped as up to date, from the source (`--hash-out` lists every
    /// file); `--expect` alone does not read it: nothing is installed, so a rerun stays cheap.
    pub hash_skipped: bool,
    pub threads: Blake3Threads,
    /// Decide "up to date" by content, not size and mtime.
    pub checksum: bool,
    pub dry_run: bool,
    /// `fdatasync` each file before it is renamed into place.
    pub fsync: bool,
    /// Set owner and group (as root).
    pub owner: bool,
    pub expect: Option<&'a Expect>,
    pub progress: &'a Progress,
}

/// What was done with one file.
#[derive(Debug, PartialEq, Eq)]
pub enum Done {
    Copied {
        bytes: u64,
    },
    /// Up to date in DST; not written.
    Skipped,
    WouldCopy {
        bytes: u64,
    },
    WouldSkip,
}

/// The result for one file: what was done, and the digest of the bytes read.
#[derive(Debug)]
pub struct Copied {
    pub done: Done,
    pub hex: Option<String>,
}

/// Why a file was not installed.
#[derive(Debug)]
pub enum Failure {
    /// An error (source, destination, unsafe name): exit status 2.
    Error(Error),
    /// `--expect` refused it: exit status 1.
    Refused(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Error(e)
    }
}

/// Copies the file a path record names to `DST/name`.
pub fn copy_record(dest: &Destination, record: &[u8], opts: &CopyOptions) -> Result<Copied, Failure> {
    let src = Path::new(OsStr::from_bytes(record));
    let name = name_of(record);
    if let Some(reason) = unsafe_reason(name) {
        return Err(Error::BadName { path: src.into(), reason }.into());
    }
    let base = name.rsplit(|&b| b == b'/').next().unwrap_or(name);
    if parse_temp_name(base).is_some() {
        return Err(Error::BadName {
            path: src.into(),
            reason: "name has the shape of mcopy's temporaries, not copied",
        }
        .into());
    }
    if name == LOCK_NAME {
        return Err(Error::BadName { path: src.into(), reason: "name is DST's lock, not copied" }.into());
    }
    let src_meta = fs::symlink_metadata(src).map_err(|e| Error::io(src, e))?;
    let root = &record[..record.len() - name.len()];
    let dir_mode = |dir: &[u8]| source_dir_mode(root, dir);
    let dst_error = |e: io::Error| Error::io(dest.display(name), e);
    let parent = dest.parent(name, !opts.dry_run, &dir_mode).map_err(dst_error)?;
    let existing = match &parent {
        Some(p) => at::lstat(p.fd(), p.base).map_err(dst_error)?,
        None => None,
    };
    // A link that stays inside its tree is recreated as a link; one that leads out is copied
    // as the file it points to, so DST holds the bytes.
    if src_meta.file_type().is_symlink() && leads_out(record).map_err(|e| Error::io(src, e))?.is_none() {
        return copy_symlink(dest, src, name, parent, existing, &src_meta, opts);
    }
    // Up to date: not written. `--expect` checks the name (and the bytes, when they were read).
    let skipped = |hex: Option<String>| -> Result<Copied, Failure> {
        if opts.dry_run {
            return Ok(Copied { done: Done::WouldSkip, hex });
        }
        if let Some(expect) = opts.expect {
            check_expected(expect, name, hex.as_deref())?;
        }
        Ok(Copied { done: Done::Skipped, hex })
    };
    // The rerun's common case, decided from the two stats alone: nothing opens the source.
    let current = |src: &fs::Metadata| existing.as_ref().and_then(|d| same_by_stat(d, src));
    if src_meta.is_file() && !opts.checksum && !opts.hash_skipped && current(&src_meta) == Some(true) {
        return skipped(None);
    }
    let (mut file, st) = open_regular(src)?;
    // A regular file of the same size is there: the same mtime says it is up to date, or,
    // with --checksum, the same content and the same mode and mtime. An existing inode is
    // never changed in place (a hard link may lead out of DST): a file whose content is the
    // same but whose mode or mtime is not is installed anew.
    let same_mtime = current(&st) == Some(true);
    let mut hex = None;
    let same_content = match (existing.filter(|_| current(&st).is_some()), opts.checksum) {
        (Some(d), true) => {
            let p = parent.as_ref().expect("existing implies a parent");
            let algo = opts.hash.unwrap_or(Algo::Blake3);
            let dst_hex = hash_dst(p, algo, &opts.threads).map_err(dst_error)?;
            let src_hex = hash_all(&mut file, algo, opts).map_err(|e| Error::io(src, e))?;
            let same = dst_hex == src_hex;
            hex = opts.hash.map(|_| src_hex);
            let same_mode = d.st_mode & 0o7777 == st.mode() & 0o7777;
            let same_owner = !opts.owner || (d.st_uid, d.st_gid) == (st.uid(), st.gid());
            same && same_mtime && same_mode && same_owner
        }
        (_, false) => same_mtime,
        (None, true) => false,
    };
    if same_content {
        if !opts.dry_run
            && hex.is_none()
            && opts.hash_skipped
            && let Some(algo) = opts.hash
        {
            // `--hash-out` covers a skipped file too: hashed from the source, not written.
            hex = Some(hash_all(&mut file, algo, opts).map_err(|e| Error::io(src, e))?);
        }
        return skipped(hex);
    }
    if opts.dry_run {
        return Ok(Copied { done: Done::WouldCopy { bytes: st.size() }, hex: None });
    }
    let parent = parent.expect("created unless dry run");
    // Hashing for --checksum read the source once already.
    io::Seek::rewind(&mut file).map_err(|e| Error::io(src, e))?;
    let hex = copy_file(&mut file, &st, src, dest, name, &parent, opts)?;
    Ok(Copied { done: Done::Copied { bytes: st.size() }, hex })
}

/// For a regular file in DST with the source's size, whether it also has the source's mtime;
/// `None` for anything else (another size, not a regular file).
fn same_by_stat(d: &libc::stat, src: &fs::Metadata) -> Option<bool> {
    (d.st_mode & libc::S_IFMT == libc::S_IFREG && d.st_size as u64 == src.size())
        .then(|| (d.st_mtime, d.st_mtime_nsec) == (src.mtime(), src.mtime_nsec()))
}

/// The mode for a directory created in DST: the source directory's, else 0755.
fn source_dir_mode(root: &[u8], dir: &[u8]) -> u32 {
    let mut path = root.to_vec();
    path.extend_from_slice(dir);
    fs::symlink_metadata(Path::new(OsStr::from_bytes(&path))).map_or(0o755, |m| m.mode() & 0o7777)
}

fn check_expected(expect: &Expect, name: &[u8], hex: Option<&str>) -> Result<(), Failure> {
    match (expect.lookup(name), hex) {
        (Lookup::NotNamed, _) => Err(Failure::Refused("not named in the manifest, not installed".into())),
        (Lookup::Found(want, _), Some(got)) if want != got => Err(Failure::Refused(
            "the source does not match the manifest (changed since, or read differently), not installed"
                .into(),
        )),
        _ => Ok(()),
    }
}

/// Copies data into a registered temporary, checks it, and renames it into place.
fn copy_file(
    src_file: &mut File,
    st: &fs::Metadata,
    src: &Path,
    dest: &Destination,
    name: &[u8],
    parent: &Parent,
    opts: &CopyOptions,
) -> Result<Option<String>, Failure> {
    let tmp = temp_name(parent.base);
    let dst_error = |e: io::Error| Error::io(dest.display(name), e);
    let registered = cleanup::register(parent.fd(), &tmp);
    let result = (|| -> Result<Option<String>, Failure> {
        let mut out = at::create_new(parent.fd(), &tmp, 0o600).map_err(dst_error)?;
        let mut hasher = opts.hash.map(Hasher::new);
        let sparse = st.blocks() * 512 < st.size();
        let copied = if sparse {
            copy_sparse(src_file, &mut out, st.size(), &mut hasher, opts)
        } else {
            copy_stream(src_file, &mut out, &mut hasher, opts)
        };
        copied.map_err(|e| match e {
            CopyError::Read(e) => Error::io(src, e),
            CopyError::Write(e) => dst_error(e),
        })?;
        let hex = hasher.map(Hasher::finalize_hex);
        // A source that changed while it was read is not installed: the copy may be torn.
        let after = src_file.metadata().map_err(|e| Error::io(src, e))?;
        if (after.size(), after.mtime(), after.mtime_nsec()) != (st.size(), st.mtime(), st.mtime_nsec()) {
            return Err(Error::io(src, io::Error::other("changed while being copied; not installed")).into());
        }
        if let Some(expect) = opts.expect {
            check_expected(expect, name, hex.as_deref())?;
        }
        if opts.fsync {
            out.sync_data().map_err(dst_error)?;
        }
        let owner = opts.owner.then_some((st.uid(), st.gid()));
        at::set_attributes(&out, owner, st.mode() & 0o7777, &at::times_of(st)).map_err(dst_error)?;
        drop(out);
        at::rename(parent.fd(), &tmp, parent.base).map_err(dst_error)?;
        Ok(hex)
    })();
    if result.is_err() {
        let _ = at::unlink(parent.fd(), &tmp);
    }
    drop(registered);
    result
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

thread_local! {
    static BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; READ_CHUNK]);
}

fn copy_stream(
    src: &mut File,
    out: &mut File,
    hasher: &mut Option<Hasher>,
    opts: &CopyOptions,
) -> Result<(), CopyError> {
    // SAFETY: advice only.
    unsafe { libc::posix_fadvise(src.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL) };
    BUFFER.with_borrow_mut(|buf| {
        loop {
            let n = match src.read(buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(CopyError::Read(e)),
            };
            if let Some(h) = hasher {
                h.update(&buf[..n], &opts.threads);
            }
            out.write_all(&buf[..n]).map_err(CopyError::Write)?;
            opts.progress.add_bytes(n as u64);
        }
    })
}

/// Copies only the data segments (SEEK_DATA / SEEK_HOLE), leaving holes as holes; the hash
/// still covers every byte, holes as zeros.
fn copy_sparse(
    src: &mut File,
    out: &mut File,
    size: u64,
    hasher: &mut Option<Hasher>,
    opts: &CopyOptions,
) -> Result<(), CopyError> {
    let fd = src.as_raw_fd();
    let zeros = vec![0u8; 1 << 20];
    let mut hashed = 0u64;
    let hash_zeros = |hasher: &mut Option<Hasher>, upto: u64, hashed: &mut u64| {
        if let Some(h) = hasher {
            while *hashed < upto {
                let n = (upto - *hashed).min(zeros.len() as u64) as usize;
                h.update(&zeros[..n], &opts.threads);
                *hashed += n as u64;
            }
        }
        *hashed = upto;
    };
    let mut offset = 0u64;
    BUFFER.with_borrow_mut(|buf| {
        while offset < size {
            // SAFETY: lseek on an open descriptor.
            let data = unsafe { libc::lseek(fd, offset as libc::off_t, libc::SEEK_DATA) };
            if data < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::ENXIO) {
                    break; // only a hole remains
                }
                return Err(CopyError::Read(e));
            }
            let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) };
            if hole < 0 {
                return Err(CopyError::Read(io::Error::last_os_error()));
            }
            let (data, hole) = (data as u64, (hole as u64).min(size));
            hash_zeros(hasher, data, &mut hashed);
            let mut at = data;
            while at < hole {
                let want = ((hole - at) as usize).min(buf.len());
                let n = match src.read_at(&mut buf[..want], at) {
                    Ok(0) => return Err(CopyError::Read(io::Error::other("file shrank while being copied"))),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(CopyError::Read(e)),
                };
                if let Some(h) = hasher.as_mut() {
                    h.update(&buf[..n], &opts.threads);
                }
                out.write_all_at(&buf[..n], at).map_err(CopyError::Write)?;
                opts.progress.add_bytes(n as u64);
                at += n as u64;
            }
            hashed = hole;
            offset = hole;
        }
        hash_zeros(hasher, size, &mut hashed);
        out.set_len(size).map_err(CopyError::Write)
    })
}

fn hash_all(file: &mut File, algo: Algo, opts: &CopyOptions) -> io::Result<String> {
    let mut hasher = Hasher::new(algo);
    crate::hash::hash_reader(file, &mut hasher, &opts.threads, &|n| opts.progress.add_bytes(n))?;
    Ok(hasher.finalize_hex())
}

/// Hashes the file already in DST (for `--checksum`), never through a symlink.
fn hash_dst(parent: &Parent, algo: Algo, threads: &Blake3Threads) -> io::Result<String> {
    let mut file = at::open_read_nofollow(parent.fd(), parent.base)?;
    let mut hasher = Hasher::new(algo);
    crate::hash::hash_reader(&mut file, &mut hasher, threads, &|_| {})?;
    Ok(hasher.finalize_hex())
}

/// Recreates a symlink as a symlink. Its digest (for `--hash-out`, `--expect`) is the one of
/// what it points to, as b3sum follows links.
fn copy_symlink(
    dest: &Destination,
    src: &Path,
    name: &[u8],
    parent: Option<Parent>,
    existing: Option<libc::stat>,
    st: &fs::Metadata,
    opts: &CopyOptions,
) -> Result<Copied, Failure> {
    let target = std::fs::read_link(src).map_err(|e| Error::io(src, e))?;
    let dst_error = |e: io::Error| Error::io(dest.display(name), e);
    let up_to_date = match (&parent, existing) {
        (Some(p), Some(d)) if d.st_mode & libc::S_IFMT == libc::S_IFLNK => {
            at::readlink(p.fd(), p.base).map_err(dst_error)? == target.as_os_str().as_bytes()
        }
        _ => false,
    };
    let hex = match opts.hash {
        Some(algo) if !opts.dry_run => {
            let (mut file, _) = open_regular(src)?;
            Some(hash_all(&mut file, algo, opts).map_err(|e| Error::io(src, e))?)
        }
        _ => None,
    };
    if let Some(expect) = opts.expect.filter(|_| !opts.dry_run) {
        check_expected(expect, name, hex.as_deref())?;
    }
    match (up_to_date, opts.dry_run) {
        (true, true) => return Ok(Copied { done: Done::WouldSkip, hex }),
        (true, false) => return Ok(Copied { done: Done::Skipped, hex }),
        (false, true) => return Ok(Copied { done: Done::WouldCopy { bytes: 0 }, hex }),
        (false, false) => {}
    }
    let parent = parent.expect("created unless dry run");
    let tmp = temp_name(parent.base);
    let registered = cleanup::register(parent.fd(), &tmp);
    let result = (|| {
        at::symlink(target.as_os_str(), parent.fd(), &tmp)?;
        let owner = opts.owner.then_some((st.uid(), st.gid()));
        at::set_link_attributes(parent.fd(), &tmp, owner, &at::times_of(st))?;
        at::rename(parent.fd(), &tmp, parent.base)
    })();
    if result.is_err() {
        let _ = at::unlink(parent.fd(), &tmp);
    }
    drop(registered);
    result.map_err(dst_error)?;
    Ok(Copied { done: Done::Copied { bytes: 0 }, hex })
}
