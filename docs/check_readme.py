#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compiles the README's shortest complete program (the first C block of "## Use the library")
with warnings as errors, so the program the README shows stays one that builds.
Usage: check_readme.py README CC INCLUDE_DIR..."""
import os
import re
import subprocess
import sys
import tempfile

readme, cc, includes = sys.argv[1], sys.argv[2], sys.argv[3:]
text = open(readme, encoding="utf-8").read()
section = text.split("\n## Use the library\n", 1)
if len(section) != 2:
    sys.exit(f"{readme}: no '## Use the library' section")
m = re.search(r"```c\n(.*?)```", section[1], re.S)
if not m or "int main" not in m.group(1):
    sys.exit(f"{readme}: no complete C program in 'Use the library'")
with tempfile.TemporaryDirectory() as d:
    src = os.path.join(d, "readme_program.c")
    open(src, "w").write(m.group(1))
    cmd = [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", *("-I" + i for i in includes), src]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"the README's program does not compile:\n{p.stdout}{p.stderr}")
