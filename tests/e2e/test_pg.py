# SPDX-License-Identifier: MIT
"""Recovery workers on the PostgreSQL journal, against the real server the tests start
(tests/support/postgres.sh, the CTest fixture postgres) and a real aop-sandbox:

- 4 processes x 500 open entries: every entry decided exactly once, by one worker, with one
  cancel and no more queries than the policy allows;
- a worker SIGKILLed while it holds leases (run under another host name, so its death cannot be
  seen from here): another takes its entries, and only once their leases have expired;
- a receiver of notifications on another HOME finishes a payer's payment through the shared
  journal (row N9);
- the server restarted (pg_ctl restart -m fast) during recovery: the workers say so, reconnect,
  and every entry ends decided once;
- two processes whose wall clocks are 30 s ahead and 30 s behind (libfaketime): leases hold and
  no cancel comes before the pay's start + its deadline + the margin, since both compare with the
  server's clock.

Each test works in a schema of its own. When the server is not there, the tests fail saying why.

    python3 tests/e2e/test_pg.py BIN_DIR DATA_DIR PG_STATE_DIR [unittest arguments]"""
import collections
import datetime
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
from e2e_world import copy_key, kill_sandbox, notify_listening, start_sandbox  # noqa: E402
BIN = DATA = STATE = None
CLIENT_ID = "211020000000000000044"
MERCHANT_ID = "218820000000000000023"
# the policy of every recovery here: quick queries, a 1 s query budget, a 0.2 s cancel margin, and
# calls given 10 s (16 workers share 2 cores with the sandbox and the server: a call's answer
# may take seconds, and one cut short would leave its entry undecided for the next run)
POLL_INTERVAL, QUERY_BUDGET = 0.2, 1.0
FAST = ["--first-poll", "0.1", "--poll-interval", str(POLL_INTERVAL), "--query-budget", str(QUERY_BUDGET),
        "--cancel-margin", "0.2", "--cancel-budget", "5", "--timeout", "10"]
# queries one entry may take: the first, then one per interval within the budget, and the last check
QUERY_BOUND = 2 + int(QUERY_BUDGET / POLL_INTERVAL) + 1


def psql_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    return found[-1] if found else "psql"


class Run:
    """A process whose standard output and error go to files; communicate() as Popen's."""

    def __init__(self, home, n, argv, env):
        self.out = open(os.path.join(home, f"run{n}.out"), "w+")
        self.err = open(os.path.join(home, f"run{n}.err"), "w+")
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=self.err, text=True, env=env)

    @property
    def returncode(self):
        return self.proc.returncode

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def communicate(self, timeout=None):
        self.proc.wait(timeout=timeout)
        texts = []
        for f in (self.out, self.err):
            f.seek(0)
            texts.append(f.read())
            f.close()
        return texts[0], texts[1]


class World:
    """A HOME with the test keys, a sandbox gateway logging every request, and a journal in a
    schema of its own on the tests' PostgreSQL."""

    def __init__(self, test):
        uri_file = os.path.join(STATE, "uri")
        if not os.path.exists(uri_file):
            raise AssertionError(f"no PostgreSQL: {uri_file} is missing, so the fixture postgres_start did not "
                                 "start the server (its output says why)")
        with open(uri_file) as f:
            self.base = f.read().strip()
        self.home = tempfile.mkdtemp(prefix="aop-pg-e2e-")
        self.schema = f"e2e_{os.getpid()}_{int(time.time() * 1000) % 10**9}"
        self.sql(f"CREATE SCHEMA {self.schema}")
        self.uri = f"{self.base}&options=-csearch_path%3D{self.schema}"
        self.env = dict(os.environ, HOME=self.home, AOP_JOURNAL=self.uri)
        self.key = self.copy("merchant.pkcs8.pem")
        self.gwkey = self.copy("gateway.pkcs8.pem")
        self.reqlog = os.path.join(self.home, "requests.jsonl")
        self.log = open(os.path.join(self.home, "sandbox.log"), "w+")
        self.sandbox, self.url = start_sandbox(BIN, DATA, self.gwkey, self.log, "--request-log", self.reqlog)

    def copy(self, name):
        return copy_key(self.home, DATA, name)

    def sql(self, statement):
        p = subprocess.run([psql_bin(), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", self.base, "-c",
                            statement], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"{statement}: {p.stderr}"
        return p.stdout.strip()

    def seed(self, count, tag, lease_ms=1):
        p = subprocess.run([os.path.join(BIN, "pg_seed"), self.uri, self.key, os.path.join(DATA, "gateway.spki.pem"),
                            CLIENT_ID, MERCHANT_ID, str(count), tag, str(lease_ms)],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        return p.stdout.split()

    def recover(self, *argv, prefix=(), env=None):
        """A recovery process (not waited for), its output into files: several of them write far
        more to standard error than a pipe holds, and one blocked on a full pipe would stall."""
        self.runs = getattr(self, "runs", 0) + 1
        self.procs = getattr(self, "procs", [])
        policy = list(FAST)
        for i in range(0, len(policy), 2):  # an option of argv replaces FAST's (none may be given twice)
            if policy[i] in argv:
                j = argv.index(policy[i])
                policy[i + 1] = argv[j + 1]
                argv = argv[:j] + argv[j + 2:]
        run = Run(self.home, self.runs,
                   [*prefix, os.path.join(BIN, "aop"), "recover", "--gateway", self.url, "--private-key", self.key,
                    "--alipay-public-key", os.path.join(DATA, "gateway.spki.pem"), *policy, *argv],
                   dict(self.env, **(env or {})))
        self.procs.append(run.proc)
        return run

    def requests(self):
        if not os.path.exists(self.reqlog):
            return []
        with open(self.reqlog) as f:
            return [json.loads(line) for line in f if line.strip()]

    def calls_per_key(self, function_suffix):
        n = collections.Counter()
        for r in self.requests():
            if r["function"].endswith(function_suffix):
                n[r["merchantTransId"]] += 1
        return n

    def open_entries(self):
        return int(self.sql(f"SELECT count(*) FROM {self.schema}.aop_journal WHERE state NOT IN (8, 9, 10, 11)"))

    def close(self):
        for p in getattr(self, "procs", []):  # a test that failed half-way leaves no service running
            if p.poll() is None:
                p.kill()
                p.wait()
        kill_sandbox(self.sandbox)
        self.log.close()
        try:
            self.sql(f"DROP SCHEMA {self.schema} CASCADE")
        finally:
            shutil.rmtree(self.home, ignore_errors=True)


def outcomes(stdout):
    """The resolutions of an `aop recover --json` run: its array."""
    return json.loads(stdout) if stdout.strip() else []


class Case(unittest.TestCase):
    def setUp(self):
        self.w = World(self)

    def tearDown(self):
        self.w.close()

    def aop(self, *argv, env=None):
        p = subprocess.run([os.path.join(BIN, "aop"), *argv], capture_output=True, text=True,
                           env=dict(self.w.env, **(env or {})), timeout=60)
        return p.returncode, p.stdout, p.stderr

    def decided_once(self, keys, results):
        """Every key decided (a known outcome) exactly once across results, and cancelled once."""
        known = collections.Counter(r["merchantTransId"] for r in results if r["outcomeKnown"])
        missing = [k for k in keys if known[k] == 0]
        twice = [k for k in keys if known[k] > 1]
        self.assertEqual(missing, [], f"{len(missing)} entries never decided")
        self.assertEqual(twice, [], f"{len(twice)} entries decided twice")
        cancels = self.w.calls_per_key(".payCancel")
        self.assertEqual([k for k in keys if cancels[k] != 1], [], "one cancel per entry, by one worker")
        self.assertEqual(self.w.open_entries(), 0)


class Workers(Case):
    def test_four_processes_recover_500_entries_each_without_colliding(self):
        keys = self.w.seed(2000, "w")
        time.sleep(2.0)  # past the cancel moment: pay start + 1 s deadline + 0.2 s margin + 0.5 s
        procs = [self.w.recover("--workers", "2", "--json") for _ in range(4)]
        results, by = [], collections.defaultdict(set)
        for i, p in enumerate(procs):
            out, err = p.communicate(timeout=600)
            undecided = [r for r in outcomes(out) if not r["outcomeKnown"]]
            self.assertEqual(p.returncode, 0, f"{undecided[:3]} {err[-1000:]}")
            for r in outcomes(out):
                results.append(r)
                by[r["merchantTransId"]].add((i, r["worker"]))
        self.decided_once(keys, results)
        self.assertEqual([k for k, ws in by.items() if len(ws) > 1], [], "an entry reported by two workers")
        queries = self.w.calls_per_key(".payQuery")
        over = {k: n for k, n in queries.items() if n > QUERY_BOUND}
        self.assertEqual(over, {}, f"more than {QUERY_BOUND} queries for an entry")
        # every process took a share: the entries were spread, not taken by the first
        self.assertEqual(len({i for ws in by.values() for i, _ in ws}), 4)


class Takeover(Case):
    def test_a_killed_workers_entries_are_taken_once_their_leases_expire(self):
        keys = self.w.seed(4, "k")
        # the worker runs as another host (a UTS namespace of its own): from here its death cannot
        # be seen, only its leases' expiry frees its entries. A margin of 20 s keeps it waiting for
        # the cancel moment, its lease held.
        unshare = ("unshare", "--uts") if os.getuid() == 0 else ("unshare", "--map-root-user", "--uts")
        a = self.w.recover("--workers", "2", "--cancel-margin", "20",
                           prefix=(*unshare, "sh", "-c", 'hostname other-host && exec "$0" "$@"'))
        deadline = time.monotonic() + 30
        held = 0
        while time.monotonic() < deadline and held < 2:
            held = int(self.w.sql(f"SELECT count(*) FROM {self.w.schema}.aop_journal WHERE lease_owner LIKE "
                                  "'other-host/%' AND lease_expires_clock_ms > "
                                  "floor(extract(epoch FROM clock_timestamp()) * 1000)"))
            time.sleep(0.1)
        self.assertEqual(held, 2, "the worker did not take two leases")
        leases = {}
        for row in self.w.sql(f"SELECT key, lease_expires_clock_ms FROM {self.w.schema}.aop_journal WHERE "
                              "lease_owner LIKE 'other-host/%'").splitlines():
            k, ms = row.split("|")
            leases[k] = int(ms)
        a.send_signal(signal.SIGKILL)
        a.communicate(timeout=30)
        b = self.w.recover("--workers", "2", "--follow", "--json")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and self.w.open_entries():
            time.sleep(0.5)
        b.send_signal(signal.SIGTERM)
        out, err = b.communicate(timeout=60)
        self.assertEqual(b.returncode, 0, err[-2000:])
        self.assertIn("following", err)
        self.decided_once(keys, outcomes(out))
        # the dead worker's entries were cancelled by the other only once their leases expired
        # (by the server's clock, which the sandbox's shares; the log has whole seconds)
        for r in self.w.requests():
            if r["function"].endswith(".payCancel") and r["merchantTransId"] in leases:
                t = datetime.datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp() * 1000
                self.assertGreaterEqual(t, leases[r["merchantTransId"]] - 1000,
                                        f"{r['merchantTransId']} taken before its lease expired")


class Restart(Case):
    def test_the_server_restarted_during_recovery_loses_and_repeats_nothing(self):
        keys = self.w.seed(600, "r")
        time.sleep(2.0)
        procs = [self.w.recover("--workers", "2", "--follow", "--json") for _ in range(2)]
        time.sleep(1.5)
        with open(os.path.join(STATE, "dir")) as f:
            top = f.read().strip()
        pg_ctl = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]
        as_server = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        # -l: the new server writes to its log, not to the pipes of this pg_ctl (a server holding
        # them would keep this call waiting for their end)
        r = subprocess.run([*as_server, pg_ctl, "-D", os.path.join(top, "data"), "-l", os.path.join(top, "server.log"),
                            "restart", "-m", "fast", "-w", "-t", "60"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and self.w.open_entries():
            time.sleep(0.5)
        results, errs = [], ""
        for p in procs:
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err[-2000:])
            results += outcomes(out)
            errs += err
        outs = "".join(json.dumps(r) for r in results)
        self.assertRegex(errs + outs, r"connection|server", "the workers said nothing of the lost connection")
        known = collections.Counter(r["merchantTransId"] for r in results if r["outcomeKnown"])
        self.assertEqual([k for k in keys if known[k] > 1], [], "an entry decided twice")
        self.assertEqual(self.w.open_entries(), 0, "an entry was lost")
        # a cancel whose answer was heard but whose write was lost is sent again by the next
        # worker (the same decision, and a payCancel is idempotent): never more than twice
        cancels = self.w.calls_per_key(".payCancel")
        self.assertEqual([k for k in keys if not 1 <= cancels[k] <= 2], [])


class Clocks(Case):
    def faketime(self, offset):
        libs = glob.glob("/usr/lib/*/faketime/libfaketime.so.1") + glob.glob("/usr/lib/faketime/libfaketime.so.1")
        self.assertTrue(libs, "libfaketime is not installed (Debian package faketime, scripts/deps.sh)")
        asan = ":".join(x for x in (os.environ.get("ASAN_OPTIONS"), "verify_asan_link_order=0") if x)
        return dict(LD_PRELOAD=libs[0], FAKETIME=offset, FAKETIME_DONT_FAKE_MONOTONIC="1", ASAN_OPTIONS=asan)

    def test_wall_clocks_30_s_apart_agree_on_leases_and_the_cancel_moment(self):
        keys = self.w.seed(60, "c")
        started = {}
        for row in self.w.sql(f"SELECT key, pay_started_clock_ms FROM {self.w.schema}.aop_journal").splitlines():
            k, ms = row.split("|")
            started[k] = int(ms)
        ahead = self.w.recover("--workers", "2", "--json", "--cancel-margin", "3", env=self.faketime("+30s"))
        behind = self.w.recover("--workers", "2", "--json", "--cancel-margin", "3", env=self.faketime("-30s"))
        results = []
        for p in (ahead, behind):
            out, err = p.communicate(timeout=300)
            self.assertEqual(p.returncode, 0, err[-2000:])
            results += outcomes(out)
        self.decided_once(keys, results)
        # the cancel moment: the pay's start (server clock) + its 1 s deadline + the 3 s margin;
        # the sandbox and the server share this machine's real clock
        for r in self.w.requests():
            if r["function"].endswith(".payCancel"):
                t = datetime.datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp() * 1000
                # the log's times are whole seconds, cut: up to 1 s below the true moment
                self.assertGreaterEqual(t, started[r["merchantTransId"]] + 4000 - 1000,
                                        f"{r['merchantTransId']} cancelled before its moment")


class Signals(Case):
    def follow_waiting(self):
        """A follow service whose 2 workers hold an entry each, waiting for its cancel moment."""
        self.w.seed(2, "s")
        p = self.w.recover("--workers", "2", "--follow", "--json", "--cancel-margin", "30")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and int(self.w.sql(
                f"SELECT count(*) FROM {self.w.schema}.aop_journal WHERE lease_owner NOT LIKE 'seed-host/%' AND "
                "lease_expires_clock_ms > floor(extract(epoch FROM clock_timestamp()) * 1000)")) < 2:
            time.sleep(0.1)
        return p

    def released(self):
        return int(self.w.sql(f"SELECT count(*) FROM {self.w.schema}.aop_journal WHERE lease_expires_clock_ms <= "
                              "floor(extract(epoch FROM clock_timestamp()) * 1000)"))

    def test_the_first_sigterm_finishes_and_releases_the_leases_and_exits_0(self):
        p = self.follow_waiting()
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err[-1500:])
        self.assertLess(time.monotonic() - t0, 5, "it waited for the cancel moment")
        self.assertIn("every lease was released", err)
        self.assertEqual(self.released(), 2, "a lease is still held")
        self.assertEqual(json.loads(out)[0]["interrupted"], True)

    def test_a_second_signal_stops_at_once(self):
        p = self.follow_waiting()
        # two signals at once (two of one kind may merge while pending): the second stops
        p.send_signal(signal.SIGTERM)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertIn(p.returncode, (130, 143), err[-1500:])
        self.assertIn("abandoned", err)
        json.loads(out)  # the array is whole


class Altered(Case):
    def test_a_row_a_database_administrator_edits_is_never_sent(self):
        keys = self.w.seed(2, "a")
        self.w.sql(f"UPDATE {self.w.schema}.aop_journal SET amount = '99999' WHERE key = '{keys[0]}'")
        time.sleep(1.5)  # past the seeded pays' cancel moment
        p = self.w.recover("--json")
        out, err = p.communicate(timeout=120)
        by_key = {r["merchantTransId"]: r for r in outcomes(out)}
        self.assertEqual(by_key[keys[0]]["outcome"], "NEEDS_ATTENTION", err[-1500:])
        self.assertIn("altered", by_key[keys[0]]["error"])
        self.assertTrue(by_key[keys[1]]["outcomeKnown"], "the other entry is recovered")
        self.assertEqual([r for r in self.w.requests() if r["merchantTransId"] == keys[0]], [], "the edited row was sent")
        self.assertEqual(p.returncode, 2)  # one entry is left to a person


class Uris(Case):
    def test_journal_then_aop_journal_then_the_default_and_no_password_on_the_command_line(self):
        self.w.seed(1, "u", lease_ms=600000)
        listed = lambda out: [e["merchantTransId"] for e in json.loads(out)]
        rc, out, err = self.aop("journal", "--json")  # AOP_JOURNAL: the schema with the entry
        self.assertEqual((rc, listed(out)), (0, ["seedu000000"]), err)
        rc, out, err = self.aop("journal", "--json", "--journal", os.path.join(self.w.home, "j.db"))
        self.assertEqual((rc, listed(out)), (0, []), err)  # --journal comes first
        rc, out, err = self.aop("journal", "--json", env={"AOP_JOURNAL": ""})
        self.assertEqual((rc, listed(out)), (0, []), err)  # then ~/.aop/journal.db
        self.assertTrue(os.path.exists(os.path.join(self.w.home, ".aop", "journal.db")))
        secret = self.w.uri.replace("postgresql://aop@", "postgresql://aop:s3cret@")
        rc, out, err = self.aop("journal", "--journal", secret)
        self.assertEqual(rc, 64, err)
        self.assertNotIn("s3cret", out + err)
        self.assertIn("AOP_JOURNAL", err)
        # from the environment it is accepted (trust authentication ignores it), and never shown
        rc, out, err = self.aop("journal", "--json", env={"AOP_JOURNAL": secret})
        self.assertEqual((rc, listed(out)), (0, ["seedu000000"]), err)
        bad = "postgresql://aop:s3cret@127.0.0.1:1/aop?connect_timeout=2"
        rc, out, err = self.aop("recover", "--workers", "2", env={"AOP_JOURNAL": bad})
        self.assertEqual(rc, 78, err)
        self.assertNotIn("s3cret", out + err)
        self.assertIn("postgresql://aop@127.0.0.1:1/aop", err)


class Notifications(Case):
    """aop-notify on another HOME (another machine) than the payer, sharing only the PostgreSQL
    journal: the payer's PAYMENT_IN_PROCESS payment is finished by its notification (row N9)."""

    def test_a_receiver_elsewhere_finishes_the_payers_payment_through_the_shared_journal(self):
        w = self.w
        gw = os.path.join(DATA, "gateway.spki.pem")
        receiver_home = tempfile.mkdtemp(prefix="aop-pg-notify-", dir=w.home)
        log = open(os.path.join(w.home, "notify.log"), "w+")
        notify = subprocess.Popen([os.path.join(BIN, "aop-notify"), "--listen", "127.0.0.1:0", "--path", "/notify",
                                   "--private-key", w.key, "--alipay-public-key", gw],
                                  stderr=log, env=dict(w.env, HOME=receiver_home))
        sandbox = None
        try:
            port = int(notify_listening(log.name).group(1))
            # PAYMENT_IN_PROCESS, PAYING for 0.3 s, then SUCCESS: the first query would come at 3 s
            sandbox, url = start_sandbox(BIN, DATA, w.gwkey, subprocess.DEVNULL, "--in-process-seconds", "0.3",
                                         "--notify-url", f"http://127.0.0.1:{port}/notify", "--notify-schedule",
                                         "0.5,0.5,0.5")
            t0 = time.monotonic()
            rc, out, err = self.aop("pay", "--amount", "300", "--currency", "USD", "--code", "281000000000001013",
                                    "--json", "--gateway", url, "--private-key", w.key,
                                    "--alipay-public-key", gw)
            took = time.monotonic() - t0
            self.assertEqual(rc, 0, err)
            res = json.loads(out)
            self.assertEqual((res["outcome"], res["row"]), ("PAID", "N9"), out)
            self.assertLess(took, 3.0, "decided before the first query")
            state = w.sql(f"SELECT state FROM {w.schema}.aop_journal_notices WHERE key = '{res['merchantTransId']}'")
            self.assertEqual(state, "2", "the notification is APPLIED")
        finally:
            notify.send_signal(signal.SIGTERM)
            self.assertEqual(notify.wait(timeout=20), 0)
            log.close()
            if sandbox:
                kill_sandbox(sandbox)


if __name__ == "__main__":
    BIN, DATA, STATE = sys.argv[1], sys.argv[2], sys.argv[3]
    unittest.main(argv=[sys.argv[0], "-v", *sys.argv[4:]])
