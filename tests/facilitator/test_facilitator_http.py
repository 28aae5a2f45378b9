"""HTTP surface: /, /health, /version, /supported shape, request errors, rate limit."""

from __future__ import annotations

import subprocess
import sys

import pytest
from facilitator_helpers import ANVIL_ADDR_2, ANVIL_ADDR_3, ANVIL_KEY_2, ANVIL_KEY_3, APP_DIR, SOLANA_KEYPAIR, SOLANA_PUBKEY
from starlette.testclient import TestClient

from x402_reference_facilitator import app as appmod
from x402_reference_facilitator import config as cfgmod
from x402_reference_facilitator import facilitator as facmod

# Unreachable RPC URLs: nothing below talks to a chain (start-up makes no RPC call).
ENV = {
    "SIGNER_TYPE": "private-key",
    "EVM_PRIVATE_KEY_TESTNET": f"{ANVIL_KEY_2},{ANVIL_KEY_3}",
    "RPC_URL_BASE_SEPOLIA": "http://127.0.0.1:9",
    "RPC_URL_AVALANCHE_FUJI": "http://127.0.0.1:9",
    "SOLANA_PRIVATE_KEY_TESTNET": SOLANA_KEYPAIR,
    "RPC_URL_SOLANA_DEVNET": "http://127.0.0.1:9",
    "FACILITATOR_VERSION_FILE": "/nonexistent",
    "FACILITATOR_VERSION": "1.92.0",
}

EXPECTED_SUPPORTED = {
    "kinds": [
        {"x402Version": 1, "scheme": "exact", "network": "base-sepolia"},
        {"x402Version": 2, "scheme": "exact", "network": "eip155:84532"},
        {"x402Version": 1, "scheme": "exact", "network": "avalanche-fuji"},
        {"x402Version": 2, "scheme": "exact", "network": "eip155:43113"},
        {"x402Version": 1, "scheme": "exact", "network": "solana-devnet", "extra": {"feePayer": SOLANA_PUBKEY}},
        {"x402Version": 2, "scheme": "exact", "network": "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
         "extra": {"feePayer": SOLANA_PUBKEY}},
    ],
    "extensions": [],
    "signers": {"eip155:*": [ANVIL_ADDR_2, ANVIL_ADDR_3], "solana:*": [SOLANA_PUBKEY]},
}


def make_client(env=None, **overrides) -> TestClient:
    cfg = cfgmod.load({**ENV, **(env or {}), **overrides})
    return TestClient(appmod.create_app(cfg, facmod.build(cfg)))


@pytest.fixture(scope="module")
def client():
    with make_client() as c:
        yield c


def test_supported_exact_shape(client):
    resp = client.get("/supported")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == EXPECTED_SUPPORTED


def test_supported_validates_against_sdk_model(client):
    from x402.schemas import SupportedResponse

    model = SupportedResponse.model_validate(client.get("/supported").json())
    assert {k.network for k in model.kinds} >= {"base-sepolia", "eip155:84532"}


def test_missing_rpc_vanishes_from_supported_but_health_ok():
    env = dict(ENV)
    del env["RPC_URL_AVALANCHE_FUJI"]
    with make_client(env={}, RPC_URL_AVALANCHE_FUJI="") as c:
        networks = {k["network"] for k in c.get("/supported").json()["kinds"]}
        assert "avalanche-fuji" not in networks and "eip155:43113" not in networks
        assert "base-sepolia" in networks
        assert c.get("/health").json() == {"status": "healthy"}


def test_no_networks_at_all_is_still_healthy():
    cfg = cfgmod.load({"SIGNER_TYPE": "private-key"})
    with TestClient(appmod.create_app(cfg, facmod.build(cfg))) as c:
        assert c.get("/health").status_code == 200
        assert c.get("/supported").json() == {"kinds": [], "extensions": [], "signers": {}}


def test_health(client):
    resp = client.get("/health")
    assert resp.status_code == 200 and resp.json() == {"status": "healthy"}


def test_version(client):
    assert client.get("/version").json() == {"version": "1.92.0"}


def test_landing_page(client):
    resp = client.get("/")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert "Ultravioleta DAO" in resp.text
    assert resp.content == appmod.INDEX_HTML


def test_static_index_file_is_real():
    path = APP_DIR / "x402_reference_facilitator" / "static" / "index.html"
    text = path.read_text(encoding="utf-8")
    assert "Ultravioleta DAO" in text
    assert path.stat().st_size >= 2048
    assert text.lstrip().lower().startswith("<!doctype html>")


def test_unknown_route_404(client):
    assert client.get("/networks").status_code == 404


def test_get_verify_and_settle_describe_themselves(client):
    assert client.get("/verify").json()["endpoint"] == "/verify"
    assert client.get("/settle").json()["endpoint"] == "/settle"


@pytest.mark.parametrize("path", ["/verify", "/settle"])
@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"paymentPayload": {}}', b'{"x402Version": 3, "paymentPayload": {}, "paymentRequirements": {}}',
     b'{"x402Version": 2, "paymentPayload": {"x402Version": 2}, "paymentRequirements": {}}'],
)
def test_malformed_requests_are_400_json(client, path, body):
    resp = client.post(path, content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 400
    assert "error" in resp.json()


def _v2_body(network: str) -> dict:
    req = {"scheme": "exact", "network": network, "asset": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
           "amount": "1000", "payTo": ANVIL_ADDR_3, "maxTimeoutSeconds": 60, "extra": {"name": "USD Coin", "version": "2"}}
    payload = {"x402Version": 2, "accepted": req, "payload": {
        "authorization": {"from": ANVIL_ADDR_2, "to": ANVIL_ADDR_3, "value": "1000", "validAfter": "0",
                          "validBefore": "9999999999", "nonce": "0x" + "00" * 32},
        "signature": "0x" + "11" * 65}}
    return {"x402Version": 2, "paymentPayload": payload, "paymentRequirements": req}


def test_unsupported_network_is_rejected_not_misrouted(client):
    # eip155:8453 (base) is not configured; the SDK's wildcard routing would have sent it to
    # the base-sepolia scheme. It must be refused instead.
    resp = client.post("/verify", json=_v2_body("eip155:8453"))
    assert resp.status_code == 200
    assert resp.json()["isValid"] is False
    assert resp.json()["invalidReason"] == "invalid_network"
    resp = client.post("/settle", json=_v2_body("eip155:8453"))
    assert resp.json()["success"] is False and resp.json()["network"] == "eip155:8453"


def test_verify_with_bad_signature_is_invalid_without_chain(client):
    # Signature check happens before any RPC call: an unparseable signature is invalid.
    resp = client.post("/verify", json=_v2_body("eip155:84532"))
    assert resp.status_code == 200
    body = resp.json()
    assert body["isValid"] is False and body["payer"] == ANVIL_ADDR_2
    assert body["invalidReason"]


def test_solana_verify_gives_clear_reason():
    body = {
        "x402Version": 2,
        "paymentPayload": {"x402Version": 2, "payload": {"transaction": "AQID"},
                           "accepted": {"scheme": "exact", "network": "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
                                        "asset": "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU", "amount": "1000",
                                        "payTo": SOLANA_PUBKEY, "maxTimeoutSeconds": 60,
                                        "extra": {"feePayer": SOLANA_PUBKEY}}},
        "paymentRequirements": {"scheme": "exact", "network": "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
                                "asset": "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU", "amount": "1000",
                                "payTo": SOLANA_PUBKEY, "maxTimeoutSeconds": 60, "extra": {"feePayer": SOLANA_PUBKEY}},
    }
    with make_client() as c:
        resp = c.post("/verify", json=body)
    assert resp.status_code in (200, 500)
    data = resp.json()
    assert data["isValid"] is False and data["invalidReason"]


def test_verify_rate_limit_per_client_ip():
    with make_client(RATE_LIMIT_VERIFY_PER_SECOND="0.001", RATE_LIMIT_VERIFY_BURST="3") as c:
        codes = [c.post("/verify", content=b"{}", headers={"x-forwarded-for": "198.51.100.7"}).status_code
                 for _ in range(5)]
        assert codes == [400, 400, 400, 429, 429]
        limited = c.post("/verify", content=b"{}", headers={"x-forwarded-for": "198.51.100.7"})
        assert limited.json()["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
        # another client is unaffected; /settle and /health are not limited
        assert c.post("/verify", content=b"{}", headers={"x-forwarded-for": "198.51.100.8"}).status_code == 400
        assert c.post("/settle", content=b"{}", headers={"x-forwarded-for": "198.51.100.7"}).status_code == 400
        assert c.get("/health").status_code == 200


def test_rate_limit_disabled_with_zero():
    with make_client(RATE_LIMIT_VERIFY_PER_SECOND="0", RATE_LIMIT_VERIFY_BURST="1") as c:
        assert all(c.post("/verify", content=b"{}").status_code == 400 for _ in range(10))


def test_token_bucket_refills():
    from x402_reference_facilitator.ratelimit import TokenBucketLimiter

    lim = TokenBucketLimiter(per_second=2, burst=2)
    assert lim.acquire("a", now=0)[0] and lim.acquire("a", now=0)[0]
    ok, _, retry = lim.acquire("a", now=0)
    assert not ok and 0 < retry <= 0.5
    assert lim.acquire("a", now=0.5)[0]


# ---------------------------------------------------------------- process-level


def _run(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "x402_reference_facilitator"],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(APP_DIR), **env},
        capture_output=True, text=True, timeout=60,
    )


def test_exit_1_without_signer_type():
    proc = _run({"EVM_PRIVATE_KEY": ANVIL_KEY_2, "RPC_URL_BASE": "http://127.0.0.1:9"})
    assert proc.returncode == 1
    assert "SIGNER_TYPE" in proc.stderr


def test_exit_1_with_wrong_signer_type():
    proc = _run({"SIGNER_TYPE": "kms"})
    assert proc.returncode == 1 and "Unknown signer type" in proc.stderr


def test_exit_1_on_bad_key_without_leaking_it():
    proc = _run({"SIGNER_TYPE": "private-key", "EVM_PRIVATE_KEY": "0xdeadbeef", "RPC_URL_BASE": "http://x"})
    assert proc.returncode == 1 and "0xdeadbeef" not in proc.stderr + proc.stdout


def test_startup_log_lines_and_served_routes(facilitator_factory):
    running = facilitator_factory(ENV)
    assert running.get_json("/supported") == EXPECTED_SUPPORTED
    assert running.get_json("/version") == {"version": "1.92.0"}
    log = running.log()
    assert (f"Initialized provider network=base-sepolia signers=[{ANVIL_ADDR_2}, {ANVIL_ADDR_3}]") in log
    assert (f"Initialized provider network=avalanche-fuji signers=[{ANVIL_ADDR_2}, {ANVIL_ADDR_3}]") in log
    assert f"Initialized provider network=solana-devnet signers=[{SOLANA_PUBKEY}] feePayer={SOLANA_PUBKEY}" in log
    assert ANVIL_KEY_2[2:] not in log and ANVIL_KEY_3[2:] not in log and SOLANA_KEYPAIR not in log
    assert "127.0.0.1:9" not in log  # RPC URLs (secrets in production) are not logged


def test_rpc_credentials_never_reach_responses():
    secret_url = "http://127.0.0.1:9/v2/sk_live_abcdef123456?apikey=topsecret99"
    with make_client(RPC_URL_BASE_SEPOLIA=secret_url) as c:
        resp = c.post("/verify", json=_v2_body("eip155:84532"))
    text = resp.text
    assert resp.json()["isValid"] is False
    assert "sk_live_abcdef123456" not in text and "topsecret99" not in text


def test_redactor_masks_url_pieces():
    from x402_reference_facilitator.redact import Redactor

    r = Redactor(["https://user:pw12345@rpc.example/abc/KEY123456?token=zzzzzz9"])
    out = r("failed https://user:pw12345@rpc.example/abc/KEY123456?token=zzzzzz9 and url: /abc/KEY123456")
    assert "KEY123456" not in out and "pw12345" not in out and "zzzzzz9" not in out
    assert r(None) is None
