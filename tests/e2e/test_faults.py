# SPDX-License-Identifier: MIT
"""Fault injection end to end: the real `aop` binary resolves payments against the real sandbox
over HTTP, for every fault of the README's table "Faults, end to end". For each: the outcome,
the sandbox's final state of the payment, exactly one merchantTransId across all pays (the
sandbox's request log), and nothing open in the journal after `aop recover`.

Run by CTest: test_faults.py BIN_DIR DATA_DIR CLASS: Faults always; Crashes (the crash switch
AOP_TEST_CRASH_AT) only when the build has the test hooks, so that no test is ever a passing
skip. The policy is fast (fractions of a second) and the sandbox's timers short, so the whole file
takes well under a minute."""
import glob
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True
BIN = DATA = None
CODE = "28763443825664394"
# The resolver's policy for the tests: a pay deadline of 1 s, short polls and budgets.
FAST = ["--timeout", "1", "--first-poll", "0.1", "--poll-interval", "0.2", "--query-budget", "2.5",
        "--cancel-margin", "0.2", "--cancel-budget", "6", "--watch-window", "0.5"]
# Acquirement status numbers of the sandbox's state (aop_acquirement_status_enum_t).
STATUS = {1: "INIT", 2: "PAYING", 3: "SUCCESS", 4: "CLOSED", 5: "CANCELLED"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FaultCase(unittest.TestCase):
    """The sandbox, the CLI and what the sandbox saw, for the test classes below."""

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="aop-faults-")
        self.env = dict(os.environ, HOME=self.home)
        self.env.pop("AOP_TEST_CRASH_AT", None)
        self.state = os.path.join(self.home, "sandbox.db")
        self.log = os.path.join(self.home, "requests.jsonl")
        self.key = os.path.join(self.home, "merchant.pem")
        shutil.copyfile(os.path.join(DATA, "merchant.pkcs8.pem"), self.key)
        os.chmod(self.key, 0o600)
        self.gwkey = os.path.join(self.home, "gateway.pem")
        shutil.copyfile(os.path.join(DATA, "gateway.pkcs8.pem"), self.gwkey)
        os.chmod(self.gwkey, 0o600)
        self.sandbox = None
        self.port = None

    def tearDown(self):
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    # ---- the sandbox ----

    def start(self, *extra, port=0):
        p = subprocess.Popen([os.path.join(BIN, "aop-sandbox"), "--port", str(port), "--state", self.state,
                              "--key", self.gwkey, "--merchant-public-key", os.path.join(DATA, "merchant.spki.pem"),
                              "--request-log", self.log, "--in-process-seconds", "0.5", "--delay-seconds", "2",
                              "--quiet", *extra],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = p.stdout.readline()
        m = re.search(r"127\.0\.0\.1:(\d+)", line)
        self.assertIsNotNone(m, line)
        self.sandbox, self.port = p, int(m.group(1))
        return p

    def stop(self):
        if self.sandbox:
            self.sandbox.send_signal(signal.SIGKILL)
            self.sandbox.wait()
            self.sandbox.stdout.close()
            self.sandbox = None

    def gw(self, port=None):
        return ["--gateway", f"http://127.0.0.1:{port or self.port}", "--private-key", self.key,
                "--alipay-public-key", os.path.join(DATA, "gateway.spki.pem")]

    # ---- the CLI ----

    def aop(self, *args, env=None, timeout=60):
        p = subprocess.run([os.path.join(BIN, "aop"), *args], capture_output=True, text=True,
                           env=env or self.env, timeout=timeout)
        return p

    def pay(self, code, *extra, port=None, mtid=None):
        mtid = mtid or f"f-{code[-4:]}-{int(time.time() * 1000) % 100000}"
        t0 = time.monotonic()
        p = self.aop("pay", "--amount", "500", "--currency", "USD", "--code", code, "--merchant-trans-id", mtid,
                     "--json", *FAST, *self.gw(port), *extra)
        took = time.monotonic() - t0
        # the time to resolution, for the README's table (AOP_FAULT_TIMES=1 prints it)
        if os.environ.get("AOP_FAULT_TIMES") == "1":
            print(f"\nTIME {self.id().rsplit('.', 1)[-1]} {took:.2f} s", file=sys.stderr)
        self.assertTrue(p.stdout.strip(), p.stderr)
        return json.loads(p.stdout), p, mtid, took

    def recover(self, *extra):
        p = self.aop("recover", "--json", *FAST, *self.gw(), *extra)
        return p

    def requests_logged(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.endswith("\n")]

    def wait_logged(self, function, timeout=30):
        """The monotonic time at which the sandbox's log first shows an answered call of function
        (polled every 10 ms)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(r["function"].endswith(function) for r in self.requests_logged()):
                return time.monotonic()
            time.sleep(0.01)
        self.fail(f"no {function} in the sandbox's log within {timeout} s")

    def journal_open(self):
        p = self.aop("journal", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    # ---- what the sandbox saw and holds ----

    def pays_logged(self):
        with open(self.log) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        for r in rows:
            self.assertNotIn("identityCode", r)
        return [r for r in rows if r["function"].endswith(".pay")]

    def final_state(self, mtid):
        db = sqlite3.connect(self.state)
        try:
            row = db.execute("SELECT status, settle_at_ms, settle_to FROM payments WHERE merchant_trans_id = ?",
                             (mtid,)).fetchone()
            if row:
                status, settle_at, settle_to = row
                if settle_at and settle_to and settle_at <= time.time() * 1000:
                    status = settle_to
                return STATUS.get(status, str(status))
            closed = db.execute("SELECT 1 FROM closed_ids WHERE merchant_trans_id = ?", (mtid,)).fetchone()
            return "CLOSED_ID" if closed else "NONE"
        finally:
            db.close()

    def check(self, code, outcome, state, exit_code, *extra):
        self.start(*extra)
        j, p, mtid, took = self.pay(code)
        self.assertEqual((j["outcome"], p.returncode), (outcome, exit_code), p.stderr)
        self.assertEqual(self.final_state(mtid), state)
        self.assertEqual({r["merchantTransId"] for r in self.pays_logged()}, {mtid}, "one merchantTransId")
        r = self.recover()
        self.assertEqual(self.journal_open(), [], r.stdout + r.stderr)
        return j, took


class Faults(FaultCase):
    def test_01_reply_lost_after_commit(self):
        self.check("281000000000009002", "PAID", "SUCCESS", 0)

    def test_02_reply_held_past_the_deadline(self):
        j, _ = self.check("281000000000009001", "PAID", "SUCCESS", 0)
        self.assertEqual(j["decidedBy"], "alipay.intl.acquiring.offline.payQuery")

    def test_03_in_process_that_succeeds(self):
        self.check("281000000000001013", "PAID", "SUCCESS", 0)

    def test_04_in_process_that_closes(self):
        j, _ = self.check("281000000000001020", "FAILED", "CLOSED", 1)
        self.assertEqual(j["acquirementStatus"], "CLOSED")

    def test_05_in_process_forever_is_cancelled(self):
        j, took = self.check("281000000000003001", "CANCELLED", "CLOSED", 1)
        self.assertEqual(j["decidedBy"], "alipay.intl.acquiring.common.payCancel")
        # never before the pay's start + its deadline + the margin (1 + 0.2 s)
        self.assertGreaterEqual(took, 1.2)

    def test_06_pay_dropped_before_it_was_recorded(self):
        self.check("281000000000009009", "CANCELLED", "CLOSED_ID", 1)

    def test_07_late_pay(self):
        # the pay is recorded 2 s after it arrived, within the query budget
        self.check("281000000000009010", "PAID", "SUCCESS", 0)

    def test_08_connection_refused_then_the_same_pay_is_resent(self):
        port = free_port()
        proc = subprocess.Popen([os.path.join(BIN, "aop"), "pay", "--amount", "500", "--currency", "USD", "--code", CODE,
                                 "--merchant-trans-id", "f-refused-1", "--json", "--timeout", "6", *FAST[2:],
                                 *self.gw(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env)
        time.sleep(1.0)
        self.start(port=port)
        out, err = proc.communicate(timeout=60)
        j = json.loads(out)
        self.assertEqual((j["outcome"], proc.returncode), ("PAID", 0), err)
        self.assertEqual(self.final_state("f-refused-1"), "SUCCESS")
        self.assertEqual({r["merchantTransId"] for r in self.pays_logged()}, {"f-refused-1"})

    def test_09a_unsigned_queries_then_cancel(self):
        self.check("281000000000003002", "CANCELLED", "CLOSED", 1)

    def test_09b_echo_mismatch_on_query_then_cancel(self):
        self.check("281000000000003003", "CANCELLED", "CLOSED", 1)

    def test_10_amount_mismatch_needs_attention(self):
        self.start()
        j, p, mtid, _ = self.pay("281000000000003004")
        self.assertEqual((j["outcome"], p.returncode, j["outcomeKnown"]), ("NEEDS_ATTENTION", 2, False), p.stderr)
        self.assertEqual(self.final_state(mtid), "SUCCESS", "never cancelled")
        cancels = [r for r in self.pays_logged() if "Cancel" in r["function"]]
        self.assertEqual(cancels, [])
        entries = self.journal_open()
        self.assertEqual([e["state"] for e in entries], ["NEEDS_ATTENTION"])
        c = self.aop("journal", "close", str(entries[0]["id"]), "--as", "PAID", "--note", "checked by hand")
        self.assertEqual(c.returncode, 0, c.stderr)
        self.assertEqual(self.journal_open(), [])

    def test_11_credential_code_on_query_is_unresolved(self):
        self.start()
        j, p, mtid, _ = self.pay("281000000000003005")
        self.assertEqual((j["outcome"], p.returncode), ("UNRESOLVED", 2), p.stderr)
        self.assertIn("KEY_NO_FOUND", j["error"] or "")
        self.assertEqual(self.final_state(mtid), "PAYING")
        self.stop()
        self.start("--no-faults")
        r = self.recover()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.final_state(mtid), "CLOSED")
        self.assertEqual(self.journal_open(), [])

    def test_12_cancel_times_out_twice_then_succeeds(self):
        self.check("281000000000003006", "CANCELLED", "CLOSED", 1)

    def test_13_cancel_never_succeeds_then_recover_after_restart(self):
        self.start()
        j, p, mtid, _ = self.pay("281000000000003007")
        self.assertEqual((j["outcome"], p.returncode), ("UNRESOLVED", 2), p.stderr)
        self.assertIn("aop recover", p.stderr)
        self.assertEqual([e["state"] for e in self.journal_open()], ["UNRESOLVED"])
        self.stop()
        self.start("--no-faults")
        r = self.recover()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual([x["outcome"] for x in json.loads(r.stdout)], ["CANCELLED"])
        self.assertEqual(self.final_state(mtid), "CLOSED")
        self.assertEqual(self.journal_open(), [])
        self.assertEqual({x["merchantTransId"] for x in self.pays_logged()}, {mtid})

    def test_14d_sigkill_with_the_pay_in_flight(self):
        self.start()
        proc = subprocess.Popen([os.path.join(BIN, "aop"), "pay", "--amount", "500", "--currency", "USD", "--code",
                                 "281000000000009001", "--merchant-trans-id", "f-inflight", "--json", *FAST, *self.gw()],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (os.path.exists(self.log) and self.pays_logged()):
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        self.assertEqual(len(self.journal_open()), 1)
        r = self.recover()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual([x["outcome"] for x in json.loads(r.stdout)], ["PAID"])
        self.assertEqual(self.journal_open(), [])

    def test_16_concurrent_recovers_each_exit_0(self):
        # entries left open by single calls: PAYMENT_IN_PROCESS, paid 0.5 s later
        self.start()
        n = 24
        for i in range(n):
            p = self.aop("pay", "--amount", "500", "--currency", "USD", "--code", "281000000000001013",
                         "--merchant-trans-id", f"f-rec-{i}", "--no-resolve", "--json", *FAST, *self.gw())
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertEqual(len(self.journal_open()), n)
        time.sleep(0.6)
        procs = [subprocess.Popen([os.path.join(BIN, "aop"), "recover", "--json", *FAST, *self.gw()],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
                 for _ in range(4)]
        outs = [(p, *p.communicate(timeout=120)) for p in procs]
        decided = []
        for p, out, err in outs:
            # an entry another live recovery held is theirs: nothing is left open, every one exits 0
            self.assertEqual(p.returncode, 0, out + err)
            items = json.loads(out)
            decided += [x["merchantTransId"] for x in items if not x.get("held")]
            for x in items:
                if x.get("held"):
                    self.assertTrue(x["leaseOwner"], x)
        self.assertEqual(sorted(decided), sorted(f"f-rec-{i}" for i in range(n)), "each entry decided exactly once")
        self.assertEqual(self.journal_open(), [])

    def test_15_sigint_leaves_the_entry_open(self):
        self.start()
        proc = subprocess.Popen([os.path.join(BIN, "aop"), "pay", "--amount", "500", "--currency", "USD", "--code",
                                 "281000000000003001", "--merchant-trans-id", "f-sigint", "--json", *FAST, *self.gw()],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        time.sleep(0.8)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn("aop recover", err)
        self.assertEqual(len(self.journal_open()), 1, "the entry stays open")
        r = self.recover()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.journal_open(), [])


class Crashes(FaultCase):
    """SIGKILL at the resolver's crash points (AOP_TEST_CRASH_AT: builds with AOP_TEST_HOOKS)."""

    def crash(self, code, at, want_state):
        self.start()
        env = dict(self.env, AOP_TEST_CRASH_AT=at)
        p = self.aop("pay", "--amount", "500", "--currency", "USD", "--code", code, "--merchant-trans-id",
                     f"f-crash-{at}", "--json", *FAST, *self.gw(), env=env)
        self.assertEqual(p.returncode, -signal.SIGKILL, p.stdout + p.stderr)
        self.assertEqual(len(self.journal_open()), 1, "the entry is open after the crash")
        r = self.recover()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.final_state(f"f-crash-{at}"), want_state)
        self.assertEqual(self.journal_open(), [])

    def test_17_crashed_pay_retried_and_refused_is_paid_not_failed(self):
        # the pay is PAYMENT_IN_PROCESS, then paid (0.5 s); the process dies while polling; the
        # cashier's retry re-sends the pay, which this gateway refuses with F PROCESS_FAIL
        self.start()
        code, mtid = "281000000000003009", "f-retry-refused"
        pay = ["pay", "--amount", "500", "--currency", "USD", "--code", code, "--merchant-trans-id", mtid, "--json",
               *FAST, *self.gw()]
        p = self.aop(*pay, env=dict(self.env, AOP_TEST_CRASH_AT="polling"))
        self.assertEqual(p.returncode, -signal.SIGKILL, p.stdout + p.stderr)
        time.sleep(0.6)
        self.assertEqual(self.final_state(mtid), "SUCCESS")
        p = self.aop(*pay)
        j = json.loads(p.stdout)
        self.assertEqual((j["outcome"], p.returncode), ("PAID", 0), p.stdout + p.stderr)
        self.assertEqual(j["decidedBy"], "alipay.intl.acquiring.offline.payQuery")
        self.assertEqual([s["resultCode"] for s in j["steps"]][:1], ["PROCESS_FAIL"], "the re-send was refused")
        self.assertEqual(self.journal_open(), [])

    def test_14a_sigkill_at_the_journal_commit(self):
        # committed but never sent: recovery finds nothing at the gateway, cancels by id
        self.crash(CODE, "journaled", "CLOSED_ID")

    def test_14b_sigkill_while_polling(self):
        self.crash("281000000000001013", "polling", "SUCCESS")

    def test_14c_sigkill_while_cancelling(self):
        self.crash("281000000000003001", "cancelling", "CLOSED")


class ClockSteps(FaultCase):
    """Steps of the wall clock (an NTP step, a clock set by hand) move no wait, budget or cancel
    moment: the CLI runs under Debian's libfaketime with the monotonic and boot clocks left alone,
    and the offset in a file that the test changes mid-run. The sandbox runs on the real clock,
    and the test times what it logs on its own monotonic clock."""

    def faketime_env(self):
        libs = glob.glob("/usr/lib/*/faketime/libfaketime.so.1") + glob.glob("/usr/lib/faketime/libfaketime.so.1")
        self.assertTrue(libs, "libfaketime is not installed (Debian package faketime, scripts/deps.sh)")
        self.offset = os.path.join(self.home, "faketime")
        self.step_to("+0")
        # under AddressSanitizer, the preloaded library comes before ASan's runtime: allowed here
        asan = ":".join(x for x in (os.environ.get("ASAN_OPTIONS"), "verify_asan_link_order=0") if x)
        return dict(self.env, LD_PRELOAD=libs[0], FAKETIME_TIMESTAMP_FILE=self.offset, FAKETIME_NO_CACHE="1",
                    FAKETIME_DONT_FAKE_MONOTONIC="1", ASAN_OPTIONS=asan)

    def step_to(self, offset):
        with open(self.offset + ".tmp", "w") as f:
            f.write(offset + "\n")
        os.replace(self.offset + ".tmp", self.offset)

    def pay_stepped(self, mtid, policy, step, step_after=1.5):
        """Pays with a code that stays PAYING until cancelled; steps the CLI's wall clock by step
        step_after seconds after the pay; returns the JSON, the exit status, and the seconds from
        the pay to the cancel and to the end."""
        self.start()
        env = self.faketime_env()
        proc = subprocess.Popen([os.path.join(BIN, "aop"), "pay", "--amount", "500", "--currency", "USD", "--code",
                                 "281000000000003001", "--merchant-trans-id", mtid, "--json", *policy, *self.gw()],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        t_pay = self.wait_logged(".pay")
        time.sleep(max(0.0, t_pay + step_after - time.monotonic()))
        self.step_to(step)
        t_cancel = self.wait_logged(".payCancel", timeout=90)
        out, err = proc.communicate(timeout=90)
        t_end = time.monotonic()
        return json.loads(out), proc.returncode, t_cancel - t_pay, t_end - t_pay, err

    def test_forward_step_does_not_bring_the_cancel_early(self):
        # no cancel before the pay's start + its deadline (8 s) + the margin (0.5 s)
        policy = ["--timeout", "8", "--cancel-margin", "0.5", "--first-poll", "0.1", "--poll-interval", "0.2",
                  "--query-budget", "2", "--cancel-budget", "6"]
        j, rc, to_cancel, _, err = self.pay_stepped("f-clock-fwd", policy, "+200s")
        self.assertEqual((j["outcome"], rc), ("CANCELLED", 1), err)
        self.assertGreaterEqual(to_cancel, 8.5 - 0.05, f"the cancel came {to_cancel:.2f} s after the pay")
        self.assertEqual(self.final_state("f-clock-fwd"), "CLOSED")

    def test_backward_step_does_not_stretch_the_budgets(self):
        # queries for 3 s, then the cancel (allowed from 1.2 s): about 3 s whatever the wall clock does
        policy = ["--timeout", "1", "--cancel-margin", "0.2", "--first-poll", "0.1", "--poll-interval", "0.2",
                  "--query-budget", "3", "--cancel-budget", "6"]
        j, rc, to_cancel, to_end, err = self.pay_stepped("f-clock-back", policy, "-30s")
        self.assertEqual((j["outcome"], rc), ("CANCELLED", 1), err)
        self.assertGreaterEqual(to_cancel, 3 - 0.05)
        self.assertLessEqual(to_end, 3 + 1 + 1, f"the loop took {to_end:.2f} s (deadline kept with 1 s slack)")

    def test_recovery_after_a_forward_step_waits_for_the_cancel_moment(self):
        # the payer dies right after the pay; recovery runs with the wall clock 200 s ahead, on the
        # same boot: the boot clock says the pay left a moment ago, so no cancel before 8.5 s
        self.start()
        policy = ["--timeout", "8", "--cancel-margin", "0.5", "--first-poll", "0.1", "--poll-interval", "0.2",
                  "--query-budget", "1", "--cancel-budget", "6"]
        proc = subprocess.Popen([os.path.join(BIN, "aop"), "pay", "--amount", "500", "--currency", "USD", "--code",
                                 "281000000000003001", "--merchant-trans-id", "f-clock-rec", "--json", *policy,
                                 *self.gw()], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        t_pay = self.wait_logged(".pay")
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        self.assertEqual(len(self.journal_open()), 1)
        env = self.faketime_env()
        self.step_to("+200s")
        rec = subprocess.Popen([os.path.join(BIN, "aop"), "recover", "--json", *policy, *self.gw()],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        t_cancel = self.wait_logged(".payCancel", timeout=90)
        out, err = rec.communicate(timeout=90)
        self.assertEqual(rec.returncode, 0, out + err)
        self.assertEqual([x["outcome"] for x in json.loads(out)], ["CANCELLED"])
        self.assertGreaterEqual(t_cancel - t_pay, 8.5 - 0.05, f"the cancel came {t_cancel - t_pay:.2f} s after the pay")


class BlackHole:
    """A loopback server that accepts connections and never answers: every call to it is in flight
    until the caller gives up."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


class Interrupts(FaultCase):
    """SIGINT and SIGTERM stop a call in flight within 0.5 s in every command that makes calls:
    the entry stays open and possibly sent, its lease is released, the command says what to run
    next and exits 130 or 143."""

    def setUp(self):
        super().setUp()
        self.hole = BlackHole()

    def tearDown(self):
        self.hole.close()
        super().tearDown()

    def interrupt(self, args, sig, after=0.6):
        p = subprocess.Popen([os.path.join(BIN, "aop"), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=self.env)
        time.sleep(after)
        self.assertIsNone(p.poll(), "the command ended before the signal")
        t0 = time.monotonic()
        p.send_signal(sig)
        out, err = p.communicate(timeout=20)
        took = time.monotonic() - t0
        return p.returncode, out, err, took

    def expect_stopped(self, rc, err, took, sig):
        self.assertEqual(rc, 130 if sig == signal.SIGINT else 143, err)
        # within 0.5 s, with 1 s of slack for a loaded machine
        self.assertLess(took, 0.5 + 1.0, f"stopped {took:.2f} s after the signal")

    def expect_open_and_released(self, key):
        entries = [e for e in self.journal_open() if key in (e.get("merchantTransId"), e.get("merchantRefundId"))]
        self.assertEqual(len(entries), 1, "the entry stays open")
        self.assertLessEqual(entries[0]["leaseExpiresMs"], time.time() * 1000, "its lease is released")

    def hole_gw(self):
        return self.gw(self.hole.port)

    def test_pay_in_flight(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(sig=sig):
                mtid = f"f-int-pay-{int(sig)}"
                rc, out, err, took = self.interrupt(
                    ["pay", "--amount", "500", "--currency", "USD", "--code", CODE, "--merchant-trans-id", mtid,
                     "--json", "--timeout", "15", *self.hole_gw()], sig)
                self.expect_stopped(rc, err, took, sig)
                self.assertTrue(json.loads(out)["interrupted"])
                self.assertIn("aop recover", err)
                self.expect_open_and_released(mtid)

    def test_refund_in_flight(self):
        rc, out, err, took = self.interrupt(
            ["refund", "--acquirement-id", "2026120711000000000000000001", "--amount", "50", "--currency", "USD",
             "--merchant-refund-id", "f-int-refund", "--timeout", "15", *self.hole_gw()], signal.SIGTERM)
        self.expect_stopped(rc, err, took, signal.SIGTERM)
        self.assertIn("INTERRUPTED", out)
        self.assertIn("aop recover", out)
        self.expect_open_and_released("f-int-refund")

    def test_query_and_cancel_in_flight(self):
        for cmd in ("query", "cancel"):
            for sig in (signal.SIGINT, signal.SIGTERM):
                with self.subTest(cmd=cmd, sig=sig):
                    rc, out, err, took = self.interrupt(
                        [cmd, "--merchant-trans-id", "f-int-q", "--timeout", "15", *self.hole_gw()], sig)
                    self.expect_stopped(rc, err, took, sig)
                    self.assertIn("stopped by", err)

    def test_recover_in_flight(self):
        # an open entry (the pay answered PAYMENT_IN_PROCESS, one call only), recovered against
        # a gateway that never answers, with the same keys (the same gateway identity)
        self.start()
        p = self.aop("pay", "--amount", "500", "--currency", "USD", "--code", "281000000000003001",
                     "--merchant-trans-id", "f-int-rec", "--no-resolve", *FAST, *self.gw())
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        rc, out, err, took = self.interrupt(["recover", *FAST[2:], "--timeout", "15", *self.hole_gw()],
                                            signal.SIGTERM, after=1.0)
        self.expect_stopped(rc, err, took, signal.SIGTERM)
        self.assertIn("aop recover", out + err)
        self.expect_open_and_released("f-int-rec")


if __name__ == "__main__":
    BIN, DATA = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v", *sys.argv[3:]])
