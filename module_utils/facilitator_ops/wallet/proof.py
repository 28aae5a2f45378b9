# -*- coding: utf-8 -*-
"""Proof that a wallet is (or is not) the facilitator's live signer.

Evidence, weakest first, all public:
  * `/supported`: EVM `signers` (upstream lists them by chain family) and the
    Solana kinds' `extra.feePayer`;
  * the start-up line every network logs,
        Initialized provider network=<name> signers=[0x..., ...] [feePayer=...]
    read from the container's logs locally or CloudWatch Logs in AWS, only
    from tasks started after the redeploy (`since`).
A wallet is proven when at least one source shows the expected address on
each of its networks and no source still shows the replaced one. /supported
lists the signers of every network at once, so there the replaced address
only contradicts when no wallet this run leaves alone still uses it (`kept`:
e.g. the mainnet wallet sharing the old key while only testnet rotates).

A resumed proof counts start-up lines only from the start of the running
deployment (the rotation role passes it as `since`): older lines in a log
group say nothing about the tasks running now.
"""
from __future__ import annotations

import re

from ansible.module_utils.facilitator_ops.verify.probe import parse_supported

LOG_RE = re.compile(
    r"Initialized provider network=(?P<net>[^\s]+) signers=\[(?P<signers>[^\]]*)\](?: feePayer=(?P<fp>[^\s]+))?"
)


def parse_log_lines(lines):
    """{network: {'signers': [...], 'fee_payer': str|None}}; the last start wins."""
    out = {}
    for line in lines or []:
        m = LOG_RE.search(line)
        if not m:
            continue
        signers = [s.strip() for s in m.group("signers").split(",") if s.strip()]
        out[m.group("net")] = dict(signers=signers, fee_payer=m.group("fp"))
    return out


def _has(addresses, addr, kind):
    if kind == "evm":
        return addr.lower() in {a.lower() for a in addresses}
    return addr in set(addresses)


def evaluate(expectations, supported_doc=None, log_view=None):
    """expectations: [{wallet, kind, expect, replaced, networks}].
    Returns (ok, lines, per-wallet dict)."""
    lines, result, ok_all = [], {}, True
    sup_evm, sup_fee = None, None
    if supported_doc is not None:
        _, _, signers, fee_payers = parse_supported(supported_doc)
        sup_evm = sorted(signers) if supported_doc.get("signers") else None
        sup_fee = sorted(fee_payers) if fee_payers else None
    for e in expectations:
        kind, exp, rep = e["kind"], e["expect"], e.get("replaced")
        kept = e.get("kept") or []
        proven, contradicted = [], []
        live = sup_evm if kind == "evm" else sup_fee
        if live is not None:
            replaced_live = bool(rep) and _has(live, rep, kind) and not _has(kept, rep, kind)
            if _has(live, exp, kind) and not replaced_live:
                proven.append("/supported")
            else:
                contradicted.append(f"/supported lists {', '.join(live) or 'none'}")
        per_net = {}
        for net in e.get("networks") or []:
            entry = (log_view or {}).get(net)
            if entry is None:
                per_net[net] = "no start-up line"
                continue
            addrs = entry["signers"] + ([entry["fee_payer"]] if entry.get("fee_payer") else [])
            if _has(addrs, exp, kind) and not (rep and _has(addrs, rep, kind)):
                per_net[net] = "log"
            else:
                per_net[net] = "log shows " + (", ".join(addrs) or "no signer")
                contradicted.append(f"{net}: start-up line shows {', '.join(addrs) or 'no signer'}")
        logs_prove_all = bool(per_net) and all(v == "log" for v in per_net.values())
        if logs_prove_all:
            proven.append("start-up log (" + ", ".join(sorted(per_net)) + ")")
        ok = bool(proven) and not contradicted
        ok_all = ok_all and ok
        what = "feePayer" if kind == "solana" else "signer"
        if ok:
            lines.append(f"OK   {e['wallet']}: {exp} is the live {what} ({'; '.join(proven)})")
        else:
            why = "; ".join(contradicted) or "no evidence (no /supported signers, no start-up line yet)"
            lines.append(f"FAIL {e['wallet']}: {exp} is not proven live: {why}")
        result[e["wallet"]] = dict(ok=ok, expect=exp, replaced=rep, proven_by=proven, contradicted=contradicted,
                                   networks=per_net)
    return ok_all, lines, result


def cloudwatch_lines(client, group, prefix, since, aws_retry=True):
    """Start-up lines of the log group since `since` (epoch seconds, required: never the whole group)."""
    if since is None or float(since) <= 0:
        raise ValueError("cloudwatch start-up lines need a start time (the running deployment's)")
    kw = dict(logGroupName=group, filterPattern='"Initialized provider"', startTime=int(float(since) * 1000))
    if prefix:
        kw["logStreamNamePrefix"] = prefix
    if aws_retry:
        kw["aws_retry"] = True
    lines = []
    for _ in range(20):
        resp = client.filter_log_events(**kw)
        lines += [e.get("message", "") for e in sorted(resp.get("events") or [], key=lambda e: e.get("timestamp", 0))]
        if not resp.get("nextToken"):
            break
        kw["nextToken"] = resp["nextToken"]
    return lines
