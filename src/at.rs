//! Directory-relative file operations (the `*at` system calls). Working from an open directory
//! descriptor with `O_NOFOLLOW` is how mcopy never follows a symlink inside DST: a directory
//! swapped for a link while it runs cannot redirect a write.

use std::ffi::{CString, OsStr};
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

fn cstr(name: &[u8]) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// Opens a directory by path (the destination root: following a link there is the user's choice).
pub fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let c = cstr(path.as_os_str().as_bytes())?;
    // SAFETY: valid C string; the returned descriptor is owned.
    let fd = check(unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens the directory `name` inside `dir`, refusing a symlink (ELOOP / ENOTDIR).
pub fn open_subdir(dir: RawFd, name: &[u8]) -> io::Result<OwnedFd> {
    let c = cstr(name)?;
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: valid descriptor and C string; the returned descriptor is owned.
    let fd = check(unsafe { libc::openat(dir, c.as_ptr(), flags) })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The parent of an open directory (`..`), as the kernel resolves it.
pub fn open_parent(dir: RawFd) -> io::Result<OwnedFd> {
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
    // SAFETY: valid descriptor and C string; the returned descriptor is owned.
    let fd = check(unsafe { libc::openat(dir, c"..".as_ptr(), flags) })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `fstat` of an open descriptor.
pub fn fstat(fd: RawFd) -> io::Result<libc::stat> {
    // SAFETY: stat is plain data, filled on success.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st)
}

/// Opens (creating it, mode 0644) the lock file `name` in `dir`, never through a symlink.
pub fn open_lock_file(dir: RawFd, name: &[u8]) -> io::Result<File> {
    let c = cstr(name)?;
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: valid descriptor and C string; the returned descriptor is owned.
    let fd = check(unsafe { libc::openat(dir, c.as_ptr(), flags, 0o644 as libc::c_uint) })?;
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Takes an exclusive `flock` without waiting: `Ok(false)` when another holds it.
pub fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    // SAFETY: plain syscall on an open descriptor.
    match check(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether `name` resolves, following symlinks, to something beneath `dir`: `Ok(false)` when
/// a symlink or `..` leads out (`openat2` with `RESOLVE_BENEATH`; an `O_PATH` open has no
/// effect on a device or a FIFO). `ENOSYS` before Linux 5.6.
pub fn resolves_beneath(dir: RawFd, name: &[u8]) -> io::Result<bool> {
    let c = cstr(name)?;
    // SAFETY: open_how is plain data; zero is a valid value for every field.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: valid descriptor, C string and open_how of the size passed; the descriptor
    // returned is owned and closed here.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir,
            c.as_ptr(),
            &how as *const libc::open_how,
            size_of::<libc::open_how>(),
        )
    };
    if fd >= 0 {
        drop(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EXDEV) { Ok(false) } else { Err(e) }
}

pub fn mkdir(dir: RawFd, name: &[u8], mode: u32) -> io::Result<()> {
    let c = cstr(name)?;
    // SAFETY: valid descriptor and C string.
    check(unsafe { libc::mkdirat(dir, c.as_ptr(), mode as libc::mode_t) }).map(drop)
}

/// Creates a new file for writing; fails if `name` exists (even as a dangling link).
/// `mode` is filtered by the umask, as for any new file.
pub fn create_new(dir: RawFd, name: &[u8], mode: u32) -> io::Result<File> {
    let c = cstr(name)?;
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: valid descriptor and C string; the returned descriptor is owned.
    let fd = check(unsafe { libc::openat(dir, c.as_ptr(), flags, mode as libc::c_uint) })?;
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Opens an existing regular file under `dir` for reading, never through a symlink.
pub fn open_read_nofollow(dir: RawFd, name: &[u8]) -> io::Result<File> {
    let c = cstr(name)?;
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
    // SAFETY: valid descriptor and C string; the returned descriptor is owned.
    let fd = check(unsafe { libc::openat(dir, c.as_ptr(), flags) })?;
    Ok(unsafe { File::from_raw_fd(fd) })
}

pub fn symlink(target: &OsStr, dir: RawFd, name: &[u8]) -> io::Result<()> {
    let (t, c) = (cstr(target.as_bytes())?, cstr(name)?);
    // SAFETY: valid descriptor and C strings.
    check(unsafe { libc::symlinkat(t.as_ptr(), dir, c.as_ptr()) }).map(drop)
}

pub fn rename(dir: RawFd, from: &[u8], to: &[u8]) -> io::Result<()> {
    let (f, t) = (cstr(from)?, cstr(to)?);
    // SAFETY: valid descriptor and C strings.
    check(unsafe { libc::renameat(dir, f.as_ptr(), dir, t.as_ptr()) }).map(drop)
}

/// Removes a file (not a directory); a missing one is not an error.
pub fn unlink(dir: RawFd, name: &[u8]) -> io::Result<()> {
    let c = cstr(name)?;
    // SAFETY: valid descriptor and C string.
    match check(unsafe { libc::unlinkat(dir, c.as_ptr(), 0) }) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other.map(drop),
    }
}

/// `lstat` of `name` inside `dir`; `None` when it does not exist.
pub fn lstat(dir: RawFd, name: &[u8]) -> io::Result<Option<libc::stat>> {
    let c = cstr(name)?;
    // SAFETY: stat is plain data, filled on success.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    match check(unsafe { libc::fstatat(dir, c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) }) {
        Ok(_) => Ok(Some(st)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn readlink(dir: RawFd, name: &[u8]) -> io::Result<Vec<u8>> {
    let c = cstr(name)?;
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: buf is writable for its length.
    let n = unsafe { libc::readlinkat(dir, c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// Sets the owner and times of the symlink `name` in `dir` itself (a symlink has no mode).
pub fn set_link_attributes(
    dir: RawFd,
    name: &[u8],
    owner: Option<(u32, u32)>,
    times: &[libc::timespec; 2],
) -> io::Result<()> {
    let c = cstr(name)?;
    // SAFETY: valid descriptor and C string for every call.
    unsafe {
        if let Some((uid, gid)) = owner {
            check(libc::fchownat(dir, c.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW))?;
        }
        check(libc::utimensat(dir, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW))?;
    }
    Ok(())
}

/// Sets owner, mode and times on an open file or directory: on the descriptor, so nothing is
/// looked up by name again (and no link followed); chown first, as it may clear set-id bits.
pub fn set_attributes(
    file: &impl AsRawFd,
    owner: Option<(u32, u32)>,
    mode: u32,
    times: &[libc::timespec; 2],
) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: valid descriptor for every call.
    unsafe {
        if let Some((uid, gid)) = owner {
            check(libc::fchown(fd, uid, gid))?;
        }
        check(libc::fchmod(fd, mode as libc::mode_t))?;
        check(libc::futimens(fd, times.as_ptr()))?;
    }
    Ok(())
}

pub fn fsync_fd(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain syscall on a descriptor.
    check(unsafe { libc::fsync(fd) }).map(drop)
}

/// Flushes the whole filesystem holding `fd`: one call makes every rename of a run durable.
pub fn syncfs(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain syscall on a descriptor.
    check(unsafe { libc::syncfs(fd) }).map(drop)
}

/// Access and modification times of a file, for `utimensat` and `futimens`.
pub fn times_of(meta: &fs::Metadata) -> [libc::timespec; 2] {
    [
        libc::timespec { tv_sec: meta.atime(), tv_nsec: meta.atime_nsec() },
        libc::timespec { tv_sec: meta.mtime(), tv_nsec: meta.mtime_nsec() },
    ]
}

pub fn is_root_user() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}
