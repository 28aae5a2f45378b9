"""Pre-flight logic (no network): which secret is live per the task
definition, network config validation, the recent-rotation guard, the proof
evaluation and the summary."""
from __future__ import annotations

import pytest

from ansible.module_utils.facilitator_ops.wallet.proof import evaluate
from ansible.module_utils.facilitator_ops.wallet.proof import parse_log_lines
from ansible.module_utils.facilitator_ops.wallet.rotation import RotationError
from ansible.module_utils.facilitator_ops.wallet.rotation import dependencies_for
from ansible.module_utils.facilitator_ops.wallet.rotation import live_wallet_secrets
from ansible.module_utils.facilitator_ops.wallet.rotation import network_config
from ansible.module_utils.facilitator_ops.wallet.rotation import recently_rotated
from ansible.module_utils.facilitator_ops.wallet.summary import summarize

ARN = "arn:aws:secretsmanager:us-east-2:123456789012:secret:"
EVM = {"name": "evm-testnet", "kind": "evm", "env": ["EVM_PRIVATE_KEY_TESTNET", "EVM_PRIVATE_KEY"],
       "networks": ["base-sepolia"]}


def container(secrets, env=()):
    return {"name": "facilitator", "secrets": [{"name": k, "valueFrom": v} for k, v in secrets.items()],
            "environment": [{"name": e, "value": "x"} for e in env]}


def test_the_live_secret_is_the_one_the_task_definition_reads():
    c = container({"EVM_PRIVATE_KEY_TESTNET": ARN + "facilitator-evm-testnet-private-key-AbC123:private_key::",
                   "EVM_PRIVATE_KEY": ARN + "facilitator-evm-private-key-XyZ789:private_key::"})
    (w,), problems = live_wallet_secrets(c, [EVM])
    assert problems == []
    assert w["env"] == "EVM_PRIVATE_KEY_TESTNET" and w["secret_name"] == "facilitator-evm-testnet-private-key-AbC123"
    assert w["region"] == "us-east-2" and w["unused_fallbacks"] == ["EVM_PRIVATE_KEY"]


def test_legacy_fallback_is_followed_when_the_specific_variable_is_absent():
    c = container({"EVM_PRIVATE_KEY": ARN + "facilitator-evm-private-key-XyZ789:private_key::"})
    (w,), _ = live_wallet_secrets(c, [EVM])
    assert w["env"] == "EVM_PRIVATE_KEY"


@pytest.mark.parametrize("value_from, secrets_env, plain, expect", [
    (None, {}, (), "reads none of EVM_PRIVATE_KEY_TESTNET, EVM_PRIVATE_KEY"),
    (None, {}, ("EVM_PRIVATE_KEY_TESTNET",), "plain environment variable"),
    (ARN + "s-AbC123:private_key:AWSPREVIOUS:", None, (), "pins AWSPREVIOUS"),
    (ARN + "s-AbC123::AWSCURRENT:", None, (), "the whole secret"),
    (ARN + "s-AbC123:address::", None, (), "reads key 'address'"),
    ("arn:aws:ssm:us-east-2:1:parameter/x", None, (), "only Secrets Manager"),
])
def test_refusals_name_the_problem(value_from, secrets_env, plain, expect):
    secrets = secrets_env if secrets_env is not None else {"EVM_PRIVATE_KEY_TESTNET": value_from}
    out, problems = live_wallet_secrets(container(secrets, plain), [EVM])
    assert out == [] and len(problems) == 1 and expect in problems[0], problems


def test_inventory_secret_name_must_match():
    c = container({"EVM_PRIVATE_KEY_TESTNET": ARN + "karmacadabra-facilitator-testnet-AbC123:private_key::"})
    _, problems = live_wallet_secrets(c, [dict(EVM, secret="facilitator-evm-testnet-private-key")])
    assert "the inventory says facilitator-evm-testnet-private-key" in problems[0]
    ok, problems = live_wallet_secrets(c, [dict(EVM, secret="karmacadabra-facilitator-testnet")])
    assert problems == [] and ok


def test_two_wallets_on_one_secret_are_refused():
    c = container({"EVM_PRIVATE_KEY": ARN + "legacy-AbC123:private_key::"})
    main = dict(EVM, name="evm-mainnet", env=["EVM_PRIVATE_KEY_MAINNET", "EVM_PRIVATE_KEY"])
    _, problems = live_wallet_secrets(c, [EVM, main])
    assert "reads the same secret as evm-testnet" in problems[0]


def test_network_config_validation():
    n = network_config("base", {"kind": "evm", "chain_id": 8453, "rpc_secret": "facilitator-rpc-mainnet",
                                "target": "0.5", "floor": "0.1"})
    assert n["target"] == 5 * 10**17 and n["rpc_key"] == "base"
    for cfg, msg in (({"kind": "evm", "chain_id": 1, "rpc_url": "u", "target": "0.1", "floor": "1"}, "above target"),
                     ({"kind": "evm", "rpc_url": "u", "target": "1"}, "chain_id is required"),
                     ({"kind": "evm", "chain_id": 1, "target": "1"}, "rpc_url or rpc_secret"),
                     ({"kind": "btc", "target": "1"}, "kind must be"),
                     ({"kind": "solana", "rpc_url": "u", "target": "0.0001"}, "rent-exempt")):
        with pytest.raises(RotationError, match=msg):
            network_config("x", cfg)
    off = network_config("solana-devnet", {"kind": "solana", "target": "1", "transfers": False})
    assert off["transfers"] is False


def test_served_networks_the_wallet_would_not_fund_are_found():
    from ansible.module_utils.facilitator_ops.wallet.rotation import uncovered_networks

    cat = {"base": {"kind": "evm", "tier": "mainnet"}, "base-sepolia": {"kind": "evm", "tier": "testnet"},
           "polygon-amoy": {"kind": "evm", "tier": "testnet"}, "solana-devnet": {"kind": "svm", "tier": "testnet"}}
    w = {"kind": "evm", "env": "EVM_PRIVATE_KEY_TESTNET", "networks": ["base-sepolia"]}
    served = ["base", "base-sepolia", "polygon-amoy", "solana-devnet"]
    assert uncovered_networks(w, served, cat) == ["polygon-amoy"]
    legacy = dict(w, env="EVM_PRIVATE_KEY")  # the legacy key serves both tiers
    assert uncovered_networks(legacy, served, cat) == ["base", "polygon-amoy"]


def test_dependencies_match_by_address_or_wallet():
    deps = [{"name": "router", "bound_address": "0xABC"}, {"name": "svc", "wallet": "evm-testnet"},
            {"name": "other", "bound_address": "0xDEF"}]
    assert [d["name"] for d in dependencies_for("0xabc", deps, "evm-testnet")] == ["router", "svc"]


def test_recent_rotation_guard():
    r = [{"name": "evm", "phase": "idle", "secret_arn": "a", "secret_name": "s", "versions": {"current": "v2"},
          "rotated": {"version": "v2", "epoch": 1000}}]
    assert recently_rotated(r, 60, now=1000 + 600)  # 10 min ago
    assert not recently_rotated(r, 60, now=1000 + 3601)
    assert not recently_rotated([dict(r[0], rotated={"version": "v1", "epoch": 1000})], 60, now=1001)
    assert not recently_rotated([dict(r[0], rotated=None)], 60, now=1001)


def test_start_up_lines_and_supported_prove_or_contradict():
    lines = ["INFO Initialized provider network=base-sepolia signers=[0xNEW]",
             "INFO Initialized provider network=avalanche-fuji signers=[0xNEW]",
             "INFO Initialized provider network=solana-devnet signers=[SoLnEw] feePayer=SoLnEw"]
    view = parse_log_lines(lines)
    assert view["solana-devnet"]["fee_payer"] == "SoLnEw"
    exp = [{"wallet": "evm", "kind": "evm", "expect": "0xnew", "replaced": "0xOLD",
            "networks": ["base-sepolia", "avalanche-fuji"]},
           {"wallet": "sol", "kind": "solana", "expect": "SoLnEw", "replaced": "SoLoLd", "networks": ["solana-devnet"]}]
    doc = {"kinds": [{"x402Version": 1, "network": "solana-devnet", "extra": {"feePayer": "SoLnEw"}}],
           "signers": {"eip155:*": ["0xNEW"]}}
    ok, out, _ = evaluate(exp, doc, view)
    assert ok and out[0].startswith("OK   evm") and "start-up log" in out[0]
    stale = {"kinds": [], "signers": {"eip155:*": ["0xOLD"]}}
    ok, out, res = evaluate(exp[:1], stale, view)
    assert not ok and "/supported lists 0xOLD" in out[0]
    ok, out, _ = evaluate(exp[:1], None, {})
    assert not ok and "no evidence" in out[0]


def test_summary_accounts_per_network():
    before = [{"name": "evm", "kind": "evm", "phase": "idle", "new_address": None,
               "networks": {"base-sepolia": {"old_balance": 10 * 10**18, "symbol": "ETH"}}}]
    after = [{"name": "evm", "kind": "evm", "phase": "promoted", "env": "E", "secret_name": "s", "secret_arn": "arn",
              "old_address": "0xO", "new_address": "0xN", "versions": {"old": "v1", "new": "v2"},
              "networks": {"base-sepolia": {"old_balance": 0, "new_balance": 10 * 10**18 - 42, "symbol": "ETH"}}}]
    funded = [{"item": {"name": "evm"}, "transfers": {"base-sepolia": {"action": "funded", "amount": 10**18,
                                                                        "fee": 21, "tx": "0xf"}}}]
    swept = [{"item": {"name": "evm"}, "transfers": {"base-sepolia": {"action": "swept", "amount": 9 * 10**18 - 42,
                                                                       "fee": 21, "tx": "0xs", "dust": 0,
                                                                       "recipient": "0xN"}}}]
    lines, record = summarize(before, after, funded, swept, ["OK proof"])
    n = record["wallets"][0]["networks"]["base-sepolia"]
    assert n["gas_spent"] == 42 and n["funded"] == 10**18 and n["dust"] == 0
    assert n["old_before"] + n["new_before"] == n["old_after"] + n["new_after"] + n["gas_spent"]
    assert "old 10 ETH -> 0 ETH" in lines[1] and "tx 0xs" in lines[1]
