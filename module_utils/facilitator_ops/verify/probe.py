# -*- coding: utf-8 -*-
"""Post-deploy checks of a running facilitator, as pure functions.

Every check returns a `Check` with a one-line `detail` naming what differs, so
a failed play says exactly what is wrong (FACTS: /health checks nothing, the
network set has to be diffed from /supported, "dev" means a build without the
version argument, a plain "Hello" means the branding was lost).
"""
from __future__ import annotations

import asyncio
import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    data: dict = field(default_factory=dict)


class HttpResult:
    def __init__(self, status, body, error=None):
        self.status = status
        self.body = body
        self.error = error

    def json(self):
        return json.loads(self.body)


def http_get(base_url, path, timeout=10.0):
    url = base_url.rstrip("/") + path
    req = urllib.request.Request(url, headers={"User-Agent": "facilitator-ops-probe", "Accept": "*/*"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (operator-given URL)
            return HttpResult(resp.status, resp.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as e:
        return HttpResult(e.code, e.read().decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        return HttpResult(None, "", error=str(getattr(e, "reason", e)))


def _unreachable(name, path, res):
    if res.status is None:
        return Check(name, False, f"{path} unreachable: {res.error}")
    return Check(name, False, f"{path} answered HTTP {res.status}")


def check_health(res):
    if res.status != 200:
        return _unreachable("health", "/health", res)
    try:
        status = res.json().get("status")
    except (ValueError, AttributeError):
        return Check("health", False, "/health did not answer JSON")
    if status != "healthy":
        return Check("health", False, f"/health status is {status!r}, expected 'healthy'")
    return Check("health", True, "/health is healthy")


def normalize_version(v):
    v = str(v or "").strip()
    return v[1:] if v[:1] in ("v", "V") else v


def check_version(res, expected=None):
    if res.status != 200:
        return _unreachable("version", "/version", res)
    try:
        live = res.json().get("version")
    except (ValueError, AttributeError):
        return Check("version", False, "/version did not answer JSON")
    data = {"live": live}
    if normalize_version(live) == "dev":
        return Check("version", False, "/version says 'dev': the image was built without the version argument", data)
    if expected is not None and normalize_version(live) != normalize_version(expected):
        return Check("version", False, f"/version is {live}, expected {expected}", data)
    return Check("version", True, f"/version is {live}", data)


def check_branding(res, text):
    if res.status != 200:
        return _unreachable("branding", "/", res)
    if text not in res.body:
        snippet = " ".join(res.body.split())[:60]
        return Check("branding", False, f"branding lost: / does not contain {text!r} (starts {snippet!r})")
    return Check("branding", True, f"/ contains {text!r}")


def parse_supported(doc):
    """-> (v1 names, v2 network ids, evm signers, solana fee payers)."""
    v1, v2, fee_payers = set(), set(), set()
    for kind in doc.get("kinds") or []:
        net = kind.get("network")
        if not net:
            continue
        if kind.get("x402Version") == 1:
            v1.add(net)
        else:
            v2.add(net)
        extra = kind.get("extra") or {}
        if extra.get("feePayer"):
            fee_payers.add(extra["feePayer"])
    signers = set()
    raw = doc.get("signers") or {}
    for key, addrs in raw.items():
        if key.startswith("solana"):
            continue
        for a in addrs if isinstance(addrs, list) else [addrs]:
            signers.add(str(a))
    return v1, v2, signers, fee_payers


def check_networks(doc, expected, catalog=None):
    """Diff the live network set against the expected one. `expected` are v1
    names; with a catalog (name -> {caip2}) each must also be served under its
    CAIP-2 id."""
    v1, v2, _, _ = parse_supported(doc)
    expected = set(expected)
    missing = sorted(expected - v1)
    unexpected = sorted(v1 - expected)
    missing_caip2 = []
    for name in sorted(expected & v1):
        caip2 = ((catalog or {}).get(name) or {}).get("caip2")
        if caip2 and caip2 not in v2:
            missing_caip2.append(f"{name} ({caip2})")
    data = {"live": sorted(v1), "missing": missing, "unexpected": unexpected, "missing_caip2": missing_caip2}
    parts = []
    if missing:
        parts.append("missing: " + ", ".join(missing))
    if unexpected:
        parts.append("unexpected: " + ", ".join(unexpected))
    if missing_caip2:
        parts.append("no CAIP-2 entry for: " + ", ".join(missing_caip2))
    if parts:
        return Check("networks", False, "/supported networks differ: " + "; ".join(parts), data)
    return Check("networks", True, f"/supported serves the {len(v1)} expected networks", data)


def check_signers(doc, expected_evm=None, expected_fee_payer=None):
    _, _, signers, fee_payers = parse_supported(doc)
    data = {"evm_signers": sorted(signers), "solana_fee_payers": sorted(fee_payers)}
    problems = []
    if expected_evm:
        live = {s.lower() for s in signers}
        absent = [a for a in expected_evm if a.lower() not in live]
        if absent:
            problems.append(f"EVM signer {', '.join(absent)} not live (live: {', '.join(sorted(signers)) or 'none'})")
    if expected_fee_payer and expected_fee_payer not in fee_payers:
        problems.append(
            f"Solana feePayer {expected_fee_payer} not live (live: {', '.join(sorted(fee_payers)) or 'none'})"
        )
    if problems:
        return Check("signers", False, "; ".join(problems), data)
    return Check("signers", True, "expected signers are live", data)


# ---------------------------------------------------------------- load probe


def percentile(sorted_values, pct):
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(pct / 100.0 * len(sorted_values)) - 1))
    return sorted_values[k]


async def _read_response(reader):
    """Read one HTTP/1.1 response; return (status, keep_alive)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    parts = status_line.split(None, 2)
    status = int(parts[1])
    length, chunked, keep_alive = 0, False, True
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value:
            chunked = True
        elif name == b"connection" and value == b"close":
            keep_alive = False
    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, keep_alive


async def _load(host, port, path, host_header, requests, concurrency, max_seconds, timeout):
    latencies, errors, statuses = [], 0, {}
    remaining = [requests]
    deadline = time.monotonic() + max_seconds
    request = (f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: facilitator-ops-probe\r\n\r\n").encode()

    async def worker():
        nonlocal errors
        reader = writer = None
        while remaining[0] > 0 and time.monotonic() < deadline:
            remaining[0] -= 1
            t0 = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
                writer.write(request)
                status, keep_alive = await asyncio.wait_for(_read_response(reader), timeout)
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
                if status >= 400:
                    errors += 1
                if not keep_alive:
                    writer.close()
                    writer = None
            except (OSError, asyncio.TimeoutError, ConnectionError, ValueError, asyncio.IncompleteReadError):
                errors += 1
                latencies.append(time.perf_counter() - t0)
                statuses["error"] = statuses.get("error", 0) + 1
                if writer is not None:
                    writer.close()
                writer = None
        if writer is not None:
            writer.close()

    t_start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t_start
    return latencies, errors, statuses, elapsed


def load_probe(base_url, path="/health", requests=200, concurrency=10, max_seconds=30.0, timeout=10.0):
    """N requests at concurrency C over keep-alive connections, bounded in
    count and time. Returns a stats dict (latencies in ms)."""
    u = urllib.parse.urlsplit(base_url)
    if u.scheme != "http":
        raise ValueError("the load probe speaks plain HTTP only (point it at the ALB listener or a local port)")
    host = u.hostname
    port = u.port or 80
    prefix = u.path.rstrip("/")
    latencies, errors, statuses, elapsed = asyncio.run(
        _load(host, port, prefix + path, u.netloc, int(requests), int(concurrency), float(max_seconds), float(timeout))
    )
    done = len(latencies)
    lat = sorted(latencies)

    def ms(x):
        return None if x is None else round(x * 1000.0, 2)

    return {
        "path": path,
        "requests": done,
        "requested": int(requests),
        "concurrency": int(concurrency),
        "errors": errors,
        "error_rate": round(errors / done, 4) if done else 1.0,
        "statuses": {str(k): v for k, v in statuses.items()},
        "seconds": round(elapsed, 3),
        "rps": round(done / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": ms(percentile(lat, 50)),
        "p95_ms": ms(percentile(lat, 95)),
        "p99_ms": ms(percentile(lat, 99)),
        "max_ms": ms(lat[-1] if lat else None),
    }


def check_load(stats, p99_max_ms=2000.0, error_rate_max=0.01, min_requests=None):
    detail = (
        f"{stats['requests']} req at c={stats['concurrency']}: {stats['rps']} req/s, "
        f"p50 {stats['p50_ms']} ms, p95 {stats['p95_ms']} ms, p99 {stats['p99_ms']} ms, "
        f"errors {stats['error_rate'] * 100:.2f}%"
    )
    problems = []
    if stats["requests"] == 0:
        problems.append("no request completed")
    if min_requests and stats["requests"] < min_requests:
        problems.append(f"only {stats['requests']} of {min_requests} requests in the time bound")
    if stats["error_rate"] > error_rate_max:
        problems.append(f"error rate {stats['error_rate'] * 100:.2f}% > {error_rate_max * 100:.2f}%")
    if stats["p99_ms"] is not None and stats["p99_ms"] > p99_max_ms:
        problems.append(f"p99 {stats['p99_ms']} ms > {p99_max_ms} ms")
    if problems:
        return Check("load", False, "load probe failed: " + "; ".join(problems) + f" ({detail})", stats)
    return Check("load", True, detail, stats)


# ---------------------------------------------------------------- orchestration


def run_checks(
    base_url,
    checks,
    expected_version=None,
    branding_text="Ultravioleta DAO",
    expected_networks=None,
    network_catalog=None,
    expected_evm_signers=None,
    expected_fee_payer=None,
    load=None,
    timeout=10.0,
):
    """Run the named checks; returns a list of Check. Order is fixed so the
    report reads the same every time."""
    out = []
    if "health" in checks:
        out.append(check_health(http_get(base_url, "/health", timeout)))
    if "version" in checks:
        out.append(check_version(http_get(base_url, "/version", timeout), expected_version))
    if "branding" in checks:
        out.append(check_branding(http_get(base_url, "/", timeout), branding_text))
    if "networks" in checks or "signers" in checks:
        res = http_get(base_url, "/supported", timeout)
        doc = None
        if res.status == 200:
            try:
                doc = res.json()
            except ValueError:
                doc = None
        for name in ("networks", "signers"):
            if name not in checks:
                continue
            if doc is None:
                out.append(
                    _unreachable(name, "/supported", res)
                    if res.status != 200
                    else Check(name, False, "/supported did not answer JSON")
                )
            elif name == "networks":
                out.append(check_networks(doc, expected_networks or [], network_catalog))
            else:
                out.append(check_signers(doc, expected_evm_signers, expected_fee_payer))
    if "load" in checks and load:
        try:
            stats = load_probe(
                base_url,
                path=load.get("path", "/health"),
                requests=load.get("requests", 200),
                concurrency=load.get("concurrency", 10),
                max_seconds=load.get("max_seconds", 30),
                timeout=timeout,
            )
            out.append(
                check_load(stats, float(load.get("p99_max_ms", 2000)), float(load.get("error_rate_max", 0.01)))
            )
        except ValueError as e:
            out.append(Check("load", False, f"load probe not run: {e}"))
    return out


def summarize(base_url, results):
    failed = [c for c in results if not c.ok]
    lines = [f"{'OK  ' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in results]
    if failed:
        msg = f"{base_url}: " + " | ".join(c.detail for c in failed)
    else:
        msg = f"{base_url}: all {len(results)} checks passed"
    return msg, lines, [asdict(c) for c in results]
