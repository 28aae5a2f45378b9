# -*- coding: utf-8 -*-
"""The cutover gate's HTTP probe of the new side, and the traffic it sends.

The probe goes to the new ALB's own name (``facilitator_endpoints.new``): that
also proves the ALB's listener and certificate. But every request it sends is
also counted by that ALB in the CloudWatch metrics the same gate judges
(``RequestCount``, 5XX, ``TargetResponseTime``). Counting its own requests, the
gate would never see "no data" and would dilute a real 5XX rate (issue 18 #7).
So the probe keeps a tally of what it sent and got, per CloudWatch minute
(1-minute periods start on the minute), and the gate subtracts it
(``gate.subtract_probe``). The tally holds counts and status codes only.

What one reading sends (a handful of requests, not a load test: the real
traffic is the load, judged through the metrics):
- GET /health, /version, /, /supported: the checks of ``verify.probe``
  (health, version, branding, the network set, the signers);
- POST /verify with a signed EIP-3009 payment (``verify.payment.build_payment``,
  the x402 SDK's client signer): the facilitator must call it valid. It is never
  settled, so nothing moves on-chain. The payer key is read by the module and
  never leaves it.
"""
from __future__ import annotations

import time

from ansible.module_utils.facilitator_ops.common.http import bundle_for
from ansible.module_utils.facilitator_ops.common.http import client as http_client
from ansible.module_utils.facilitator_ops.common.http import describe_error
from ansible.module_utils.facilitator_ops.verify import probe as vprobe

MINUTE = 60


def minute_of(ts):
    """The start (epoch seconds) of the CloudWatch 1-minute period holding ``ts``."""
    return int(ts) // MINUTE * MINUTE


class Tally:
    """Requests sent and answers got, per minute: {minute: {"requests", "5xx", "unanswered"}}.
    A request without an HTTP answer (refused, reset, timed out) is kept apart: whether the
    ALB counted it is unknown, so it is never subtracted (the gate errs towards more traffic
    being judged, never less)."""

    def __init__(self, clock=time.time):
        self.clock = clock
        self.minutes = {}

    def _m(self, ts):
        return self.minutes.setdefault(minute_of(ts), {"requests": 0, "5xx": 0, "unanswered": 0})

    def answered(self, sent_at, status):
        m = self._m(sent_at)
        m["requests"] += 1
        if 500 <= int(status) <= 599:
            m["5xx"] += 1

    def unanswered(self, sent_at):
        self._m(sent_at)["unanswered"] += 1

    def rows(self):
        """[[minute, requests, 5xx, unanswered], ...] oldest first (what the module returns)."""
        return [[m, v["requests"], v["5xx"], v["unanswered"]] for m, v in sorted(self.minutes.items())]


def tallied_client(tally, ca_bundle, timeout):
    """An httpx client (certificates verified, common.http) whose every request lands in ``tally``."""

    def on_request(request):
        request.extensions["fo_sent_at"] = tally.clock()

    def on_response(response):
        sent_at = response.request.extensions.get("fo_sent_at")
        tally.answered(tally.clock() if sent_at is None else sent_at, response.status_code)

    c = http_client(ca_bundle, timeout, event_hooks={"request": [on_request], "response": [on_response]})
    return c


def verify_payment(c, tally, base_url, payer_key, network, x402_version, pay_to, amount):
    """POST /verify with a freshly signed payment (never /settle). -> Check."""
    import httpx

    from ansible.module_utils.facilitator_ops.verify.payment import build_payment

    try:
        payer, payload, req = build_payment(payer_key, network, x402_version, pay_to, amount)
    except Exception as e:  # the SDK's errors: name the kind, never echo key material
        return vprobe.Check("verify", False, f"cannot sign the probe payment: {e.__class__.__name__}")
    body = {"x402Version": int(x402_version), "paymentPayload": payload, "paymentRequirements": req}
    try:
        r = c.post(base_url.rstrip("/") + "/verify", json=body)
    except httpx.HTTPError as e:
        tally.unanswered(tally.clock())
        return vprobe.Check("verify", False, f"POST /verify unreachable: {describe_error(e)}")
    try:
        doc = r.json() if r.content else {}
    except ValueError:
        doc = {}
    if r.status_code != 200:
        return vprobe.Check("verify", False, f"POST /verify answered HTTP {r.status_code}")
    if not doc.get("isValid"):
        return vprobe.Check("verify", False, f"/verify called the probe payment invalid: {doc.get('invalidReason') or doc}")
    if str(doc.get("payer", payer)).lower() != payer.lower():
        return vprobe.Check("verify", False, f"/verify named payer {doc.get('payer')}, the probe signed as {payer}")
    return vprobe.Check("verify", True, f"/verify accepted a signed payment of {amount} from {payer} (not settled)",
                        {"payer": payer})


def probe(base_url, checks, expected_version=None, branding_text="Ultravioleta DAO", expected_networks=None,
          network_catalog=None, expected_evm_signers=None, expected_fee_payers=None, payment=None, timeout=10.0,
          ca_bundle=None, clock=time.time):
    """One reading. ``payment``: {payer_key, network (chain-state entry), x402_version, pay_to, amount} or None.
    Returns (checks: [Check], tally rows)."""
    tally = Tally(clock)
    try:
        c = tallied_client(tally, bundle_for(base_url, ca_bundle), timeout)
    except ValueError as e:  # a missing CA bundle
        return [vprobe.Check("health", False, str(e))], tally.rows()
    out = []
    with c:
        http_checks = [n for n in ("health", "version", "branding", "networks", "signers") if n in checks]
        # verify.probe's checks, through the tallied client (a transport error is unanswered)
        for check in vprobe._run_http_checks(c, base_url, http_checks, expected_version, branding_text, expected_networks,
                                             network_catalog, expected_evm_signers, expected_fee_payers):
            out.append(check)
        if "verify" in checks and payment:
            out.append(verify_payment(c, tally, base_url, payment["payer_key"], payment["network"],
                                      payment.get("x402_version", 2), payment["pay_to"], payment.get("amount", "1000")))
    return out, tally.rows()
