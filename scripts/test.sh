#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite: the normal build, then the ASan+UBSan build, then the leak checks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
export CTEST_OUTPUT_ON_FAILURE=1

echo "== build and test (RelWithDebInfo)"
BUILD_DIR=build bash scripts/build.sh
(cd build && ctest -j2 --timeout 600)

echo "== Debian packages from a release build (no test hooks), checked without installing them"
BUILD_DIR=build bash scripts/package.sh

echo "== build and test with AddressSanitizer + UndefinedBehaviorSanitizer"
BUILD_DIR=build-asan bash scripts/build.sh -DAOP_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
   ctest -j2 --timeout 900)

echo "== generated/ and the tree are clean after the builds"
if git rev-parse --git-dir >/dev/null 2>&1 && [ -n "$(git status --porcelain -- generated codegen schema)" ]; then
  git status --porcelain -- generated codegen schema
  echo "FAIL: building changed tracked files (is generated/ stale?)" >&2
  exit 1
fi
echo "all tests passed"
