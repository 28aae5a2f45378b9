#!/usr/bin/env python3
"""The probe must not be the bottleneck of its own load test.

Starts a reference facilitator on a free 127.0.0.1 port (or uses --url), runs
`wrk` and then the facilitator_probe load mode against the same path at the
same concurrency, and prints both requests/s and the ratio probe/wrk
(target: >= 0.8). Loopback only; both runs are bounded in time.

    .venv/bin/python benchmarks/probe_vs_wrk.py [--url URL] [--concurrency 10] [--seconds 5]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
import ansible.module_utils  # noqa: E402

ansible.module_utils.__path__.append(str(REPO / "module_utils"))
from ansible.module_utils.facilitator_ops.local_stack.seed import evm_wallet  # noqa: E402
from ansible.module_utils.facilitator_ops.verify.probe import load_probe  # noqa: E402


def start_facilitator():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, SIGNER_TYPE="private-key", EVM_PRIVATE_KEY_TESTNET=evm_wallet(2)["private_key"],
               RPC_URL_BASE_SEPOLIA="http://127.0.0.1:8545", PORT=str(port), BIND_HOST="127.0.0.1",
               FACILITATOR_VERSION="bench", LOG_LEVEL="warning", RUST_LOG="warning")
    proc = subprocess.Popen([sys.executable, "-m", "x402_reference_facilitator"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/health", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("reference facilitator did not start")


def wrk_rps(url, path, concurrency, seconds):
    out = subprocess.run(["wrk", "-t", "1", "-c", str(concurrency), "-d", f"{seconds}s", url + path],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise SystemExit("could not parse wrk output:\n" + out)
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url")
    ap.add_argument("--path", default="/health")
    ap.add_argument("--ca", help="CA bundle for an https URL (e.g. .stack/ca.pem); default: system trust")
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--seconds", type=int, default=5)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk, or ./bootstrap.sh)")
    proc = None
    url = args.url
    if not url:
        proc, url = start_facilitator()
    try:
        base = wrk_rps(url, args.path, args.concurrency, args.seconds)
        # Enough requests to last about as long as wrk's run, bounded by time.
        stats = load_probe(url, path=args.path, requests=int(base * args.seconds * 2) + 100,
                           concurrency=args.concurrency, max_seconds=args.seconds, ca_bundle=args.ca)
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)
    ratio = stats["rps"] / base if base else 0.0
    print(f"endpoint      {url}{args.path}  concurrency {args.concurrency}  {args.seconds}s each")
    print(f"wrk           {base:10.1f} req/s")
    print(f"probe         {stats['rps']:10.1f} req/s  ({stats['requests']} req, errors {stats['errors']}, "
          f"p50 {stats['p50_ms']} ms, p99 {stats['p99_ms']} ms)")
    print(f"ratio         {ratio:10.2f}  (probe / wrk; target >= 0.80: {'ok' if ratio >= 0.8 else 'BELOW TARGET'})")


if __name__ == "__main__":
    main()
