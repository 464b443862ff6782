# SPDX-License-Identifier: MIT
"""Shared helpers: temp copies of the real schema/, line-based edits, running the generator."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True

from . import CODEGEN_DIR  # noqa: E402  (also puts codegen/ on sys.path)
from aopgen.emit import OUTPUTS, generate, render  # noqa: E402,F401
from aopgen.loader import SchemaError  # noqa: E402
from aopgen.model import SchemaErrors, load_schema  # noqa: E402

ROOT = os.path.dirname(CODEGEN_DIR)
SCHEMA_DIR = os.path.join(ROOT, "schema")
GENERATED_DIR = os.path.join(ROOT, "generated")
OUTPUT_FILES = [rel for _, rel in OUTPUTS]


def run_cli(*args, env_extra=None):
    """Runs `python3 -m aopgen ARGS` the way CMake does; returns the CompletedProcess."""
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONPATH"] = CODEGEN_DIR
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-B", "-m", "aopgen", *args], env=env, cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)


def read_tree(directory):
    """{relative path: bytes} of every file under directory."""
    out = {}
    for dirpath, _, files in os.walk(directory):
        for n in files:
            p = os.path.join(dirpath, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, directory)] = f.read()
    return out


def load_real_schema():
    return load_schema(SCHEMA_DIR, "schema")


class SchemaCopy:
    """A copy of the real schema/ in a temp dir (removed at the test's cleanup), edited line by line.

    The edits find their target by pattern, so the tests follow the real schema as it evolves; an
    edit that no longer finds or changes its line fails loudly instead of testing nothing."""

    def __init__(self, testcase):
        self.tc = testcase
        self.tmp = tempfile.mkdtemp(prefix="aopgen-test-")
        testcase.addCleanup(shutil.rmtree, self.tmp, True)
        self.dir = os.path.join(self.tmp, "schema")
        shutil.copytree(SCHEMA_DIR, self.dir)
        self.out = os.path.join(self.tmp, "out")

    # ---- files ----
    def path(self, name):
        return os.path.join(self.dir, name)

    def read(self, name):
        with open(self.path(name), encoding="utf-8") as f:
            return f.read()

    def write(self, name, text):
        with open(self.path(name), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)

    # ---- line-based edits; each returns the 1-based number of the line it touched ----
    def find_line(self, name, pattern, after=None):
        """Number of the first line matching regex `pattern` after the anchors: `after` is a pattern or a
        sequence of patterns, each searched from the line after the previous one's first hit."""
        lines = self.read(name).split("\n")
        start = 0
        anchors = () if after is None else (after,) if isinstance(after, str) else tuple(after)
        for a in anchors:
            hits = [i for i in range(start, len(lines)) if re.search(a, lines[i])]
            self.tc.assertTrue(hits, f"{name}: no line matches {a!r} after line {start}")
            start = hits[0] + 1
        for i in range(start, len(lines)):
            if re.search(pattern, lines[i]):
                return i + 1
        self.tc.fail(f"{name}: no line matches {pattern!r}" + (f" after {after!r}" if after else ""))

    def edit_line(self, name, pattern, fn, after=None):
        """Replaces the line found by find_line with fn(line); returns its number."""
        n = self.find_line(name, pattern, after)
        lines = self.read(name).split("\n")
        new = fn(lines[n - 1])
        self.tc.assertNotEqual(new, lines[n - 1], f"{name}:{n}: the edit changed nothing")
        lines[n - 1] = new
        self.write(name, "\n".join(lines))
        return n

    def sub_line(self, name, pattern, old, new, after=None):
        """On the line found by find_line, replaces the first match of regex `old` by `new`."""
        return self.edit_line(name, pattern, lambda ln: re.sub(old, new, ln, count=1), after)

    def insert_after(self, name, pattern, text, after=None):
        """Inserts text (one or more lines) after the line found; returns the first new line's number."""
        n = self.find_line(name, pattern, after)
        lines = self.read(name).split("\n")
        lines[n:n] = text.rstrip("\n").split("\n")
        self.write(name, "\n".join(lines))
        return n + 1

    def append(self, name, text):
        """Appends text; returns the number of its first non-blank line."""
        old = self.read(name)
        if not old.endswith("\n"):
            old += "\n"
        self.write(name, old + text)
        first = len(old.split("\n"))
        for i, ln in enumerate(text.split("\n")):
            if ln.strip():
                return first + i
        return first

    def remove_line(self, name, pattern, after=None):
        n = self.find_line(name, pattern, after)
        lines = self.read(name).split("\n")
        del lines[n - 1]
        self.write(name, "\n".join(lines))
        return n

    # ---- loading and generating ----
    def load(self):
        try:
            return load_schema(self.dir, "schema")
        except SchemaErrors as e:
            self.tc.fail("the edited schema was refused:\n" + str(e))
        except SchemaError as e:
            self.tc.fail(f"the edited schema was refused:\n{e}")

    def errors(self):
        """The errors load_schema reports; fails the test when the schema loads."""
        try:
            load_schema(self.dir, "schema")
        except SchemaErrors as e:
            return list(e.errors)
        except SchemaError as e:
            return [e]
        self.tc.fail("the edited schema was accepted")

    def generate(self):
        """Generates into self.out; returns {relative path: text}."""
        generate(self.load(), self.out)
        out = {}
        for rel in OUTPUT_FILES:
            with open(os.path.join(self.out, rel), encoding="utf-8") as f:
                out[rel] = f.read()
        return out


CASE_ROW = re.compile(r'^    \{"(\w+)", (\d+), (true|false), mutate_(\d+), (\w+), "([^"]*)", SEV_(\w+)\},$', re.M)


def case_rows(cases_c):
    """The rows of the `cases[]` table of a generated conformance_cases.c."""
    return CASE_ROW.findall(cases_c)


def expected_cases_macro(cases_c):
    m = re.search(r"^#define EXPECTED_CASES (\d+)$", cases_c, re.M)
    return int(m.group(1)) if m else None


def mutate_body(cases_c, case_name):
    """The body of the mutate_N function generated for a case."""
    m = re.search(r"^static void mutate_\d+\(void \*rq_, void \*rs_\) \{ /\* " + re.escape(case_name)
                  + r" \*/\n(.*?)^\}$", cases_c, re.M | re.S)
    return m.group(1) if m else None


def descriptor(model_c, msg_c, json_name):
    """The designated initialiser of one field of one message descriptor in the generated model."""
    block = re.search(r"^static const aop_field_desc_t " + msg_c + r"_fields\[\d+\] = \{\n(.*?)^\};",
                      model_c, re.M | re.S)
    assert block, msg_c
    m = re.search(r"\{\n        \.name = \"" + json_name + r"\",\n(.*?)\n    \},", block.group(1), re.S)
    assert m, (msg_c, json_name)
    return m.group(1)
