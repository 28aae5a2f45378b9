# -*- coding: utf-8 -*-
"""x402 payment smoke test: sign an EIP-3009 authorization as a test payer,
POST /verify then /settle to the facilitator, and prove on-chain that the
token balances moved. Uses the official x402 SDK's client signer, so the
payload is exactly what a real client sends."""
from __future__ import annotations

from ansible.module_utils.facilitator_ops.common.http import bundle_for
from ansible.module_utils.facilitator_ops.common.http import client as http_client
from ansible.module_utils.facilitator_ops.common.http import describe_error

BALANCE_OF = "0x70a08231"


def post_json(url, body, timeout=120.0, ca_bundle=None):
    """POST JSON over HTTP(S) (certificates verified) -> (status, JSON body)."""
    import httpx

    try:
        with http_client(bundle_for(url, ca_bundle), timeout) as c:
            r = c.post(url, json=body)
    except ValueError as e:
        raise RuntimeError(str(e)) from None
    except httpx.HTTPError as e:
        raise RuntimeError(f"POST {url}: {describe_error(e)}") from None
    try:
        return r.status_code, r.json() if r.content else {}
    except ValueError:
        return r.status_code, {"raw": r.text[:200]}


def rpc(url, method, params, timeout=10.0):
    status, doc = post_json(url, {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout)
    if status != 200 or "error" in doc:
        raise RuntimeError(f"{method} on {url} failed: {doc.get('error', status)}")
    return doc["result"]


def token_balance(rpc_url, token, owner):
    data = BALANCE_OF + owner.lower().removeprefix("0x").rjust(64, "0")
    return int(rpc(rpc_url, "eth_call", [{"to": token, "data": data}, "latest"]), 16)


def build_payment(payer_key, network, x402_version, pay_to, amount):
    """-> (payment_payload dict, requirements dict) as JSON-ready dicts."""
    from eth_account import Account
    from x402.mechanisms.evm.signers import EthAccountSigner

    payer = Account.from_key(payer_key)
    token = network["token"]
    extra = {"name": token["name"], "version": token["version"]}
    if int(x402_version) == 1:
        from x402.mechanisms.evm.exact.v1.client import ExactEvmSchemeV1
        from x402.schemas.v1 import PaymentPayloadV1
        from x402.schemas.v1 import PaymentRequirementsV1

        req = PaymentRequirementsV1(
            scheme="exact",
            network=network["network"],
            max_amount_required=str(amount),
            resource="http://127.0.0.1/facilitator-ops-smoke",
            description="facilitator-ops payment smoke test",
            mime_type="application/json",
            pay_to=pay_to,
            max_timeout_seconds=300,
            asset=token["address"],
            extra=extra,
        )
        inner = ExactEvmSchemeV1(EthAccountSigner(payer)).create_payment_payload(req)
        payload = PaymentPayloadV1(x402_version=1, scheme="exact", network=network["network"], payload=inner)
    else:
        from x402.mechanisms.evm.exact.client import ExactEvmScheme
        from x402.schemas import PaymentPayload
        from x402.schemas import PaymentRequirements

        req = PaymentRequirements(
            scheme="exact",
            network=network["caip2"],
            asset=token["address"],
            amount=str(amount),
            pay_to=pay_to,
            max_timeout_seconds=300,
            extra=extra,
        )
        inner = ExactEvmScheme(EthAccountSigner(payer)).create_payment_payload(req)
        payload = PaymentPayload(x402_version=2, payload=inner, accepted=req)
    dump = dict(by_alias=True, exclude_none=True, mode="json")
    return payer.address, payload.model_dump(**dump), req.model_dump(**dump)


def smoke(base_url, chain_state, network_name, payer_key, pay_to, amount, x402_version=2, timeout=120.0,
          ca_bundle=None):
    """Returns a dict report; raises RuntimeError with a one-line reason."""
    nets = chain_state.get("networks") or {}
    if network_name not in nets:
        raise RuntimeError(f"network {network_name!r} not in the chain state ({', '.join(sorted(nets)) or 'none'})")
    net = nets[network_name]
    payer, payload, req = build_payment(payer_key, net, x402_version, pay_to, amount)
    token = net["token"]["address"]
    before_payer = token_balance(net["rpc_url"], token, payer)
    before_to = token_balance(net["rpc_url"], token, pay_to)
    body = {"x402Version": int(x402_version), "paymentPayload": payload, "paymentRequirements": req}
    base = base_url.rstrip("/")
    st, verified = post_json(base + "/verify", body, timeout, ca_bundle)
    if st != 200 or not verified.get("isValid"):
        raise RuntimeError(f"/verify refused the payment (HTTP {st}): {verified.get('invalidReason') or verified}")
    st, settled = post_json(base + "/settle", body, timeout, ca_bundle)
    if st != 200 or not settled.get("success"):
        raise RuntimeError(f"/settle failed (HTTP {st}): {settled.get('errorReason') or settled}")
    tx = settled.get("transaction")
    receipt = rpc(net["rpc_url"], "eth_getTransactionReceipt", [tx])
    if not receipt or int(receipt.get("status", "0x0"), 16) != 1:
        raise RuntimeError(f"settlement transaction {tx} did not succeed on-chain")
    after_payer = token_balance(net["rpc_url"], token, payer)
    after_to = token_balance(net["rpc_url"], token, pay_to)
    if after_to - before_to != int(amount) or before_payer - after_payer != int(amount):
        raise RuntimeError(
            f"balances did not move by {amount}: payer {before_payer}->{after_payer}, payee {before_to}->{after_to}"
        )
    return {
        "network": network_name,
        "x402_version": int(x402_version),
        "payer": payer,
        "pay_to": pay_to,
        "amount": str(amount),
        "transaction": tx,
        "settled_by": receipt.get("from"),
        "payer_balance": [before_payer, after_payer],
        "pay_to_balance": [before_to, after_to],
    }
