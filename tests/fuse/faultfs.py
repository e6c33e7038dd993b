#!/usr/bin/python3
"""A read-only FUSE passthrough of a directory that injects faults, for tests.

    faultfs.py ROOT MOUNTPOINT FAULTS.json [--cached]

FAULTS maps a file's path (relative to ROOT) to what goes wrong when it is read:
    {"eio_at": N}     reads covering byte N fail with EIO (a bad sector)
    {"flaky": true}   the second and later reads of a range return different bytes
                      (a flaky USB link)
    {"stall": S}      every read first sleeps S seconds
Mounted with direct_io: no page cache between the tools and this process, and mmap is
refused (ENODEV), as on many FUSE and network filesystems. With --cached, the kernel caches
and mmap works: a fault then reaches a mapped reader as SIGBUS. Runs until unmounted."""
import errno
import json
import os
import sys
import threading
import time

import fusepy


class FaultFS(fusepy.Operations):
    def __init__(self, root, faults):
        self.root = root
        self.faults = faults
        self.seen = {}  # path -> set of offsets read
        self.mutex = threading.Lock()

    def _full(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def getattr(self, path, fh=None):
        st = os.lstat(self._full(path))
        keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime", "st_mtime", "st_ctime")
        attrs = {k: getattr(st, k) for k in keys}
        attrs["st_mtime"] = st.st_mtime_ns / 1e9
        return attrs

    def readdir(self, path, fh):
        return [".", ".."] + sorted(os.listdir(self._full(path)))

    def readlink(self, path):
        return os.readlink(self._full(path))

    def open(self, path, flags):
        if flags & (os.O_WRONLY | os.O_RDWR):
            raise fusepy.FuseOSError(errno.EROFS)
        return os.open(self._full(path), os.O_RDONLY)

    def read(self, path, size, offset, fh):
        fault = self.faults.get(path.lstrip("/"), {})
        if "stall" in fault:
            time.sleep(fault["stall"])
        eio_at = fault.get("eio_at")
        if eio_at is not None and offset <= eio_at < offset + size:
            raise fusepy.FuseOSError(errno.EIO)
        data = os.pread(fh, size, offset)
        if fault.get("flaky") and data:
            with self.mutex:
                seen = self.seen.setdefault(path, set())
                again = offset in seen
                seen.add(offset)
            if again:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
        return data

    def release(self, path, fh):
        os.close(fh)
        return 0


def main():
    root, mountpoint, faults_file = sys.argv[1:4]
    cached = "--cached" in sys.argv[4:]
    with open(faults_file) as f:
        faults = json.load(f)
    fusepy.FUSE(FaultFS(root, faults), mountpoint, foreground=True, ro=True, direct_io=not cached,
                nothreads=False, allow_other=False)


if __name__ == "__main__":
    main()
