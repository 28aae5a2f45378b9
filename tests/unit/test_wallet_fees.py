"""Fee math of the wallet rotation (no network): unit conversion, EIP-1559
funding caps, the pinned-price sweep that leaves nothing, Solana fees, and
the EVM transfers against an in-memory JSON-RPC node (fake_evm.FakeEvmNode)."""
from __future__ import annotations

import random

import pytest

from ansible.module_utils.facilitator_ops.wallet.evm import EvmChain
from ansible.module_utils.facilitator_ops.wallet.fees import TransferRefused
from ansible.module_utils.facilitator_ops.wallet.fees import SOLANA_RENT_EXEMPT_MIN
from ansible.module_utils.facilitator_ops.wallet.fees import TRANSFER_GAS
from ansible.module_utils.facilitator_ops.wallet.fees import FeeError
from ansible.module_utils.facilitator_ops.wallet.fees import effective_fee
from ansible.module_utils.facilitator_ops.wallet.fees import evm_fund_fees
from ansible.module_utils.facilitator_ops.wallet.fees import evm_sweep_plan
from ansible.module_utils.facilitator_ops.wallet.fees import from_base_units
from ansible.module_utils.facilitator_ops.wallet.fees import fund_check
from ansible.module_utils.facilitator_ops.wallet.fees import fund_need
from ansible.module_utils.facilitator_ops.wallet.fees import solana_fund_check
from ansible.module_utils.facilitator_ops.wallet.fees import solana_sweep_plan
from ansible.module_utils.facilitator_ops.wallet.fees import to_base_units
from ansible.module_utils.facilitator_ops.wallet.rpc import JsonRpc
from unit.fake_evm import GWEI
from unit.fake_evm import FakeEvmNode

ETH = 10**18


def test_units_exact_both_ways():
    assert to_base_units("0.5", 18) == ETH // 2
    assert to_base_units("10", 18) == 10 * ETH
    assert to_base_units("0.000000001", 9) == 1
    assert from_base_units(ETH // 2, 18) == "0.5"
    assert from_base_units(123456789, 9) == "0.123456789"
    assert from_base_units(0, 18) == "0"
    assert from_base_units(10 * ETH, 18) == "10"


@pytest.mark.parametrize("bad", ["-1", "abc", "1e-30", "0.0000000001", "nan", "inf"])
def test_units_refuse_bad_amounts(bad):
    with pytest.raises(FeeError):
        to_base_units(bad, 9)


def test_fund_caps_cover_a_doubled_base_fee():
    max_fee, prio, cap = evm_fund_fees(base_fee=30 * GWEI, priority_fee=2 * GWEI)
    assert max_fee == 62 * GWEI and prio == 2 * GWEI and cap == 62 * GWEI * TRANSFER_GAS
    # included even if the base fee doubled: effective price stays under the cap
    assert min(max_fee, 60 * GWEI + prio) <= max_fee


def test_fund_need_and_check():
    assert fund_need(ETH, 0) == ETH
    assert fund_need(ETH, ETH // 4) == 3 * ETH // 4
    assert fund_need(ETH, 2 * ETH) == 0  # already funded: never negative
    assert fund_check(old_balance=2 * ETH, need=ETH, max_cost=10**15) == (True, 0)
    ok, short = fund_check(old_balance=ETH, need=ETH, max_cost=10**15)
    assert not ok and short == 10**15


@pytest.mark.parametrize("seed", range(20))
def test_pinned_sweep_leaves_exactly_nothing_whatever_the_base_fee(seed):
    rnd = random.Random(seed)
    balance = rnd.randrange(10**15, 10**22)
    base, prio = rnd.randrange(1, 200) * GWEI, rnd.randrange(0, 5) * GWEI
    plan = evm_sweep_plan(balance, base, prio)
    price = plan["price"]
    assert plan["fee"] == price * TRANSFER_GAS and plan["dust"] == 0
    # at inclusion the base fee is anything up to the price: maxFee == maxPriority == price
    included_base = rnd.randrange(0, price + 1)
    effective = min(price, included_base + price)
    charged = effective * TRANSFER_GAS
    assert balance - plan["value"] - charged == 0


def test_sweep_of_dust_sends_nothing():
    plan = evm_sweep_plan(1000, base_fee=GWEI, priority_fee=GWEI)
    assert plan["value"] == 0 and plan["dust"] == 1000 and "does not cover" in plan["reason"]
    assert evm_sweep_plan(0, GWEI, GWEI)["reason"] == "empty"


def test_op_stack_sweep_reserves_the_l1_fee_plus_margin_as_reported_dust():
    plan = evm_sweep_plan(ETH, base_fee=GWEI, priority_fee=0, l1_fee=10**12, l1_margin_pct=10)
    assert plan["l1_reserve"] == 11 * 10**11
    assert plan["value"] == ETH - plan["fee"] - plan["l1_reserve"]
    assert plan["dust"] == plan["l1_reserve"]


def test_effective_fee_from_receipt_includes_l1_fee():
    assert effective_fee({"gasUsed": hex(21000), "effectiveGasPrice": hex(3)}) == 63000
    assert effective_fee({"gasUsed": 21000, "effectiveGasPrice": 3, "l1Fee": "0x10"}) == 63016


def test_solana_fee_math():
    assert solana_sweep_plan(10_000_000, 5000) == dict(value=9_995_000, fee=5000, dust=0, reason="")
    assert solana_sweep_plan(4000, 5000)["value"] == 0
    # the old (still live) wallet keeps the rent-exempt minimum
    ok, short = solana_fund_check(old_balance=2 * 10**9, need=2 * 10**9, fee=5000, new_balance=0)
    assert not ok and short == 5000 + SOLANA_RENT_EXEMPT_MIN
    # a new account cannot end below rent-exempt
    assert not solana_fund_check(10**10, need=1000, fee=5000, new_balance=0)[0]


# ---------------------------------------------------------------- EVM transfers on a fake node


def _accounts():
    from eth_account import Account

    return Account.create(), Account.create()


def _chain(node, **kw):
    return EvmChain(JsonRpc("http://fake", "base-sepolia", transport=node.transport), "base-sepolia",
                    chain_id=node.chain_id, sleep=lambda s: None, **kw)


def test_fund_tops_up_once_and_conserves_value():
    old, new = _accounts()
    node = FakeEvmNode(balances={old.address: 10 * ETH})
    chain = _chain(node)
    res = chain.fund(old, new.address, ETH)
    assert res["action"] == "funded" and res["amount"] == ETH
    assert node.balance(new.address) == ETH
    assert node.balance(old.address) + node.balance(new.address) + res["fee"] == 10 * ETH
    again = chain.fund(old, new.address, ETH)
    assert again["action"] == "skipped" and again["tx"] is None and len(node.mined) == 1


def test_fund_tops_up_only_the_difference():
    old, new = _accounts()
    node = FakeEvmNode(balances={old.address: 10 * ETH, new.address: ETH // 4})
    res = _chain(node).fund(old, new.address, ETH)
    assert res["amount"] == 3 * ETH // 4 and node.balance(new.address) == ETH


def test_fund_refuses_naming_the_network_when_the_old_wallet_is_short():
    old, new = _accounts()
    node = FakeEvmNode(balances={old.address: ETH})
    with pytest.raises(TransferRefused, match=r"base-sepolia: the old wallet .* cannot fund the new one"):
        _chain(node).fund(old, new.address, ETH)
    assert node.mined == []


def test_wrong_chain_id_refuses_before_anything():
    old, new = _accounts()
    node = FakeEvmNode(balances={old.address: 10 * ETH}, chain_id=1)
    chain = EvmChain(JsonRpc("http://fake", "base-sepolia", transport=node.transport), "base-sepolia",
                     chain_id=84532, sleep=lambda s: None)
    with pytest.raises(TransferRefused, match="serves chain id 1, expected 84532"):
        chain.fund(old, new.address, ETH)
    assert node.mined == []


@pytest.mark.parametrize("base_fee_at_inclusion", [0, 1, 7 * GWEI, 20 * GWEI])
def test_sweep_empties_the_old_wallet_to_zero(base_fee_at_inclusion):
    old, new = _accounts()
    node = FakeEvmNode(balances={old.address: 3 * ETH + 12345}, base_fee=10 * GWEI)
    node.base_fee_at_inclusion = base_fee_at_inclusion
    res = _chain(node).sweep(old, new.address)
    assert res["action"] == "swept" and node.balance(old.address) == 0 and res["dust"] == 0
    assert node.balance(new.address) + res["fee"] == 3 * ETH + 12345
    again = _chain(node).sweep(old, new.address)
    assert again["action"] == "skipped" and again["reason"] == "already swept"


def test_in_flight_transactions_block_until_mined_or_refuse():
    old, new = _accounts()
    node = FakeEvmNode(balances={old.address: 10 * ETH})
    node.pending_extra[old.address] = 1  # a settlement of the still-live old wallet is being mined
    t = [0.0]
    chain = EvmChain(JsonRpc("http://fake", "base-sepolia", transport=node.transport), "base-sepolia",
                     chain_id=node.chain_id, sleep=lambda s: t.__setitem__(0, t[0] + s), clock=lambda: t[0])
    with pytest.raises(TransferRefused, match="in flight"):
        chain.fund(old, new.address, ETH, timeout=5)
    assert node.mined == []
