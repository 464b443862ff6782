#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A real PostgreSQL server for the tests (never a mock): initdb into a fresh directory under
# /tmp, pg_ctl on a free loopback port with its Unix socket in that directory, run as an
# unprivileged account (as root, CI's case: the `postgres` account of Debian's package; otherwise
# the caller). `start STATE` writes STATE/uri (a libpq URI of database aop, role aop) and
# STATE/dir; `stop STATE` stops the server and removes its directory. When the server cannot
# start, start fails and says why: the tests that need it fail, they do not skip.
# Usage: postgres.sh start|stop STATE_DIR
set -euo pipefail
cmd=${1:?start or stop}
state=${2:?the state directory}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ ! -x "$bindir/initdb" ]; then
  echo "postgres.sh: no initdb under /usr/lib/postgresql/*/bin: install Debian's postgresql (scripts/deps.sh)" >&2
  exit 1
fi
as_server() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
  "$0" stop "$state" 2>/dev/null || true
  mkdir -p "$state"
  dir=$(mktemp -d /tmp/aop-pg-XXXXXX)
  echo "$dir" >"$state/dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  chmod 700 "$dir"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if ! as_server "$bindir/initdb" -D "$dir/data" -U aop --auth=trust -E UTF8 --no-locale --no-instructions >"$state/initdb.log" 2>&1; then
    echo "postgres.sh: initdb failed:" >&2
    cat "$state/initdb.log" >&2
    exit 1
  fi
  if ! as_server "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
       -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null; then
    echo "postgres.sh: the server did not start:" >&2
    cat "$dir/server.log" >&2
    exit 1
  fi
  as_server "$bindir/createdb" -h "$dir" -p "$port" -U aop aop
  echo "postgresql://aop@/aop?host=$dir&port=$port" >"$state/uri"
  echo "postgres.sh: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on port $port, socket in $dir"
  ;;
stop)
  [ -f "$state/dir" ] || exit 0
  dir=$(cat "$state/dir")
  if [ -d "$dir/data" ]; then as_server "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null || true; fi
  rm -rf "$dir" "$state/dir" "$state/uri"
  ;;
*)
  echo "postgres.sh: start or stop, not '$cmd'" >&2
  exit 64
  ;;
esac
