#!/usr/bin/python3
"""A simulated hard disk for benchmarks (not part of the product).

    hddfs.py ROOT MOUNTPOINT

Serves the files of ROOT read-only through FUSE with direct_io (no page cache in between)
and with a hard disk's timing: one head, so requests are served one at a time; sequential
transfer at 150 MB/s; and a seek, when a request does not start where the last one ended,
that costs the average rotational latency of a 7200 rpm disk (4.2 ms) plus a head movement
that grows with the distance travelled (1 ms to 8 ms across the whole disk). A short skip
forward (under 1 MiB, about a track) costs only its transfer time: the head reads through
it, as the drive's own read-ahead does.

bench/hdd puts an ext4 image on it, behind a loop device marked rotational, so the tools see
a hard disk: FIEMAP gives block offsets, and block offsets are where the head goes."""
import os
import sys
import threading
import time

import fusepy

RATE = 150e6
ROTATION = 0.0042
TRACK_TO_TRACK = 0.001
FULL_STROKE = 0.008
SHORT_SKIP = 1 << 20


class HddFS(fusepy.Operations):
    def __init__(self, root):
        self.root = root
        self.head = 0
        self.mutex = threading.Lock()
        self.size = max(1, sum(os.path.getsize(os.path.join(root, n)) for n in os.listdir(root)))

    def _full(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def getattr(self, path, fh=None):
        st = os.lstat(self._full(path))
        keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime", "st_mtime", "st_ctime")
        return {k: getattr(st, k) for k in keys}

    def readdir(self, path, fh):
        return [".", ".."] + sorted(os.listdir(self._full(path)))

    def open(self, path, flags):
        return os.open(self._full(path), os.O_RDONLY)

    def read(self, path, size, offset, fh):
        with self.mutex:  # one head
            distance = abs(offset - self.head)
            cost = size / RATE
            if distance and not (0 < offset - self.head < SHORT_SKIP):
                cost += ROTATION + TRACK_TO_TRACK + (FULL_STROKE - TRACK_TO_TRACK) * (distance / self.size) ** 0.5
            elif distance:
                cost += distance / RATE
            data = os.pread(fh, size, offset)
            time.sleep(cost)
            self.head = offset + len(data)
        return data

    def release(self, path, fh):
        os.close(fh)
        return 0


if __name__ == "__main__":
    fusepy.FUSE(HddFS(sys.argv[1]), sys.argv[2], foreground=True, ro=True, direct_io=True, nothreads=False)
