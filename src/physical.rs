//! Where a file starts on the disk (FIEMAP), to read many small files in the order of their
//! blocks: on a hard disk that turns seeks across the platter into a sweep (as fclones does).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;

/// `FS_IOC_FIEMAP`, `_IOWR('f', 11, struct fiemap)`.
const FS_IOC_FIEMAP: libc::c_ulong = 0xC020_660B;

#[repr(C)]
#[derive(Default)]
struct FiemapExtent {
    logical: u64,
    physical: u64,
    length: u64,
    reserved64: [u64; 2],
    flags: u32,
    reserved: [u32; 3],
}

#[repr(C)]
#[derive(Default)]
struct Fiemap {
    start: u64,
    length: u64,
    flags: u32,
    mapped_extents: u32,
    extent_count: u32,
    reserved: u32,
    extents: [FiemapExtent; 1],
}

/// The extent's data is inline in the filesystem's metadata (an ext4 inode, a Btrfs leaf).
pub const FIEMAP_EXTENT_DATA_INLINE: u32 = 0x0000_0200;

/// The physical byte offset of the file's first extent; `Ok(None)` for a file without one
/// (empty).
pub fn first_extent(file: &File) -> io::Result<Option<u64>> {
    Ok(first_extent_flags(file)?.map(|(physical, _)| physical))
}

/// The physical byte offset and the flags of the file's first extent.
pub fn first_extent_flags(file: &File) -> io::Result<Option<(u64, u32)>> {
    let mut request = Fiemap { length: u64::MAX, extent_count: 1, ..Fiemap::default() };
    // SAFETY: the kernel fills at most `extent_count` extents of the struct passed.
    let ret = unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_FIEMAP, &mut request as *mut Fiemap) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((request.mapped_extents > 0).then_some((request.extents[0].physical, request.extents[0].flags)))
}

/// The key that sorts files by where they lie: the first extent where the filesystem says
/// (ext4, XFS, Btrfs), else the inode number, which most filesystems allocate near its data.
pub fn disk_order_key(file: &File) -> u64 {
    match first_extent(file) {
        Ok(Some(physical)) => physical,
        Ok(None) => 0,
        Err(_) => file.metadata().map_or(u64::MAX, |m| m.ino()),
    }
}
