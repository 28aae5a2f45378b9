"""Rotation holes of issue 11, each with the test that shows it closed:

- the recent-rotation guard lives in AWS (a tag on the secret, written before AWSPENDING goes), not in a
  local file: a second operator, or a rerun after a kill between the two, sees it;
- funding keeps the old wallet (the live signer until the new one is proven) at or above its floor;
- the proof does not count an old address still listed by a wallet this run leaves alone as a contradiction;
- a Solana transfer is recorded in AWS before it is sent and settled before anything is sent again;
- a proof from CloudWatch reads start-up lines only from the running deployment's start.
"""
from __future__ import annotations

import hashlib
import json

import pytest

from fake_evm import FakeEvmNode
from ansible.module_utils.facilitator_ops.wallet.evm import EvmChain
from ansible.module_utils.facilitator_ops.wallet.fees import TransferRefused
from ansible.module_utils.facilitator_ops.wallet.proof import cloudwatch_lines
from ansible.module_utils.facilitator_ops.wallet.proof import evaluate
from ansible.module_utils.facilitator_ops.wallet.rotation import kept_addresses
from ansible.module_utils.facilitator_ops.wallet.rotation import network_config
from ansible.module_utils.facilitator_ops.wallet.rotation import preflight_wallet
from ansible.module_utils.facilitator_ops.wallet.rotation import done_in_batch
from ansible.module_utils.facilitator_ops.wallet.rotation import recently_rotated
from ansible.module_utils.facilitator_ops.wallet.rotation import rotation_batch
from ansible.module_utils.facilitator_ops.wallet.rpc import JsonRpc
from ansible.module_utils.facilitator_ops.wallet.secret import InflightRecord
from ansible.module_utils.facilitator_ops.wallet.secret import WalletSecret
from ansible.module_utils.facilitator_ops.wallet.solana import SolanaChain
from ansible.module_utils.facilitator_ops.wallet.solana import build_transfer

ETH = 10**18
SOL = 10**9


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


# ---------------------------------------------------------------- the guard lives in AWS

def test_recent_rotation_is_read_from_the_secret_by_any_machine(sm):
    _acct, arn = _evm_secret(sm)
    ws = WalletSecret(sm, arn, "evm", aws_retry=False)
    ws.create_pending(batch="b1")
    st = ws.state()
    ws.move_current(st["new"], st["old"])
    # finish, as wallet_secret_stage does it: the tag first, then AWSPENDING goes
    ws.mark_rotated(st["new"], 1_000_000)
    ws.remove_pending(st["new"])
    # another operator: a fresh client, no local state at all
    other = WalletSecret(sm, arn, "evm", aws_retry=False).state()
    assert other["phase"] == "idle" and other["rotated"] == {"version": st["new"], "epoch": 1_000_000, "batch": "b1"}
    report = {"name": "evm-testnet", "phase": "idle", "secret_name": "s", "versions": {"current": other["current"]},
              "rotated": other["rotated"]}
    assert recently_rotated([report], 60, now=1_000_000 + 300)


def test_a_resumed_rotation_never_starts_again_a_wallet_it_finished():
    """-e wallet=all -e rotate_again=yes killed after evm finished, solana still promoted: the same command again
    resumes that rotation; evm (finished in it) is not rotated a second time, even with rotate_again."""
    evm = {"name": "evm", "phase": "idle", "secret_name": "e", "versions": {"current": "v2"},
           "rotated": {"version": "v2", "epoch": 1000, "batch": "b1"}, "batch": "b1"}
    sol = {"name": "sol", "phase": "promoted", "secret_name": "s", "versions": {"current": "w2"}, "batch": "b1"}
    assert rotation_batch([evm, sol]) == "b1" and done_in_batch(evm, "b1") and not done_in_batch(sol, "b1")
    assert recently_rotated([evm, sol], 60, now=1100, batch="b1") == []  # skipped, not refused
    # all idle: a new rotation (no batch); evm finished minutes ago is recent again
    assert rotation_batch([evm, dict(sol, phase="idle")]) is None
    assert recently_rotated([evm], 60, now=1100, batch=None)


# ---------------------------------------------------------------- the old wallet keeps its floor

def _net(floor="0.5"):
    return network_config("base-sepolia", {"kind": "evm", "chain_id": 84532, "rpc_url": "http://fake",
                                           "target": "1", "floor": floor})


def test_preflight_refuses_funding_that_would_leave_the_live_wallet_below_its_floor(sm):
    acct, arn = _evm_secret(sm)
    node = FakeEvmNode(balances={acct.address: ETH + ETH // 4})  # target 1 + fees fit, the 0.5 floor does not
    net = _net()
    w = dict(name="evm-testnet", kind="evm", env="EVM_PRIVATE_KEY_TESTNET", secret_arn=arn, secret_name="s",
             region="us-east-2", networks=["base-sepolia"], unused_fallbacks=[])
    chain = EvmChain(JsonRpc("http://fake", "base-sepolia", transport=node.transport), "base-sepolia",
                     chain_id=84532, sleep=lambda s: None)
    r = preflight_wallet(w, {"base-sepolia": net}, lambda region: sm, lambda n: chain, aws_retry=False)
    assert r["networks"]["base-sepolia"]["status"] == "cannot_fund"
    assert any("keep its floor 0.5 ETH" in x for x in r["refusals"]), r["refusals"]


def test_funding_transfer_keeps_the_floor(sm):
    from eth_account import Account

    old, new = Account.create(), Account.create()
    node = FakeEvmNode(balances={old.address: ETH + ETH // 4})
    chain = EvmChain(JsonRpc("http://fake", "base-sepolia", transport=node.transport), "base-sepolia",
                     chain_id=84532, sleep=lambda s: None)
    with pytest.raises(TransferRefused, match="must keep its floor"):
        chain.fund(old, new.address, ETH, reserve=ETH // 2)
    assert node.mined == []
    assert chain.fund(old, new.address, ETH, reserve=ETH // 10)["action"] == "funded"
    assert node.balance(old.address) >= ETH // 10


# ---------------------------------------------------------------- the proof and shared keys

def test_old_address_still_used_by_a_wallet_left_alone_is_no_contradiction():
    """evm-mainnet and evm-testnet share key 0xOLD; only testnet rotates: /supported keeps listing 0xOLD."""
    kept = kept_addresses([{"name": "evm-mainnet", "kind": "evm", "current_address": "0xOLD"},
                           {"name": "evm-testnet", "kind": "evm", "current_address": "0xOLD"}], {"evm-testnet"})
    assert kept == {"evm": ["0xOLD"]}
    exp = [{"wallet": "evm-testnet", "kind": "evm", "expect": "0xNEW", "replaced": "0xOLD", "networks": [],
            "kept": kept["evm"]}]
    doc = {"kinds": [], "signers": {"eip155:*": ["0xNEW", "0xOLD"]}}
    ok, lines, _ = evaluate(exp, doc, {})
    assert ok, lines
    # without a wallet keeping it, the old address in /supported is still a contradiction
    ok, lines, _ = evaluate([dict(exp[0], kept=[])], doc, {})
    assert not ok and "/supported lists" in lines[0]


# ---------------------------------------------------------------- Solana transfers in flight

def _kp(label):
    from solders.keypair import Keypair

    return Keypair.from_seed(hashlib.sha256(f"facilitator-ops/test/solana/{label}".encode()).digest())


GEN = "EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG"
BH = "4sGjMW1sUnHzSxGspuhpqLDx6wiyjNtZAMdL4VZHirAn"


class Script:
    """Recorded JSON-RPC exchanges (response shapes of the Solana API), replayed in order."""

    def __init__(self, exchanges):
        self.exchanges = list(exchanges)
        self.seen = []

    def transport(self, url, payload, timeout):
        method, params, result = self.exchanges.pop(0)
        assert payload["method"] == method, (payload["method"], method)
        if params is not None:
            assert payload["params"] == params, method
        self.seen.append(method)
        return {"jsonrpc": "2.0", "id": payload["id"], "result": result}

    def chain(self):
        return SolanaChain(JsonRpc("https://api.devnet.solana.com", "solana-devnet", transport=self.transport),
                           "solana-devnet", genesis_hash=GEN, sleep=lambda s: None)


class MemoryInflight:
    def __init__(self, rec=None, log=None):
        self.rec, self.log = rec, log if log is not None else []

    def get(self):
        return self.rec

    def put(self, signature, last_valid):
        self.log.append(("put", signature))
        self.rec = {"signature": signature, "last_valid_block_height": last_valid}

    def clear(self):
        self.log.append(("clear",))
        self.rec = None


def _ctx(v):
    return {"context": {"apiVersion": "2.2.7", "slot": 381240001}, "value": v}


def test_fund_records_the_signature_before_sending_recorded_solana_rpc():
    old, new = _kp("old"), str(_kp("new").pubkey())
    msg, tx, sig = build_transfer(old, new, 2 * SOL, BH)
    log = []
    inflight = MemoryInflight(log=log)

    class Tracking(Script):
        def transport(self, url, payload, timeout):
            if payload["method"] == "sendTransaction":
                assert log == [("put", sig)], "the transfer must be on record before it is sent"
            return super().transport(url, payload, timeout)

    s = Tracking([
        ("getGenesisHash", [], GEN),
        ("getBalance", None, _ctx(0)), ("getBalance", None, _ctx(5 * SOL)),
        ("getLatestBlockhash", None, _ctx({"blockhash": BH, "lastValidBlockHeight": 369512345})),
        ("getFeeForMessage", None, _ctx(5000)),
        ("sendTransaction", None, sig),
        ("getSignatureStatuses", None, _ctx([{"slot": 1, "confirmations": 1, "err": None,
                                               "confirmationStatus": "confirmed"}])),
        ("getBalance", None, _ctx(3 * SOL - 5000)), ("getBalance", None, _ctx(2 * SOL)),
    ])
    res = s.chain().fund(old, new, 2 * SOL, reserve=SOL // 2, inflight=inflight)
    assert res["action"] == "funded" and log == [("put", sig), ("clear",)]


def test_rerun_after_a_kill_finds_the_transfer_landed_and_sends_nothing_recorded_solana_rpc():
    old, new = _kp("old"), str(_kp("new").pubkey())
    _msg, _tx, sig = build_transfer(old, new, 2 * SOL, BH)
    inflight = MemoryInflight({"signature": sig, "last_valid_block_height": 369512345})
    s = Script([
        ("getGenesisHash", [], GEN),
        # the earlier run's transfer: seen, then confirmed
        ("getSignatureStatuses", [[sig], {"searchTransactionHistory": True}],
         _ctx([{"slot": 1, "confirmations": 0, "err": None, "confirmationStatus": "processed"}])),
        ("getSignatureStatuses", None, _ctx([{"slot": 1, "confirmations": 1, "err": None,
                                               "confirmationStatus": "confirmed"}])),
        ("getBalance", None, _ctx(2 * SOL)), ("getBalance", None, _ctx(3 * SOL - 5000)),
    ])
    res = s.chain().fund(old, new, 2 * SOL, inflight=inflight)
    assert res["action"] == "skipped" and "the transfer of an earlier run landed" in res["reason"]
    assert "sendTransaction" not in s.seen and inflight.rec is None and s.exchanges == []


def test_rerun_waits_for_an_unseen_transfer_until_its_blockhash_expires_recorded_solana_rpc():
    old, new = _kp("old"), str(_kp("new").pubkey())
    _m, _t, old_sig = build_transfer(old, new, 2 * SOL, BH)
    inflight = MemoryInflight({"signature": old_sig, "last_valid_block_height": 369512345})
    bh2 = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
    _m2, _t2, sig2 = build_transfer(old, new, 2 * SOL, bh2)
    s = Script([
        ("getGenesisHash", [], GEN),
        ("getSignatureStatuses", None, _ctx([None])), ("getBlockHeight", None, 369512300),  # may still land: wait
        ("getSignatureStatuses", None, _ctx([None])), ("getBlockHeight", None, 369512346),  # expired: can never land
        ("getBalance", None, _ctx(0)), ("getBalance", None, _ctx(5 * SOL)),
        ("getLatestBlockhash", None, _ctx({"blockhash": bh2, "lastValidBlockHeight": 369512500})),
        ("getFeeForMessage", None, _ctx(5000)),
        ("sendTransaction", None, sig2),
        ("getSignatureStatuses", None, _ctx([{"slot": 2, "confirmations": 1, "err": None,
                                               "confirmationStatus": "confirmed"}])),
        ("getBalance", None, _ctx(3 * SOL - 5000)), ("getBalance", None, _ctx(2 * SOL)),
    ])
    res = s.chain().fund(old, new, 2 * SOL, inflight=inflight)
    assert res["action"] == "funded" and res["tx"] == sig2 and s.seen.count("sendTransaction") == 1


def test_inflight_record_lives_on_the_secret_with_the_pending_version(sm):
    _acct, arn = _evm_secret(sm, "facilitator-solana-testnet-keypair")
    ws = WalletSecret(sm, arn, None, aws_retry=False)
    rec = InflightRecord(ws, "fund", "solana-devnet", "v-pending")
    rec.put("5igSig", 369512345)
    other = InflightRecord(WalletSecret(sm, arn, None, aws_retry=False), "fund", "solana-devnet", "v-pending")
    assert other.get() == {"version": "v-pending", "signature": "5igSig", "last_valid_block_height": 369512345}
    assert InflightRecord(ws, "fund", "solana-devnet", "v-other").get() is None  # another rotation's
    other.clear()
    assert rec.get() is None


# ---------------------------------------------------------------- start-up lines since the deployment

def test_cloudwatch_start_up_lines_only_since_the_running_deployment():
    import boto3
    from botocore.stub import Stubber

    logs = boto3.client("logs", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="x")
    with pytest.raises(ValueError):
        cloudwatch_lines(logs, "/ecs/facilitator", "ecs/facilitator", 0, aws_retry=False)
    with Stubber(logs) as stub:
        stub.add_response("filter_log_events", {"events": [{"timestamp": 2, "message": "Initialized provider x"}]},
                          {"logGroupName": "/ecs/facilitator", "filterPattern": '"Initialized provider"',
                           "startTime": 1_800_000_000_000, "logStreamNamePrefix": "ecs/facilitator"})
        assert cloudwatch_lines(logs, "/ecs/facilitator", "ecs/facilitator", 1_800_000_000.0,
                                aws_retry=False) == ["Initialized provider x"]
