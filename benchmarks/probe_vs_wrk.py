#!/usr/bin/env python3
"""The load probe against wrk, on a target that is not the bottleneck, over HTTPS.

The Python facilitator is the bottleneck on 2 cores, so probe/wrk against it
says little about the probe. Both run here against a static HTTPS response:
by default a small HAProxy this script starts (its own CA and certificate, one
thread, `http-request return` on every path), or --url/--ca (e.g. a static
endpoint of the stack's HTTPS edge). wrk runs first; the facilitator_probe load
mode then runs against the same URL at the same concurrency for as long, with
the certificate verified against the CA. Prints both requests/s and the ratio
probe / wrk (target >= 0.80).

    .venv/bin/python benchmarks/probe_vs_wrk.py [--url https://... --ca ca.pem] [--concurrency 10]
                                                 [--seconds 5] [--json figures.jsonl]
"""
from __future__ import annotations

import argparse
import inspect
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import ssl
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
import ansible.module_utils  # noqa: E402

ansible.module_utils.__path__.append(str(REPO / "module_utils"))
from ansible.module_utils.facilitator_ops.verify.probe import load_probe  # noqa: E402
from figures import Figures  # noqa: E402

HAPROXY_CFG = """
global
    nbthread 1
    maxconn 4096
    pidfile {tmp}/haproxy.pid
defaults
    mode http
    timeout client 10s
    timeout server 10s
    timeout connect 2s
frontend static
    bind 127.0.0.1:{port} ssl crt {tmp}/server.pem alpn http/1.1
    http-request return status 200 content-type application/json string "{{\\"status\\":\\"healthy\\"}}"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def start_static_https(tmp: Path):
    """A CA, a certificate for 127.0.0.1 signed by it, and HAProxy answering 200 on every path."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
            "-subj", "/CN=probe_vs_wrk CA", cwd=tmp)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1",
            cwd=tmp)
    (tmp / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.pem",
            "-days", "1", "-extfile", "ext.cnf", cwd=tmp)
    (tmp / "server.pem").write_text((tmp / "srv.pem").read_text() + (tmp / "srv.key").read_text())
    port = free_port()
    (tmp / "haproxy.cfg").write_text(HAPROXY_CFG.format(tmp=tmp, port=port))
    subprocess.run(["haproxy", "-f", str(tmp / "haproxy.cfg"), "-D"], check=True, capture_output=True)
    url, ca = f"https://127.0.0.1:{port}", str(tmp / "ca.pem")
    ctx = ssl.create_default_context(cafile=ca)
    for _ in range(50):
        try:
            urllib.request.urlopen(url + "/health", timeout=1, context=ctx).read()
            return url, ca
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the static HTTPS target {url} did not answer")


def stop_static_https(tmp: Path):
    pid = tmp / "haproxy.pid"
    if pid.exists():
        subprocess.run(["kill", pid.read_text().strip()], check=False)


def wrk(url, path, concurrency, seconds):
    out = subprocess.run(["wrk", "-t", "1", "-c", str(concurrency), "-d", f"{seconds}s", "--latency", url + path],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError("could not parse wrk output:\n" + out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return float(m.group(1)), (float(p99.group(1)) * scale[p99.group(2)] if p99 else None)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="HTTPS target (default: a static HAProxy started here)")
    ap.add_argument("--ca", help="CA bundle that verifies --url's certificate")
    ap.add_argument("--path", default="/health")
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--json", help="append the figures (JSON lines) to this file (benchmarks/run)")
    args = ap.parse_args()
    figs = Figures("probe_vs_wrk")
    for tool in ("wrk",) + (() if args.url else ("haproxy", "openssl")):
        if not shutil.which(tool):
            figs.fail("probe / wrk", f"{tool} is not installed (./bootstrap.sh)")
            figs.write(args.json)
            return 1
    tmp = Path(tempfile.mkdtemp(prefix="probe-vs-wrk-"))
    url, ca = args.url, args.ca
    try:
        if not url:
            url, ca = start_static_https(tmp)
        target = "static HTTPS " + ("HAProxy (own)" if not args.url else url)
        base, wrk_p99 = wrk(url, args.path, args.concurrency, args.seconds)
        figs.add(f"wrk req/s, {target}, c={args.concurrency}", base, "req/s")
        if "ca_bundle" not in inspect.signature(load_probe).parameters:
            figs.fail("probe / wrk", "this load probe cannot verify a CA bundle (HTTPS): the probe is not HTTPS-capable yet")
            figs.write(args.json)
            return 1
        # Enough requests to last about as long as wrk's run, bounded by time.
        stats = load_probe(url, path=args.path, requests=int(base * args.seconds * 2) + 100,
                           concurrency=args.concurrency, max_seconds=args.seconds, ca_bundle=ca)
    finally:
        if not args.url:
            stop_static_https(tmp)
    ratio = stats["rps"] / base if base else 0.0
    figs.add(f"probe req/s, same target ({stats['requests']} req, {stats['errors']} errors)", stats["rps"], "req/s")
    figs.add("probe p99 latency (wrk p99 " + (f"{wrk_p99:.2f} ms)" if wrk_p99 is not None else "?)"),
             stats["p99_ms"], "ms")
    figs.add("probe / wrk throughput (HTTPS, static target)", round(ratio, 3), "x", ">=", 0.8)
    if stats["errors"]:
        figs.fail("probe errors", f"{stats['errors']} of {stats['requests']} requests failed")
    print(f"endpoint      {url}{args.path}  concurrency {args.concurrency}  {args.seconds}s each  CA {ca or 'system'}")
    print(f"wrk           {base:10.1f} req/s  (p99 {wrk_p99} ms)")
    print(f"probe         {stats['rps']:10.1f} req/s  ({stats['requests']} req, errors {stats['errors']}, "
          f"p50 {stats['p50_ms']} ms, p99 {stats['p99_ms']} ms)")
    print(f"ratio         {ratio:10.3f}  (probe / wrk; target >= 0.80: {'ok' if ratio >= 0.8 else 'BELOW TARGET'})")
    figs.write(args.json)
    return 0 if figs.ok else 1


if __name__ == "__main__":
    sys.exit(main())
