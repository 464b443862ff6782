#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Configures and builds into BUILD_DIR (default build/) with Debian's Python for the generator.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
# The test builds carry the resolver's crash hooks (AOP_TEST_HOOKS); a release configures without
# this script, or passes -DAOP_TEST_HOOKS=OFF (later arguments win). Warnings are errors here and
# in CI (AOP_WERROR), never in a user's build.
cmake -S . -B "$BUILD_DIR" -DPython3_EXECUTABLE=/usr/bin/python3 -DAOP_TEST_HOOKS=ON -DAOP_WERROR=ON "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
