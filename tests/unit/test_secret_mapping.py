"""Mapping validation and the report (state file, IAM statement, summary)."""
from __future__ import annotations

from ansible.module_utils.facilitator_ops.secrets.mapping import handover_report
from ansible.module_utils.facilitator_ops.secrets.mapping import normalise

GOOD = [
    {"source": "karmacadabra-facilitator-mainnet", "destination": "facilitator-evm-mainnet-private-key",
     "type": "wallet", "env": {"EVM_PRIVATE_KEY_MAINNET": "private_key"}},
    {"source": "karmacadabra-quicknode-base-rpc", "destination": "facilitator-rpc-mainnet",
     "destination_key": "base", "env": {"RPC_URL_BASE": "base"}},
]


def test_good_mapping_is_normalised():
    entries, problems = normalise(GOOD, "us-east-1", "us-east-2", {"managed-by": "facilitator-ops"})
    assert problems == []
    wallet, rpc = entries
    assert wallet["wallet"] and wallet["source_region"] == "us-east-1" and wallet["destination_region"] == "us-east-2"
    assert wallet["create_missing"] is True and wallet["overwrite"] is False
    assert wallet["tags"] == {"managed-by": "facilitator-ops"}
    assert rpc["create_missing"] is False and rpc["tags"] == {}  # someone else's secret: no migration tags


def problems_of(mapping, **kw):
    return "; ".join(normalise(mapping, kw.get("src", "us-east-1"), kw.get("dst", "us-east-2"))[1])


def test_bad_mappings_name_item_and_field():
    assert "non-empty list" in problems_of([])
    assert "non-empty list" in problems_of({"source": "a"})
    assert "item 1: not a mapping" in problems_of(["a"])
    assert "unknown field(s) dest" in problems_of([{"source": "a", "dest": "b"}])
    assert "destination is missing" in problems_of([{"source": "a"}])
    assert "source_region is missing" in problems_of([{"source": "a", "destination": "b"}], src=None)
    assert "destination_region is not a region name" in problems_of(
        [{"source": "a", "destination": "b", "destination_region": "ohio"}])
    assert "same secret" in problems_of([{"source": "a", "destination": "a", "destination_region": "us-east-1"}])
    assert "same destination as item 1" in problems_of([{"source": "a", "destination": "b"},
                                                         {"source": "c", "destination": "b"}])
    assert "type must be one of" in problems_of([{"source": "a", "destination": "b", "type": "pem"}])
    assert "wallet is copied whole" in problems_of([{"source": "a", "destination": "b", "type": "wallet",
                                                     "destination_key": "k"}])
    assert "not an environment variable name" in problems_of([{"source": "a", "destination": "b",
                                                               "env": {"evm key": "private_key"}}])
    assert "overwrite must be true or false" in problems_of([{"source": "a", "destination": "b", "overwrite": "yes"}])
    assert "env X is set by both" in problems_of([{"source": "a", "destination": "b", "env": {"X": None}},
                                                  {"source": "c", "destination": "d", "env": {"X": None}}])


def test_issue18_3_global_overwrite_skips_wallets_and_named_items_are_validated():
    """Issue 18 (3): -e secrets_migration_overwrite=true applies to every item but the
    wallets; a wallet is overwritten only when named for the run, and a name that is
    not a destination of the mapping is a problem naming it."""
    entries, problems = normalise(GOOD, "us-east-1", "us-east-2", default_overwrite=True)
    assert problems == []
    wallet, rpc = entries
    assert wallet["overwrite"] is False and rpc["overwrite"] is True
    for named in (["facilitator-evm-mainnet-private-key"], "facilitator-evm-mainnet-private-key",
                  "[facilitator-evm-mainnet-private-key]", " facilitator-evm-mainnet-private-key , "):
        entries, problems = normalise(GOOD, "us-east-1", "us-east-2", overwrite_items=named)
        assert problems == [] and entries[0]["overwrite"] is True and entries[1]["overwrite"] is False, named
    _, problems = normalise(GOOD, "us-east-1", "us-east-2", overwrite_items="facilitator-evm-mainet-private-key")
    assert problems == ["secrets_migration_overwrite_items: facilitator-evm-mainet-private-key is not a destination "
                        "of the mapping (destinations: facilitator-evm-mainnet-private-key, facilitator-rpc-mainnet)"]
    _, problems = normalise(GOOD, "us-east-1", "us-east-2", overwrite_items=[3])
    assert "must be a list of destination names" in problems[0]
    wallet_overwrite = [dict(GOOD[0], overwrite=True)]
    assert "a wallet's overwrite is not set in the mapping" in problems_of(wallet_overwrite)


def test_same_name_other_region_is_fine_and_key_insert_into_same_name_is_fine():
    assert problems_of([{"source": "a", "destination": "a"}]) == ""


def test_report():
    entries, _ = normalise(GOOD, "us-east-1", "us-east-2")
    arn_w = "arn:aws:secretsmanager:us-east-2:1:secret:facilitator-evm-mainnet-private-key-AbCdEf"
    arn_r = "arn:aws:secretsmanager:us-east-2:1:secret:facilitator-rpc-mainnet-XyZabc"
    results = [
        {"item": entries[0], "arn": arn_w, "action": "create", "digest": "aaaaaaaaaaaa", "would_change": True,
         "value_from": {"private_key": arn_w + ":private_key::"}, "address": "0xabc",
         "source": {"name": "karmacadabra-facilitator-mainnet", "region": "us-east-1", "digest": "aaaaaaaaaaaa"}},
        {"item": entries[1], "arn": arn_r, "action": "equal", "digest": "bbbbbbbbbbbb", "would_change": False,
         "value_from": {"base": arn_r + ":base::"},
         "source": {"name": "karmacadabra-quicknode-base-rpc", "region": "us-east-1", "digest": "cccccccccccc"}},
    ]
    rep = handover_report(results, "local")
    st = rep["state"]
    assert st["container_secrets"] == [
        {"name": "EVM_PRIVATE_KEY_MAINNET", "valueFrom": arn_w + ":private_key::"},
        {"name": "RPC_URL_BASE", "valueFrom": arn_r + ":base::"},
    ]
    assert st["iam_policy"]["Statement"] == [{"Sid": "FacilitatorReadMigratedSecrets", "Effect": "Allow",
                                              "Action": ["secretsmanager:GetSecretValue"],
                                              "Resource": sorted([arn_w, arn_r])}]
    assert st["secrets"]["facilitator-rpc-mainnet"]["sources"][0]["into_key"] == "base"
    assert rep["summary"][-1] == "2 secret(s): 1 changed, 1 unchanged"
    assert "created" in rep["summary"][0] and "unchanged (equal)" in rep["summary"][1]
    check = handover_report(results, "local", check_mode=True)
    assert "would create" in check["summary"][0] and "nothing was written" in check["summary"][-1]
