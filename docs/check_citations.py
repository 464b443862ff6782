# SPDX-License-Identifier: MIT
"""Every document the repository cites is in the repository.

Scans every text file of the source tree (the files git tracks, plus new files it does not
ignore; a walk of the tree when there is no git checkout) for:

- references to Markdown files, backticked or plain (a path or a bare name ending in ".md"):
  each must exist in the repository, relative to the repository's root, to docs/, or to the
  directory of the file that cites it;
- citations of issue numbers (the word "issue" and a number, with or without a "#", or a "#"
  and a number standing alone): the history they stood for cannot be read in the repository;
  cite the repository's own documents, or say the fact.

Prints one line per offending citation as FILE:LINE: message, and exits 1 when there is any.

Usage: check_citations.py [REPO_ROOT]     (default: the parent of this file's directory)
"""
import os
import re
import subprocess
import sys

# A Markdown file name, possibly with a path: letters, digits and "_ . / - +" before ".md",
# not followed by more of a name (so ".mdx" or "x.md5" are not references).
MD_REF = re.compile(r"(?<![\w.+/-])([\w.+/-]*[\w+-]\.md)(?![\w-])")
# URLs name documents elsewhere: their text is not looked at.
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
# The word "issue" (or "issues", any case) and a number, with or without "#"; and a GitHub-style
# "#" and number standing alone (PKCS#1 or an anchor such as "#l12" are not citations).
ISSUE = re.compile(r"\bissues?\s+#?\d+|(?:^|(?<=[\s(\[]))#\d+\b", re.IGNORECASE)

# Directories of a walk that are not the source tree.
SKIP_DIRS = {".git", "__pycache__", ".pytest_cache"}


def tracked_files(root):
    """The repository's files as git lists them (tracked, and new files it does not ignore), or
    None when root is not a git checkout or git is missing."""
    try:
        out = subprocess.run(
            ["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    names = sorted({n for n in out.decode("utf-8", "surrogateescape").split("\0") if n})
    return [n for n in names if os.path.isfile(os.path.join(root, n))]


def walked_files(root):
    """Every file under root, build trees (a directory holding CMakeCache.txt) left out."""
    found = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs
                         if x not in SKIP_DIRS
                         and not os.path.exists(os.path.join(d, x, "CMakeCache.txt")))
        for f in sorted(files):
            found.append(os.path.relpath(os.path.join(d, f), root))
    return found


def read_text(path):
    """The file's lines, or None for a binary file (a NUL byte, or not UTF-8)."""
    with open(path, "rb") as f:
        data = f.read()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None


def inside(root, path):
    """Whether path (absolute, normalised) lies in root."""
    return path == root or path.startswith(root + os.sep)


def exists(root, citing, ref):
    """Whether ref names a file of the repository, from the root, docs/ or the citing file's
    directory. A leading "/" (a path after ${PROJECT_SOURCE_DIR} in CMake) counts from the root."""
    bases = [root, os.path.join(root, "docs"), os.path.dirname(os.path.join(root, citing))]
    rel = ref.lstrip("/")
    for base in bases:
        p = os.path.normpath(os.path.join(base, rel))
        if inside(root, p) and os.path.isfile(p):
            return True
    return False


def check(root):
    root = os.path.realpath(root)
    files = tracked_files(root)
    how = "git ls-files"
    if files is None:
        files, how = walked_files(root), "a walk of the tree"
    problems = []
    scanned = 0
    for name in files:
        lines = read_text(os.path.join(root, name))
        if lines is None:
            continue
        scanned += 1
        for no, line in enumerate(lines, 1):
            text = URL.sub(" ", line)
            for m in MD_REF.finditer(text):
                ref = m.group(1)
                if not exists(root, name, ref):
                    problems.append("%s:%d: cites %s, which is not in the repository" % (name, no, ref))
            for m in ISSUE.finditer(text):
                problems.append("%s:%d: cites an issue number (\"%s\"): cite a document of the "
                                "repository, or say the fact" % (name, no, m.group(0).strip()))
    return problems, scanned, how


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    if not os.path.isdir(root):
        print("check_citations: %s is not a directory" % root, file=sys.stderr)
        return 2
    problems, scanned, how = check(root)
    for p in problems:
        print(p)
    files = len({p.split(":", 1)[0] for p in problems})
    print("check_citations: %d text files scanned (%s); %d citation(s) of missing documents or "
          "issue numbers in %d file(s)" % (scanned, how, len(problems), files))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
