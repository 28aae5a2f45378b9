"""Solana funding and sweep over JSON-RPC, against recorded exchanges.

The local stack has no Solana chain, so wallet_solana is tested by replaying
request/response pairs (tests/unit/fixtures/solana_rpc/*.json, see generate.py
there): every request the code makes must be the next recorded one, byte for
byte (the signed transactions included: keys and blockhash are fixed), and
the code must draw the right conclusions from the responses."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ansible.module_utils.facilitator_ops.wallet.fees import TransferRefused
from ansible.module_utils.facilitator_ops.wallet.rpc import JsonRpc
from ansible.module_utils.facilitator_ops.wallet.rpc import RpcError
from ansible.module_utils.facilitator_ops.wallet.solana import SolanaChain

FIX = Path(__file__).parent / "fixtures" / "solana_rpc"
SOL = 10**9


def keypair(label):
    from solders.keypair import Keypair

    return Keypair.from_seed(hashlib.sha256(f"facilitator-ops/test/solana/{label}".encode()).digest())


class Recorded:
    def __init__(self, name):
        self.doc = json.loads((FIX / f"{name}.json").read_text())
        self.exchanges = list(self.doc["exchanges"])
        self.seen = []

    def transport(self, url, payload, timeout):
        assert self.exchanges, f"unexpected extra call {payload['method']}"
        ex = self.exchanges.pop(0)
        assert payload["method"] == ex["request"]["method"], (payload["method"], ex["request"]["method"])
        assert payload["params"] == ex["request"]["params"], payload["method"]
        self.seen.append(payload["method"])
        return dict(ex["response"], id=payload["id"])

    def chain(self):
        return SolanaChain(JsonRpc("https://api.devnet.solana.com", "solana-devnet", transport=self.transport),
                           "solana-devnet", genesis_hash=self.doc["genesis_hash"], sleep=lambda s: None)

    def done(self):
        assert self.exchanges == [], f"calls not made: {[e['request']['method'] for e in self.exchanges]}"


def test_fund_recorded_solana_rpc():
    rec = Recorded("fund")
    res = rec.chain().fund(keypair("old"), rec.doc["new"], rec.doc["target"])
    rec.done()
    assert res["action"] == "funded" and res["amount"] == 2 * SOL and res["fee"] == 5000
    assert res["tx"] == rec.doc["exchanges"][5]["response"]["result"]
    assert res["old_after"] == 5 * SOL - 2 * SOL - 5000 and res["new_after"] == 2 * SOL
    assert res["old_before"] == res["old_after"] + res["amount"] + res["fee"]  # conserved
    assert rec.seen.count("getSignatureStatuses") == 3  # waited past "processed" to "confirmed"


def test_fund_already_funded_recorded_solana_rpc():
    rec = Recorded("fund_already_funded")
    res = rec.chain().fund(keypair("old"), rec.doc["new"], rec.doc["target"])
    rec.done()
    assert res["action"] == "skipped" and res["tx"] is None and "sendTransaction" not in rec.seen


def test_fund_refused_when_old_is_short_recorded_solana_rpc():
    rec = Recorded("fund_old_too_short")
    with pytest.raises(TransferRefused, match=r"solana-devnet: the old wallet .* cannot fund the new one"):
        rec.chain().fund(keypair("old"), rec.doc["new"], rec.doc["target"])
    rec.done()
    assert "sendTransaction" not in rec.seen


def test_sweep_leaves_zero_recorded_solana_rpc():
    rec = Recorded("sweep")
    res = rec.chain().sweep(keypair("old"), rec.doc["new"])
    rec.done()
    assert res["action"] == "swept" and res["old_after"] == 0 and res["dust"] == 0
    assert res["amount"] + res["fee"] == res["old_before"]
    assert res["new_after"] == res["new_before"] + res["amount"]


def test_sweep_already_swept_recorded_solana_rpc():
    rec = Recorded("sweep_already_swept")
    res = rec.chain().sweep(keypair("old"), rec.doc["new"])
    rec.done()
    assert res["action"] == "skipped" and res["reason"] == "already swept"


def test_sweep_rejected_by_the_cluster_recorded_solana_rpc():
    rec = Recorded("sweep_rejected")
    with pytest.raises(RpcError, match="solana-devnet: sendTransaction: Transaction simulation failed") as e:
        rec.chain().sweep(keypair("old"), rec.doc["new"])
    rec.done()
    assert "devnet.solana.com" not in str(e.value)  # the RPC URL (an API key in production) is never shown


def test_wrong_cluster_refused_recorded_solana_rpc():
    rec = Recorded("fund")
    chain = SolanaChain(JsonRpc("u", "solana", transport=rec.transport), "solana",
                        genesis_hash="5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", sleep=lambda s: None)
    with pytest.raises(TransferRefused, match="serves genesis EtWTRABZ"):
        chain.fund(keypair("old"), rec.doc["new"], 2 * SOL)
