"""Wallet rotation items of issue 18, each with the test named after it (the integration side is in
tests/integration/test_rotate_wallet.py, test_issue18_*):

- (2) once anything was swept, a rotation only goes forward: no AWSCURRENT move back onto the old key;
- (9) the sweep destination is shown, EIP-55 checked, a Solana treasury must be an existing system account,
  and production asks for it to be typed back.
"""
from __future__ import annotations

import json

import pytest

import wallet_rotation as filters
from fake_evm import FakeEvmNode
from ansible.module_utils.facilitator_ops.wallet.evm import EvmChain
from ansible.module_utils.facilitator_ops.wallet.rotation import forward_only_reasons
from ansible.module_utils.facilitator_ops.wallet.rotation import network_config
from ansible.module_utils.facilitator_ops.wallet.rotation import preflight_wallet
from ansible.module_utils.facilitator_ops.wallet.rpc import JsonRpc
from ansible.module_utils.facilitator_ops.wallet.secret import WalletSecret
from ansible.module_utils.facilitator_ops.wallet.state import StateError
from ansible.module_utils.facilitator_ops.wallet.state import stage_action

ETH = 10**18


@pytest.fixture
def sm():
    moto = pytest.importorskip("moto")
    import boto3

    with moto.mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-2")


def _evm_secret(sm, name="facilitator-evm-testnet-private-key"):
    from eth_account import Account

    acct = Account.create()
    arn = sm.create_secret(Name=name, SecretString=json.dumps(
        {"private_key": "0x" + bytes(acct.key).hex(), "address": acct.address}))["ARN"]
    return acct, arn


def _promoted(sm):
    acct, arn = _evm_secret(sm)
    ws = WalletSecret(sm, arn, "evm", aws_retry=False)
    new, _ = ws.create_pending(batch="b1")
    st = ws.state()
    ws.move_current(st["new"], st["old"])
    return acct, new, arn, ws


# ---------------------------------------------------------------- (2) rollback onto a swept key


def test_issue18_2_rollback_onto_a_swept_key_is_refused_by_the_stage_module_logic(sm):
    _acct, _new, _arn, ws = _promoted(sm)
    st = ws.state()
    # promoted, nothing swept: a failed proof may still roll back
    assert stage_action("rollback", st, st["old"], st["new"])[0] == ("move_current", st["old"], st["new"])
    # the sweep marks the secret before its first transfer; from then on only forward
    assert ws.mark_sweep_started(st["new"], 1_000) is True
    assert ws.mark_sweep_started(st["new"], 2_000) is False  # idempotent: the first sweep's time is kept
    st = ws.state()
    assert st["sweep_started"] == {"version": st["new"], "epoch": 1_000}
    with pytest.raises(StateError, match="FORWARD ONLY, not rolling back"):
        stage_action("rollback", st, st["old"], st["new"])
    assert ws.state()["current"] == st["new"]  # nothing moved
    # a mark of an earlier rotation (another new version) does not block this one's rollback
    assert stage_action("rollback", dict(st, sweep_started={"version": "older", "epoch": 1}),
                        st["old"], st["new"])[0] is not None


def test_issue18_2_rollback_onto_a_swept_key_preflight_says_forward_only(sm):
    """The pre-flight of a promoted rotation: an old wallet already empty on a network (the chains), or the
    sweep mark (AWS), makes it forward only; the filter turns that into the run's one stop message."""
    acct, new, _arn, ws = _promoted(sm)
    node = FakeEvmNode(balances={acct.address: 0, new.address: 3 * ETH})
    net = network_config("base-sepolia", {"kind": "evm", "chain_id": 84532, "rpc_url": "http://fake",
                                          "target": "1", "floor": "0.1"})
    chain = EvmChain(JsonRpc("http://fake", "base-sepolia", transport=node.transport), "base-sepolia",
                     chain_id=84532, sleep=lambda s: None)
    w = dict(name="evm-testnet", kind="evm", env="EVM_PRIVATE_KEY_TESTNET", secret_arn=ws.arn, secret_name="s",
             region="us-east-2", networks=["base-sepolia"], unused_fallbacks=[])
    r = preflight_wallet(w, {"base-sepolia": net}, lambda region: sm, lambda n: chain, aws_retry=False)
    assert r["phase"] == "promoted"
    assert r["forward_only"] == [f"the old wallet {acct.address} holds nothing (or only dust) on base-sepolia"]
    msg = filters.wallet_rotation_forward_only([r], "proof failed")
    assert msg.startswith("ROTATION NOT ROLLED BACK (forward only)") and "\n" not in msg
    assert "Do NOT move AWSCURRENT back by hand" in msg and "rerun the same command" in msg
    assert new.address in msg and acct.address in msg
    # funds still on the old wallet, no sweep mark: a rollback is allowed (the filter says nothing)
    node.balances[acct.address.lower()] = 2 * ETH
    r = preflight_wallet(w, {"base-sepolia": net}, lambda region: sm, lambda n: chain, aws_retry=False)
    assert r["forward_only"] == [] and filters.wallet_rotation_forward_only([r], "x") == ""
    # the sweep mark alone (a transfer sent, not yet visible on the chain) is enough
    ws.mark_sweep_started(ws.state()["new"], 5)
    r = preflight_wallet(w, {"base-sepolia": net}, lambda region: sm, lambda n: chain, aws_retry=False)
    assert len(r["forward_only"]) == 1 and "sweep of the old wallet" in r["forward_only"][0]


def test_issue18_2_rollback_onto_a_swept_key_only_for_promoted_wallets():
    assert forward_only_reasons({"phase": "pending", "networks": {"x": {"status": "swept"}}}) == []
