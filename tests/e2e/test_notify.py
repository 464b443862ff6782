# SPDX-License-Identifier: MIT
"""Alipay's payment notifications end to end: the real `aop pay`, the real `aop-notify` and the real
`aop-sandbox` sending notify.pay (docs/resolver.md, rows N).

- a PAYMENT_IN_PROCESS payment is finished by its notification before the first query would have
  decided it; the time to resolution with and without notifications is printed (one run);
- a forged notification changes nothing (refused at the door; a row written by hand is refused
  when applied);
- a late SUCCESS notification for a FAILED entry never acknowledged ends as the watch row says;
- a SUCCESS notification naming another amount ends the payment NEEDS_ATTENTION; one without its
  amount makes the query due now, and the query decides;
- a receiver killed (SIGKILL) after recording and before answering loses nothing: the sandbox
  sends again, and the second delivery is recorded once.

Notifications the sandbox would not send (another amount, a late SUCCESS) are made here and
signed with the test gateway key (tests/data, public test keys) by openssl, as Alipay would sign.

    python3 tests/e2e/test_notify.py BIN_DIR DATA_DIR"""
import base64
import datetime
import json
import os
import re
import shutil
import signal
import ssl
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import uuid

sys.dont_write_bytecode = True
from e2e_world import copy_key, kill_sandbox, notify_listening, start_sandbox, wait_for  # noqa: E402
BIN = DATA = None
IN_PROCESS = "281000000000001013"  # PAYMENT_IN_PROCESS, PAYING for --in-process-seconds, then SUCCESS
PAYING = "281000000000003001"      # PAYING until a cancel closes it
DECLINED = "281000000000001010"    # F USER_BALANCE_NOT_ENOUGH: FAILED, never acknowledged (watched)
PAYS = "281000000000000001"        # any other code pays at once
CLOSES = "281000000000001020"      # PAYMENT_IN_PROCESS, PAYING for --in-process-seconds, then CLOSED
CLIENT_ID = "211020000000000000044"


class World:
    """A HOME with the test keys, a journal, an aop-notify on a free port and an aop-sandbox that
    sends its notifications there."""

    def __init__(self, notify_url=True, schedule="0.5,0.5,0.5,0.5,0.5,0.5"):
        self.home = tempfile.mkdtemp(prefix="aop-notify-e2e-")
        self.env = dict(os.environ, HOME=self.home)
        self.key = self.copy("merchant.pkcs8.pem")
        self.gwkey = self.copy("gateway.pkcs8.pem")
        self.journal = os.path.join(self.home, "journal.db")
        self.notify = None
        self.notify_log = os.path.join(self.home, "notify.log")
        self.port = 0
        self.start_notify()
        self.log = open(os.path.join(self.home, "sandbox.log"), "w+")
        notify = ["--notify-url", f"http://127.0.0.1:{self.port}/notify", "--notify-schedule", schedule]
        self.sandbox, self.url = start_sandbox(BIN, DATA, self.gwkey, self.log, "--in-process-seconds", "0.3",
                                               *(notify if notify_url else []))

    def copy(self, name):
        return copy_key(self.home, DATA, name)

    def start_notify(self, env=None, gateway=None):
        """aop-notify on self.port (a free one the first time); returns once it listens."""
        argv = [os.path.join(BIN, "aop-notify"), "--listen", f"127.0.0.1:{self.port}", "--path", "/notify",
                "--journal", self.journal, "--private-key", self.key, "--alipay-public-key",
                os.path.join(DATA, "gateway.spki.pem")]
        if gateway:
            argv += ["--gateway", gateway, "--first-poll", "0.1", "--poll-interval", "0.2", "--query-budget", "2",
                     "--cancel-margin", "0.2", "--timeout", "1"]
        before = self.read_notify_log()
        self.notify_out = open(self.notify_log, "a")
        self.notify = subprocess.Popen(argv, stderr=self.notify_out, env=dict(self.env, **(env or {})))
        self.port = int(notify_listening(self.notify_log, len(before)).group(1))

    def stop_notify(self, sig=signal.SIGTERM):
        self.notify.send_signal(sig)
        rc = self.notify.wait(timeout=20)
        self.notify_out.close()
        return rc

    def read_notify_log(self):
        try:
            with open(self.notify_log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def gw(self, journal=None):
        return ["--gateway", self.url, "--private-key", self.key, "--alipay-public-key",
                os.path.join(DATA, "gateway.spki.pem"), "--journal", journal or self.journal]

    def aop(self, *argv):
        p = subprocess.run([os.path.join(BIN, "aop"), *argv], capture_output=True, text=True, env=self.env,
                           timeout=120)
        return p.returncode, p.stdout, p.stderr

    def pay(self, code, *extra, journal=None):
        t0 = time.monotonic()
        rc, out, err = self.aop("pay", "--amount", "300", "--currency", "USD", "--code", code, "--json",
                                *self.gw(journal), *extra)
        return rc, json.loads(out), time.monotonic() - t0, err

    def rows(self, sql, *args):
        db = sqlite3.connect(self.journal, timeout=10)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def sandbox_lines(self, pattern):
        self.log.flush()
        with open(self.log.name) as f:
            return [line for line in f if re.search(pattern, line)]

    def sign(self, data, key):
        p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=data, capture_output=True, check=True)
        return base64.b64encode(p.stdout).decode()

    def notification(self, mtid, amount="300", status="S", code="SUCCESS", acq="20261207115546634230100000001",
                     key=None):
        """A notify.pay body as Alipay sends it, signed with key (default: the gateway's); amount None:
        without orderAmount."""
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        body = {"resultInfo": {"resultStatus": status, "resultCodeId": "00000000", "resultCode": code,
                               "resultMsg": code.lower()},
                "merchantTransId": mtid}
        if status == "S":
            body.update({"acquirementId": acq, "paymentTime": now})
            if amount is not None:
                body.update({"orderAmount": {"currency": "USD", "value": amount},
                             "payAmount": {"currency": "USD", "value": amount}})
        request = json.dumps({"head": {"version": "2.0.0", "function": "alipay.intl.acquiring.offline.notify.pay",
                                       "clientId": CLIENT_ID, "reqTime": now, "reqMsgId": str(uuid.uuid4())},
                              "body": body}, separators=(",", ":")).encode()
        sig = self.sign(request, key or self.gwkey)
        return b'{"request":' + request + b',"signature":"' + sig.encode() + b'"}'

    def post(self, body):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/notify", data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=UTF-8"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def close(self):
        if self.notify and self.notify.poll() is None:
            self.notify.send_signal(signal.SIGKILL)
            self.notify.wait()
        self.notify_out.close()
        kill_sandbox(self.sandbox)
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


class Notify(unittest.TestCase):
    def setUp(self):
        self.w = World()

    def tearDown(self):
        self.w.close()

    def entry(self, mtid):
        rows = self.w.rows("SELECT id, state, note, watch, acquirement_id FROM entries WHERE key = ?", mtid)
        self.assertEqual(len(rows), 1, rows)
        return rows[0]

    def test_an_in_process_payment_is_finished_by_its_notification_before_the_first_query(self):
        # with notifications: the receiver shares the payer's journal
        rc, res, with_s, err = self.w.pay(IN_PROCESS)
        self.assertEqual(rc, 0, err)
        self.assertEqual(res["outcome"], "PAID")
        self.assertEqual(res["row"], "N9")
        self.assertEqual(res["decidedBy"], "alipay.intl.acquiring.offline.notify.pay")
        self.assertTrue(res["acquirementId"], "the notification's acquirementId is trusted")
        # (the sandbox logs no key for a query: this sandbox has seen this one payment so far)
        self.assertEqual(self.w.sandbox_lines(r"offline\.payQuery "), [],
                         "decided before the first query (3 s after the pay)")
        self.assertLess(with_s, 3.0, "the first query would have come 3 s after the pay")
        # without: the same payment in a journal the receiver does not read (another host's)
        other = os.path.join(self.w.home, "other.db")
        rc, res2, without_s, err = self.w.pay(IN_PROCESS, journal=other)
        self.assertEqual(rc, 0, err)
        self.assertEqual(res2["row"], "Q9", "a query decided it")
        self.assertGreaterEqual(without_s, 3.0)
        print(f"\ntime to resolution of a PAYMENT_IN_PROCESS payment (PAYING for 0.3 s): "
              f"{with_s:.2f} s with notifications (row N9), {without_s:.2f} s without (row Q9, first query at 3 s)",
              file=sys.stderr)
        # its notification reached the receiver, whose journal has no such payment: listed
        wait_for(lambda: self.w.rows("SELECT state FROM notices WHERE key = ?", res2["merchantTransId"]) == [(3,)],
                 10, "the other payment's notification recorded as NO_ENTRY")
        rc, out, err = self.w.aop("journal", "--journal", self.w.journal)
        self.assertIn(f"NO_ENTRY  {res2['merchantTransId']}  S SUCCESS", out)
        rc, out, err = self.w.aop("journal", "--json", "--journal", self.w.journal)
        self.assertEqual(rc, 0, err)
        unknown = [x for x in json.loads(out) if x["kind"] == "notification"]
        self.assertEqual([(x["state"], x["merchantTransId"], x["resultStatus"], x["resultCode"], x["deliveries"])
                          for x in unknown], [("NO_ENTRY", res2["merchantTransId"], "S", "SUCCESS", 1)], out)

    def test_a_forged_notification_changes_nothing(self):
        # an open payment, its lease released (one call only), so the receiver would decide it
        rc, res, _, err = self.w.pay(PAYING, "--no-resolve")
        self.assertEqual(rc, 2, err)
        mtid = res["merchantTransId"]
        before = self.entry(mtid)
        # signed with the merchant's key, not Alipay's: refused at the door, nothing recorded
        status, _ = self.w.post(self.w.notification(mtid, key=self.w.key))
        self.assertEqual(status, 400)
        # unsigned: the same
        status, _ = self.w.post(b'{"request":' + self.w.notification(mtid)[11:].split(b',"signature"')[0] + b"}")
        self.assertEqual(status, 400)
        self.assertEqual(self.w.rows("SELECT count(*) FROM notices"), [(0,)])
        # a row written by hand into the table: its bytes do not verify when applied (row N1)
        good = self.w.notification(mtid).decode()
        forged = good.replace('"value":"300"', '"value":"301"', 1)
        db = sqlite3.connect(self.w.journal)
        gateway = db.execute("SELECT gateway, merchant_id FROM entries WHERE key = ?", (mtid,)).fetchone()
        db.execute("INSERT INTO notices (gateway, merchant_id, key, result_status, result_code, received_ms, body,"
                   " deliveries, last_received_ms, state, entry_id, note) VALUES (?, ?, ?, 'S', 'SUCCESS', ?, ?, 1, ?,"
                   " 1, 0, '')", (gateway[0], gateway[1], mtid, int(time.time() * 1000), forged,
                                   int(time.time() * 1000)))
        db.commit()
        db.close()
        state = wait_for(lambda: [r for r in self.w.rows("SELECT state, note FROM notices") if r[0] != 1], 10,
                         "the applier to judge the row")
        self.assertEqual(state[0][0], 4, state)  # REFUSED
        self.assertTrue(state[0][1].startswith("N1"), state)
        self.assertEqual(self.entry(mtid), before, "the entry is untouched")

    def test_a_late_success_after_failed_unacknowledged_ends_as_the_watch_row_says(self):
        # the receiver makes the queries itself (--gateway)
        self.w.stop_notify()
        self.w.start_notify(gateway=self.w.url)
        rc, res, _, err = self.w.pay(DECLINED)
        self.assertEqual(rc, 1, err)
        mtid = res["merchantTransId"]
        _, state, _, watch, acq = self.entry(mtid)
        self.assertEqual((state, watch, acq), (9, 1, ""), "FAILED, never acknowledged: watched")
        status, _ = self.w.post(self.w.notification(mtid))
        self.assertEqual(status, 200)
        # row N5: the watch query is due now; the receiver makes it, and row W3 decides (the
        # gateway has no such payment: the state stays, the watch is cleared) - as the watch
        # would have said three minutes later
        wait_for(lambda: self.entry(mtid)[3] == 0, 15, "the watch query")
        self.assertEqual(self.entry(mtid)[1], 9, "still FAILED")
        # (the sandbox's own notification of the decline, F, agrees: row N6)
        note = self.w.rows("SELECT note FROM notices WHERE key = ? AND result_status = 'S'", mtid)[0][0]
        self.assertTrue(note.startswith("N5"), note)
        # the decline made no query (row P12): this one is the watch's
        self.assertEqual(len(self.w.sandbox_lines(r"offline\.payQuery ")), 1, "the watch query was made")
        self.assertRegex(self.w.read_notify_log(), r"S SUCCESS\): N5, APPLIED; entry \d+ FAILED \(row W3\)")

    def test_an_amount_mismatch_ends_needs_attention(self):
        # a resolving pay holds the lease: it applies the notification itself, within 250 ms
        p = subprocess.Popen([os.path.join(BIN, "aop"), "pay", "--amount", "300", "--currency", "USD", "--code",
                              PAYING, "--json", "--query-budget", "60", *self.w.gw()], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=self.w.env)
        mtid = wait_for(lambda: self.w.rows("SELECT key FROM entries"), 10, "the entry")[0][0]
        t0 = time.monotonic()
        status, _ = self.w.post(self.w.notification(mtid, amount="999"))
        self.assertEqual(status, 200)
        out, err = p.communicate(timeout=30)
        elapsed = time.monotonic() - t0
        self.assertEqual(p.returncode, 2, err)
        res = json.loads(out)
        self.assertEqual(res["outcome"], "NEEDS_ATTENTION")
        self.assertEqual(res["row"], "N7")
        self.assertLess(elapsed, 5.0, "the holder looks every 250 ms, not at its next query (5 s)")
        self.assertEqual(self.entry(mtid)[1], 7)

    def test_a_failure_notification_makes_the_query_due_now_and_the_query_decides(self):
        # the receiver makes the queries itself (--gateway); the entry is open and nobody holds it
        self.w.stop_notify()
        self.w.start_notify(gateway=self.w.url)
        rc, res, _, err = self.w.pay(CLOSES, "--no-resolve")
        self.assertEqual(rc, 2, err)
        mtid = res["merchantTransId"]
        self.assertEqual(self.entry(mtid)[1], 6, "UNRESOLVED: one call only")
        # the sandbox closes it 0.3 s later and sends F ORDER_IS_CLOSED: row N10, then the
        # receiver's query finds it CLOSED (row Q9): FAILED, decided by the query, not the notification
        wait_for(lambda: self.entry(mtid)[1] == 9, 15, "FAILED")
        note = self.w.rows("SELECT note FROM notices WHERE key = ?", mtid)[0][0]
        self.assertTrue(note.startswith("N10"), note)
        self.assertEqual(len(self.w.sandbox_lines(r"offline\.payQuery ")), 1)
        self.assertRegex(self.w.read_notify_log(), r"F ORDER_IS_CLOSED\): N10, APPLIED; entry \d+ FAILED \(row Q9\)")

    def test_a_success_without_its_amount_makes_the_query_due_now_and_the_query_decides(self):
        # no notification of the sandbox's own: the one posted here is the only one
        self.w.close()
        self.w = World(notify_url=False)
        self.w.stop_notify()
        self.w.start_notify(gateway=self.w.url)
        rc, res, _, err = self.w.pay(IN_PROCESS, "--no-resolve")
        self.assertEqual(rc, 2, err)
        mtid = res["merchantTransId"]
        _, state, _, _, acq = self.entry(mtid)
        self.assertEqual((state, bool(acq)), (6, True), "UNRESOLVED (one call only), its acquirementId trusted")
        time.sleep(0.4)  # the sandbox's payment is SUCCESS from 0.3 s on
        # SUCCESS, but without orderAmount: nothing to check the amount by, so it decides nothing
        # itself (row N8); the receiver's query finds the payment paid
        status, _ = self.w.post(self.w.notification(mtid, amount=None, acq=acq))
        self.assertEqual(status, 200)
        wait_for(lambda: self.entry(mtid)[1] == 8, 15, "PAID")
        note = self.w.rows("SELECT note FROM notices WHERE key = ?", mtid)[0][0]
        self.assertTrue(note.startswith("N8"), note)
        self.assertEqual(len(self.w.sandbox_lines(r"offline\.payQuery ")), 1, "the query decided")
        self.assertRegex(self.w.read_notify_log(), r"S SUCCESS\): N8, APPLIED; entry \d+ PAID \(row Q\d+\)")

    def test_a_cancel_is_noted_durably_before_it_leaves(self):
        rc, res, _, err = self.w.pay(PAYING, "--first-poll", "0.1", "--poll-interval", "0.2", "--query-budget", "1",
                                     "--cancel-margin", "0.2", "--timeout", "1")
        self.assertEqual(rc, 1, err)
        self.assertEqual(res["outcome"], "CANCELLED")
        self.assertEqual(self.w.rows("SELECT cancel_sent FROM entries WHERE key = ?", res["merchantTransId"]), [(1,)])
        # a paid payment never had one
        rc, res, _, err = self.w.pay(PAYS)
        self.assertEqual(self.w.rows("SELECT cancel_sent FROM entries WHERE key = ?", res["merchantTransId"]), [(0,)])

    def test_a_receiver_killed_while_answering_loses_nothing(self):
        self.w.stop_notify()
        self.w.start_notify(env={"AOP_NOTIFY_TEST_KILL_BEFORE_ANSWER": "1"})
        rc, res, _, err = self.w.pay(PAYS)
        self.assertEqual(rc, 0, err)
        mtid = res["merchantTransId"]
        # recorded durably, then killed before the answer
        self.assertEqual(self.w.notify.wait(timeout=15), -signal.SIGKILL)
        self.w.notify_out.close()
        self.assertEqual(self.w.rows("SELECT deliveries FROM notices WHERE key = ?", mtid), [(1,)])
        # the sandbox got no answer and sends again; a new receiver on the same port records it once
        self.w.start_notify()
        wait_for(lambda: self.w.rows("SELECT deliveries FROM notices WHERE key = ?", mtid) == [(2,)], 15,
                 "the second delivery")
        wait_for(lambda: self.w.sandbox_lines(r"notify\.pay of " + mtid + r" .*-> S SUCCESS \(signed\)"), 10,
                 "the signed S / SUCCESS answer to the second delivery")
        self.assertEqual(self.w.rows("SELECT count(*) FROM notices WHERE key = ?", mtid), [(1,)])
        wait_for(lambda: self.w.rows("SELECT state, note FROM notices WHERE key = ?", mtid)[0][0] == 2, 10,
                 "applied")
        self.assertEqual(self.entry(mtid)[1], 8, "PAID (by its pay's answer; the notification agrees: N6)")
        self.assertEqual(self.w.stop_notify(), 0, "a graceful stop on SIGTERM")


class Door(unittest.TestCase):
    """What reaches aop-notify before any notification is judged: TLS off loopback, the path, the
    method, the size."""

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="aop-notify-door-")
        self.key = copy_key(self.home, DATA, "merchant.pkcs8.pem")
        self.argv = [os.path.join(BIN, "aop-notify"), "--journal", os.path.join(self.home, "j.db"), "--private-key",
                     self.key, "--alipay-public-key", os.path.join(DATA, "gateway.spki.pem")]
        self.env = dict(os.environ, HOME=self.home)

    def tearDown(self):
        shutil.rmtree(self.home, ignore_errors=True)

    def test_tls_is_required_off_loopback_and_served_with_it(self):
        p = subprocess.run([*self.argv, "--listen", "0.0.0.0:0"], capture_output=True, text=True, env=self.env,
                           timeout=30)
        self.assertEqual(p.returncode, 64, p.stderr)
        self.assertIn("--tls-cert", p.stderr)
        cert, tkey = os.path.join(self.home, "cert.pem"), os.path.join(self.home, "tls.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", tkey, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
        log = open(os.path.join(self.home, "notify.log"), "w+")
        d = subprocess.Popen([*self.argv, "--listen", "127.0.0.1:0", "--path", "/n", "--tls-cert", cert, "--tls-key",
                              tkey], stderr=log, env=self.env)
        try:
            line = notify_listening(log.name)
            self.assertIn(", path /n, TLS", line.group(0))
            n = int(line.group(1))
            ctx = ssl.create_default_context(cafile=cert)
            ctx.check_hostname = False

            def call(path, method="POST", body=b"{}"):
                req = urllib.request.Request(f"https://127.0.0.1:{n}{path}", data=body if method == "POST" else None,
                                             method=method, headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
                        return r.status
                except urllib.error.HTTPError as e:
                    return e.code
            self.assertEqual(call("/n"), 400, "served over TLS; an unsigned body is refused")
            self.assertEqual(call("/other"), 404)
            self.assertEqual(call("/n", "GET"), 405)
            self.assertEqual(call("/n", body=b"x" * 20000), 413)
            with self.assertRaises(Exception):  # plain HTTP gets no answer from a TLS server
                urllib.request.urlopen(f"http://127.0.0.1:{n}/n", data=b"{}", timeout=5)
        finally:
            d.send_signal(signal.SIGTERM)
            self.assertEqual(d.wait(timeout=20), 0)
            log.close()


if __name__ == "__main__":
    BIN, DATA = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], *sys.argv[3:]], verbosity=2)
