"""Integration: real EIP-3009 verify + on-chain settle against the stack's anvil chains.

Needs the chain stack (stack/chain/chains.sh start && .venv/bin/python stack/chain/deploy.py),
which writes <state>/chain.json and <state>/payer.key; skipped with a reason otherwise.
The facilitator runs as a subprocess (the real entry point) with fresh keys funded through
anvil_setBalance, so it never shares a nonce sequence with anything else.
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from facilitator_helpers import state_dir

pytestmark = pytest.mark.integration

ERC20_ABI = [
    {"inputs": [{"name": "a", "type": "address"}], "name": "balanceOf",
     "outputs": [{"name": "", "type": "uint256"}], "stateMutability": "view", "type": "function"},
]


def _rpc_alive(url: str) -> bool:
    req = urllib.request.Request(url, data=b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=3) as resp:
            return "result" in json.loads(resp.read())
    except Exception:
        return False


@pytest.fixture(scope="module")
def chain():
    chain_file = state_dir() / "chain.json"
    key_file = state_dir() / "payer.key"
    if not chain_file.exists() or not key_file.exists():
        pytest.skip(f"chain stack not deployed ({chain_file} / {key_file} missing): "
                    "run stack/chain/chains.sh start and stack/chain/deploy.py")
    data = json.loads(chain_file.read_text())
    nets = data["networks"]
    for name in ("base-sepolia", "avalanche-fuji"):
        if name not in nets:
            pytest.fail(f"{name} missing from {chain_file}: the chain stack was deployed without it")
        if not _rpc_alive(nets[name]["rpc_url"]):
            pytest.skip(f"{name} RPC {nets[name]['rpc_url']} not answering (chains not started?)")
    return {"networks": nets, "payer_key": key_file.read_text().strip()}


def _w3(url):
    from web3 import Web3

    return Web3(Web3.HTTPProvider(url))


@pytest.fixture(scope="module")
def facilitator_keys(chain):
    """Two fresh facilitator keys with 10 ETH of gas on both chains."""
    from eth_account import Account

    accounts = [Account.create(), Account.create()]
    for net in chain["networks"].values():
        w3 = _w3(net["rpc_url"])
        for acct in accounts:
            resp = w3.provider.make_request("anvil_setBalance", [acct.address, hex(10 * 10**18)])
            if "error" in resp:
                pytest.fail(f"cannot fund a test facilitator key on {net['network']}: {resp['error']}")
    return accounts


@pytest.fixture(scope="module")
def facilitator(chain, facilitator_keys, tmp_path_factory):
    from facilitator_helpers import start_facilitator, stop_facilitator

    nets = chain["networks"]
    env = {
        "SIGNER_TYPE": "private-key",
        "EVM_PRIVATE_KEY_TESTNET": ",".join("0x" + a.key.hex().removeprefix("0x") for a in facilitator_keys),
        "RPC_URL_BASE_SEPOLIA": nets["base-sepolia"]["rpc_url"],
        "RPC_URL_AVALANCHE_FUJI": nets["avalanche-fuji"]["rpc_url"],
        "RUST_LOG": "info",
    }
    running = start_facilitator(env, tmp_path_factory.mktemp("facilitator"))
    yield running
    stop_facilitator(running)


def _client(payer_key):
    from eth_account import Account
    from x402 import x402ClientSync
    from x402.mechanisms.evm import EthAccountSigner
    from x402.mechanisms.evm.exact import register_exact_evm_client

    client = x402ClientSync()
    client.set_spend_controls(False)  # the stack's token is not one of the SDK's default assets
    register_exact_evm_client(client, EthAccountSigner(Account.from_key(payer_key)))
    return client


def _post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=180) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def _balance(net, address) -> int:
    w3 = _w3(net["rpc_url"])
    token = w3.eth.contract(address=net["token"]["address"], abi=ERC20_ABI)
    return token.functions.balanceOf(address).call()


def _requirements_v2(net, pay_to, amount):
    from x402.schemas import PaymentRequirements

    return PaymentRequirements(
        scheme="exact", network=net["caip2"], asset=net["token"]["address"], amount=str(amount),
        pay_to=pay_to, max_timeout_seconds=300,
        extra={"name": net["token"]["name"], "version": net["token"]["version"]},
    )


def _dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def test_supported_lists_both_chains_with_signers(facilitator, facilitator_keys):
    supported = facilitator.get_json("/supported")
    networks = {(k["x402Version"], k["network"]) for k in supported["kinds"]}
    assert networks == {(1, "base-sepolia"), (2, "eip155:84532"), (1, "avalanche-fuji"), (2, "eip155:43113")}
    assert supported["signers"] == {"eip155:*": [a.address for a in facilitator_keys]}
    log = facilitator.log()
    addrs = ", ".join(a.address for a in facilitator_keys)
    assert f"Initialized provider network=base-sepolia signers=[{addrs}]" in log


def test_v2_verify_then_settle_moves_tokens_on_chain(chain, facilitator, facilitator_keys):
    from eth_account import Account
    from x402.schemas import PaymentRequired

    net = chain["networks"]["base-sepolia"]
    payer = Account.from_key(chain["payer_key"]).address
    recipient = Account.create().address
    amount = 1_250_000  # 1.25 USDC (6 decimals)
    requirements = _requirements_v2(net, recipient, amount)
    payload = _client(chain["payer_key"]).create_payment_payload(PaymentRequired(accepts=[requirements]))
    body = {"x402Version": 2, "paymentPayload": _dump(payload), "paymentRequirements": _dump(requirements)}

    payer_before = _balance(net, payer)
    assert payer_before >= amount, "payer has too few tokens: run stack/chain/deploy.py --top-up"

    status, verify = _post(facilitator.url + "/verify", body)
    assert status == 200 and verify == {"isValid": True, "payer": payer}
    assert _balance(net, recipient) == 0  # verify moves nothing

    status, settle = _post(facilitator.url + "/settle", body)
    assert status == 200, settle
    assert settle["success"] is True, settle
    assert settle["payer"] == payer and settle["network"] == "eip155:84532"
    assert settle["transaction"].startswith("0x") and len(settle["transaction"]) == 66

    assert _balance(net, recipient) == amount
    assert _balance(net, payer) == payer_before - amount
    receipt = _w3(net["rpc_url"]).eth.get_transaction_receipt(settle["transaction"])
    assert receipt["status"] == 1
    tx = _w3(net["rpc_url"]).eth.get_transaction(settle["transaction"])
    assert tx["from"] in {a.address for a in facilitator_keys}  # gas paid by the facilitator
    assert tx["to"] == net["token"]["address"]

    # The same authorization cannot be settled twice (nonce consumed on-chain).
    status, again = _post(facilitator.url + "/settle", body)
    assert again["success"] is False and "nonce" in again["errorReason"]
    assert _balance(net, recipient) == amount
    status, reverify = _post(facilitator.url + "/verify", body)
    assert reverify["isValid"] is False


def test_v1_payload_on_second_chain_via_sdk_http_client(chain, facilitator):
    """x402 v1 (legacy names) end to end, driven by the SDK's own HTTP facilitator client."""
    from eth_account import Account
    from x402.http import FacilitatorConfig, HTTPFacilitatorClientSync
    from x402.schemas.v1 import PaymentRequiredV1, PaymentRequirementsV1

    net = chain["networks"]["avalanche-fuji"]
    recipient = Account.create().address
    requirements = PaymentRequirementsV1(
        scheme="exact", network="avalanche-fuji", max_amount_required="40000", resource="https://api.example/x",
        pay_to=recipient, max_timeout_seconds=300, asset=net["token"]["address"],
        extra={"name": net["token"]["name"], "version": net["token"]["version"]},
    )
    payer = Account.from_key(chain["payer_key"]).address
    assert _balance(net, payer) >= 40000, "payer has too few tokens: run stack/chain/deploy.py --top-up"
    payload = _client(chain["payer_key"]).create_payment_payload(PaymentRequiredV1(accepts=[requirements]))
    with HTTPFacilitatorClientSync(FacilitatorConfig(url=facilitator.url, timeout=180)) as sdk:
        verified = sdk.verify(payload, requirements)
        assert verified.is_valid, verified
        settled = sdk.settle(payload, requirements)
    assert settled.success, settled
    assert settled.network == "avalanche-fuji"
    assert _balance(net, recipient) == 40000, (settled, facilitator.log()[-3000:])


def test_wrong_recipient_and_tampered_amount_are_invalid(chain, facilitator):
    from eth_account import Account
    from x402.schemas import PaymentRequired

    net = chain["networks"]["base-sepolia"]
    recipient = Account.create().address
    requirements = _requirements_v2(net, recipient, 1000)
    payload = _client(chain["payer_key"]).create_payment_payload(PaymentRequired(accepts=[requirements]))

    other = _requirements_v2(net, Account.create().address, 1000)
    status, resp = _post(facilitator.url + "/verify", {"x402Version": 2, "paymentPayload": _dump(payload),
                                                       "paymentRequirements": _dump(other)})
    assert resp["isValid"] is False and "recipient" in resp["invalidReason"]

    tampered = _dump(payload)
    tampered["payload"]["authorization"]["value"] = "2000"
    status, resp = _post(facilitator.url + "/settle", {"x402Version": 2, "paymentPayload": tampered,
                                                       "paymentRequirements": _dump(_requirements_v2(net, recipient, 2000))})
    assert resp["success"] is False
    assert _balance(net, recipient) == 0


def test_insufficient_funds_is_invalid_and_not_settled(chain, facilitator):
    from eth_account import Account
    from x402.schemas import PaymentRequired

    net = chain["networks"]["base-sepolia"]
    broke = Account.create()
    recipient = Account.create().address
    requirements = _requirements_v2(net, recipient, 5_000_000)
    payload = _client(broke.key.hex()).create_payment_payload(PaymentRequired(accepts=[requirements]))
    body = {"x402Version": 2, "paymentPayload": _dump(payload), "paymentRequirements": _dump(requirements)}
    status, verify = _post(facilitator.url + "/verify", body)
    assert status == 200 and verify["isValid"] is False and verify["payer"] == broke.address
    status, settle = _post(facilitator.url + "/settle", body)
    assert settle["success"] is False and settle["transaction"] == ""


def test_settlements_rotate_over_several_signers(chain, facilitator, facilitator_keys):
    from eth_account import Account
    from x402.schemas import PaymentRequired

    net = chain["networks"]["avalanche-fuji"]
    senders = set()
    for _ in range(2):
        requirements = _requirements_v2(net, Account.create().address, 1000)
        payload = _client(chain["payer_key"]).create_payment_payload(PaymentRequired(accepts=[requirements]))
        status, settle = _post(facilitator.url + "/settle", {"x402Version": 2, "paymentPayload": _dump(payload),
                                                             "paymentRequirements": _dump(requirements)})
        assert settle["success"] is True, settle
        senders.add(_w3(net["rpc_url"]).eth.get_transaction(settle["transaction"])["from"])
    assert senders == {a.address for a in facilitator_keys}


class _SlowRpc:
    """A JSON-RPC proxy in front of a chain that holds `eth_sendRawTransaction` for `delay`
    seconds (a slow chain), and says when one arrived: a /settle is then in flight."""

    def __init__(self, upstream: str, delay: float):
        import http.server
        import threading

        self.upstream, self.delay = upstream, delay
        self.sent = threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                import time

                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                calls = json.loads(body)
                methods = {c.get("method") for c in (calls if isinstance(calls, list) else [calls])}
                if "eth_sendRawTransaction" in methods:
                    proxy.sent.set()
                    time.sleep(proxy.delay)
                req = urllib.request.Request(proxy.upstream, data=body, headers={"content-type": "application/json"})
                with urllib.request.urlopen(req, timeout=30) as resp:
                    out = resp.read()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def test_sigterm_during_settle_finishes_it_then_exits(chain, tmp_path):
    """ECS stops a task with SIGTERM (after its deregistration delay): the facilitator stops
    accepting, finishes the /settle in flight (the payment lands and its answer reaches the
    client), then exits 0 within its grace (issue 17)."""
    import signal
    import socket
    import threading
    import time

    from eth_account import Account
    from facilitator_helpers import start_facilitator, stop_facilitator
    from x402.schemas import PaymentRequired

    net = chain["networks"]["base-sepolia"]
    rpc = _SlowRpc(net["rpc_url"], delay=3.0)
    # a key of its own: a key another running facilitator signs with would share its nonces
    key = Account.create()
    assert "error" not in _w3(net["rpc_url"]).provider.make_request("anvil_setBalance", [key.address, hex(10**18)])
    running = start_facilitator({
        "SIGNER_TYPE": "private-key", "EVM_PRIVATE_KEY_TESTNET": "0x" + key.key.hex().removeprefix("0x"),
        "RPC_URL_BASE_SEPOLIA": rpc.url, "RUST_LOG": "info", "SHUTDOWN_GRACE_SECONDS": "20",
    }, tmp_path)
    try:
        recipient = Account.create().address
        requirements = _requirements_v2(net, recipient, 10_000)
        payload = _client(chain["payer_key"]).create_payment_payload(PaymentRequired(accepts=[requirements]))
        body = {"x402Version": 2, "paymentPayload": _dump(payload), "paymentRequirements": _dump(requirements)}
        answer = {}
        th = threading.Thread(target=lambda: answer.update(zip(("status", "body"), _post(running.url + "/settle", body))))
        th.start()
        assert rpc.sent.wait(60), "the /settle never reached eth_sendRawTransaction:\n" + running.log()[-2000:]
        running.proc.send_signal(signal.SIGTERM)
        # stops accepting: a new connection is refused while the settlement is still in flight
        port = int(running.url.rsplit(":", 1)[1])
        deadline = time.monotonic() + 2.5
        refused = False
        while time.monotonic() < deadline and not refused:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                time.sleep(0.1)
            except OSError:
                refused = True
        assert refused, "still accepting connections after SIGTERM"
        assert th.is_alive(), "the /settle answered before the slow chain did"
        th.join(30)
        assert answer.get("status") == 200 and answer["body"]["success"] is True, (answer, running.log()[-2000:])
        assert running.proc.wait(20) == 0, running.log()[-2000:]
        assert _balance(net, recipient) == 10_000  # the payment landed
        assert "Stopped" in running.log()
    finally:
        stop_facilitator(running)
        rpc.close()
