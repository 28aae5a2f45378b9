"""The rotation's resume state machine (no network): phases from version
stages, the stage moves, and a rotation killed at every point (in-process
moto for Secrets Manager, fake_evm for the chains) that still ends with one
new key, one funding, an empty old wallet and every wei accounted for."""
from __future__ import annotations

import json

import pytest

from ansible.module_utils.facilitator_ops.wallet.aws import wallet_secret
from ansible.module_utils.facilitator_ops.wallet.evm import EvmChain
from ansible.module_utils.facilitator_ops.wallet.rpc import JsonRpc
from ansible.module_utils.facilitator_ops.wallet.secret import WalletSecret
from ansible.module_utils.facilitator_ops.wallet.secret import WalletSecretError
from ansible.module_utils.facilitator_ops.wallet.secret import parse_wallet
from ansible.module_utils.facilitator_ops.wallet.state import StateError
from ansible.module_utils.facilitator_ops.wallet.state import combined_phase
from ansible.module_utils.facilitator_ops.wallet.state import next_steps
from ansible.module_utils.facilitator_ops.wallet.state import phase_of
from ansible.module_utils.facilitator_ops.wallet.state import stage_action
from ansible.module_utils.facilitator_ops.wallet.state import transfer_stage_check
from unit.fake_evm import Crash
from unit.fake_evm import FakeEvmNode

ETH = 10**18


def test_phases_from_stages():
    assert phase_of({"a": ["AWSCURRENT"]})["phase"] == "idle"
    p = phase_of({"a": ["AWSCURRENT"], "b": ["AWSPENDING"]})
    assert (p["phase"], p["old"], p["new"]) == ("pending", "a", "b")
    p = phase_of({"a": ["AWSPREVIOUS"], "b": ["AWSPENDING", "AWSCURRENT"]})
    assert (p["phase"], p["old"], p["new"]) == ("promoted", "a", "b")
    # after a rollback the new version keeps AWSPENDING (and AWSPREVIOUS): pending again
    p = phase_of({"a": ["AWSCURRENT"], "b": ["AWSPENDING", "AWSPREVIOUS"]})
    assert (p["phase"], p["old"], p["new"]) == ("pending", "a", "b")
    with pytest.raises(StateError, match="no AWSCURRENT"):
        phase_of({"a": ["AWSPENDING"]})
    with pytest.raises(StateError, match="no AWSPREVIOUS"):
        phase_of({"b": ["AWSPENDING", "AWSCURRENT"]})


def test_steps_left_and_combined_phase():
    assert next_steps("idle")[0] == "create"
    assert next_steps("pending")[0] == "fund"
    assert next_steps("promoted") == ["redeploy", "prove", "sweep", "finish"]
    assert combined_phase(["promoted", "pending"]) == "pending"


def test_stage_actions_are_idempotent_and_guarded():
    pending = phase_of({"a": ["AWSCURRENT"], "b": ["AWSPENDING"]})
    op, _ = stage_action("promote", pending, "a", "b")
    assert op == ("move_current", "b", "a")
    promoted = phase_of({"a": ["AWSPREVIOUS"], "b": ["AWSPENDING", "AWSCURRENT"]})
    assert stage_action("promote", promoted, "a", "b")[0] is None
    assert stage_action("rollback", promoted, "a", "b")[0] == ("move_current", "a", "b")
    assert stage_action("rollback", pending, "a", "b")[0] is None
    assert stage_action("finish", promoted, "a", "b")[0] == ("remove_pending", "b")
    finished = phase_of({"a": ["AWSPREVIOUS"], "b": ["AWSCURRENT"]})
    assert stage_action("finish", finished, "a", "b")[0] is None
    with pytest.raises(StateError, match="cannot promote"):
        stage_action("promote", phase_of({"x": ["AWSCURRENT"], "b": ["AWSPENDING"]}), "a", "b")
    with pytest.raises(StateError, match="cannot finish"):
        stage_action("finish", pending, "a", "b")


def test_transfers_only_in_their_phase():
    pending = phase_of({"a": ["AWSCURRENT"], "b": ["AWSPENDING"]})
    promoted = phase_of({"a": ["AWSPREVIOUS"], "b": ["AWSPENDING", "AWSCURRENT"]})
    transfer_stage_check("fund", pending, "a", "b")
    transfer_stage_check("sweep", promoted, "a", "b")
    with pytest.raises(StateError, match="already promoted"):
        transfer_stage_check("fund", promoted, "a", "b")
    with pytest.raises(StateError, match="sweeping before the new wallet is live is refused"):
        transfer_stage_check("sweep", pending, "a", "b")


def test_wallet_documents_are_validated_without_echoing_values():
    from eth_account import Account

    acct = Account.create()
    key = "0x" + bytes(acct.key).hex()
    w = parse_wallet(json.dumps({"private_key": key, "address": acct.address}), "evm", "s", "v1")
    assert w.address == acct.address and key not in repr(w)
    for doc, msg in (({"private_key": key}, "missing key"),
                     ({"private_key": key, "address": Account.create().address}, "does not belong"),
                     ({"private_key": key, "address": acct.address, "mnemonic": "x"}, "unexpected key")):
        with pytest.raises(WalletSecretError, match=msg) as e:
            parse_wallet(json.dumps(doc), "evm", "s", "v1")
        assert key not in str(e.value) and key[2:] not in str(e.value)
    with pytest.raises(WalletSecretError, match="expected solana"):
        parse_wallet(json.dumps({"private_key": key, "address": acct.address}), "solana", "s", "v1")


# ---------------------------------------------------------------- the resume state machine


@pytest.fixture
def sm():
    import boto3
    import moto

    with moto.mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-2")


class Rotation:
    """The role's step order, with the same modules' logic, on a fake chain."""

    def __init__(self, client, arn, node):
        self.ws = WalletSecret(client, arn, "evm", aws_retry=False)
        self.node = node
        self.chain = EvmChain(JsonRpc("http://fake", "base-sepolia", transport=node.transport), "base-sepolia",
                              chain_id=node.chain_id, sleep=lambda s: None)

    def run(self, kill_at=None, crash_in_send=False):
        st = self.ws.state()
        if kill_at == "create":
            raise Crash("killed before create")
        if st["phase"] == "idle":
            self.ws.create_pending()
            st = self.ws.state()
        if kill_at == "fund":
            raise Crash("killed before fund")
        if st["phase"] == "pending":
            old, new = self.ws.read(st["old"]), self.ws.read(st["new"])
            self.node.crash_after_send = crash_in_send
            self.chain.fund(old.signer(), new.address, ETH)
            if kill_at == "promote":
                raise Crash("killed before promote")
            op, _ = stage_action("promote", st, st["old"], st["new"])
            self.ws.move_current(op[1], op[2])
            st = self.ws.state()
        if kill_at == "sweep":
            raise Crash("killed before sweep")
        old, new = self.ws.read(st["old"]), self.ws.read(st["new"])
        self.node.crash_after_send = crash_in_send
        self.chain.sweep(old.signer(), new.address)
        if kill_at == "finish":
            raise Crash("killed before finish")
        op, _ = stage_action("finish", st, st["old"], st["new"])
        if op:
            self.ws.remove_pending(op[1])
        return old.address, new.address


@pytest.mark.parametrize("kills", [
    [],
    ["create"],
    ["fund"],
    ["promote"],
    ["sweep"],
    ["finish"],
    ["create", "fund", "promote", "sweep", "finish"],
    [("fund", "crash_in_send")],
    [("sweep", "crash_in_send")],
])
def test_killed_anywhere_resumes_to_the_same_end_state(sm, kills):
    from eth_account import Account

    old = Account.create()
    arn = sm.create_secret(Name="facilitator-evm-testnet-private-key", SecretString=json.dumps(
        {"private_key": "0x" + bytes(old.key).hex(), "address": old.address}))["ARN"]
    node = FakeEvmNode(balances={old.address: 7 * ETH})
    rot = Rotation(sm, arn, node)
    for k in kills:
        if k == ("fund", "crash_in_send"):  # killed after the funding was sent, before its receipt
            with pytest.raises(Crash):
                rot.run(crash_in_send=True)
        elif k == ("sweep", "crash_in_send"):
            _crash_in_sweep(rot)
        else:
            with pytest.raises(Crash):
                rot.run(kill_at=k)
    old_addr, new_addr = rot.run()
    versions = sm.list_secret_version_ids(SecretId=arn)["Versions"]
    assert len(versions) == 2  # exactly one new key
    stages = {v["VersionId"]: v["VersionStages"] for v in versions}
    assert sorted(map(tuple, stages.values())) == [("AWSCURRENT",), ("AWSPREVIOUS",)]
    funding = [m for m in node.mined if m["sender"] == old_addr and m["value"] == ETH]
    assert len(funding) == 1  # never paid twice
    assert node.balance(old_addr) == 0  # swept, nothing stranded
    assert node.balance(new_addr) + sum(m["fee"] for m in node.mined) == 7 * ETH  # conserved
    assert rot.ws.read(rot.ws.state()["current"]).address == new_addr


def _crash_in_sweep(rot):
    """Run to the sweep, crash right after the sweep transaction is sent."""
    with pytest.raises(Crash):
        rot.run(kill_at="sweep")
    rot.node.crash_after_send = True
    st = rot.ws.state()
    old, new = rot.ws.read(st["old"]), rot.ws.read(st["new"])
    with pytest.raises(Crash):
        rot.chain.sweep(old.signer(), new.address)


def test_pending_is_reused_never_a_second_key(sm):
    from eth_account import Account

    old = Account.create()
    arn = sm.create_secret(Name="w", SecretString=json.dumps(
        {"private_key": "0x" + bytes(old.key).hex(), "address": old.address}))["ARN"]
    ws = WalletSecret(sm, arn, "evm", aws_retry=False)
    first, created = ws.create_pending()
    again, created2 = ws.create_pending()
    assert created and not created2 and first.address == again.address and first.version_id == again.version_id
    assert len(sm.list_secret_version_ids(SecretId=arn)["Versions"]) == 2
    # check mode never writes
    assert ws.create_pending(check_mode=True)[0].address == first.address


def test_solana_pending_key_has_the_same_shape(sm):
    from solders.keypair import Keypair

    kp = Keypair()
    arn = sm.create_secret(Name="s", SecretString=json.dumps({"private_key": str(kp), "address": str(kp.pubkey())}))["ARN"]
    ws = WalletSecret(sm, arn, "solana", aws_retry=False)
    w, created = ws.create_pending()
    doc = json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSPENDING")["SecretString"])
    assert created and sorted(doc) == ["address", "private_key"] and doc["address"] == w.address
    assert str(Keypair.from_base58_string(doc["private_key"]).pubkey()) == w.address


class _Failed(Exception):
    pass


class _Module:
    """What wallet_secret() uses of an AnsibleAWSModule."""

    def __init__(self, secret_arn):
        self.params = {"secret_arn": secret_arn}
        self.clients = []

    def client(self, service, retry_decorator=None, **kw):
        self.clients.append((service, kw.get("region")))
        return object()

    def fail_json(self, msg, **kw):
        raise _Failed(msg)


def test_wallet_secret_works_in_the_region_of_its_arn():
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:karmacadabra-facilitator-testnet-AbCdEf"
    module = _Module(arn)
    ws = wallet_secret(module, "evm")
    assert (ws.arn, ws.kind, ws.label) == (arn, "evm", "karmacadabra-facilitator-testnet-AbCdEf")
    assert module.clients == [("secretsmanager", "us-east-1")]
    with pytest.raises(_Failed, match="secret_arn is not a Secrets Manager ARN: facilitator-evm"):
        wallet_secret(_Module("facilitator-evm"))
    with pytest.raises(_Failed, match="not a Secrets Manager ARN"):
        wallet_secret(_Module("arn:aws:ssm:us-east-1:123456789012:parameter:x"))
