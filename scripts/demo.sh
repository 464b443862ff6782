#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: install, build, and make one signed payment through the local sandbox gateway.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
exec build/bin/aop pay --amount 100 --currency USD --code 28763443825664394 "$@"
