"""secret_copy / secret_json_key logic against botocore's Stubber (no network).

A Stubber raises on any call that was not queued, so "writes nothing" is
proved by not queueing a write."""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ansible.module_utils.facilitator_ops.secrets.copy import check_params
from ansible.module_utils.facilitator_ops.secrets.copy import run_copy
from ansible.module_utils.facilitator_ops.secrets.core import SecretError
from ansible.module_utils.facilitator_ops.secrets.core import SecretStore
from ansible.module_utils.facilitator_ops.secrets.core import SecretValue
from ansible.module_utils.facilitator_ops.secrets.json_key import run_set_key

EVM_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
EVM_ADDR = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
WALLET = json.dumps({"private_key": EVM_KEY, "address": EVM_ADDR})
SRC_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:karmacadabra-facilitator-testnet-AbCdEf"
DST_ARN = "arn:aws:secretsmanager:us-east-2:123456789012:secret:facilitator-evm-testnet-private-key-GhIjKl"
RPC_ARN = "arn:aws:secretsmanager:us-east-2:123456789012:secret:facilitator-rpc-mainnet-MnOpQr"
URL = "https://canary.quiknode.pro/0123456789abcdef/"
VID = "11111111-2222-3333-4444-555555555555"


def client(region):
    return boto3.client("secretsmanager", region_name=region, aws_access_key_id="x", aws_secret_access_key="x")


@pytest.fixture
def stores():
    src_c, dst_c = client("us-east-1"), client("us-east-2")
    with Stubber(src_c) as src_s, Stubber(dst_c) as dst_s:
        yield SecretStore(src_c, retry=False), src_s, SecretStore(dst_c, retry=False), dst_s
        src_s.assert_no_pending_responses()
        dst_s.assert_no_pending_responses()


def not_found(stub, method, name):
    expected = {"SecretId": name}
    if method == "get_secret_value":
        expected["VersionStage"] = "AWSCURRENT"
    stub.add_client_error(method, service_error_code="ResourceNotFoundException", http_status_code=400,
                          expected_params=expected)


def describe(stub, name, arn, **extra):
    stub.add_response("describe_secret", dict(ARN=arn, Name=name, **extra), {"SecretId": name})


def get(stub, name, arn, value):
    """Every read names AWSCURRENT (what AWS answers without a stage; moto does not after a stage move)."""
    stub.add_response("get_secret_value", {"ARN": arn, "Name": name, "VersionId": VID, "SecretString": value},
                      {"SecretId": name, "VersionStage": "AWSCURRENT"})


def tags(value):
    """What a whole copy tags its destination with: the given tags and the source digest."""
    from ansible.module_utils.facilitator_ops.common.digests import short
    from ansible.module_utils.facilitator_ops.common.digests import value_digest

    return [{"Key": "facilitator-ops:migrated-source-digest", "Value": short(value_digest(string_value=value))},
            {"Key": "managed-by", "Value": "facilitator-ops"}]


def key_tag(dst_s, key="base", value=URL):
    """The mark a key insert leaves on the JSON secret it wrote into (the deploy's sign of a migrated key)."""
    from ansible.module_utils.facilitator_ops.common.digests import short
    from ansible.module_utils.facilitator_ops.common.digests import value_digest

    dst_s.add_response("tag_resource", {}, {"SecretId": "facilitator-rpc-mainnet", "Tags": [
        {"Key": f"facilitator-ops:migrated-key:{key}", "Value": short(value_digest(string_value=value))}]})


def params(**kw):
    p = dict(name="facilitator-evm-testnet-private-key", region="us-east-2",
             source_name="karmacadabra-facilitator-testnet", source_region="us-east-1",
             wallet=True, overwrite=False, required_keys=[], value_from_keys=[], mode="copy",
             recovery_window_days=30, tags={"managed-by": "facilitator-ops"}, description="wallet")
    p.update(kw)
    return p


def source_wallet(src_s, value=WALLET):
    describe(src_s, "karmacadabra-facilitator-testnet", SRC_ARN)
    get(src_s, "karmacadabra-facilitator-testnet", SRC_ARN, value)


def test_create_copies_verifies_and_returns_value_from(stores):
    src, src_s, dst, dst_s = stores
    source_wallet(src_s)
    not_found(dst_s, "describe_secret", "facilitator-evm-testnet-private-key")
    dst_s.add_response("create_secret", {"ARN": DST_ARN, "Name": "x", "VersionId": VID},
                       {"Name": "facilitator-evm-testnet-private-key", "SecretString": WALLET,
                        "Description": "wallet", "Tags": tags(WALLET)})
    get(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, WALLET)
    r = run_copy(params(), src, dst)
    assert r["changed"] and r["action"] == "create" and r["verified"]
    assert r["arn"] == DST_ARN and r["value_from"] == {"private_key": DST_ARN + ":private_key::"}
    assert r["address"] == EVM_ADDR and r["source"]["digest"] == r["digest"]
    assert EVM_KEY not in json.dumps(r)


def test_check_mode_writes_nothing(stores):
    src, src_s, dst, dst_s = stores
    source_wallet(src_s)
    not_found(dst_s, "describe_secret", "facilitator-evm-testnet-private-key")
    r = run_copy(params(), src, dst, check_mode=True)
    assert r["changed"] and r["plan"].endswith("would create") and r["arn"] is None
    assert r["diff"]["before"]["exists"] is False and r["diff"]["after"]["keys"] == ["address", "private_key"]


def test_equal_destination_is_ok_without_new_version(stores):
    src, src_s, dst, dst_s = stores
    source_wallet(src_s)
    describe(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, Description="wallet", Tags=tags(WALLET))
    get(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, WALLET)
    r = run_copy(params(), src, dst)
    assert not r["changed"] and r["action"] == "equal" and r["verified"]


def test_monorepo_wallet_without_address_is_copied_with_the_derived_address(stores):
    src, src_s, dst, dst_s = stores
    source_wallet(src_s, json.dumps({"private_key": EVM_KEY}))
    not_found(dst_s, "describe_secret", "facilitator-evm-testnet-private-key")
    completed = json.dumps({"private_key": EVM_KEY, "address": EVM_ADDR})
    dst_s.add_response("create_secret", {"ARN": DST_ARN, "Name": "x", "VersionId": VID},
                       {"Name": "facilitator-evm-testnet-private-key", "SecretString": completed,
                        "Description": "wallet", "Tags": tags(completed)})
    get(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, completed)
    r = run_copy(params(), src, dst)
    assert r["changed"] and r["action"] == "create" and r["verified"] and r["address"] == EVM_ADDR
    assert r["source"]["address_derived"] is True
    # the re-run compares the same completed document: no change
    source_wallet(src_s, json.dumps({"private_key": EVM_KEY}))
    describe(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, Description="wallet", Tags=tags(completed))
    get(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, completed)
    r = run_copy(params(), src, dst)
    assert not r["changed"] and r["action"] == "equal"


def test_comma_separated_evm_keys_get_their_addresses_in_order(stores):
    from ansible.module_utils.facilitator_ops.local_stack.seed import evm_wallet

    a, b = evm_wallet(2), evm_wallet(3)
    src, src_s, dst, dst_s = stores
    source_wallet(src_s, json.dumps({"private_key": f"{a['private_key']},{b['private_key']}"}))
    not_found(dst_s, "describe_secret", "facilitator-evm-testnet-private-key")
    completed = json.dumps({"private_key": f"{a['private_key']},{b['private_key']}",
                            "address": f"{a['address']},{b['address']}"})
    dst_s.add_response("create_secret", {"ARN": DST_ARN, "Name": "x", "VersionId": VID},
                       {"Name": "facilitator-evm-testnet-private-key", "SecretString": completed,
                        "Description": "wallet", "Tags": tags(completed)})
    get(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, completed)
    r = run_copy(params(), src, dst)
    assert r["verified"] and r["address"] == f"{a['address']},{b['address']}"


def test_comma_separated_addresses_must_match_each_key_in_order():
    from ansible.module_utils.facilitator_ops.common.keys import wallet_address_matches
    from ansible.module_utils.facilitator_ops.local_stack.seed import evm_wallet

    a, b = evm_wallet(2), evm_wallet(3)
    pk = f"{a['private_key']},{b['private_key']}"
    assert wallet_address_matches({"private_key": pk, "address": f"{a['address']}, {b['address'].lower()}"}) == (True, "evm")
    assert wallet_address_matches({"private_key": pk, "address": f"{b['address']},{a['address']}"}) == (False, "evm")
    assert wallet_address_matches({"private_key": pk, "address": a["address"]}) == (False, "evm")


def test_destination_rotated_after_the_migration_is_left_alone(stores):
    """Migrated from this source value earlier (the tag says so), then rotated: no change, no refusal."""
    src, src_s, dst, dst_s = stores
    from ansible.module_utils.facilitator_ops.local_stack.seed import evm_wallet

    rotated = json.dumps(evm_wallet(4))
    source_wallet(src_s)
    describe(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, Description="wallet", Tags=tags(WALLET))
    get(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, rotated)
    r = run_copy(params(), src, dst)
    assert not r["changed"] and r["action"] == "superseded" and r["verified"]
    assert "moved on since" in r["plan"]


def test_issue18_3_a_destination_rotated_since_its_copy_is_never_overwritten(stores):
    """Issue 18 (3): overwrite on (the run's flag, or the item named) never puts the
    source back into a destination that changed since its copy (the tag holds the
    digest of what was copied): no write is queued, so the Stubber would raise on one."""
    src, src_s, dst, dst_s = stores
    from ansible.module_utils.facilitator_ops.local_stack.seed import evm_wallet

    rotated = json.dumps(evm_wallet(4))
    # source unchanged since the copy, destination rotated
    source_wallet(src_s)
    describe(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, Description="wallet", Tags=tags(WALLET))
    get(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, rotated)
    r = run_copy(params(overwrite=True), src, dst)
    assert not r["changed"] and r["action"] == "superseded" and r["verified"]
    # the source changed since the copy too (a monorepo rotation): still never overwritten, said in a warning
    other = json.dumps(evm_wallet(5))
    source_wallet(src_s, other)
    describe(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, Description="wallet", Tags=tags(WALLET))
    get(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, rotated)
    r = run_copy(params(overwrite=True), src, dst)
    assert not r["changed"] and r["action"] == "superseded"
    assert "the destination is kept" in r["warnings"][0]
    assert json.loads(other)["private_key"] not in json.dumps(r)


def test_a_source_changed_since_the_copy_needs_the_wallet_named(stores):
    """The destination still holds its copy, the source changed: refused (naming how to
    overwrite this one wallet), then overwritten when overwrite is on for the item."""
    src, src_s, dst, dst_s = stores
    from ansible.module_utils.facilitator_ops.local_stack.seed import evm_wallet

    changed = json.dumps(evm_wallet(5))
    source_wallet(src_s, changed)
    describe(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, Description="wallet", Tags=tags(WALLET))
    get(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, WALLET)
    with pytest.raises(SecretError, match="overwrite is off.*secrets_migration_overwrite_items="
                                          "facilitator-evm-testnet-private-key"):
        run_copy(params(), src, dst)
    source_wallet(src_s, changed)
    describe(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, Description="wallet", Tags=tags(WALLET))
    get(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, WALLET)
    dst_s.add_response("put_secret_value", {"ARN": DST_ARN, "VersionId": VID},
                       {"SecretId": "facilitator-evm-testnet-private-key", "SecretString": changed})
    dst_s.add_response("tag_resource", {}, {"SecretId": "facilitator-evm-testnet-private-key", "Tags": [
        {"Key": "facilitator-ops:migrated-source-digest", "Value": tags(changed)[0]["Value"]}]})
    get(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, changed)
    r = run_copy(params(overwrite=True), src, dst)
    assert r["changed"] and r["action"] == "add_version" and r["verified"]


def test_different_destination_refused_without_overwrite(stores):
    src, src_s, dst, dst_s = stores
    source_wallet(src_s)
    describe(dst_s, "facilitator-evm-testnet-private-key", DST_ARN)
    get(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, json.dumps({"private_key": "0x" + "2" * 64}))
    with pytest.raises(SecretError) as err:
        run_copy(params(), src, dst)
    assert "overwrite is off" in str(err.value) and EVM_KEY not in str(err.value)


def test_unknown_source(stores):
    src, src_s, dst, dst_s = stores
    not_found(src_s, "describe_secret", "karmacadabra-facilitator-testnet")
    not_found(src_s, "get_secret_value", "karmacadabra-facilitator-testnet")
    with pytest.raises(SecretError, match="source secret us-east-1/karmacadabra-facilitator-testnet not found"):
        run_copy(params(), src, dst)


def test_wallet_mismatch_refused_before_any_destination_call(stores):
    src, src_s, dst, dst_s = stores
    source_wallet(src_s, json.dumps({"private_key": EVM_KEY, "address": "0x" + "0" * 40}))
    with pytest.raises(SecretError, match="does not belong"):
        run_copy(params(), src, dst)


def test_key_insert_proves_other_keys_survived(stores):
    src, src_s, dst, dst_s = stores
    describe(src_s, "karmacadabra-quicknode-base-rpc", SRC_ARN)
    get(src_s, "karmacadabra-quicknode-base-rpc", SRC_ARN, URL)
    rpc = {"avalanche": "https://a", "polygon": "https://p"}
    describe(dst_s, "facilitator-rpc-mainnet", RPC_ARN)
    get(dst_s, "facilitator-rpc-mainnet", RPC_ARN, json.dumps(rpc))
    written = json.dumps(dict(rpc, base=URL))
    dst_s.add_response("put_secret_value", {"ARN": RPC_ARN, "VersionId": "22222222-2222-3333-4444-555555555555"},
                       {"SecretId": "facilitator-rpc-mainnet", "SecretString": written})
    describe(dst_s, "facilitator-rpc-mainnet", RPC_ARN, VersionIdsToStages={
        "22222222-2222-3333-4444-555555555555": ["AWSCURRENT"], VID: ["AWSPREVIOUS"]})
    key_tag(dst_s)
    get(dst_s, "facilitator-rpc-mainnet", RPC_ARN, written)
    p = params(name="facilitator-rpc-mainnet", source_name="karmacadabra-quicknode-base-rpc", wallet=False,
               destination_key="base", create_missing=False, tags={}, description=None)
    r = run_copy(p, src, dst)
    assert r["action"] == "insert_key" and r["preserved_keys"] == ["avalanche", "polygon"]
    assert r["value_from"] == {"base": RPC_ARN + ":base::"}
    assert URL not in json.dumps(r)


def test_key_insert_detects_a_wiped_key(stores):
    """A concurrent writer (or a bad write) lost a key: the run fails naming it."""
    src, src_s, dst, dst_s = stores
    describe(src_s, "karmacadabra-quicknode-base-rpc", SRC_ARN)
    get(src_s, "karmacadabra-quicknode-base-rpc", SRC_ARN, URL)
    rpc = {"avalanche": "https://a", "polygon": "https://p"}
    describe(dst_s, "facilitator-rpc-mainnet", RPC_ARN)
    get(dst_s, "facilitator-rpc-mainnet", RPC_ARN, json.dumps(rpc))
    dst_s.add_response("put_secret_value", {"ARN": RPC_ARN, "VersionId": "22222222-2222-3333-4444-555555555555"},
                       {"SecretId": "facilitator-rpc-mainnet", "SecretString": ANY})
    describe(dst_s, "facilitator-rpc-mainnet", RPC_ARN, VersionIdsToStages={
        "22222222-2222-3333-4444-555555555555": ["AWSCURRENT"], VID: ["AWSPREVIOUS"]})
    key_tag(dst_s)
    get(dst_s, "facilitator-rpc-mainnet", RPC_ARN, json.dumps({"avalanche": "https://a", "base": URL}))
    p = params(name="facilitator-rpc-mainnet", source_name="karmacadabra-quicknode-base-rpc", wallet=False,
               destination_key="base", create_missing=False, tags={}, description=None)
    with pytest.raises(SecretError, match="other keys changed or vanished: polygon.*AWSPREVIOUS"):
        run_copy(p, src, dst)


def test_retire_refused_while_a_copy_is_pending(stores):
    src, src_s, dst, dst_s = stores
    source_wallet(src_s)
    not_found(dst_s, "describe_secret", "facilitator-evm-testnet-private-key")
    with pytest.raises(SecretError, match="refused in the same run as a copy"):
        run_copy(params(mode="retire_source"), src, dst)


def test_retire_after_verification(stores):
    src, src_s, dst, dst_s = stores
    source_wallet(src_s)
    describe(dst_s, "facilitator-evm-testnet-private-key", DST_ARN)
    get(dst_s, "facilitator-evm-testnet-private-key", DST_ARN, WALLET)
    src_s.add_response("delete_secret", {"ARN": SRC_ARN, "Name": "x"},
                       {"SecretId": "karmacadabra-facilitator-testnet", "RecoveryWindowInDays": 7})
    r = run_copy(params(mode="retire_source", recovery_window_days=7), src, dst)
    assert r["changed"] and r["source"]["scheduled_for_deletion"]


def test_check_params():
    assert "source and destination are the same secret" in check_params(
        params(source_name="a", name="a", source_region="us-east-2"))
    assert "destination region is missing" in check_params(params(region=None))
    assert "recovery_window_days must be between 7 and 30" in check_params(params(recovery_window_days=3))


class FakeStore(SecretStore):
    """In-memory store for run_set_key (string secrets only, AWSCURRENT/AWSPREVIOUS kept like Secrets Manager)."""

    def __init__(self, secrets):
        super().__init__(None, retry=False)
        self.secrets = dict(secrets)
        self.versions = {name: {"v": value} for name, value in self.secrets.items()}
        self.stage = {name: {"AWSCURRENT": "v"} for name in self.secrets}
        self.writes = 0

    def _call(self, method, **kw):
        from botocore.exceptions import ClientError

        name = kw.get("SecretId") or kw.get("Name")
        arn = f"arn:aws:secretsmanager:us-east-2:1:secret:{name}-AbCdEf"
        if method in ("describe_secret", "get_secret_value") and name not in self.secrets:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException"}}, method)
        if method == "describe_secret":
            stages = {}
            for stage, vid in self.stage.get(name, {}).items():
                stages.setdefault(vid, []).append(stage)
            return {"ARN": arn, "Name": name, "VersionIdsToStages": stages}
        if method == "get_secret_value":
            vid = kw.get("VersionId") or self.stage[name]["AWSCURRENT"]
            return {"ARN": arn, "Name": name, "VersionId": vid, "SecretString": self.versions[name][vid]}
        if method in ("put_secret_value", "create_secret"):
            self.writes += 1
            vid = f"v{self.writes}"
            self.secrets[name] = kw["SecretString"]
            self.versions.setdefault(name, {})[vid] = kw["SecretString"]
            st = self.stage.setdefault(name, {})
            if "AWSCURRENT" in st:
                st["AWSPREVIOUS"] = st["AWSCURRENT"]
            st["AWSCURRENT"] = vid
            return {"ARN": arn, "VersionId": vid}
        if method == "tag_resource":
            self.tags = dict(getattr(self, "tags", {}), **{t["Key"]: t["Value"] for t in kw["Tags"]})
            return {}
        raise AssertionError(method)


class Interleaving(FakeStore):
    """Another writer's put lands between this run's read and its write, once per entry of `others`."""

    def __init__(self, secrets, others):
        super().__init__(secrets)
        self.others = list(others)

    def put(self, name, value):
        if self.others:
            doc = json.loads(self.secrets[name])
            doc.update(self.others.pop(0))
            super().put(name, SecretValue("string", json.dumps(doc)))
        return super().put(name, value)


def key_params(**kw):
    p = dict(name="facilitator-rpc-mainnet", key="base", value=URL, region="us-east-2", state="present",
             overwrite=True, create_missing=False, required_keys=["avalanche"])
    p.update(kw)
    return p


def test_set_key_update_equal_remove():
    store = FakeStore({"facilitator-rpc-mainnet": json.dumps({"avalanche": "https://a", "base": "https://old"})})
    r = run_set_key(key_params(), store)
    assert r["action"] == "update_key" and r["preserved_keys"] == ["avalanche"] and store.writes == 1
    assert URL not in json.dumps(r)
    again = run_set_key(key_params(), store)
    assert again["action"] == "equal" and not again["changed"] and store.writes == 1
    gone = run_set_key(key_params(state="absent", value=None), store)
    assert gone["action"] == "remove_key" and json.loads(store.secrets["facilitator-rpc-mainnet"]) == {"avalanche": "https://a"}


def test_set_key_check_mode_and_guards():
    store = FakeStore({"facilitator-rpc-mainnet": json.dumps({"avalanche": "https://a"})})
    r = run_set_key(key_params(), store, check_mode=True)
    assert r["changed"] and r["plan"].endswith("would insert key") and store.writes == 0
    with pytest.raises(SecretError, match="value is empty"):
        run_set_key(key_params(value=""), store)
    with pytest.raises(SecretError, match="changed since you looked"):
        run_set_key(key_params(expected_digest="000000000000"), store)
    with pytest.raises(SecretError, match="does not exist"):
        run_set_key(key_params(name="nope"), store)
    with pytest.raises(SecretError, match="cannot remove a key listed in required_keys"):
        run_set_key(key_params(key="avalanche", state="absent", value=None), store)
    assert store.writes == 0


# ---- issue 11: compare-and-swap of the read-modify-write

def test_set_key_merges_a_key_added_between_read_and_write():
    """Someone adds `celo` after this run read the map and before it wrote: without the compare-and-swap the
    write dropped it and the survivor proof (against this run's own read) still passed."""
    store = Interleaving({"facilitator-rpc-mainnet": json.dumps({"avalanche": "https://a"})},
                         others=[{"celo": "https://c"}])
    r = run_set_key(key_params(), store)
    assert json.loads(store.secrets["facilitator-rpc-mainnet"]) == {"avalanche": "https://a", "celo": "https://c",
                                                                     "base": URL}
    assert r["merged_interleaved_writes"] == 1 and r["preserved_keys"] == ["avalanche", "celo"]


def test_copy_into_a_key_merges_interleaved_writes_too(stores):
    src, src_s, _dst, _dst_s = stores
    describe(src_s, "karmacadabra-quicknode-base-rpc", SRC_ARN)
    get(src_s, "karmacadabra-quicknode-base-rpc", SRC_ARN, URL)
    dst = Interleaving({"facilitator-rpc-mainnet": json.dumps({"avalanche": "https://a"})},
                       others=[{"celo": "https://c", "polygon": "https://p"}])
    p = params(name="facilitator-rpc-mainnet", source_name="karmacadabra-quicknode-base-rpc", wallet=False,
               destination_key="base", create_missing=False, tags={}, description=None)
    r = run_copy(p, src, dst)
    assert json.loads(dst.secrets["facilitator-rpc-mainnet"]) == {"avalanche": "https://a", "celo": "https://c",
                                                                   "polygon": "https://p", "base": URL}
    assert r["merged_interleaved_writes"] == 1 and r["preserved_keys"] == ["avalanche", "celo", "polygon"]
    assert list(dst.tags) == ["facilitator-ops:migrated-key:base"]  # the deploy's sign of a migrated key


def test_same_key_changed_by_another_writer_fails_naming_it_and_keeps_theirs():
    store = Interleaving({"facilitator-rpc-mainnet": json.dumps({"avalanche": "https://a", "base": "https://old"})},
                         others=[{"base": "https://theirs", "celo": "https://c"}])
    with pytest.raises(SecretError, match="key 'base' was changed by another writer"):
        run_set_key(key_params(), store)
    assert json.loads(store.secrets["facilitator-rpc-mainnet"]) == {"avalanche": "https://a",
                                                                     "base": "https://theirs", "celo": "https://c"}
