# SPDX-License-Identifier: MIT
"""What the end-to-end tests' worlds share: a HOME with private copies of the test keys, an
aop-sandbox on a free port, waiting for a condition, and the port an aop-notify listens on."""
import os
import re
import shutil
import signal
import subprocess
import time


def copy_key(home, data, name):
    """A copy of the test key file name in home, 0600 (aop refuses a key others can read)."""
    path = os.path.join(home, name)
    shutil.copyfile(os.path.join(data, name), path)
    os.chmod(path, 0o600)
    return path


def start_sandbox(bin_dir, data, gwkey, log, *extra):
    """aop-sandbox signing with gwkey, its standard error into log: (the process, its URL)."""
    proc = subprocess.Popen([os.path.join(bin_dir, "aop-sandbox"), "--port", "0", "--key", gwkey,
                             "--merchant-public-key", os.path.join(data, "merchant.spki.pem"), *extra],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    m = re.search(r"127\.0\.0\.1:(\d+)", proc.stdout.readline())
    assert m, "the sandbox did not start"
    return proc, f"http://127.0.0.1:{m.group(1)}"


def kill_sandbox(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()


def wait_for(predicate, seconds, what):
    """predicate's first true value, tried every 50 ms for seconds (monotonic clock)."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def notify_listening(log_path, since=0, seconds=10):
    """The line an aop-notify writing its log to log_path says it listens with (written past
    offset since), as a match whose group 1 is the port."""
    def line():
        try:
            with open(log_path) as f:
                return re.search(r"listening on .* \(port (\d+)\).*", f.read()[since:])
        except FileNotFoundError:
            return None
    return wait_for(line, seconds, "aop-notify to listen")
