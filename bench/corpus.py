#!/usr/bin/env python3
"""Makes the benchmark corpus: a few large files plus thousands of small ones, and a wide tree
of empty files for listing. Deterministic, and idempotent: an existing corpus is kept."""
import os
import random
import sys


def make_corpus(root, big_count=3, big_mib=300, small_count=3000):
    stamp = os.path.join(root, ".complete")
    if os.path.exists(stamp):
        return
    rng = random.Random(42)
    os.makedirs(os.path.join(root, "big"), exist_ok=True)
    chunk = os.urandom(1 << 20)
    for i in range(big_count):
        with open(os.path.join(root, "big", f"run{i}.bam"), "wb") as f:
            for j in range(big_mib):
                # Vary each MiB so no two blocks are equal.
                f.write(j.to_bytes(8, "little") + chunk[8:])
    for i in range(small_count):
        # Log-uniform sizes between 1 KiB and 1 MiB, in 30 lanes of 100 files.
        size = int(2 ** rng.uniform(10, 20))
        d = os.path.join(root, "small", f"lane{i % 30:02d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"read{i:05d}.fastq.gz"), "wb") as f:
            f.write(os.urandom(size))
    open(stamp, "w").close()


def make_run_folder(root, count):
    """A sequencing run folder's shape: many small files (1-64 KiB) in 100 directories."""
    stamp = os.path.join(root, ".complete")
    if os.path.exists(stamp):
        return
    rng = random.Random(7)
    for i in range(count):
        d = os.path.join(root, f"L{i % 4:03d}", f"C{i % 100:03d}.1")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"s_{i:05d}.bcl.gz"), "wb") as f:
            f.write(os.urandom(int(2 ** rng.uniform(10, 16))))
    open(stamp, "w").close()


def make_wide_tree(root, count):
    stamp = os.path.join(root, ".complete")
    if os.path.exists(stamp):
        return
    per_dir = 1000
    for i in range(count):
        d = os.path.join(root, f"d{i // per_dir // 20:02d}", f"e{i // per_dir:03d}")
        if i % per_dir == 0:
            os.makedirs(d, exist_ok=True)
        open(os.path.join(d, f"file{i:07d}"), "w").close()
    open(stamp, "w").close()


if __name__ == "__main__":
    kind, root = sys.argv[1], sys.argv[2]
    if kind == "corpus":
        make_corpus(root)
    elif kind.startswith("run"):
        make_run_folder(root, int(kind[3:]))
    else:
        make_wide_tree(root, int(kind))
