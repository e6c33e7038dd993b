#!/usr/bin/env python3
"""Runs a shell pipeline and prints the peak resident memory of its largest process (KiB).
Usage: peak_rss.py 'COMMAND'"""
import resource
import subprocess
import sys

subprocess.run(sys.argv[1], shell=True, check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
