#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs one Criterion executable for CTest: its own exit status when a test fails; 77 (the tests'
# SKIP_RETURN_CODE) when none failed but one skipped itself, so that CTest reports the run as
# skipped, never as passed (Criterion itself exits 0 on a skip). Tests left out by --filter are
# "skipped" with Criterion's own message and do not count: a test that skips says why
# (cr_skip_test("reason")).
# Usage: criterion_run.sh EXECUTABLE [ARGS...]
set -u
report=$(mktemp "${TMPDIR:-/tmp}/criterion-XXXXXX.json") || exit 1
trap 'rm -f "$report"' EXIT
"$@" --json="$report"
rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
# In the report each test is "name", "assertions", "status", then "messages" when it has any.
self_skipped=$(awk '
  /"name":/ { name = $0; sub(/^ *"name": "/, "", name); sub(/",?$/, "", name) }
  /"status": "SKIPPED"/ { skipped = 1; next }
  skipped && /"messages":/ && $0 !~ /"The test was skipped."/ { print "  " name ": " $0 }
  { skipped = 0 }' "$report")
if [ -n "$self_skipped" ]; then
  echo "criterion_run.sh: tests of $1 skipped themselves:" >&2
  echo "$self_skipped" >&2
  exit 77
fi
grep -q '"status": "PASSED"' "$report" || { echo "criterion_run.sh: no test of $1 ran" >&2; exit 1; }
