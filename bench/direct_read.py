#!/usr/bin/env python3
"""Reads every file under DIR from the device (O_DIRECT, 4 MiB reads, two readers): the
read-back half of the physical floor of a verified copy. Usage: direct_read.py DIR"""
import mmap
import os
import sys
import threading

CHUNK = 4 << 20


def read_all(paths):
    buf = mmap.mmap(-1, CHUNK)  # page-aligned, as O_DIRECT wants
    for path in paths:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
        try:
            while os.readv(fd, [buf]) == CHUNK:
                pass
        finally:
            os.close(fd)


files = [os.path.join(r, n) for r, _, names in os.walk(sys.argv[1]) for n in names]
threads = [threading.Thread(target=read_all, args=(files[i::2],)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
