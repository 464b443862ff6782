#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks the man pages: `lint PAGE...` formats each with mandoc -T lint (when installed) or
groff -mdoc -ww -z and fails on any warning; `options PAGE SOURCE` fails unless every long option
of SOURCE's getopt_long table ({"name", ..._argument, ...}) appears in PAGE as --name."""
import re
import shutil
import subprocess
import sys


def lint(pages):
    bad = 0
    for page in pages:
        if shutil.which("mandoc"):
            cmd = ["mandoc", "-T", "lint", "-W", "warning", page]
        else:
            cmd = ["groff", "-mdoc", "-ww", "-z", page]
        p = subprocess.run(cmd, capture_output=True, text=True)
        out = (p.stdout + p.stderr).strip()
        if p.returncode != 0 or out:
            print(f"{page}: {' '.join(cmd)} (exit {p.returncode}):\n{out}")
            bad += 1
    return bad


def options(page, source):
    # "Fl \-name" renders as --name: Fl adds a dash of its own.
    text = re.sub(r"\bFl\s+-", "Fl --", open(page, encoding="utf-8").read().replace("\\-", "-"))
    names = re.findall(r'\{\s*"([a-z][a-z0-9-]*)"\s*,\s*(?:no|required|optional)_argument', open(source).read())
    if not names:
        print(f"{source}: no long option table found")
        return 1
    missing = [n for n in names if not re.search(r"--" + re.escape(n) + r"(?![a-z0-9-])", text)]
    for n in missing:
        print(f"{page}: --{n} (from {source}) is not documented")
    return len(missing)


if __name__ == "__main__":
    if sys.argv[1] == "lint":
        sys.exit(1 if lint(sys.argv[2:]) else 0)
    if sys.argv[1] == "options":
        sys.exit(1 if options(sys.argv[2], sys.argv[3]) else 0)
    sys.exit("usage: check_man.py lint PAGE... | options PAGE SOURCE")
