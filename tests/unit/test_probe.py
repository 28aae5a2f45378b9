"""facilitator_probe logic, without network (load probe against an in-process server)."""
import http.server
import json
import threading

import pytest

from ansible.module_utils.facilitator_ops.verify import probe as probe

SUPPORTED = {
    "kinds": [
        {"x402Version": 1, "scheme": "exact", "network": "base-sepolia"},
        {"x402Version": 2, "scheme": "exact", "network": "eip155:84532"},
        {"x402Version": 1, "scheme": "exact", "network": "solana-devnet", "extra": {"feePayer": "FeePayer1"}},
        {"x402Version": 2, "scheme": "exact", "network": "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
         "extra": {"feePayer": "FeePayer1"}},
    ],
    "extensions": [],
    "signers": {"eip155:*": ["0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"], "solana:*": ["FeePayer1"]},
}
CATALOG = {"base-sepolia": {"caip2": "eip155:84532"}, "avalanche-fuji": {"caip2": "eip155:43113"},
           "solana-devnet": {"caip2": "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"}}


def res(status, body):
    return probe.HttpResult(status, body if isinstance(body, str) else json.dumps(body))


def test_health_ok_and_failures():
    assert probe.check_health(res(200, {"status": "healthy"})).ok
    assert "HTTP 503" in probe.check_health(res(503, "")).detail
    assert "unreachable" in probe.check_health(probe.HttpResult(None, "", "refused")).detail


def test_version_strips_v_and_refuses_dev():
    assert probe.check_version(res(200, {"version": "v1.92.0"}), "1.92.0").ok
    c = probe.check_version(res(200, {"version": "1.47.0"}), "1.68.0")
    assert not c.ok and c.detail == "/version is 1.47.0, expected 1.68.0"
    dev = probe.check_version(res(200, {"version": "dev"}))
    assert not dev.ok and "without the version argument" in dev.detail


def test_branding_lost_is_named():
    assert probe.check_branding(res(200, "<h1>Ultravioleta DAO</h1>"), "Ultravioleta DAO").ok
    c = probe.check_branding(res(200, "Hello"), "Ultravioleta DAO")
    assert not c.ok and c.detail.startswith("branding lost")


def test_networks_diff_names_missing_and_unexpected():
    ok = probe.check_networks(SUPPORTED, ["base-sepolia", "solana-devnet"], CATALOG)
    assert ok.ok
    c = probe.check_networks(SUPPORTED, ["base-sepolia", "avalanche-fuji"], CATALOG)
    assert not c.ok
    assert "missing: avalanche-fuji" in c.detail and "unexpected: solana-devnet" in c.detail
    assert c.data["missing"] == ["avalanche-fuji"]


def test_networks_requires_caip2_entry():
    doc = {"kinds": [{"x402Version": 1, "scheme": "exact", "network": "base-sepolia"}]}
    c = probe.check_networks(doc, ["base-sepolia"], CATALOG)
    assert not c.ok and "no CAIP-2 entry for: base-sepolia (eip155:84532)" in c.detail


def test_signers():
    assert probe.check_signers(SUPPORTED, ["0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"], ["FeePayer1"]).ok
    c = probe.check_signers(SUPPORTED, ["0x0000000000000000000000000000000000000001"], ["Other"])
    assert not c.ok and "EVM signer 0x0000000000000000000000000000000000000001 not live" in c.detail
    assert "Solana feePayer Other not live" in c.detail


def test_every_solana_fee_payer_is_checked():
    """Two Solana wallets (e.g. mainnet and devnet): both fee payers must be live, not just the first."""
    doc = json.loads(json.dumps(SUPPORTED))
    doc["kinds"].append({"x402Version": 1, "scheme": "exact", "network": "solana", "extra": {"feePayer": "FeePayer2"}})
    assert probe.check_signers(doc, None, ["FeePayer1", "FeePayer2"]).ok
    c = probe.check_signers(SUPPORTED, None, ["FeePayer1", "FeePayer2"])
    assert not c.ok and "Solana feePayer FeePayer2 not live" in c.detail and "FeePayer1 not" not in c.detail


def test_percentile():
    vals = sorted(range(1, 101))
    assert probe.percentile(vals, 50) == 50 and probe.percentile(vals, 99) == 99
    assert probe.percentile([], 99) is None


def test_check_load_thresholds():
    stats = {"requests": 100, "concurrency": 5, "rps": 10, "p50_ms": 1, "p95_ms": 2, "p99_ms": 2500, "error_rate": 0.05}
    c = probe.check_load(stats, p99_max_ms=2000, error_rate_max=0.01)
    assert not c.ok and "error rate 5.00% > 1.00%" in c.detail and "p99 2500 ms > 2000" in c.detail


def test_check_load_enforces_the_minimum_request_count():
    stats = {"requests": 3, "concurrency": 5, "rps": 1, "p50_ms": 1, "p95_ms": 2, "p99_ms": 3, "error_rate": 0.0}
    c = probe.check_load(stats, min_requests=100)
    assert not c.ok and "only 3 of the minimum 100 requests" in c.detail
    assert probe.check_load(dict(stats, requests=100), min_requests=100).ok


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fail_every = 0
    count = 0

    def do_GET(self):  # noqa: N802
        type(self).count += 1
        status = 503 if self.fail_every and self.count % self.fail_every == 0 else 200
        body = b'{"status":"healthy"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()


def test_load_probe_counts_requests_and_errors(server):
    _Handler.fail_every, _Handler.count = 10, 0
    url = f"http://127.0.0.1:{server.server_address[1]}"
    stats = probe.load_probe(url, requests=100, concurrency=4, max_seconds=10)
    assert stats["requests"] == 100
    assert stats["errors"] == 10 and stats["statuses"]["503"] == 10
    assert stats["p50_ms"] <= stats["p99_ms"]
    assert not probe.check_load(stats).ok


def test_load_probe_unreachable_port_is_all_errors():
    stats = probe.load_probe("http://127.0.0.1:9", requests=5, concurrency=1, max_seconds=5, timeout=1)
    assert stats["errors"] == stats["requests"] == 5


def test_load_probe_refuses_a_non_http_url():
    with pytest.raises(ValueError):
        probe.load_probe("ftp://example.invalid")


def test_run_checks_applies_the_minimum_to_a_time_bounded_probe(server):
    """A probe cut short by max_seconds fails when it did fewer than its requests (default minimum)."""
    _Handler.fail_every, _Handler.count = 0, 0
    url = f"http://127.0.0.1:{server.server_address[1]}"
    out = probe.run_checks(url, {"load"}, load={"requests": 100000, "concurrency": 2, "max_seconds": 0.3})
    assert not out[0].ok and "of the minimum 100000 requests" in out[0].detail
    out = probe.run_checks(url, {"load"}, load={"requests": 100000, "min_requests": 5, "concurrency": 2,
                                                "max_seconds": 0.3})
    assert out[0].ok, out[0].detail


# ------------------------------------------------------------------ HTTPS, verified

@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """An HTTPS server with a certificate from a throw-away CA (cryptography), like the stack's."""
    import datetime
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    d = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("test CA")).issuer_name(name("test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now)
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (d / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(d / "server.pem")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"https://127.0.0.1:{srv.server_address[1]}", str(d / "ca.pem")
    srv.shutdown()


def test_https_with_the_ca_bundle_is_verified_and_works(tls_server):
    url, ca = tls_server
    _Handler.fail_every, _Handler.count = 0, 0
    assert probe.http_get(url, "/health", ca_bundle=ca).status == 200
    stats = probe.load_probe(url, requests=50, concurrency=4, max_seconds=10, ca_bundle=ca)
    assert stats["requests"] == 50 and stats["errors"] == 0


def test_https_with_an_untrusted_certificate_fails_naming_it(tls_server):
    """Default trust (the system store) does not know the test CA: refused, and said so."""
    url, _ = tls_server
    res = probe.http_get(url, "/health")
    assert res.status is None and "TLS certificate not trusted" in res.error
    stats = probe.load_probe(url, requests=3, concurrency=1, max_seconds=5)
    assert stats["errors"] == 3 and "certificate" in stats["first_error"]
    c = probe.check_health(res)
    assert not c.ok and "TLS certificate not trusted" in c.detail


def test_sides_share(tls_server, monkeypatch):
    stats = {"requests": 200, "by_side": {"old": 180, "new": 20}, "errors": 0}
    c = probe.check_sides(stats)
    assert c.ok and c.data["share_percent"] == 10.0 and "10% of 200 requests" in c.detail


def test_a_missing_ca_bundle_is_named_and_plain_http_needs_none(tmp_path, server):
    missing = str(tmp_path / "nope.pem")
    out = probe.run_checks("https://127.0.0.1:9", {"health", "version"}, ca_bundle=missing)
    assert [c.ok for c in out] == [False, False] and all(f"CA bundle {missing} does not exist" in c.detail for c in out)
    _Handler.fail_every, _Handler.count = 0, 0
    url = f"http://127.0.0.1:{server.server_address[1]}"
    assert probe.run_checks(url, {"health"}, ca_bundle=missing)[0].ok  # a container's own plain port
