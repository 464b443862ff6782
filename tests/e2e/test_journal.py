# SPDX-License-Identifier: MIT
"""The journal through the real `aop` against a real `aop-sandbox`: an entry edited by hand is never
sent and `aop journal` marks it; an unsafe journal file is refused with the fix; a row nobody can
read stops nothing else; `aop journal prune` and `aop journal backup`; and one `aop pay` makes one
sync (counted with strace).

    python3 tests/e2e/test_journal.py BIN_DIR DATA_DIR"""
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
from e2e_world import copy_key, kill_sandbox, start_sandbox  # noqa: E402
BIN = DATA = None
PAYING = "281000000000003001"  # PAYMENT_IN_PROCESS, PAYING until a cancel closes it
FAST = ["--first-poll", "0.1", "--poll-interval", "0.2", "--query-budget", "1", "--cancel-margin", "0.2",
        "--cancel-budget", "2", "--timeout", "1"]


class World:
    """A HOME, the test keys in the modes aop wants, a sandbox gateway and a journal."""

    def __init__(self):
        self.home = tempfile.mkdtemp(prefix="aop-journal-e2e-")
        self.env = dict(os.environ, HOME=self.home)
        self.key = self.copy("merchant.pkcs8.pem")
        self.gwkey = self.copy("gateway.pkcs8.pem")
        self.journal = os.path.join(self.home, "journal.db")
        self.log = open(os.path.join(self.home, "sandbox.log"), "w+")
        self.sandbox, self.url = start_sandbox(BIN, DATA, self.gwkey, self.log, "--in-process-seconds", "0.3",
                                               "--delay-seconds", "2")

    def copy(self, name):
        return copy_key(self.home, DATA, name)

    def gw(self):
        return ["--gateway", self.url, "--private-key", self.key, "--alipay-public-key",
                os.path.join(DATA, "gateway.spki.pem"), "--journal", self.journal]

    def aop(self, *argv, prefix=(), env=None):
        p = subprocess.run([*prefix, os.path.join(BIN, "aop"), *argv], capture_output=True, text=True,
                           env=dict(self.env, **(env or {})), timeout=120)
        return p.returncode, p.stdout, p.stderr

    def requests(self):
        """The calls the sandbox logged so far (one line each)."""
        self.log.flush()
        with open(self.log.name) as f:
            return [line for line in f if re.search(r"offline\.pay|payQuery|payCancel|refund", line)]

    def sql(self, statement, *args):
        db = sqlite3.connect(self.journal)
        db.execute(statement, args)
        db.commit()
        db.close()

    def close(self):
        kill_sandbox(self.sandbox)
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


class Journal(unittest.TestCase):
    def setUp(self):
        self.w = World()

    def tearDown(self):
        self.w.close()

    def open_payment(self, code=PAYING):
        rc, out, err = self.w.aop("pay", "--amount", "300", "--currency", "USD", "--code", code, "--no-resolve",
                                  "--json", *self.w.gw())
        self.assertEqual(rc, 2, out + err)
        mtid = json.loads(out)["merchantTransId"]
        return [e["id"] for e in self.journal() if e.get("merchantTransId") == mtid][0]

    def journal(self, *extra):
        rc, out, err = self.w.aop("journal", "--json", "--journal", self.w.journal, *extra)
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def test_an_entry_edited_by_hand_is_never_sent_and_is_marked(self):
        edited, kept = self.open_payment(), self.open_payment()
        # the acquirementId queries and cancels would go by, and the amount: another payment's
        self.w.sql("UPDATE entries SET acquirement_id = 'ACQ-OF-SOMEONE-ELSE', amount = '900' WHERE id = ?", edited)
        # and a row written by hand, with no MAC at all
        self.w.sql("INSERT INTO entries (kind, function, merchant_id, key, payment_acquirement_id, amount, currency,"
                   " gateway, client_id, state, last_status, last_code, acquirement_id, created_ms, last_attempt_ms,"
                   " updated_ms, pay_started_ms, pay_deadline_ms, attempts, acknowledged, watch, watch_due_ms,"
                   " lease_owner, lease_expires_ms, epoch, note, request) SELECT kind, function, merchant_id,"
                   " 'FORGED-1', '', amount, currency, gateway, client_id, 6, '', '', '', 0, 0, 0, 0, 15000, 0, 0, 0,"
                   " 0, '', 0, 1, '', request FROM entries WHERE id = ?", kept)
        marks = {e["id"]: e.get("mac") for e in self.journal("--private-key", self.w.key)}
        self.assertEqual(marks[edited], "altered")
        self.assertEqual(marks[kept], "ok")
        self.assertEqual(sorted(marks.values()), ["altered", "none", "ok"])
        rc, out, err = self.w.aop("journal", "--journal", self.w.journal, "--private-key", self.w.key)
        self.assertIn("[ALTERED: never sent, a person checks it]", out)
        self.assertNotIn("mac", json.dumps(self.journal()), "without the key nothing is checked")
        before = len(self.w.requests())
        rc, out, err = self.w.aop("recover", "--json", *FAST, *self.w.gw())
        results = {r["id"]: r for r in json.loads(out) if "outcome" in r}
        self.assertEqual(results[edited]["outcome"], "NEEDS_ATTENTION", out)
        self.assertIn("the journal entry was altered", json.dumps(results[edited]))
        forged = [r for i, r in results.items() if i not in (edited, kept)]
        self.assertEqual([r["outcome"] for r in forged], ["NEEDS_ATTENTION"], out)
        self.assertEqual(results[kept]["outcome"], "CANCELLED", out)
        sent = self.w.requests()[before:]
        self.assertFalse([line for line in sent if "ACQ-OF-SOMEONE-ELSE" in line or "FORGED-1" in line], sent)
        self.assertTrue(sent, "the entry nobody altered was worked on")
        states = {e["id"]: e["state"] for e in self.journal("--all")}
        self.assertEqual(states[edited], "NEEDS_ATTENTION")

    def test_an_unsafe_journal_file_is_refused_with_the_fix(self):
        self.open_payment()
        os.chmod(self.w.journal, 0o666)
        rc, out, err = self.w.aop("journal", "--journal", self.w.journal)
        self.assertEqual(rc, 78, err)
        self.assertIn("chmod 600", err)
        rc, out, err = self.w.aop("pay", "--amount", "100", "--currency", "USD", "--code", PAYING, *self.w.gw())
        self.assertEqual(rc, 78, err)
        self.assertIn("nothing was sent", err)
        os.chmod(self.w.journal, 0o600)
        link = os.path.join(self.w.home, "link.db")
        os.symlink(self.w.journal, link)
        rc, out, err = self.w.aop("journal", "--journal", link)
        self.assertEqual(rc, 78, err)
        self.assertIn("symbolic link", err)

    def test_an_unreadable_row_stops_nothing_else(self):
        bad, good = self.open_payment(), self.open_payment()
        self.w.sql("UPDATE entries SET note = hex(zeroblob(200)) WHERE id = ?", bad)
        listed = self.journal()
        self.assertEqual([(e["id"], e.get("unreadable", False)) for e in listed], [(bad, True), (good, False)])
        self.assertIn("note is 400 bytes", listed[0]["error"])
        rc, out, err = self.w.aop("journal", "--journal", self.w.journal)
        self.assertRegex(out, rf"(?m)^{bad}\s+UNREADABLE")
        rc, out, err = self.w.aop("recover", "--json", *FAST, *self.w.gw())
        self.assertEqual(rc, 2, "the unreadable entry is still open: " + err)
        results = {r["id"]: r for r in json.loads(out)}
        self.assertIn("cannot be read", json.dumps(results[bad]))
        self.assertEqual(results[good]["outcome"], "CANCELLED", out)
        rc, out, err = self.w.aop("journal", "close", str(bad), "--as", "FAILED", "--note", "x", "--journal",
                                  self.w.journal)
        self.assertEqual(rc, 78, err)
        self.assertIn(f"entry {bad} cannot be read", err)

    def test_prune_removes_old_final_entries_and_backup_copies_the_journal(self):
        paid = self.w.aop("pay", "--amount", "100", "--currency", "USD", "--code", "28763443825664394", "--json",
                          *self.w.gw())
        self.assertEqual(paid[0], 0, paid[2])
        still = self.open_payment()
        backup = os.path.join(self.w.home, "copy.db")
        rc, out, err = self.w.aop("journal", "backup", backup, "--journal", self.w.journal)
        self.assertEqual(rc, 0, err)
        self.assertEqual(os.stat(backup).st_mode & 0o777, 0o600)
        rc, out, err = self.w.aop("journal", "backup", backup, "--journal", self.w.journal)
        self.assertEqual(rc, 78, "a backup never replaces a file: " + err)
        rc, out, err = self.w.aop("journal", "prune", "--before", "2000-01-01", "--json", "--journal", self.w.journal)
        self.assertEqual((rc, json.loads(out)["removed"]), (0, 0), err)
        tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
        rc, out, err = self.w.aop("journal", "prune", "--before", tomorrow, "--journal", self.w.journal)
        self.assertEqual(rc, 0, err)
        self.assertIn("removed 1 final entry", out)
        self.assertEqual([e["id"] for e in self.journal("--all")], [still], "the open entry stays")
        self.assertEqual(len(json.loads(self.w.aop("journal", "--all", "--json", "--journal", backup)[1])), 2,
                         "the backup has both")
        rc, out, err = self.w.aop("journal", "prune", "--before", "yesterday", "--journal", self.w.journal)
        self.assertEqual(rc, 64, err)
        self.assertIn("--before", err)

    def test_one_pay_makes_one_sync(self):
        strace = shutil.which("strace")
        self.assertIsNotNone(strace, "strace is installed by scripts/deps.sh")
        self.open_payment()  # the journal exists, as a till's does
        trace = os.path.join(self.w.home, "trace")
        rc, out, err = self.w.aop("pay", "--amount", "100", "--currency", "USD", "--code", "28763443825664394",
                                  *self.w.gw(), prefix=(strace, "-f", "-qq", "-e", "trace=fsync,fdatasync,sync_file_range",
                                                        "-o", trace),
                                  # LeakSanitizer cannot run under ptrace (the sanitizer build)
                                  env={"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"})
        self.assertEqual(rc, 0, err)
        with open(trace) as f:
            syncs = [line for line in f if re.search(r"\b(fsync|fdatasync|sync_file_range)\(", line)]
        self.assertEqual(len(syncs), 1, "".join(syncs))


if __name__ == "__main__":
    BIN, DATA = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"])
