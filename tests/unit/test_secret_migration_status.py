"""Issue 18 (4): the deploy's container secrets come from AWS (the migrated secrets'
tags and ARNs), never from a local state file. Pure logic over DescribeSecret answers."""
from __future__ import annotations

import pytest

from ansible.module_utils.facilitator_ops.secrets.core import SecretError
from ansible.module_utils.facilitator_ops.secrets.mapping import normalise
from ansible.module_utils.facilitator_ops.secrets.status import migration_status

MAPPING = [
    {"source": "karmacadabra-facilitator-mainnet", "destination": "facilitator-evm-mainnet-private-key",
     "type": "wallet", "env": {"EVM_PRIVATE_KEY_MAINNET": "private_key"}},
    {"source": "karmacadabra-quicknode-base-rpc", "destination": "facilitator-rpc-mainnet",
     "destination_key": "base", "env": {"RPC_URL_BASE": "base"}},
    # no env: not a container secret, not part of the decision
    {"source": "karmacadabra-tls", "destination": "facilitator-tls", "type": "binary"},
]
EVM_ARN = "arn:aws:secretsmanager:us-east-2:123456789012:secret:facilitator-evm-mainnet-private-key-AbCdEf"
RPC_ARN = "arn:aws:secretsmanager:us-east-2:123456789012:secret:facilitator-rpc-mainnet-GhIjKl"


def entries():
    out, problems = normalise(MAPPING, "us-east-1", "us-east-2")
    assert problems == []
    return out


def meta(arn, **tags):
    return {"ARN": arn, "Name": arn.split(":")[-1][:-7], "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}


MIGRATED = {
    "facilitator-evm-mainnet-private-key": meta(EVM_ARN, **{"facilitator-ops:migrated-source-digest": "0123456789ab",
                                                            "environment": "production"}),
    "facilitator-rpc-mainnet": meta(RPC_ARN, **{"facilitator-ops:migrated-key:base": "ba5e0123abcd"}),
}


def describer(world):
    calls = []

    def describe(region, name):
        calls.append((region, name))
        return world.get(name)

    return describe, calls


def test_issue18_4_migrated_secrets_found_in_aws_give_the_valuefrom():
    describe, calls = describer(MIGRATED)
    r = migration_status(entries(), describe, "production")
    assert r["state"] == "migrated"
    assert r["container_secrets"] == [{"name": "EVM_PRIVATE_KEY_MAINNET", "valueFrom": f"{EVM_ARN}:private_key::"},
                                      {"name": "RPC_URL_BASE", "valueFrom": f"{RPC_ARN}:base::"}]
    assert r["value_from"]["RPC_URL_BASE"] == f"{RPC_ARN}:base::"
    assert sorted(calls) == [("us-east-2", "facilitator-evm-mainnet-private-key"),
                             ("us-east-2", "facilitator-rpc-mainnet")]  # the item without env is not read
    assert "migrated in AWS (2 of 2)" in r["lines"][0]


def test_nothing_migrated_keeps_the_task_definitions_valuefrom():
    untagged_rpc = {"facilitator-rpc-mainnet": meta(RPC_ARN)}  # the RPC map exists before any migration
    describe, _ = describer(untagged_rpc)
    r = migration_status(entries(), describe, "production")
    assert r["state"] == "not_migrated" and r["container_secrets"] == [] and r["value_from"] == {}
    assert "not migrated in AWS (0 of 2" in r["lines"][0]
    assert migration_status([], describe)["state"] == "not_migrated"


def test_a_key_the_map_held_before_the_migration_does_not_count_and_an_interrupted_migration_is_refused():
    world = {"facilitator-evm-mainnet-private-key": MIGRATED["facilitator-evm-mainnet-private-key"],
             "facilitator-rpc-mainnet": meta(RPC_ARN, **{"facilitator-ops:migrated-key:avalanche": "x"})}
    describe, _ = describer(world)
    with pytest.raises(SecretError) as err:
        migration_status(entries(), describe, "production")
    msg = str(err.value)
    assert "incomplete in AWS (1 of 2 migrated" in msg and "key base of us-east-2/facilitator-rpc-mainnet" in msg
    assert "\n" not in msg and "use_migrated_secrets=false" in msg


def test_a_destination_scheduled_for_deletion_is_not_migrated():
    world = dict(MIGRATED)
    world["facilitator-evm-mainnet-private-key"] = dict(MIGRATED["facilitator-evm-mainnet-private-key"],
                                                        DeletedDate="2026-12-01")
    describe, _ = describer(world)
    with pytest.raises(SecretError, match="facilitator-evm-mainnet-private-key is scheduled for deletion"):
        migration_status(entries(), describe, "production")


def test_a_secret_tagged_for_another_environment_is_refused():
    describe, _ = describer(MIGRATED)
    with pytest.raises(SecretError, match="tagged environment=production, this deploy is for staging"):
        migration_status(entries(), describe, "staging")
