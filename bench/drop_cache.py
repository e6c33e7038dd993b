#!/usr/bin/env python3
"""Evicts the page cache of every file under the given directories (as
`dd if=F iflag=nocache count=0` does, without a process per file), so the next read
comes from the disk. Usage: drop_cache.py DIR..."""
import os
import sys

for top in sys.argv[1:]:
    for root, _, files in os.walk(top):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
