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
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field

from ansible.module_utils.facilitator_ops.common.http import bundle_for
from ansible.module_utils.facilitator_ops.common.http import client as http_client
from ansible.module_utils.facilitator_ops.common.http import describe_error


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    data: dict = field(default_factory=dict)


class HttpResult:
    def __init__(self, status, body, error=None, headers=None):
        self.status = status
        self.body = body
        self.error = error
        self.headers = headers or {}

    def json(self):
        return json.loads(self.body)


def http_get(base_url, path, timeout=10.0, ca_bundle=None, client=None):
    """GET base_url+path over HTTP(S) (certificates verified); never raises for
    transport errors (status None, error = the reason)."""
    import httpx

    url = base_url.rstrip("/") + path
    own = client is None
    try:
        c = client or http_client(bundle_for(url, ca_bundle), timeout)
    except ValueError as e:
        return HttpResult(None, "", error=str(e))
    try:
        r = c.get(url)
        return HttpResult(r.status_code, r.text, headers={k.lower(): v for k, v in r.headers.items()})
    except (httpx.HTTPError, OSError, ValueError) as e:
        return HttpResult(None, "", error=describe_error(e))
    finally:
        if own:
            c.close()


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


def check_signers(doc, expected_evm=None, expected_fee_payers=None):
    """Every expected EVM signer and every expected Solana fee payer must be live."""
    _, _, signers, fee_payers = parse_supported(doc)
    data = {"evm_signers": sorted(signers), "solana_fee_payers": sorted(fee_payers)}
    problems = []
    if expected_evm:
        live = {s.lower() for s in signers}
        absent = [a for a in expected_evm if a.lower() not in live]
        if absent:
            problems.append(f"EVM signer {', '.join(absent)} not live (live: {', '.join(sorted(signers)) or 'none'})")
    if isinstance(expected_fee_payers, str):
        expected_fee_payers = [expected_fee_payers]
    absent = [f for f in dict.fromkeys(expected_fee_payers or []) if f not in fee_payers]
    if absent:
        problems.append(
            f"Solana feePayer {', '.join(absent)} not live (live: {', '.join(sorted(fee_payers)) or 'none'})"
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


async def _read_response(conn, reader):
    """One response through h11 (HTTP/1.1 framing: lengths, chunks, keep-alive); -> status."""
    import h11

    status = None
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.EndOfMessage):
            return status
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("connection closed before the response ended")


async def _load(url, requests, concurrency, max_seconds, timeout, ca_bundle):
    """The load loop. It is the probe's hot path (benchmarked against wrk), so it speaks
    HTTP/1.1 through h11 (the protocol library httpx itself is built on) over asyncio's
    TLS streams, with the same verifying SSL context as every other client: httpx's
    per-request machinery costs ~15x the CPU here. Keep-alive, one connection per worker."""
    import h11
    import ssl
    import urllib.parse

    from ansible.module_utils.facilitator_ops.common.http import USER_AGENT
    from ansible.module_utils.facilitator_ops.common.http import ssl_context

    u = urllib.parse.urlsplit(url)
    tls = ssl_context(ca_bundle) if u.scheme == "https" else None
    host, port = u.hostname, u.port or (443 if tls else 80)
    target = (u.path or "/") + (f"?{u.query}" if u.query else "")
    headers = [("Host", u.netloc), ("User-Agent", USER_AGENT), ("Accept", "*/*")]
    latencies, statuses = [], {}
    errors = 0
    remaining = [requests]
    deadline = time.monotonic() + max_seconds
    first_error = []

    async def worker():
        nonlocal errors
        conn = reader = writer = None
        while remaining[0] > 0 and time.monotonic() < deadline:
            remaining[0] -= 1
            t0 = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(host, port, ssl=tls, server_hostname=host if tls else None), timeout)
                    conn = h11.Connection(h11.CLIENT)
                writer.write(conn.send(h11.Request(method="GET", target=target, headers=headers))
                             + conn.send(h11.EndOfMessage()))
                status = await asyncio.wait_for(_read_response(conn, reader), timeout)
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
                if status >= 400:
                    errors += 1
                if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                    conn.start_next_cycle()
                else:  # the server closes this connection: open another for the next request
                    writer.close()
                    writer = None
            except (OSError, asyncio.TimeoutError, ConnectionError, ssl.SSLError, h11.ProtocolError) as e:
                errors += 1
                latencies.append(time.perf_counter() - t0)
                statuses["error"] = statuses.get("error", 0) + 1
                if not first_error:
                    first_error.append(describe_error(e) if str(e) else f"{e.__class__.__name__} after {timeout}s")
                if writer is not None:
                    writer.close()
                writer = None
        if writer is not None:
            writer.close()

    t_start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t_start
    return latencies, errors, statuses, elapsed, (first_error or [None])[0]


def load_probe(base_url, path="/health", requests=200, concurrency=10, max_seconds=30.0, timeout=10.0,
               ca_bundle=None):
    """N requests at concurrency C over keep-alive connections (HTTP or HTTPS, certificates
    verified), bounded in count and time. Returns a stats dict (latencies in ms).
    A missing CA bundle raises ValueError naming it."""
    url = base_url.rstrip("/") + path
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {base_url}")
    latencies, errors, statuses, elapsed, first_error = asyncio.run(
        _load(url, int(requests), max(1, int(concurrency)), float(max_seconds), float(timeout),
              bundle_for(url, ca_bundle))
    )
    done = len(latencies)
    lat = sorted(latencies)

    def ms(x):
        return None if x is None else round(x * 1000.0, 2)

    out = {
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
    if first_error:
        out["first_error"] = first_error
    return out


def check_load(stats, p99_max_ms=2000.0, error_rate_max=0.01, min_requests=None):
    detail = (
        f"{stats['requests']} req at c={stats['concurrency']}: {stats['rps']} req/s, "
        f"p50 {stats['p50_ms']} ms, p95 {stats['p95_ms']} ms, p99 {stats['p99_ms']} ms, "
        f"errors {stats['error_rate'] * 100:.2f}%"
    )
    problems = []
    if stats["requests"] == 0:
        problems.append("no request completed")
    elif min_requests and stats["requests"] < min_requests:
        problems.append(f"only {stats['requests']} of the minimum {min_requests} requests within the time bound")
    if stats["error_rate"] > error_rate_max:
        problems.append(f"error rate {stats['error_rate'] * 100:.2f}% > {error_rate_max * 100:.2f}%")
    if stats["p99_ms"] is not None and stats["p99_ms"] > p99_max_ms:
        problems.append(f"p99 {stats['p99_ms']} ms > {p99_max_ms} ms")
    if stats.get("first_error"):
        detail += f"; first error: {stats['first_error']}"
    if problems:
        return Check("load", False, "load probe failed: " + "; ".join(problems) + f" ({detail})", stats)
    return Check("load", True, detail, stats)


def measure_sides(base_url, requests=200, header="x-facilitator-side", path="/health", ca_bundle=None, timeout=10.0):
    """Which side answered each of `requests` GETs (one keep-alive connection, like a
    user's client), by a response header. -> {"requests", "by_side": {value: n}, "errors"}."""
    import httpx

    by_side, errors = {}, 0
    header = header.lower()
    with http_client(bundle_for(base_url, ca_bundle), timeout) as c:
        for _ in range(int(requests)):
            try:
                r = c.get(base_url.rstrip("/") + path)
                side = r.headers.get(header) or "(none)"
                by_side[side] = by_side.get(side, 0) + 1
                if r.status_code >= 500:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
                by_side["(error)"] = by_side.get("(error)", 0) + 1
    return {"requests": int(requests), "by_side": by_side, "errors": errors}


def check_sides(stats, side="new"):
    n = stats["requests"]
    share = round(100.0 * stats["by_side"].get(side, 0) / n, 1) if n else 0.0
    data = dict(stats, side=side, share_percent=share)
    detail = f"{share:g}% of {n} requests answered by the {side} side ({', '.join(f'{k} {v}' for k, v in sorted(stats['by_side'].items()))})"
    return Check("sides", stats["errors"] == 0, detail if not stats["errors"] else f"{detail}; {stats['errors']} errors", data)


# ---------------------------------------------------------------- orchestration


def run_checks(
    base_url,
    checks,
    expected_version=None,
    branding_text="Ultravioleta DAO",
    expected_networks=None,
    network_catalog=None,
    expected_evm_signers=None,
    expected_fee_payers=None,
    load=None,
    timeout=10.0,
    ca_bundle=None,
    sides=None,
):
    """Run the named checks; returns a list of Check. Order is fixed so the
    report reads the same every time."""
    out = []
    ca_bundle = bundle_for(base_url, ca_bundle)
    try:
        client = http_client(ca_bundle, timeout)
    except ValueError as e:  # a missing CA bundle: every check says so
        return [Check(name, False, str(e)) for name in
                ("health", "version", "branding", "networks", "signers", "load", "sides") if name in checks]
    with client as c:
        out += _run_http_checks(c, base_url, checks, expected_version, branding_text, expected_networks,
                                network_catalog, expected_evm_signers, expected_fee_payers)
    if "load" in checks and load:
        try:
            stats = load_probe(
                base_url,
                path=load.get("path", "/health"),
                requests=load.get("requests", 200),
                concurrency=load.get("concurrency", 10),
                max_seconds=load.get("max_seconds", 30),
                timeout=timeout,
                ca_bundle=ca_bundle,
            )
            out.append(
                check_load(stats, float(load.get("p99_max_ms", 2000)), float(load.get("error_rate_max", 0.01)),
                           min_requests=int(load.get("min_requests", load.get("requests", 200))))
            )
        except ValueError as e:
            out.append(Check("load", False, f"load probe not run: {e}"))
    if "sides" in checks:
        sides = sides or {}
        out.append(check_sides(measure_sides(base_url, sides.get("requests", 200), sides.get("header", "X-Facilitator-Side"),
                                             sides.get("path", "/health"), ca_bundle, timeout), sides.get("side", "new")))
    return out


def _run_http_checks(c, base_url, checks, expected_version, branding_text, expected_networks, network_catalog,
                     expected_evm_signers, expected_fee_payers):
    out = []
    if "health" in checks:
        out.append(check_health(http_get(base_url, "/health", client=c)))
    if "version" in checks:
        out.append(check_version(http_get(base_url, "/version", client=c), expected_version))
    if "branding" in checks:
        out.append(check_branding(http_get(base_url, "/", client=c), branding_text))
    if "networks" in checks or "signers" in checks:
        res = http_get(base_url, "/supported", client=c)
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
                out.append(check_signers(doc, expected_evm_signers, expected_fee_payers))
    return out


def summarize(base_url, results):
    failed = [c for c in results if not c.ok]
    lines = [f"{'OK  ' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in results]
    if failed:
        msg = f"{base_url}: " + " | ".join(c.detail for c in failed)
    else:
        msg = f"{base_url}: all {len(results)} checks passed"
    return msg, lines, [asdict(c) for c in results]
