import json

from ansible.module_utils.facilitator_ops.local_stack import seed as local_seed
from ansible.module_utils.facilitator_ops.common.keys import wallet_address_matches


def test_seeded_wallets_are_deterministic_and_consistent():
    evm = local_seed.evm_wallet(2)
    assert evm["address"] == "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
    assert wallet_address_matches(evm) == (True, "evm")
    sol = local_seed.solana_wallet("monorepo-testnet")
    assert sol == local_seed.solana_wallet("monorepo-testnet")
    assert wallet_address_matches(sol) == (True, "solana")


def test_render_kinds():
    kind, value = local_seed.render({"type": "json", "data": {"b": 1, "a": 2}})
    assert kind == "string" and json.loads(value) == {"a": 2, "b": 1}
    assert local_seed.render({"type": "binary", "hex": "0001"}) == ("binary", b"\x00\x01")
