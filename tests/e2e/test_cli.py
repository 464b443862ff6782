# SPDX-License-Identifier: MIT
"""End-to-end tests: the real `aop` binary against the real sandbox gateway over HTTP.

Run by CTest: test_cli.py BIN_DIR DATA_DIR. Each test gets a fresh HOME, so zero-configuration
mode creates its own ~/.aop (demo keys, sandbox state)."""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True
BIN = DATA = None
CODE = "28763443825664394"


class Run:
    def __init__(self, proc, elapsed):
        self.rc, self.out, self.err, self.elapsed = proc.returncode, proc.stdout, proc.stderr, elapsed

    @property
    def json(self):
        return json.loads(self.out)


class CliCase(unittest.TestCase):
    def setUp(self):
        self.home = tempfile.TemporaryDirectory(prefix="aop-e2e-")
        self.env = dict(os.environ, HOME=self.home.name)

    def tearDown(self):
        self.home.cleanup()

    def aop(self, *args, stdin=None, env=None, timeout=60):
        start = time.monotonic()
        p = subprocess.run([os.path.join(BIN, "aop"), *args], input=stdin, capture_output=True, text=True,
                           env=env or self.env, timeout=timeout)
        return Run(p, time.monotonic() - start)

    def private_key(self, name):
        """A copy of DATA/name with mode 0600: git checks tests/data out 0644, which aop refuses
        for a private key of ours."""
        path = os.path.join(self.home.name, "key-" + name)
        if not os.path.exists(path):
            shutil.copyfile(os.path.join(DATA, name), path)
            os.chmod(path, 0o600)
        return path

    def pay(self, *extra, amount="100", code=CODE):
        """One call (--no-resolve): what the scenario table's status and exitCode describe. The
        resolving pay is tested in test_faults.py."""
        return self.aop("pay", "--amount", amount, "--currency", "USD", "--code", code, "--json", "--no-resolve",
                        *extra)


class ZeroConfig(CliCase):
    def test_a_postgresql_journal_without_its_store_is_a_configuration_error_that_says_why(self):
        # libaop alone in a directory: the store's module is neither beside it nor on the path
        lib = os.path.join(self.home.name, "lib")
        os.mkdir(lib)
        libaop = sorted(glob.glob(os.path.join(BIN, "..", "libaop.so.[0-9]")))
        self.assertEqual(len(libaop), 1, libaop)
        shutil.copy(libaop[0], lib)
        env = dict(self.env, LD_LIBRARY_PATH=lib)
        r = self.aop("journal", "--journal", "postgresql://aop@/aop", env=env)
        self.assertEqual(r.rc, 78, r.err)
        self.assertIn("not installed beside libaop", r.err)
        # a module that is there but cannot be loaded (its own libraries missing) says so
        with open(os.path.join(lib, "libaop-journal-pg.so.0"), "w") as f:
            f.write("not a shared object")
        r = self.aop("journal", "--journal", "postgresql://aop@/aop", env=env)
        self.assertEqual(r.rc, 78, r.err)
        self.assertIn("the PostgreSQL store cannot be loaded", r.err)
        self.assertNotIn("not installed", r.err)

    def test_success_is_verified(self):
        r = self.pay()
        self.assertEqual(r.rc, 0, r.err)
        j = r.json
        self.assertEqual((j["status"], j["resultCode"], j["verified"], j["outcomeKnown"]), ("S", "SUCCESS", True, True))
        self.assertTrue(j["acquirementId"])
        self.assertEqual(j["warnings"], [])
        self.assertIn(j["merchantTransId"], r.err, "the generated id is printed to stderr before sending")
        self.assertEqual(os.stat(os.path.join(self.home.name, ".aop")).st_mode & 0o777, 0o700)

    def test_human_output_marks_the_local_sandbox(self):
        r = self.aop("pay", "--amount", "100", "--currency", "USD", "--code", CODE, "--no-resolve")
        self.assertEqual(r.rc, 0, r.err)
        self.assertRegex(r.out, r"^S SUCCESS \(verified, local sandbox\)")
        r = self.aop("pay", "--amount", "100", "--currency", "USD", "--code", CODE)
        self.assertEqual(r.rc, 0, r.err)
        self.assertRegex(r.out, r"^PAID \(local sandbox: not real money\)")
        j = self.aop("pay", "--amount", "100", "--currency", "USD", "--code", CODE, "--json").json
        self.assertEqual((j["outcome"], j["status"], j["sandbox"], j["openEntries"]), ("PAID", "S", True, 0))

    def test_identical_repeat_returns_the_same_payment(self):
        a = self.pay("--merchant-trans-id", "e2e-repeat-1").json
        b = self.pay("--merchant-trans-id", "e2e-repeat-1").json
        self.assertEqual(a["status"], "S")
        self.assertEqual(a["acquirementId"], b["acquirementId"])

    def test_changed_amount_is_inconsistent(self):
        self.assertEqual(self.pay("--merchant-trans-id", "e2e-inc-1").rc, 0)
        r = self.pay("--merchant-trans-id", "e2e-inc-1", amount="200")
        self.assertEqual(r.rc, 1, r.out)
        self.assertEqual((r.json["status"], r.json["resultCode"]), ("F", "REPEAT_REQ_INCONSISTENT"))

    def test_refund_above_the_paid_amount_fails(self):
        acq = self.pay("--merchant-trans-id", "e2e-ref-1").json["acquirementId"]
        ok = self.aop("refund", "--acquirement-id", acq, "--amount", "60", "--currency", "USD", "--json")
        self.assertEqual(ok.rc, 0, ok.out + ok.err)
        over = self.aop("refund", "--acquirement-id", acq, "--amount", "41", "--currency", "USD", "--json")
        self.assertEqual(over.rc, 1, over.out)
        self.assertEqual(over.json["status"], "F")

    def test_cancel_of_a_paid_payment_reverses_it(self):
        self.assertEqual(self.pay("--merchant-trans-id", "e2e-cancel-1").rc, 0)
        c = self.aop("cancel", "--merchant-trans-id", "e2e-cancel-1", "--json")
        self.assertEqual(c.rc, 0, c.out + c.err)
        q = self.aop("query", "--merchant-trans-id", "e2e-cancel-1", "--json")
        self.assertEqual(q.json["acquirementStatus"], "CANCELLED")

    def test_concurrent_identical_pays_make_one_transaction(self):
        results = [None] * 6

        def one(i):  # a journal each: this is the gateway's idempotency, not the journal's lease
            results[i] = self.pay("--merchant-trans-id", "e2e-concurrent-1",
                                  "--journal", os.path.join(self.home.name, f"journal-{i}.db"))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(results))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids = {r.json["acquirementId"] for r in results}
        self.assertEqual([r.rc for r in results], [0] * len(results), [r.err for r in results])
        self.assertEqual(len(ids), 1, ids)

    def test_code_from_stdin_never_printed(self):
        secret = "281234567890123456"
        r = self.aop("pay", "--amount", "100", "--currency", "USD", "--code", "-", "--json", stdin=secret + "\n")
        self.assertEqual(r.rc, 0, r.err)
        self.assertNotIn(secret, r.out + r.err)

    def test_every_scenario_row(self):
        rows = json.loads(self.aop("sandbox", "--scenarios", "--json").out)
        self.assertGreaterEqual(len(rows), 19)
        for row in rows:
            with self.subTest(row=row["identityCode"], behaviour=row["behaviour"]):
                r = self.pay("--timeout", "3", code=row["identityCode"])
                self.assertEqual(r.rc, row["exitCode"], r.out + r.err)
                self.assertEqual(r.json["status"], row["status"])
                self.assertLessEqual(r.elapsed, 3 + 1 + 2, "deadline kept (+1 s slack, +2 s process start)")
                if row["status"] != "S":
                    self.assertNotEqual(r.json["status"], "S")


class Usage(CliCase):
    def test_help_exits_zero(self):
        for cmd in ("pay", "query", "cancel", "refund", "keygen", "keycheck", "sandbox"):
            self.assertEqual(self.aop(cmd, "--help").rc, 0, cmd)
        self.assertEqual(self.aop("--help").rc, 0)

    def test_bad_usage_is_64_and_sends_nothing(self):
        self.assertEqual(self.aop("pay", "--amount", "100").rc, 64)
        self.assertEqual(self.aop("pay", "--amount", "01", "--currency", "USD", "--code", CODE).rc, 64)
        self.assertEqual(self.aop("query").rc, 64)
        self.assertEqual(self.aop("frobnicate").rc, 64)
        self.assertFalse(os.path.exists(os.path.join(self.home.name, ".aop", "sandbox.db")))

    def test_home_unset_is_78(self):
        env = {k: v for k, v in self.env.items() if k != "HOME"}
        r = self.aop("pay", "--amount", "100", "--currency", "USD", "--code", CODE, env=env)
        self.assertEqual(r.rc, 78, r.err)
        self.assertIn("HOME", r.err)

    def test_gateway_without_keys_is_78(self):
        self.assertEqual(self.aop("pay", "--amount", "1", "--currency", "USD", "--code", CODE,
                                  "--gateway", "https://open-sea.alipay.com").rc, 78)

    def test_keygen_and_keycheck(self):
        out = os.path.join(self.home.name, "keys")
        os.mkdir(out)
        self.assertEqual(self.aop("keygen", "--out", out).rc, 0)
        self.assertEqual(os.stat(os.path.join(out, "private.pem")).st_mode & 0o777, 0o600)
        self.assertEqual(self.aop("keygen", "--out", out).rc, 78, "refuses to replace a key")
        self.assertEqual(self.aop("keycheck", "--private-key", os.path.join(out, "private.pem")).rc, 0)
        own = self.aop("keycheck", "--private-key", os.path.join(out, "private.pem"),
                       "--alipay-public-key", os.path.join(out, "public.pem"))
        self.assertEqual(own.rc, 78)


class Files(CliCase):
    """Key, CA and home-directory files: every mistake is exit 78 (nothing sent) naming the fix."""

    def gw(self, key, ca=None):
        args = ["--gateway", "https://127.0.0.1:9", "--private-key", key,
                "--alipay-public-key", os.path.join(DATA, "gateway.spki.pem"), "--timeout", "3"]
        return args + (["--ca-file", ca] if ca else [])

    def test_lax_private_key_mode_is_78_with_the_fix(self):
        key = self.private_key("merchant.pkcs8.pem")
        os.chmod(key, 0o644)
        r = self.pay(*self.gw(key))
        self.assertEqual(r.rc, 78, r.out + r.err)
        self.assertIn("0644", r.err)
        self.assertIn(f"chmod 600 '{key}'", r.err)
        k = self.aop("keycheck", "--private-key", key)
        self.assertEqual(k.rc, 78, k.err)
        self.assertIn("chmod 600", k.err)

    def test_fifo_as_key_is_78_without_hanging(self):
        fifo = os.path.join(self.home.name, "key.fifo")
        os.mkfifo(fifo, 0o600)
        r = self.pay(*self.gw(fifo), )
        self.assertEqual(r.rc, 78, r.out + r.err)
        self.assertIn("FIFO", r.err)
        self.assertLess(r.elapsed, 10)

    def test_bad_ca_file_is_78_not_unknown(self):
        key = self.private_key("merchant.pkcs8.pem")
        notcert = os.path.join(self.home.name, "notcert.pem")
        with open(notcert, "w") as f:
            f.write("hello\n")
        for ca, why in ((os.path.join(self.home.name, "missing.pem"), "No such file"),
                        (self.home.name, "a directory"), (notcert, "no PEM certificate")):
            with self.subTest(ca=ca):
                r = self.pay(*self.gw(key, ca))
                self.assertEqual(r.rc, 78, r.out + r.err)
                self.assertIn("ca_file", r.err)
                self.assertIn(why, r.err)
        # A real certificate is accepted: the call is then attempted (nothing listens: exit 2).
        cert = os.path.join(self.home.name, "ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        os.path.join(self.home.name, "ca.key"), "-subj", "/CN=t", "-days", "1", "-out", cert],
                       check=True, capture_output=True)
        r = self.pay(*self.gw(key, cert))
        self.assertEqual(r.rc, 2, r.out + r.err)

    def test_lax_aop_home_is_78_with_the_fix(self):
        home = os.path.join(self.home.name, ".aop")
        os.mkdir(home, 0o700)
        os.chmod(home, 0o755)
        r = self.pay()
        self.assertEqual(r.rc, 78, r.out + r.err)
        self.assertIn("0755", r.err)
        self.assertIn(f"chmod 700 '{home}'", r.err)
        self.assertFalse(os.path.exists(os.path.join(home, "merchant.pem")), "no key written into it")

    def test_keygen_refuses_an_empty_directory(self):
        r = self.aop("keygen", "--out", "")
        self.assertEqual(r.rc, 64, r.err)
        self.assertIn("empty", r.err)
        self.assertFalse(os.path.exists("/private.pem"))


class StandaloneSandbox(CliCase):
    def start(self, state):
        p = subprocess.Popen([os.path.join(BIN, "aop-sandbox"), "--port", "0", "--state", state,
                              "--key", self.private_key("gateway.pkcs8.pem"),
                              "--merchant-public-key", os.path.join(DATA, "merchant.spki.pem")],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = p.stdout.readline()
        m = re.search(r"127\.0\.0\.1:(\d+)", line)
        self.assertIsNotNone(m, line)
        return p, f"http://127.0.0.1:{m.group(1)}"

    def gw(self, url):
        return ("--gateway", url, "--private-key", self.private_key("merchant.pkcs8.pem"),
                "--alipay-public-key", os.path.join(DATA, "gateway.spki.pem"))

    def test_sigkill_keeps_committed_transactions(self):
        state = os.path.join(self.home.name, "state.db")
        p, url = self.start(state)
        try:
            ids = []
            for i in range(3):
                r = self.pay("--merchant-trans-id", f"e2e-kill-{i}", *self.gw(url))
                self.assertEqual(r.rc, 0, r.out + r.err)
                ids.append(r.json["acquirementId"])
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
        p, url = self.start(state)
        try:
            for i in range(3):
                q = self.aop("query", "--merchant-trans-id", f"e2e-kill-{i}", "--json", *self.gw(url))
                self.assertEqual((q.json["status"], q.json["acquirementStatus"], q.json["acquirementId"]),
                                 ("S", "SUCCESS", ids[i]))
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()

    def test_both_sign_types(self):
        p, url = self.start(os.path.join(self.home.name, "s.db"))
        try:
            for st in ("RSA2", "RSA"):
                r = self.pay("--sign-type", st, *self.gw(url))
                self.assertIn(r.rc, (0, 2), r.err)
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()

    def test_known_gateway_without_its_prefix_is_78(self):
        r = self.pay("--gateway", "https://open-sea.alipay.com", "--private-key", self.private_key("merchant.pkcs8.pem"),
                     "--alipay-public-key", os.path.join(DATA, "gateway.spki.pem"))
        self.assertEqual(r.rc, 78, r.err)
        self.assertIn("use https://open-sea.alipay.com/api", r.err)

    def test_example_reads_a_member_the_schema_lacks(self):
        p, url = self.start(os.path.join(self.home.name, "s.db"))
        try:
            ex = os.path.join(BIN, "read_unknown_member")
            keys = (self.private_key("merchant.pkcs8.pem"), os.path.join(DATA, "gateway.spki.pem"))
            r = subprocess.run([ex, url, *keys], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "body.sandboxNote (string) = a member the schema does not define\n")
            r = subprocess.run([ex, url, *keys, "body.noSuchMember"], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("no such member", r.stderr)
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()

    def test_examples_pay_and_refund(self):
        p, url = self.start(os.path.join(self.home.name, "s.db"))
        try:
            keys = (self.private_key("merchant.pkcs8.pem"), os.path.join(DATA, "gateway.spki.pem"))
            journal = os.path.join(self.home.name, "examples.db")
            pay = os.path.join(BIN, "pos_pay")
            # The code from standard input; PAID, with the acquirementId on standard output.
            r = subprocess.run([pay, url, *keys, journal, "100", "USD", "-"], input="28763443825664394\n",
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            m = re.fullmatch(r"PAID merchantTransId=(\S+) acquirementId=(\S+)\n", r.stdout)
            self.assertIsNotNone(m, r.stdout)
            self.assertIn("merchantTransId " + m.group(1), r.stderr)
            acq = m.group(2)
            # A decline is FAILED, exit 1; a bad amount is refused before anything is sent (64).
            r = subprocess.run([pay, url, *keys, journal, "100", "USD", "281000000000001002"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual((r.returncode, r.stdout.split(" ")[0]), (1, "FAILED"), r.stdout + r.stderr)
            r = subprocess.run([pay, url, *keys, journal, "-5", "USD", "28763443825664394"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 64, r.stdout + r.stderr)
            self.assertIn("not sent", r.stderr)
            r = subprocess.run([pay, url, *keys, "/nonexistent/dir/j.db", "100", "USD", "28763443825664394"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 78, r.stdout + r.stderr)
            # The refund of the payment, then its retry with the same merchantRefundId.
            ref = os.path.join(BIN, "refund")
            r = subprocess.run([ref, url, *keys, journal, acq, "40", "USD", "e2e-example-refund"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, f"REFUNDED merchantRefundId=e2e-example-refund acquirementId={acq}\n")
            r = subprocess.run([ref, url, *keys, journal, acq, "40", "USD"], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith("REFUNDED merchantRefundId="), r.stdout)
            r = subprocess.run([ref, url, *keys, journal, acq], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 64, r.stderr)
            # Nothing is left open in the journal.
            j = self.aop("journal", "--journal", journal, "--json")
            self.assertEqual(j.rc, 0, j.err)
            self.assertEqual(j.json, [], j.out)
            # SIGINT while the payment is in process: 130, and the entry stays open (not FAILED).
            ex = subprocess.Popen([pay, url, *keys, journal, "100", "USD", "281000000000003001"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            seen = []
            for line in ex.stderr:
                seen.append(line)
                if "waiting for the customer" in line:
                    break
            ex.send_signal(signal.SIGINT)
            out, err = ex.communicate(timeout=60)
            self.assertEqual(ex.returncode, 130, "".join(seen) + err)
            self.assertEqual(out, "")
            self.assertIn("stays open", err)
            j = self.aop("journal", "--journal", journal, "--json")
            self.assertEqual(len(j.json), 1, j.out)
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()


if __name__ == "__main__":
    BIN, DATA = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"])
