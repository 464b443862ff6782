# SPDX-License-Identifier: MIT
"""The mistakes a person makes with `aop`, as a table: for each, the command, the exit status it
must end with, and words its message must hold, so the table can be re-run by anyone:

    python3 tests/e2e/test_mistakes.py BIN_DIR DATA_DIR            # the test (CTest runs it)
    AOP_MISTAKES_TABLE=1 python3 tests/e2e/test_mistakes.py ...    # also prints the table

Each case runs the real `aop` with a fresh HOME, against a real `aop-sandbox` (RSA2, the test
keys) where it needs a gateway, with a fast policy; nothing else is mocked."""
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
import time
import unittest

sys.dont_write_bytecode = True
BIN = DATA = None
CODE = "28763443825664394"
FAST = ["--timeout", "1", "--first-poll", "0.1", "--poll-interval", "0.2", "--query-budget", "1",
        "--cancel-margin", "0.2", "--cancel-budget", "2"]


class World:
    """A HOME, the test keys in the modes aop wants, and a sandbox gateway."""

    def __init__(self):
        self.home = tempfile.mkdtemp(prefix="aop-mistakes-")
        self.env = dict(os.environ, HOME=self.home)
        self.key = self.copy("merchant.pkcs8.pem", 0o600)
        self.gwkey = self.copy("gateway.pkcs8.pem", 0o600)
        self.alipay = os.path.join(DATA, "gateway.spki.pem")
        self.own_public = os.path.join(DATA, "merchant.spki.pem")
        self.journal = os.path.join(self.home, "journal.db")
        self.sandbox = subprocess.Popen(
            [os.path.join(BIN, "aop-sandbox"), "--port", "0", "--state", os.path.join(self.home, "sandbox.db"),
             "--key", self.gwkey, "--merchant-public-key", self.own_public, "--in-process-seconds", "0.3",
             "--delay-seconds", "2", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        m = re.search(r"127\.0\.0\.1:(\d+)", self.sandbox.stdout.readline())
        assert m, "the sandbox did not start"
        self.port = int(m.group(1))
        self.url = f"http://127.0.0.1:{self.port}"

    def copy(self, name, mode):
        path = os.path.join(self.home, name)
        shutil.copyfile(os.path.join(DATA, name), path)
        os.chmod(path, mode)
        return path

    def file(self, name, text, mode=0o600):
        path = os.path.join(self.home, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def other_public(self):
        """The public half of a fresh key pair: a key that is neither ours nor the gateway's."""
        out = os.path.join(self.home, "other")
        os.makedirs(out, exist_ok=True)
        subprocess.run([os.path.join(BIN, "aop"), "keygen", "--out", out], env=self.env, check=True,
                       capture_output=True)
        return os.path.join(out, "public.pem")

    def gw(self, url=None, key=None, alipay=None):
        return ["--gateway", url or self.url, "--private-key", key or self.key, "--alipay-public-key",
                alipay or self.alipay, "--journal", self.journal]

    def close(self):
        self.sandbox.send_signal(signal.SIGKILL)
        self.sandbox.wait()
        self.sandbox.stdout.close()
        shutil.rmtree(self.home, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pay(*extra, amount="100", currency="USD", code=CODE):
    return ["pay", "--amount", amount, "--currency", currency, "--code", code, *extra]


# (name, a function of the World giving (argv, stdin or None, env changes or None), exit status, words that
# the message (standard error, or output) must hold)
CASES = [
    # ---- usage: nothing is sent (64) ----
    ("no command", lambda w: ([], None, None), 64, ["usage: aop COMMAND"]),
    ("misspelt command", lambda w: (["paay"], None, None), 64, ["unknown command 'paay'"]),
    ("near-miss option", lambda w: (["pay", "--amout", "100"], None, None), 64, ["did you mean --amount?"]),
    ("one dash", lambda w: (["pay", "-amount", "100"], None, None), 64, ["did you mean --amount?"]),
    ("option given twice", lambda w: (pay("--amount", "200"), None, None), 64, ["--amount is given twice"]),
    ("missing --amount", lambda w: (["pay", "--currency", "USD", "--code", CODE], None, None), 64,
     ["--amount is required", "nothing was sent"]),
    ("missing --currency", lambda w: (["pay", "--amount", "100", "--code", CODE], None, None), 64,
     ["--currency is required"]),
    ("missing --code", lambda w: (["pay", "--amount", "100", "--currency", "USD"], None, None), 64,
     ["--code is required"]),
    ("amount in major units", lambda w: (pay(amount="1.00"), None, None), 64, ["give --amount 100"]),
    ("amount with a comma", lambda w: (pay(amount="1,50", currency="EUR"), None, None), 64, ["give --amount 150"]),
    ("five cents", lambda w: (pay(amount="0.05"), None, None), 64, ["give --amount 5"]),
    ("fraction of a yen", lambda w: (pay(amount="100.5", currency="JPY"), None, None), 64,
     ["whole number of minor units"]),
    ("negative amount", lambda w: (pay(amount="-100"), None, None), 64, ["request.body.order.orderAmount.value"]),
    ("zero amount", lambda w: (pay(amount="0"), None, None), 64, ["at least 1 minor unit"]),
    ("letters for an amount", lambda w: (pay(amount="abc"), None, None), 64, ["orderAmount.value"]),
    ("seventeen digits", lambda w: (pay(amount="12345678901234567"), None, None), 64, ["orderAmount.value"]),
    ("empty amount", lambda w: (pay(amount=""), None, None), 64, ["orderAmount.value"]),
    ("unknown currency", lambda w: (pay(currency="XYZ"), None, None), 64, ["not an ISO 4217", "--allow-unknown-currency"]),
    ("lower-case currency", lambda w: (pay(currency="usd"), None, None), 64, ["did you mean USD?"]),
    ("two-letter currency", lambda w: (pay(currency="US"), None, None), 64, ["not an ISO 4217"]),
    ("empty code on standard input", lambda w: (pay(code="-"), "", None), 64, ["identityCode"]),
    ("zero timeout", lambda w: (pay("--timeout", "0"), None, None), 64, ["--timeout must be a number of seconds"]),
    ("timeout in words", lambda w: (pay("--timeout", "ten"), None, None), 64, ["--timeout must be a number"]),
    ("negative poll", lambda w: (pay("--first-poll", "-1"), None, None), 64, ["--first-poll must be"]),
    ("query without an id", lambda w: (["query"], None, None), 64, ["give --merchant-trans-id or --acquirement-id"]),
    ("pay option on query", lambda w: (["query", "--merchant-trans-id", "x", "--amount", "1"], None, None), 64,
     ["--amount does not apply"]),
    ("empty acquirementId", lambda w: (["query", "--acquirement-id", ""], None, None), 64, ["acquirementId"]),
    ("refund without acquirementId", lambda w: (["refund", "--amount", "100", "--currency", "USD"], None, None), 64,
     ["--acquirement-id is required"]),
    ("value missing at the end", lambda w: (["pay", "--amount"], None, None), 64, ["--amount needs a value"]),
    ("stray argument", lambda w: (pay() + ["now"], None, None), 64, ["unexpected argument 'now'"]),
    ("unknown sign type", lambda w: (pay("--sign-type", "RSA3"), None, None), 64, ["--sign-type must be RSA2 or RSA"]),
    ("close without id", lambda w: (["journal", "close", "--as", "PAID", "--note", "x"], None, None), 64,
     ["give the entry's id"]),
    ("close as a made-up state", lambda w: (["journal", "close", "5", "--as", "DONE", "--note", "x"], None, None), 64,
     ["--as must be"]),
    ("close without a note", lambda w: (["journal", "close", "5", "--as", "PAID"], None, None), 64, ["--note TEXT"]),
    ("close a word", lambda w: (["journal", "close", "five", "--as", "PAID", "--note", "x"], None, None), 64,
     ["give the entry's id"]),
    ("close what is not there", lambda w: (["journal", "close", "999", "--as", "PAID", "--note", "x", "--journal",
                                            w.journal], None, None), 64, ["no open journal entry 999"]),
    ("keygen without a place", lambda w: (["keygen"], None, None), 64, ["give --out DIR"]),
    ("keycheck without a key", lambda w: (["keycheck"], None, None), 64, ["--private-key is required"]),
    ("json error object", lambda w: (["pay", "--json", "--amout", "1"], None, None), 64, ['"exitCode":64']),
    # ---- configuration: nothing is sent (78) ----
    ("gateway without keys", lambda w: (pay("--gateway", w.url), None, None), 78, ["give --private-key"]),
    ("gateway without a scheme", lambda w: (pay("--gateway", f"127.0.0.1:{w.port}", "--private-key", w.key,
                                                "--alipay-public-key", w.alipay), None, None), 64,
     ["has no scheme", "http://127.0.0.1"]),
    ("plain http to another host", lambda w: (pay(*w.gw(url="http://example.com")), None, None), 78, ["http"]),
    ("private key not there", lambda w: (pay(*w.gw(key=w.home + "/nope.pem")), None, None), 78, ["nope.pem"]),
    ("public key as private key", lambda w: (pay(*w.gw(key=w.copy("merchant.spki.pem", 0o644))), None, None), 78,
     ["is a public key"]),
    ("lax private key", lambda w: (pay(*w.gw(key=w.copy("merchant.pkcs1.pem", 0o644))), None, None), 78,
     ["chmod 600"]),
    ("private key is a directory", lambda w: (pay(*w.gw(key=w.home)), None, None), 78, ["private"]),
    ("Alipay key not there", lambda w: (pay(*w.gw(alipay=w.home + "/none.pem")), None, None), 78, ["none.pem"]),
    ("own key as Alipay's", lambda w: (pay(*w.gw(alipay=w.own_public)), None, None), 78, ["own"]),
    ("garbage as Alipay's key", lambda w: (pay(*w.gw(alipay=w.file("junk.pem", "hello"))), None, None), 78,
     ["--alipay-public-key"]),
    ("not a CA file", lambda w: (pay(*w.gw(), "--ca-file", w.file("ca.pem", "not a cert")), None, None), 78,
     ["--ca-file"]),
    ("weak key", lambda w: (pay(*w.gw(key=w.copy("weak-1024.pkcs8.pem", 0o600))), None, None), 78, ["2048"]),
    ("encrypted key", lambda w: (pay(*w.gw(key=w.copy("merchant.pkcs8.enc.pem", 0o600))), None, None), 78,
     ["passphrase"]),
    ("HOME unset", lambda w: (pay(), None, {"HOME": None}), 78, ["HOME is not set"]),
    ("lax ~/.aop", lambda w: (os.makedirs(w.home + "/.aop", mode=0o755, exist_ok=True) or
                              os.chmod(w.home + "/.aop", 0o755) or pay(), None, None), 78, ["chmod 700"]),
    ("journal in a missing directory", lambda w: (pay(*w.gw()[:-1], w.home + "/no/such/journal.db"), None, None), 78,
     ["journal"]),
    ("journal is no database", lambda w: (pay(*w.gw()[:-1], w.file("notdb", "x" * 200)), None, None), 78,
     ["not a database"]),
    ("journal is a directory", lambda w: (pay(*w.gw()[:-1], w.home), None, None), 78, ["journal"]),
    # ---- the gateway answers: the words the till reads ----
    ("wrong sign type", lambda w: (pay(*w.gw(), *FAST, "--sign-type", "RSA"), None, None), 2,
     ["--sign-type and --alipay-public-key", "do not hand over the goods"]),
    ("wrong Alipay key", lambda w: (pay(*w.gw(alipay=w.other_public()), *FAST), None, None), 2,
     ["--sign-type and --alipay-public-key"]),
    ("wrong gateway path", lambda w: (pay(*w.gw(url=w.url + "/api/v1"), *FAST), None, None), 2,
     ["the path of --gateway", "HTTP 404"]),
    ("unknown clientId", lambda w: (pay(*w.gw(), *FAST, "--client-id", "999"), None, None), 1,
     ["configuration", "--client-id", "not charged"]),
    ("declined", lambda w: (pay(*w.gw(), *FAST, code="281000000000001010"), None, None), 1,
     ["the customer was not charged", "USER_BALANCE_NOT_ENOUGH"]),
    ("code of another shape", lambda w: (pay(*w.gw(), *FAST, code="qwerty"), None, None), 1,
     ["not shaped like an Alipay wallet code", "not charged"]),
    ("unknown currency let through", lambda w: (pay(*w.gw(), *FAST, "--allow-unknown-currency", currency="XYZ"),
                                                None, None), 0, ["the customer paid XYZ 100 (minor units)"]),
    ("paid, in major units", lambda w: (pay(*w.gw(), *FAST, amount="150", currency="EUR"), None, None), 0,
     ["the customer paid EUR 1.50"]),
    ("yen have no minor units", lambda w: (pay(*w.gw(), *FAST, amount="500", currency="JPY"), None, None), 0,
     ["the customer paid JPY 500"]),
    ("cancel says closed or reversed", lambda w: (["cancel", "--merchant-trans-id", "m-cancel", *w.gw()[:-2]], None,
                                                  None), 0, ["closed or reversed"]),
    ("query of an unknown id", lambda w: (["query", "--merchant-trans-id", "m-nobody", *w.gw()[:-2]], None, None),
     1, ["ORDER_NOT_EXIST"]),
    ("refund of an unknown payment", lambda w: (["refund", "--acquirement-id", "2026000000000000000000000001",
                                                 "--amount", "50", "--currency", "USD", *w.gw(), "--timeout", "1"],
                                                None, None),
     1, ["the refund was refused"]),
    ("gateway down", lambda w: (pay(*w.gw(url=f"http://127.0.0.1:{free_port()}"), *FAST), None, None), 1,
     ["not charged"]),
    ("stays unknown", lambda w: (pay(*w.gw(), *FAST, code="281000000000003007"), None, None), 2,
     ["not known yet", "aop recover"]),
    ("one call, unknown", lambda w: (pay(*w.gw(), "--no-resolve", code="281000000000003001"), None, None), 2,
     ["outcome unknown"]),
    ("recover with nothing open", lambda w: (["recover", *w.gw(), *FAST], None, None), 0, ["0 entries"]),
    ("help of one command", lambda w: (["query", "--help"], None, None), 0, ["--merchant-trans-id"]),
    ("version", lambda w: (["--version"], None, None), 0, ["aop "]),
]

# Words a message must not hold (the help of query lists no pay options, no code is ever printed).
FORBIDDEN = {
    "help of one command": ["--amount", "--first-poll", "--code"],
    "declined": ["declined: USER"],  # in the note only, not as the first line's words
    "unknown clientId": ["declined"],
    "code of another shape": ["qwerty"],
}


def run(w, argv, stdin, env_changes):
    env = dict(w.env)
    for k, v in (env_changes or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    p = subprocess.run([os.path.join(BIN, "aop"), *argv], input=stdin if stdin is not None else "",
                       capture_output=True, text=True, env=env, timeout=60)
    return p.returncode, p.stdout, p.stderr


class Mistakes(unittest.TestCase):
    def test_every_mistake_says_so(self):
        rows = []
        for name, make, want_rc, words in CASES:
            w = World()
            try:
                argv, stdin, env = make(w)
                rc, out, err = run(w, argv, stdin, env)
            finally:
                w.close()
            text = out + err
            # what the person reads first: the outcome's line, or the error's
            lines = (out if rc in (0, 1, 2) and out.strip() else err).strip().splitlines()
            first = next((line for line in lines if line and not line.startswith("aop: merchant")), "")
            rows.append((name, rc, first))
            with self.subTest(name=name):
                self.assertEqual(rc, want_rc, f"{name}: {argv}\n{text}")
                for word in words:
                    self.assertIn(word, text, f"{name}: {argv}")
                first_line = out.strip().splitlines()[0] if out.strip() else ""
                for word in FORBIDDEN.get(name, []):
                    self.assertNotIn(word, first_line if name == "declined" else text, f"{name}: {argv}")
                if "--json" in argv and rc in (64, 78):
                    obj = json.loads(out)
                    self.assertEqual((obj["exitCode"], obj["formatVersion"]), (rc, 1))
        self.assertGreaterEqual(len(CASES), 75)
        if os.environ.get("AOP_MISTAKES_TABLE") == "1":
            print("\n| mistake | exit | message |\n|---|---|---|", file=sys.stderr)
            for name, rc, first in rows:
                print(f"| {name} | {rc} | {first[:160]} |", file=sys.stderr)


class HandEditedJournal(unittest.TestCase):
    """Every value read from the journal passes the terminal filter, and JSON escapes C1."""

    def test_escape_sequences_in_the_journal_reach_nobody(self):
        w = World()
        try:
            rc, out, err = run(w, pay(*w.gw(), "--no-resolve", code="281000000000003001"), None, None)
            self.assertEqual(rc, 2, out + err)
            hostile = "\x1b]0;pwned\x07\x1b[2J\u009b31m"
            db = sqlite3.connect(w.journal)
            db.execute("UPDATE entries SET amount = ?, note = ?, lease_owner = ?, lease_expires_ms = ?",
                       ("\x1b[2J9", "note" + hostile, "host" + hostile + "/1/1", int(time.time() * 1000) + 3600000))
            db.commit()
            db.close()
            rc, out, err = run(w, ["journal", "--journal", w.journal], None, None)
            self.assertEqual(rc, 0, err)
            self.assertNotIn("\x1b", out + err)
            self.assertNotIn("\u009b", out + err)
            self.assertNotIn("\x07", out + err)
            rc, out, err = run(w, ["journal", "--json", "--journal", w.journal], None, None)
            self.assertEqual(rc, 0, err)
            self.assertNotIn("\x1b", out)
            self.assertNotIn("\u009b", out)
            entries = json.loads(out)
            self.assertEqual(entries[0]["note"], "note" + hostile, "escaped, not lost")
            # a close refused because of the (hand-made) live lease quotes its owner: filtered
            rc, out, err = run(w, ["journal", "close", str(entries[0]["id"]), "--as", "PAID", "--note", "x",
                                   "--journal", w.journal], None, None)
            self.assertNotIn("\x1b", out + err)
            self.assertNotIn("\u009b", out + err)
        finally:
            w.close()


if __name__ == "__main__":
    BIN, DATA = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"])
