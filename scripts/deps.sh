#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages the project needs (only those missing). Run as root.
set -euo pipefail
# dpkg-dev and file: cpack -G DEB's dependency list (dpkg-shlibdeps). doxygen: the API reference;
# groff-base: the man pages' lint (without it the man_lint test is not registered). lintian: the
# packages' check (scripts/package.sh fails on any error or warning). curl: the baseline of the
# start-up benchmark (bench/startup.py compares aop with curl --version). faketime: the tests that
# step the wall clock under the CLI. strace: the test that counts the syncs of one `aop pay`
# (tests/e2e/test_journal.py). libpq-dev: the PostgreSQL journal store (runtime/journal_pg);
# postgresql: the real server its tests start (tests/support/postgres.sh; Debian 12 ships 15).
PACKAGES=(build-essential cmake pkg-config clang libclang-rt-14-dev valgrind openssl git dpkg-dev file
          python3 python3-jinja2 python3-yaml
          libcurl4-openssl-dev libssl-dev libjsmn-dev
          libmicrohttpd-dev libsqlite3-dev libpq-dev postgresql
          libcriterion-dev
          libcjson-dev libjansson-dev
          doxygen groff-base lintian curl faketime strace)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
