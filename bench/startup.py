#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Start-up cost of the aop programs beside curl's and openssl's, in one run.

    bench/startup.py BIN_DIR [--runs N] [--data DIR]

Starts BIN_DIR/aop-sandbox on a free loopback port (test keys, state in memory), then runs each
command N times (default 25), round-robin so that a change in the machine's load touches them
all alike, after 3 warm-up rounds:

    aop pay --no-resolve --gateway URL ...   one journaled call against the running sandbox
    aop query --gateway URL ...              one call of the same client, no journal (so the
                                             difference is the journal's)
    aop --version
    curl --version                           the floor libcurl's own dependencies set
    openssl version                          the floor of libcrypto alone

and prints, per command, the median CPU time of the process (user + system, from wait4: the
process alone, not the sandbox that answers it), the median wall time, the ratio of the CPU
median to curl --version's, and the number of shared objects the dynamic linker loads for it
(LD_DEBUG=files: link maps of namespace 0, dlopen included; the program itself, ld.so and the
vDSO not counted). A table, never a pass/fail judgement: the numbers follow the machine's load.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CODE = "28763443825664394"


def run_once(argv, env):
    """(cpu seconds, wall seconds, exit status) of one run, output discarded."""
    start = time.monotonic()
    with open(os.devnull, "wb") as null:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=null, stderr=null, env=env)
        _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    return ru.ru_utime + ru.ru_stime, wall, p.returncode


def shared_objects(argv, env):
    """How many shared objects ld.so loads for argv (LD_DEBUG=files)."""
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       env=dict(env, LD_DEBUG="files"), text=True, errors="replace")
    return len(re.findall(r"file=\S+ \[0\];\s+generating link map", p.stderr))


def start_sandbox(bin_dir, data, tmp):
    for k in ("merchant.pkcs8.pem", "gateway.pkcs8.pem"):
        shutil.copyfile(os.path.join(data, k), os.path.join(tmp, k))
        os.chmod(os.path.join(tmp, k), 0o600)
    sbx = subprocess.Popen([os.path.join(bin_dir, "aop-sandbox"), "--port", "0", "--quiet",
                            "--key", os.path.join(tmp, "gateway.pkcs8.pem"),
                            "--merchant-public-key", os.path.join(data, "merchant.spki.pem")],
                           stdout=subprocess.PIPE, text=True)
    line = sbx.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if not m:
        sbx.kill()
        sys.exit("aop-sandbox did not say its port: %r" % line)
    return sbx, "http://127.0.0.1:%s" % m.group(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bin_dir")
    ap.add_argument("--runs", type=int, default=25)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data"))
    a = ap.parse_args()
    if a.runs < 1:
        ap.error("--runs must be at least 1")
    aop = os.path.join(a.bin_dir, "aop")
    for tool in ("curl", "openssl"):
        if not shutil.which(tool):
            sys.exit("%s is not installed (scripts/deps.sh installs it)" % tool)

    with tempfile.TemporaryDirectory(prefix="aop-startup-") as tmp:
        env = dict(os.environ, HOME=tmp, LC_ALL="C")
        sbx, url = start_sandbox(a.bin_dir, a.data, tmp)
        try:
            pay = [aop, "pay", "--no-resolve", "--gateway", url,
                   "--private-key", os.path.join(tmp, "merchant.pkcs8.pem"),
                   "--alipay-public-key", os.path.join(a.data, "gateway.spki.pem"),
                   "--journal", os.path.join(tmp, "journal.db"),
                   "--amount", "100", "--currency", "USD", "--code", CODE, "--json"]
            query = [aop, "query", "--gateway", url, "--private-key", os.path.join(tmp, "merchant.pkcs8.pem"),
                     "--alipay-public-key", os.path.join(a.data, "gateway.spki.pem"),
                     "--merchant-trans-id", "startup-unknown", "--json"]
            cmds = [("aop pay --no-resolve --gateway URL", pay),
                    ("aop query --gateway URL", query),
                    ("aop --version", [aop, "--version"]),
                    ("curl --version", ["curl", "--version"]),
                    ("openssl version", ["openssl", "version"])]
            cpu = {name: [] for name, _ in cmds}
            wall = {name: [] for name, _ in cmds}
            for r in range(3 + a.runs):
                for name, argv in cmds:
                    c, w, rc = run_once(argv, env)
                    if rc not in ((0, 1) if argv is query else (0,)):  # the query's id is unknown: F
                        sys.exit("%s exited %d" % (" ".join(argv), rc))
                    if r >= 3:
                        cpu[name].append(c)
                        wall[name].append(w)
            objs = {name: shared_objects(argv, env) for name, argv in cmds}
        finally:
            sbx.terminate()
            sbx.wait()

    floor = statistics.median(cpu["curl --version"])
    print("start-up: median of %d runs per command (after 3 warm-up rounds), %s" % (a.runs, os.uname().nodename))
    print("| command | CPU ms (median) | CPU / curl --version | wall ms (median) | shared objects |")
    print("|---|---|---|---|---|")
    for name, _ in cmds:
        m = statistics.median(cpu[name])
        print("| `%s` | %.1f | %.2f | %.1f | %d |" % (name, m * 1000, m / floor if floor else float("nan"),
                                                   statistics.median(wall[name]) * 1000, objs[name]))


if __name__ == "__main__":
    main()
