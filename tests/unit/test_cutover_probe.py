"""The cutover gate's probe (issue 18 #7): a real /verify with a signed payment (never /settle), the
verify.probe checks, and a per-minute tally of exactly what it sent and got (no network: httpx MockTransport)."""
from __future__ import annotations

import json

import httpx
import pytest

from ansible.module_utils.facilitator_ops.cutover import probe as cprobe
from ansible.module_utils.facilitator_ops.local_stack.seed import evm_wallet

PAYER = evm_wallet(1)  # anvil's public development key #1: the local stack's test payer
NETWORK = {"network": "base-sepolia", "caip2": "eip155:84532", "chain_id": 84532,
           "token": {"address": "0x5FbDB2315678afecb367f032d93F642f64180aa3", "name": "USD Coin", "version": "2"}}
PAY_TO = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"
SUPPORTED = {"kinds": [{"x402Version": 1, "scheme": "exact", "network": "base-sepolia"},
                       {"x402Version": 2, "scheme": "exact", "network": "eip155:84532"}], "signers": {}}


class Clock:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        self.t += 20.0  # each request 20 s apart: the tally must split them by minute
        return self.t


def facilitator(seen, verify_status=200, valid=True):
    def handler(request):
        seen.append((request.method, request.url.path))
        path = request.url.path
        if path == "/health":
            return httpx.Response(200, json={"status": "healthy"})
        if path == "/version":
            return httpx.Response(200, json={"version": "1.92.0"})
        if path == "/":
            return httpx.Response(200, text="<html>Ultravioleta DAO</html>")
        if path == "/supported":
            return httpx.Response(200, json=SUPPORTED)
        if path == "/verify":
            body = json.loads(request.content)
            payer = body["paymentPayload"]["payload"]["authorization"]["from"]
            seen.append(("payload", body))
            if verify_status != 200:
                return httpx.Response(verify_status, json={})
            return httpx.Response(200, json={"isValid": valid, "payer": payer,
                                             "invalidReason": None if valid else "insufficient_funds"})
        return httpx.Response(404)
    return handler


@pytest.fixture
def mock_http(monkeypatch):
    state = {"seen": [], "verify_status": 200, "valid": True}

    def fake_client(ca_bundle=None, timeout=10.0, **kw):
        return httpx.Client(transport=httpx.MockTransport(facilitator(state["seen"], state["verify_status"], state["valid"])),
                            timeout=timeout, **kw)

    monkeypatch.setattr(cprobe, "http_client", fake_client)
    return state


def run(clock_start=1_800_000_000.0):
    payment = dict(payer_key=PAYER["private_key"], network=NETWORK, x402_version=2, pay_to=PAY_TO, amount="1000")
    return cprobe.probe("https://new.example", ["health", "version", "branding", "networks", "verify"],
                        expected_version="1.92.0", expected_networks=["base-sepolia"],
                        network_catalog={"base-sepolia": {"caip2": "eip155:84532"}}, payment=payment,
                        clock=Clock(clock_start))


def test_issue18_probe_verifies_a_signed_payment_never_settles(mock_http):
    checks, sent = run()
    assert all(c.ok for c in checks), [c.detail for c in checks]
    paths = [p for m, p in mock_http["seen"] if m in ("GET", "POST")]
    assert ("POST", "/verify") in mock_http["seen"] and "/settle" not in paths
    payload = [b for m, b in mock_http["seen"] if m == "payload"][0]
    auth = payload["paymentPayload"]["payload"]["authorization"]
    assert auth["from"].lower() == PAYER["address"].lower() and auth["to"].lower() == PAY_TO.lower()
    assert payload["paymentPayload"]["payload"]["signature"].startswith("0x")
    verify = [c for c in checks if c.name == "verify"][0]
    assert "(not settled)" in verify.detail
    # the key never leaves: not in any check, nor in the tally
    assert PAYER["private_key"].removeprefix("0x") not in json.dumps([c.__dict__ for c in checks] + [sent])


def test_issue18_probe_tallies_what_it_sent_per_cloudwatch_minute(mock_http):
    checks, sent = run(clock_start=1_800_000_000.0)  # a whole minute; requests at +20, +40, +60, +80, +100 s
    assert sum(r[1] for r in sent) == 5 and sum(r[2] for r in sent) == 0
    assert [r[0] % 60 for r in sent] == [0] * len(sent)
    assert [r[1] for r in sent] == [2, 3]  # 2 in the first minute, 3 in the next


def test_issue18_probe_counts_the_5xx_it_got_and_fails_on_an_invalid_payment(mock_http):
    mock_http["verify_status"] = 503
    checks, sent = run()
    assert sum(r[2] for r in sent) == 1
    assert [c.name for c in checks if not c.ok] == ["verify"]
    mock_http["verify_status"], mock_http["valid"] = 200, False
    checks, _ = run()
    assert "insufficient_funds" in [c for c in checks if c.name == "verify"][0].detail
