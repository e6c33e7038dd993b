//! What kind of device a path lives on: a spinning disk wants one reader at a time.
//!
//! Linux says it in sysfs: `/sys/dev/block/MAJOR:MINOR/queue/rotational` is 1 for a hard disk
//! (a partition's queue is its parent disk's). Filesystems without a block device (tmpfs,
//! FUSE, NFS) have no such file: their kind is unknown and the defaults stay parallel.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// `Some(true)` when `path` lives on a rotational device, `None` when that cannot be told.
pub fn is_rotational(path: &Path) -> Option<bool> {
    is_rotational_in(Path::new("/sys"), path)
}

fn is_rotational_in(sys: &Path, path: &Path) -> Option<bool> {
    let dev = fs::metadata(path).ok()?.dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let base = sys.join(format!("dev/block/{major}:{minor}"));
    [base.join("queue/rotational"), base.join("../queue/rotational")]
        .iter()
        .find_map(|p| fs::read_to_string(p).ok())
        .map(|s| s.trim() == "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_queue_of_the_device_or_of_its_parent_disk() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let dev = fs::metadata(file.path()).unwrap().dev();
        let (major, minor) = (libc::major(dev), libc::minor(dev));
        let sys = tempfile::tempdir().unwrap();
        let disk = sys.path().join("devices/sda");
        let part = disk.join("sda1");
        fs::create_dir_all(disk.join("queue")).unwrap();
        fs::create_dir_all(&part).unwrap();
        fs::create_dir_all(sys.path().join("dev/block")).unwrap();
        std::os::unix::fs::symlink(&part, sys.path().join(format!("dev/block/{major}:{minor}"))).unwrap();
        assert_eq!(is_rotational_in(sys.path(), file.path()), None);
        fs::write(disk.join("queue/rotational"), "1\n").unwrap();
        assert_eq!(is_rotational_in(sys.path(), file.path()), Some(true));
        fs::create_dir_all(part.join("queue")).unwrap();
        fs::write(part.join("queue/rotational"), "0\n").unwrap();
        assert_eq!(is_rotational_in(sys.path(), file.path()), Some(false));
    }
}
