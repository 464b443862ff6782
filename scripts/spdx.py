#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every source file says its license in its first lines: SPDX-License-Identifier: MIT.

    python3 scripts/spdx.py [--check | --fix] [ROOT]      (ROOT: the repository, by default)

--check (the default; the license_spdx test) lists every source file whose first lines lack the
identifier, and exits 1 when there is one. --fix inserts it as the file's first line (after a #!
line) in the file's comment syntax, and leaves a file that has it alone, so it can be run again
at any time, after any merge. generated/ is the generator's: its templates write the identifier,
so --fix does not touch it; when --fix changed a schema file it runs the generator (the generated
comments cite schema line numbers).

The files: those git knows in ROOT (tracked, or new and not ignored), else every file under ROOT
but .git and build*/. The sources among them, by name:
  C and headers (*.c, *.h)                                  /* SPDX-License-Identifier: MIT */
  Python (*.py), shell (*.sh, or a #! line naming sh, bash or python), CMake (CMakeLists.txt,
  *.cmake, *.cmake.in), YAML (*.yaml, *.yml), pkg-config and Doxygen inputs (*.pc.in,
  Doxyfile.in)                                              # SPDX-License-Identifier: MIT
  Jinja2 templates (*.j2)                                   {# SPDX-License-Identifier: MIT #}
"""
import os
import re
import subprocess
import sys

IDENTIFIER = "SPDX-License-Identifier: MIT"
FIRST_LINES = 5
HASH_SUFFIXES = (".py", ".sh", ".cmake", ".cmake.in", ".yaml", ".yml", ".pc.in")
HASH_NAMES = ("CMakeLists.txt", "Doxyfile.in")
SHEBANG = re.compile(rb"^#!.*\b(sh|bash|python3?)\b")
CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=]")


def comment_for(path):
    """The identifier as a comment line in path's syntax, or None when path is not a source."""
    name = os.path.basename(path)
    if name.endswith((".c", ".h")):
        return "/* %s */\n" % IDENTIFIER
    if name.endswith(".j2"):
        return "{# %s #}\n" % IDENTIFIER
    if name.endswith(HASH_SUFFIXES) or name in HASH_NAMES:
        return "# %s\n" % IDENTIFIER
    if "." not in name:
        try:
            with open(path, "rb") as f:
                if SHEBANG.match(f.readline()):
                    return "# %s\n" % IDENTIFIER
        except OSError:
            pass
    return None


def candidates(root):
    """Paths relative to root of the files to look at."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, check=True).stdout
        return sorted({p for p in out.decode("utf-8", "surrogateescape").split("\0") if p})
    except (OSError, subprocess.CalledProcessError):
        found = []
        for d, dirs, files in os.walk(root):
            rel = os.path.relpath(d, root)
            dirs[:] = [x for x in dirs if x != ".git" and not (rel == "." and x.startswith("build"))]
            found += [os.path.normpath(os.path.join(rel, f)) for f in files]
        return sorted(found)


def has_identifier(data):
    return any(IDENTIFIER.encode() in line for line in data.split(b"\n")[:FIRST_LINES])


def insert(data, comment):
    """data with comment as its first line, after a #! line and an encoding line."""
    lines = data.split(b"\n")
    at = 0
    if lines and lines[0].startswith(b"#!"):
        at = 1
        if len(lines) > 1 and CODING.match(lines[1]):
            at = 2
    elif lines and CODING.match(lines[0]):
        at = 1
    head = b"\n".join(lines[:at]) + (b"\n" if at else b"")
    return head + comment.encode() + data[len(head):]


def main(argv):
    fix = "--fix" in argv
    args = [a for a in argv if a not in ("--fix", "--check")]
    root = os.path.abspath(args[0] if args else os.path.join(os.path.dirname(__file__), ".."))
    missing, fixed, schema_changed = [], [], False
    for rel in candidates(root):
        path = os.path.join(root, rel)
        if not os.path.isfile(path) or os.path.islink(path):
            continue
        comment = comment_for(path)
        if comment is None:
            continue
        with open(path, "rb") as f:
            data = f.read()
        if has_identifier(data):
            continue
        if fix and not rel.startswith("generated" + os.sep):
            with open(path, "wb") as f:
                f.write(insert(data, comment))
            fixed.append(rel)
            schema_changed |= rel.startswith("schema" + os.sep)
        else:
            missing.append(rel)
    for rel in fixed:
        print("added: %s" % rel)
    if schema_changed:
        env = dict(os.environ, PYTHONPATH=os.path.join(root, "codegen"), PYTHONDONTWRITEBYTECODE="1")
        subprocess.run([sys.executable, "-m", "aopgen", "--schema", "schema", "--out", "generated"],
                       cwd=root, env=env, check=True)
        print("generated/ regenerated (schema line numbers moved)")
    for rel in missing:
        print("no '%s' in the first %d lines: %s" % (IDENTIFIER, FIRST_LINES, rel))
    if missing:
        print("%d source files without the license identifier (python3 scripts/spdx.py --fix adds it%s)"
              % (len(missing), "; generated/ comes from codegen/'s templates" if any(
                  m.startswith("generated" + os.sep) for m in missing) else ""))
        return 1
    print("license identifier: ok (%d files added)" % len(fixed) if fix else "license identifier: every source file has it")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
