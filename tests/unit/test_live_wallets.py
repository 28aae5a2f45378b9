"""Addresses of the wallets a task definition reads, derived inside the module."""
import json

import pytest

from ansible.module_utils.facilitator_ops.ecs.secrets import ResolveError
from ansible.module_utils.facilitator_ops.verify.live_wallets import live_wallets
from ansible.module_utils.facilitator_ops.local_stack.seed import evm_wallet
from ansible.module_utils.facilitator_ops.local_stack.seed import solana_wallet

ARN = "arn:aws:secretsmanager:us-east-2:123456789012:secret:{}-AbCdEf"


def taskdef(secrets, environment=()):
    return {"taskDefinitionArn": "arn:aws:ecs:us-east-2:1:task-definition/facilitator-production:7",
            "containerDefinitions": [
                {"name": "otel-collector", "secrets": [{"name": "EVM_PRIVATE_KEY", "valueFrom": ARN.format("other")}]},
                {"name": "facilitator", "secrets": secrets, "environment": list(environment)}]}


def test_addresses_derived_from_keys_of_the_named_container_only():
    a, b, sol = evm_wallet(2), evm_wallet(4), solana_wallet("x")
    store = {ARN.format("evm"): json.dumps({"private_key": a["private_key"] + "," + b["private_key"], "address": a["address"]}),
             ARN.format("sol"): json.dumps(sol), ARN.format("rpc"): json.dumps({"base": "http://x"})}
    calls = []

    def fetch(region, arn, stage, vid):
        calls.append(arn)
        return store[arn]

    out = live_wallets(taskdef([
        {"name": "EVM_PRIVATE_KEY_TESTNET", "valueFrom": ARN.format("evm") + ":private_key::"},
        {"name": "SOLANA_PRIVATE_KEY_TESTNET", "valueFrom": ARN.format("sol") + ":private_key::"},
        {"name": "RPC_URL_BASE", "valueFrom": ARN.format("rpc") + ":base::"},
    ]), "facilitator", fetch)
    assert out["evm_signers"] == [a["address"], b["address"]]
    assert out["solana_fee_payers"] == [sol["address"]]
    assert ARN.format("rpc") not in calls and ARN.format("other") not in calls
    assert a["private_key"] not in json.dumps(out)


def test_bad_key_is_named_not_echoed():
    def fetch(*_):
        return json.dumps({"private_key": "0xnot-a-key-SECRET"})

    with pytest.raises(ResolveError) as e:
        live_wallets(taskdef([{"name": "EVM_PRIVATE_KEY_MAINNET", "valueFrom": ARN.format("e") + ":private_key::"}]),
                     "facilitator", fetch)
    assert "EVM_PRIVATE_KEY_MAINNET" in str(e.value) and "SECRET" not in str(e.value)


def test_missing_container_and_plain_keys_reported():
    with pytest.raises(ResolveError, match="no container named 'facilitator'"):
        live_wallets({"containerDefinitions": [{"name": "x"}]}, "facilitator", lambda *a: "")
    out = live_wallets(taskdef([], environment=[{"name": "EVM_PRIVATE_KEY", "value": "0x.."}]), "facilitator",
                       lambda *a: "")
    assert out["plain_environment_keys"] == ["EVM_PRIVATE_KEY"] and out["evm_signers"] == []


CATALOG = {"base": {"kind": "evm", "tier": "mainnet"}, "base-sepolia": {"kind": "evm", "tier": "testnet"},
           "solana-devnet": {"kind": "svm", "tier": "testnet"}}


def test_only_keys_of_served_tiers_are_expected():
    keys = {"m": evm_wallet(3), "t": evm_wallet(2), "f": evm_wallet(5)}
    store = {ARN.format(k): json.dumps(v) for k, v in keys.items()}
    secrets = [{"name": "EVM_PRIVATE_KEY_MAINNET", "valueFrom": ARN.format("m") + ":private_key::"},
               {"name": "EVM_PRIVATE_KEY_TESTNET", "valueFrom": ARN.format("t") + ":private_key::"},
               {"name": "EVM_PRIVATE_KEY", "valueFrom": ARN.format("f") + ":private_key::"}]
    fetch = lambda region, arn, stage, vid: store[arn]  # noqa: E731
    testnets = live_wallets(taskdef(secrets), "facilitator", fetch, ["base-sepolia"], CATALOG)
    assert testnets["evm_signers"] == [keys["t"]["address"]]
    both = live_wallets(taskdef(secrets), "facilitator", fetch, ["base", "base-sepolia"], CATALOG)
    assert set(both["evm_signers"]) == {keys["m"]["address"], keys["t"]["address"]}
    # the bare variable is the fallback of the tier without a specific one
    fallback = live_wallets(taskdef(secrets[1:]), "facilitator", fetch, ["base", "base-sepolia"], CATALOG)
    assert set(fallback["evm_signers"]) == {keys["t"]["address"], keys["f"]["address"]}
