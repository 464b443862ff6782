# SPDX-License-Identifier: MIT
"""Parses every sample the C encoder writes with Python's json module and compares the values
with what the schema's samples say they must be (an independent check of our escaping)."""
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
TRICKY = "q\"b\\s/<>&'\u00a0\u2028\u00e9\u4e2d\U0001F600"  # generated/tests/tricky.h's AOP_TRICKY


def expected(msg, tricky):
    out = {}
    for f in msg.fields:
        if f.kind == "object":
            out[f.name] = expected(f.sub, tricky)
        elif f.sample is not None:
            use_tricky = tricky and f.kind == "string" and f.max >= 16 and not f.echo_path
            out[f.name] = TRICKY if use_tricky else f.sample
    return out


def main():
    binary, root = sys.argv[1], sys.argv[2]
    sys.path.insert(0, os.path.join(root, "codegen"))
    from aopgen.model import load_schema

    schema = load_schema(os.path.join(root, "schema"), "schema")
    roots = {}
    for fn in schema.functions:
        for m in (fn.request, fn.response):
            roots[m.c] = m
    # split on "\n" only: str.splitlines() also splits on U+2028, which the tricky text holds
    lines = subprocess.run([binary], check=True, capture_output=True, text=True).stdout.split("\n")[:-1]
    seen, failed = set(), set()
    for line in lines:
        name, text = line.split("\t", 1)
        base, _, variant = name.partition(".")
        value = json.loads(text)  # raises on anything that is not JSON
        want = expected(roots[base], variant == "tricky")
        if value != want:
            failed.add(name)
            print(f"FAIL {name}: decoded {value!r}\n  expected {want!r}")
        if any(ord(c) < 0x20 for c in text):
            failed.add(name)
            print(f"FAIL {name}: raw control character in the encoded text")
        seen.add(name)
    missing = {f"{c}{v}" for c in roots for v in ("", ".tricky")} - seen
    for name in sorted(missing):
        failed.add(name)
        print(f"FAIL {name}: not emitted")
    print(f"{len(seen - failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
