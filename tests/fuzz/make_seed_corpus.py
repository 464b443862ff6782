# SPDX-License-Identifier: MIT
"""Writes the seed corpus: every generated sample message (plain and hard-to-escape) wrapped in
its envelope, the vendor samples and signed vectors, and a few malformed bodies.
Usage: make_seed_corpus.py EMIT_SAMPLES_BINARY REPO_ROOT"""
import hashlib
import os
import subprocess
import sys


def write(folder, data):
    os.makedirs(folder, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def main():
    binary, root = sys.argv[1], sys.argv[2]
    corpus = os.path.join(root, "tests", "fuzz", "corpus")
    out = subprocess.run([binary], check=True, capture_output=True).stdout
    for line in out.splitlines():
        name, payload = line.split(b"\t", 1)
        base = name.split(b".")[0].decode()
        member = b"request" if base.endswith("_request") else b"response"
        write(os.path.join(corpus, base), b'{"' + member + b'":' + payload + b',"signature":"c2ln"}')
    data = os.path.join(root, "tests", "data")
    for f, msg in (("pay-request.envelope.json", "offline_pay_request"),
                   ("pay-response.envelope.json", "offline_pay_response"),
                   ("bench/pay-request.json", "offline_pay_request"),
                   ("bench/pay-response.json", "offline_pay_response")):
        with open(os.path.join(data, f), "rb") as fh:
            write(os.path.join(corpus, msg), fh.read())
    for body in (b"", b"{}", b"[]", b'{"request":{}}', b'{"response":{"head":{},"body":{}}}',
                 b'{"a":1,"a":2}', b'{"response":{"body":{"resultInfo":{"resultStatus":"S"}}}}',
                 b'"\\ud800"', b"[" * 40, b'{"response":{"body":{"orderAmount":{"value":100}}}}'):
        write(os.path.join(corpus, "common"), body)


if __name__ == "__main__":
    main()
