#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The resolver's rows are named the same, in the same order, in the three places that hold them:
docs/resolver.md (the table a reviewer reads), runtime/src/resolver_rows.c (the code that
decides) and tests/unit/test_resolver_table.c (one test line per row).
Usage: check_resolver_rows.py [REPO_ROOT]"""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
ID = r"[PQCLWREDN][0-9]+"
SOURCES = {
    # the first cell of a table row
    "docs/resolver.md": re.compile(r"^\| (" + ID + r") \|", re.M),
    # the row a decision names: go(d, "P2", ...), end(d, "P1", ...), start(d, "E1", ...), due(d, "D1", ...),
    # retry(d, "D7", ...), notice(d, "N1", ...)
    "runtime/src/resolver_rows.c": re.compile(r"\b(?:go|end|start|due|retry|notice)\(d, \"(" + ID + r")\""),
    # ROW("P2", ...), BEFORE("P1", ...), START("E1", ...), DUE("D1", ...), RETRY("D7", ...), NOTICE("N1", ...)
    "tests/unit/test_resolver_table.c": re.compile(r"\b(?:ROW|BEFORE|START|DUE|RETRY|NOTICE)\(\"(" + ID + r")\""),
}


def rows(path, pattern):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return pattern.findall(f.read())


found = {path: rows(path, pattern) for path, pattern in SOURCES.items()}
bad = False
for path, ids in found.items():
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        print(f"{path}: rows named twice: {', '.join(dupes)}")
        bad = True
doc = found["docs/resolver.md"]
for path, ids in found.items():
    if ids == doc:
        continue
    bad = True
    missing, extra = [i for i in doc if i not in ids], [i for i in ids if i not in doc]
    if missing or extra:
        print(f"{path} differs from docs/resolver.md: missing {missing or 'none'}, not documented {extra or 'none'}")
    else:
        print(f"{path} lists the rows in another order than docs/resolver.md:\n  {' '.join(ids)}\n  {' '.join(doc)}")
if not doc:
    print("docs/resolver.md names no rows")
    bad = True
if bad:
    sys.exit(1)
print(f"check_resolver_rows: {len(doc)} rows, the same in the document, the code and the table test")
