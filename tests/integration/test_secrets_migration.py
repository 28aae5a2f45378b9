"""migrate_secrets.yml and secret_set_key.yml against a private moto server.

Every playbook run is `-vvv` and leak-scanned: canary values (valid keys, so
address verification passes, and random RPC URLs) are planted in the source
secrets of a fresh moto world, and must not appear in the output, the audit
log, the state file or any temp file of the run.
"""
from __future__ import annotations

import base64
import json
import secrets as pysecrets

import pytest

from helpers.leakscan import LeakScanner
from helpers.moto import MotoServer
from helpers.playbook import run_playbook

SRC, DST = "us-east-1", "us-east-2"
WALLETS = {
    "karmacadabra-facilitator-mainnet": "facilitator-evm-mainnet-private-key",
    "karmacadabra-facilitator-testnet": "facilitator-evm-testnet-private-key",
    "karmacadabra-solana-keypair": "facilitator-solana-testnet-keypair",
}


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    yield server
    server.stop()


def _evm_wallet():
    from eth_account import Account

    acct = Account.create()
    key = acct.key.hex().removeprefix("0x")
    return {"private_key": "0x" + key, "address": acct.address}, key


def _solana_wallet():
    from solders.keypair import Keypair

    kp = Keypair()
    return {"private_key": str(kp), "address": str(kp.pubkey())}, bytes(kp)


class World:
    """A fresh moto world: the monorepo secrets (canaries) in us-east-1, shaped as
    FACTS says (wallets {"private_key": ...} only, the QuickNode URL a plain
    string), the standalone stack's RPC maps in us-east-2."""

    def __init__(self, moto, scanner):
        self.moto = moto
        self.scanner = scanner
        self.src = moto.client("secretsmanager", SRC)
        self.dst = moto.client("secretsmanager", DST)
        self.values = {}
        self.wallets = {}  # source name -> the full wallet (with the address the copy must derive)

    def plant(self):
        self.moto.reset()
        for i, name in enumerate(["karmacadabra-facilitator-mainnet", "karmacadabra-facilitator-testnet"]):
            wallet, key_hex = _evm_wallet()
            self.scanner.add(f"{name} private_key", key_hex)
            self.wallets[name] = wallet
            self._create(self.src, name, json.dumps({"private_key": wallet["private_key"]}))
        sol, sol_bytes = _solana_wallet()
        self.scanner.add("solana private_key (base58)", sol["private_key"])
        self.scanner.add("solana private_key (bytes)", sol_bytes.hex())
        self.wallets["karmacadabra-solana-keypair"] = sol
        self._create(self.src, "karmacadabra-solana-keypair", json.dumps({"private_key": sol["private_key"]}))
        url = f"https://canary-{pysecrets.token_hex(6)}.base-mainnet.quiknode.pro/{pysecrets.token_hex(16)}/"
        self.scanner.add("quicknode url", url)
        self._create(self.src, "karmacadabra-quicknode-base-rpc", url)
        rpc = {
            "avalanche": self.scanner.add("rpc avalanche", f"https://avax-{pysecrets.token_hex(12)}.example/rpc"),
            "polygon": self.scanner.add("rpc polygon", f"https://polygon-{pysecrets.token_hex(12)}.example/rpc"),
        }
        self._create(self.dst, "facilitator-rpc-mainnet", json.dumps(rpc))
        self._create(self.dst, "facilitator-rpc-testnet", json.dumps(
            {"base-sepolia": self.scanner.add("rpc base-sepolia", f"http://127.0.0.1:8545/{pysecrets.token_hex(8)}")}))
        return self

    def _create(self, client, name, value):
        client.create_secret(Name=name, SecretString=value)
        self.values[name] = value

    def get(self, name, region=DST):
        client = self.src if region == SRC else self.dst
        return client.get_secret_value(SecretId=name)

    def names(self, region=DST):
        client = self.src if region == SRC else self.dst
        return sorted(s["Name"] for s in client.list_secrets()["SecretList"])

    def snapshot(self):
        """Every secret of both regions: name -> (version ids, value digest)."""
        import hashlib

        out = {}
        for region, client in ((SRC, self.src), (DST, self.dst)):
            for s in client.list_secrets(IncludePlannedDeletion=True)["SecretList"]:
                v = client.list_secret_version_ids(SecretId=s["ARN"])["Versions"]
                try:
                    val = client.get_secret_value(SecretId=s["ARN"])
                    blob = val.get("SecretString", "").encode() or val.get("SecretBinary", b"")
                except Exception:  # scheduled for deletion
                    blob = b"deleted"
                out[f"{region}/{s['Name']}"] = (
                    sorted(x["VersionId"] for x in v), hashlib.sha256(blob).hexdigest(), bool(s.get("DeletedDate")))
        return out


@pytest.fixture
def scanner():
    return LeakScanner()


@pytest.fixture
def world(moto, scanner):
    return World(moto, scanner).plant()


def migrate(world, tmp_path, *args, extra=None, **kw):
    ev = {"aws_endpoint_url": world.moto.endpoint}
    ev.update(extra or {})
    return run_playbook("migrate_secrets.yml", tmp_path, extra_vars=ev, args=args, scanner=world.scanner, **kw)


def one_line_error(run):
    lines = [line for line in run.stdout.splitlines() if '"msg":' in line or "msg:" in line]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
def test_check_mode_plans_and_writes_nothing(world, tmp_path):
    before = world.snapshot()
    run = migrate(world, tmp_path, "--check", "--diff")
    assert run.rc == 0, run.tail()
    assert world.snapshot() == before
    for dest in WALLETS.values():
        assert f"us-east-2/{dest} <- " in run.stdout and "would create" in run.stdout
    assert "facilitator-rpc-mainnet[base]" in run.stdout and "would insert key" in run.stdout
    assert "check mode: nothing was written" in run.stdout
    assert "--- before" in run.stdout  # per-secret diff
    assert not list((tmp_path / "run-0" / "state").iterdir())  # no state file in check mode


def test_cross_region_copy_then_idempotent(world, tmp_path):
    run = migrate(world, tmp_path)
    assert run.rc == 0, run.tail()
    assert run.recap["changed"] >= 3 and run.recap["failed"] == 0  # the copy, the state dir and file
    for src, dest in WALLETS.items():
        copied = world.get(dest)
        # the monorepo's {"private_key"} plus the address derived from it, other region
        assert json.loads(copied["SecretString"]) == world.wallets[src]
        assert list(json.loads(copied["SecretString"])) == ["private_key", "address"]
        assert copied["ARN"].startswith("arn:aws:secretsmanager:us-east-2:")
        assert world.get(src, SRC)["ARN"].startswith("arn:aws:secretsmanager:us-east-1:")
    rpc = json.loads(world.get("facilitator-rpc-mainnet")["SecretString"])
    assert rpc["base"] == world.values["karmacadabra-quicknode-base-rpc"]
    assert {k: v for k, v in rpc.items() if k != "base"} == json.loads(world.values["facilitator-rpc-mainnet"])

    state = json.loads((tmp_path / "run-0" / "state" / "secrets_migration.json").read_text())
    arn = world.get("facilitator-evm-mainnet-private-key")["ARN"]
    assert state["secrets"]["facilitator-evm-mainnet-private-key"]["value_from"]["private_key"] == f"{arn}:private_key::"
    assert {"name": "EVM_PRIVATE_KEY_MAINNET", "valueFrom": f"{arn}:private_key::"} in state["container_secrets"]
    rpc_arn = world.get("facilitator-rpc-mainnet")["ARN"]
    assert state["secrets"]["facilitator-rpc-mainnet"]["value_from"]["base"] == f"{rpc_arn}:base::"
    stmt = state["iam_policy"]["Statement"][0]
    assert stmt["Action"] == ["secretsmanager:GetSecretValue"]
    assert sorted(stmt["Resource"]) == sorted(
        [world.get(d)["ARN"] for d in WALLETS.values()] + [rpc_arn])
    audit = run.audit_records("secrets_migration.jsonl")
    assert [a["step"] for a in audit] == ["start", "end"] and audit[-1]["result"] == "SUCCEEDED"
    assert {a["action"] for a in audit[-1]["secrets"]} == {"create", "insert_key"}
    rpc_audit = [a for a in audit[-1]["secrets"] if a["secret"].endswith("[base]")][0]
    assert rpc_audit["preserved_keys"] == ["avalanche", "polygon"]

    before = world.snapshot()
    again = migrate(world, tmp_path, dirs=run.dirs)  # same state/audit dirs, as an operator's second run
    assert again.rc == 0, again.tail()
    assert again.recap["changed"] == 0, again.tail()
    assert len(again.audit_records("secrets_migration.jsonl")) == 4  # appended, never de-duplicated
    assert world.snapshot() == before  # no new version anywhere
    assert "0 changed, 4 unchanged" in again.stdout


def test_wallet_rotated_in_place_then_migrated_holds_the_rotated_key(world, tmp_path):
    """A monorepo wallet rotated the Secrets Manager way (new version, AWSCURRENT moved
    with UpdateSecretVersionStage) before the migration: the destination must hold
    the rotated key. moto answers a read WITHOUT a stage with the old default
    version here (AWS answers AWSCURRENT): the project must name the stage."""
    name = "karmacadabra-facilitator-testnet"
    old_vid = world.src.describe_secret(SecretId=name)["VersionIdsToStages"]
    old_vid = next(v for v, st in old_vid.items() if "AWSCURRENT" in st)
    wallet, key_hex = _evm_wallet()
    world.scanner.add("rotated testnet key", key_hex)
    new_vid = world.src.put_secret_value(SecretId=name, SecretString=json.dumps({"private_key": wallet["private_key"]}),
                                         VersionStages=["AWSPENDING"])["VersionId"]
    world.src.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=new_vid,
                                          RemoveFromVersionId=old_vid)
    current = world.src.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"]
    assert json.loads(current)["private_key"] == wallet["private_key"]
    run = migrate(world, tmp_path)
    assert run.rc == 0, run.tail()
    copied = json.loads(world.get(WALLETS[name])["SecretString"])
    assert copied == wallet  # the rotated key, with its derived address
    assert wallet["address"] in run.stdout or wallet["address"].lower() in run.stdout.lower()


def test_overwrite_refused_then_allowed(world, tmp_path):
    assert migrate(world, tmp_path).rc == 0
    # Someone changes the source after the copy (e.g. a rotation in the monorepo).
    wallet, key_hex = _evm_wallet()
    world.scanner.add("rotated mainnet key", key_hex)
    world.src.put_secret_value(SecretId="karmacadabra-facilitator-mainnet", SecretString=json.dumps(wallet))
    before = world.snapshot()
    run = migrate(world, tmp_path)
    assert run.rc != 0
    assert "facilitator-evm-mainnet-private-key" in run.stdout and "overwrite is off" in run.stdout
    assert world.snapshot() == before
    # The run's flag does not overwrite a wallet (issue 18): the wallet is named for the run.
    flag = migrate(world, tmp_path, extra={"secrets_migration_overwrite": True})
    assert flag.rc != 0 and "secrets_migration_overwrite_items=facilitator-evm-mainnet-private-key" in flag.stdout
    assert world.snapshot() == before
    allowed = migrate(world, tmp_path, extra={"secrets_migration_overwrite_items": "facilitator-evm-mainnet-private-key"})
    assert allowed.rc == 0, allowed.tail()
    assert json.loads(world.get("facilitator-evm-mainnet-private-key")["SecretString"]) == wallet
    versions = world.dst.list_secret_version_ids(SecretId="facilitator-evm-mainnet-private-key")["Versions"]
    assert len(versions) == 2  # old value kept as AWSPREVIOUS


def _rotate_destination(world, name):
    """A wallet rotation of a migrated destination, the Secrets Manager way
    (new version staged AWSPENDING, then AWSCURRENT moved to it)."""
    wallet, key_hex = _evm_wallet()
    world.scanner.add(f"rotated {name}", key_hex)
    stages = world.dst.describe_secret(SecretId=name)["VersionIdsToStages"]
    old_vid = next(v for v, st in stages.items() if "AWSCURRENT" in st)
    new_vid = world.dst.put_secret_value(SecretId=name, SecretString=json.dumps(wallet),
                                         VersionStages=["AWSPENDING"])["VersionId"]
    world.dst.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=new_vid,
                                          RemoveFromVersionId=old_vid)
    return wallet


def _current(world, name, region=DST):
    client = world.src if region == SRC else world.dst
    return json.loads(client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"])


def test_issue18_3_overwrite_true_never_reverts_a_rotated_wallet(world, tmp_path):
    """Issue 18 (3): `-e secrets_migration_overwrite=true` (what the runbook suggested for
    `overwrite is off`) must not put the monorepo's old key back into a wallet rotated
    since its copy; naming the item does not either; a name that is not in the mapping
    is a one-line error before anything is read or written."""
    dest = "facilitator-evm-mainnet-private-key"
    assert migrate(world, tmp_path).rc == 0
    rotated = _rotate_destination(world, dest)
    before = world.snapshot()

    run = migrate(world, tmp_path, extra={"secrets_migration_overwrite": True})
    assert run.rc == 0, run.tail()
    assert _current(world, dest) == rotated  # not reverted to the monorepo key
    assert world.snapshot() == before  # no version written anywhere
    assert "moved on since" in run.stdout

    # The monorepo key changes too (a rotation there): the rotated destination is still never
    # overwritten by the source, even with the item named.
    src_wallet, key_hex = _evm_wallet()
    world.scanner.add("monorepo mainnet key rotated after the copy", key_hex)
    world.src.put_secret_value(SecretId="karmacadabra-facilitator-mainnet",
                               SecretString=json.dumps({"private_key": src_wallet["private_key"]}))
    before = world.snapshot()
    named = migrate(world, tmp_path, extra={"secrets_migration_overwrite": True,
                                            "secrets_migration_overwrite_items": [dest]})
    assert named.rc == 0, named.tail()
    assert _current(world, dest) == rotated
    assert world.snapshot() == before

    # A name that is not a destination of the mapping: one line, nothing read or written.
    bad = migrate(world, tmp_path, extra={"secrets_migration_overwrite_items": "facilitator-evm-mainet-private-key"})
    assert bad.rc != 0
    assert "secrets_migration_overwrite_items: facilitator-evm-mainet-private-key is not a destination" in bad.stdout
    assert "Plan every secret" not in bad.stdout
    assert world.snapshot() == before


def test_binary_secret_copied_exactly(world, tmp_path):
    blob = pysecrets.token_bytes(48) + b"\x00\xff"
    world.scanner.add("binary canary (hex)", blob.hex())
    world.scanner.add("binary canary (base64)", base64.b64encode(blob).decode())
    world.src.create_secret(Name="karmacadabra-tls-bundle", SecretBinary=blob)
    mapping = [{"source": "karmacadabra-tls-bundle", "destination": "facilitator-tls-bundle", "type": "binary"}]
    run = migrate(world, tmp_path, extra={"secrets_migration_secrets": mapping})
    assert run.rc == 0, run.tail()
    assert world.get("facilitator-tls-bundle")["SecretBinary"] == blob
    again = migrate(world, tmp_path, extra={"secrets_migration_secrets": mapping}, dirs=run.dirs)
    assert again.recap["changed"] == 0, again.tail()


@pytest.mark.parametrize("case,mapping,expect", [
    ("unknown source",
     [{"source": "karmacadabra-nope", "destination": "facilitator-nope"}], "source secret us-east-1/karmacadabra-nope not found"),
    ("same source and destination",
     [{"source": "karmacadabra-facilitator-mainnet", "destination": "karmacadabra-facilitator-mainnet",
       "destination_region": "us-east-1"}], "source and destination are the same secret"),
    ("malformed mapping", [{"source": "karmacadabra-facilitator-mainnet", "dest": "x"}], "unknown field(s) dest"),
    ("missing region", [{"source": "karmacadabra-facilitator-mainnet", "destination": "facilitator-x"}],
     "source_region is missing"),
])
def test_bad_input_fails_in_one_line_and_writes_nothing(world, tmp_path, case, mapping, expect):
    # A valid item first: a bad item anywhere must stop the run before it is copied.
    good = {"source": "karmacadabra-facilitator-testnet", "destination": "facilitator-evm-testnet-private-key",
            "type": "wallet"}
    extra = {"secrets_migration_secrets": [good] + mapping}
    if case == "missing region":
        extra["secrets_migration_source_region"] = ""
        good["source_region"] = "us-east-1"
    before = world.snapshot()
    run = migrate(world, tmp_path, extra=extra)
    assert run.rc != 0, case
    assert expect in run.stdout, run.tail()
    assert world.snapshot() == before
    assert not (tmp_path / "run-0" / "state" / "secrets_migration.json").exists()


def test_source_wallet_with_wrong_address_is_refused(world, tmp_path):
    wallet, key_hex = _evm_wallet()
    other, _ = _evm_wallet()
    world.scanner.add("mismatched key", key_hex)
    world.src.put_secret_value(SecretId="karmacadabra-facilitator-testnet",
                               SecretString=json.dumps({"private_key": wallet["private_key"], "address": other["address"]}))
    before = world.snapshot()
    run = migrate(world, tmp_path)
    assert run.rc != 0
    assert "address does not belong to the private_key" in run.stdout
    assert world.snapshot() == before


def test_retire_refused_with_copy_then_allowed(world, tmp_path):
    before = world.snapshot()
    refused = migrate(world, tmp_path, extra={"secrets_migration_retire_sources": True})
    assert refused.rc != 0
    assert "retirement is refused in the same run as a copy" in refused.stdout
    assert world.snapshot() == before

    assert migrate(world, tmp_path).rc == 0
    check = migrate(world, tmp_path, "--check", extra={"secrets_migration_retire_sources": True})
    assert check.rc == 0 and "would schedule deletion" in check.stdout
    assert not any(v[2] for v in world.snapshot().values())
    retire = migrate(world, tmp_path, extra={"secrets_migration_retire_sources": True,
                                             "secrets_migration_recovery_window_days": 7})
    assert retire.rc == 0, retire.tail()
    for src in list(WALLETS) + ["karmacadabra-quicknode-base-rpc"]:
        assert world.src.describe_secret(SecretId=src).get("DeletedDate"), src
    # Later runs stay green: the destinations stand on their own.
    after = migrate(world, tmp_path, dirs=retire.dirs)
    assert after.rc == 0, after.tail()
    assert after.recap["changed"] == 0


def _taskdef(ecs, family, secrets):
    return ecs.register_task_definition(family=family, containerDefinitions=[{
        "name": "facilitator", "image": "127.0.0.1:5001/facilitator:1.0.0", "memory": 512,
        "secrets": [{"name": n, "valueFrom": v} for n, v in secrets]}])["taskDefinition"]


def test_issue18_5_retirement_refused_while_a_task_definition_reads_the_sources(world, tmp_path):
    """Issue 18 (5): the monorepo secrets are not retired while the old service, the new
    service's previous revision (the way back) or any ACTIVE task definition still names
    them in valueFrom: the run (and its --check) is refused naming each reader, nothing is
    scheduled. Once nothing reads them, they are scheduled for deletion with a recovery
    window (still restorable), never force-deleted."""
    assert migrate(world, tmp_path).rc == 0
    old_ecs, new_ecs = world.moto.client("ecs", SRC), world.moto.client("ecs", DST)
    src_arn = world.src.describe_secret(SecretId="karmacadabra-facilitator-mainnet")["ARN"]
    rpc_arn = world.src.describe_secret(SecretId="karmacadabra-quicknode-base-rpc")["ARN"]
    new_arn = world.dst.describe_secret(SecretId="facilitator-evm-mainnet-private-key")["ARN"]
    # the monorepo's facilitator service (old cluster, us-east-1)
    old_ecs.create_cluster(clusterName="karmacadabra-prod")
    old_td = _taskdef(old_ecs, "karmacadabra-prod-facilitator", [("EVM_PRIVATE_KEY_MAINNET", f"{src_arn}:private_key::")])
    old_ecs.create_service(cluster="karmacadabra-prod", serviceName="karmacadabra-prod-facilitator",
                           taskDefinition=old_td["taskDefinitionArn"], desiredCount=1)
    # the new service (us-east-2): its previous revision still reads the monorepo RPC secret (the way back)
    new_ecs.create_cluster(clusterName="facilitator-production")
    prev_td = _taskdef(new_ecs, "facilitator-production", [("RPC_URL_BASE", rpc_arn)])
    cur_td = _taskdef(new_ecs, "facilitator-production", [("EVM_PRIVATE_KEY_MAINNET", f"{new_arn}:private_key::")])
    new_ecs.create_service(cluster="facilitator-production", serviceName="facilitator-production",
                           taskDefinition=cur_td["taskDefinitionArn"], desiredCount=1)
    retire = {"secrets_migration_retire_sources": True, "secrets_migration_recovery_window_days": 7}
    before = world.snapshot()
    for args in (("--check",), ()):
        refused = migrate(world, tmp_path, *args, extra=retire)
        assert refused.rc != 0, refused.tail()
        out = " ".join(refused.stdout.split())
        assert "retirement refused: 2 task definition(s) still read the secrets to retire" in out, refused.tail()
        assert ("karmacadabra-prod-facilitator:1 (us-east-1, ACTIVE; service karmacadabra-prod/"
                "karmacadabra-prod-facilitator) reads karmacadabra-facilitator-mainnet") in out
        assert (f"facilitator-production:{prev_td['revision']} (us-east-2, ACTIVE; no service) "
                "reads karmacadabra-quicknode-base-rpc") in out
        assert f"facilitator-production:{cur_td['revision']} (" not in out  # reads the migrated secret only
        assert world.snapshot() == before  # nothing scheduled

    # The old service is gone (Phase 7) and the old revisions are deregistered: nothing reads them any more.
    old_ecs.delete_service(cluster="karmacadabra-prod", service="karmacadabra-prod-facilitator", force=True)
    old_ecs.deregister_task_definition(taskDefinition=old_td["taskDefinitionArn"])
    new_ecs.deregister_task_definition(taskDefinition=prev_td["taskDefinitionArn"])
    done = migrate(world, tmp_path, extra=retire)
    assert done.rc == 0, done.tail()
    for src in list(WALLETS) + ["karmacadabra-quicknode-base-rpc"]:
        meta = world.src.describe_secret(SecretId=src)  # still there: scheduled, restorable
        assert meta.get("DeletedDate"), src
    world.src.restore_secret(SecretId="karmacadabra-facilitator-mainnet")
    assert not world.src.describe_secret(SecretId="karmacadabra-facilitator-mainnet").get("DeletedDate")


def test_secret_set_key_changes_one_key_only(world, tmp_path):
    assert migrate(world, tmp_path).rc == 0
    new_url = world.scanner.add("new base url", f"https://base-{pysecrets.token_hex(12)}.example/rpc")
    before = json.loads(world.get("facilitator-rpc-mainnet")["SecretString"])
    ev = {"aws_endpoint_url": world.moto.endpoint, "secret": "facilitator-rpc-mainnet", "key": "base",
          "value_env": "FO_TEST_NEW_URL", "required_keys": "avalanche,polygon"}
    env = {"FO_TEST_NEW_URL": new_url}
    check = run_playbook("secret_set_key.yml", tmp_path, extra_vars=ev, env=env, scanner=world.scanner,
                         args=("--check", "--diff"))
    assert check.rc == 0, check.tail()
    assert "would update key" in check.stdout
    assert json.loads(world.get("facilitator-rpc-mainnet")["SecretString"]) == before
    run = run_playbook("secret_set_key.yml", tmp_path, extra_vars=ev, env=env, scanner=world.scanner)
    assert run.rc == 0, run.tail()
    after = json.loads(world.get("facilitator-rpc-mainnet")["SecretString"])
    assert after["base"] == new_url
    assert {k: v for k, v in after.items() if k != "base"} == {k: v for k, v in before.items() if k != "base"}
    assert "other keys kept: avalanche, polygon" in run.stdout
    audit = run.audit_records("secret_set_key.jsonl")
    assert audit and audit[-1]["action"] == "update_key" and audit[-1]["preserved_keys"] == ["avalanche", "polygon"]
    again = run_playbook("secret_set_key.yml", tmp_path, extra_vars=ev, env=env, scanner=world.scanner, dirs=run.dirs)
    assert again.rc == 0 and again.recap["changed"] == 0, again.tail()
    # Bad input: no value given -> one line, nothing written.
    bad = run_playbook("secret_set_key.yml", tmp_path, extra_vars=dict(ev, value_env="FO_TEST_UNSET_VAR"),
                       scanner=world.scanner)
    assert bad.rc != 0 and "secret_set_key: needs" in bad.stdout
    # Removing a key keeps the others.
    rm = run_playbook("secret_set_key.yml", tmp_path, extra_vars=dict(ev, key="polygon", state="absent",
                                                                      required_keys="avalanche"),
                      scanner=world.scanner)
    assert rm.rc == 0, rm.tail()
    assert sorted(json.loads(world.get("facilitator-rpc-mainnet")["SecretString"])) == ["avalanche", "base"]


def test_new_user_flow_on_the_seeded_local_world(moto, tmp_path):
    """The issue's "done when", on a private moto seeded by the project's own
    seed playbook, with canaries planted into the seeded source secrets."""
    moto.reset()
    seed = run_playbook("playbooks/local_stack_seed.yml", tmp_path, extra_vars={"aws_endpoint_url": moto.endpoint},
                        verbosity=None)
    assert seed.rc == 0, seed.tail()
    scanner = LeakScanner()
    w = World(moto, scanner)
    for name in ["karmacadabra-facilitator-mainnet", "karmacadabra-facilitator-testnet"]:
        wallet, key_hex = _evm_wallet()
        scanner.add(name, key_hex)
        w.src.put_secret_value(SecretId=name, SecretString=json.dumps(wallet))
    sol, sol_bytes = _solana_wallet()
    scanner.add("solana", sol["private_key"])
    w.src.put_secret_value(SecretId="karmacadabra-solana-keypair", SecretString=json.dumps(sol))
    url = scanner.add("quicknode", f"https://{pysecrets.token_hex(8)}.quiknode.pro/{pysecrets.token_hex(16)}/")
    w.src.put_secret_value(SecretId="karmacadabra-quicknode-base-rpc", SecretString=url)
    before = w.snapshot()
    check = migrate(w, tmp_path, "--check", "--diff")
    assert check.rc == 0, check.tail()
    assert w.snapshot() == before
    first = migrate(w, tmp_path)
    assert first.rc == 0, first.tail()
    assert sorted(set(w.names()) - {"facilitator-rpc-mainnet", "facilitator-rpc-testnet"}) == sorted(WALLETS.values())
    second = migrate(w, tmp_path, dirs=first.dirs)
    assert second.rc == 0 and second.recap["changed"] == 0, second.tail()
