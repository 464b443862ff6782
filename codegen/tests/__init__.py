# SPDX-License-Identifier: MIT
"""Tests of the aopgen generator (stdlib unittest).

Run from codegen/:  PYTHONDONTWRITEBYTECODE=1 python3 -m unittest discover -s tests -t .
CTest runs them as `codegen_unittest` (tests/codegen/CMakeLists.txt)."""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the tree (set PYTHONDONTWRITEBYTECODE=1 too)


def _drop_own_bytecode():
    """This file was compiled (and, without -B, cached) before the line above ran: undo that."""
    import importlib.util
    try:
        pyc = importlib.util.cache_from_source(__file__)
        if os.path.exists(pyc):
            os.remove(pyc)
            os.rmdir(os.path.dirname(pyc))  # only when now empty
    except OSError:
        pass


_drop_own_bytecode()

CODEGEN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if CODEGEN_DIR not in sys.path:
    sys.path.insert(0, CODEGEN_DIR)
