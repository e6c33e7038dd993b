#!/usr/bin/env python3
"""Prints time ratios from hyperfine JSON exports: each of our commands against its peer,
measured in the same run. Usage: report.py TITLE EXPORT.json [TARGET]"""
import json
import sys

title, path = sys.argv[1], sys.argv[2]
target = sys.argv[3] if len(sys.argv) > 3 else ""
results = json.load(open(path))["results"]
ours, peer = results[0], results[1]
ratio = ours["mean"] / peer["mean"]
print(f"| {title} | {ours['mean']:.3f} s | {peer['mean']:.3f} s | {ratio:.2f} | {target} |")
