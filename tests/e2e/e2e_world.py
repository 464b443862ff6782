# SPDX-License-Identifier: MIT
"""What the end-to-end tests' worlds share: a HOME with private copies of the test keys, and an
aop-sandbox on a free port."""
import os
import re
import shutil
import signal
import subprocess


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
