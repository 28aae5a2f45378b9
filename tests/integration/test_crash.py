"""kill -9 at every changing task, two operators at once: the crash matrix of issue 11 (pytest -m crash).

For rotate_wallet.yml (EVM on private anvil chains, Solana on the JSON-RPC stand-in tests/helpers/solana_sim.py),
migrate_secrets.yml, deploy.yml and cutover.yml:

- a census run (hooks armed, nothing killed) lists the changing points: every module call that writes (killed
  inside it, after its AWS or chain write, before it returns: common/crashpoint.py) and every changed task of a
  bundled module (killed right after it: callback crash_after_task);
- then the same operation again, killed at each point in turn, each run resuming what the killed one left,
  each from an empty audit/state dir (another laptop), then one run to the end (helpers/crash.py kill_chain);
- after every kill the invariants that must hold at any moment are checked, and at the end those of the issue:
  rotation: one new key per rotation, the new key is the live signer, no AWSPENDING, funds conserved exactly
  (old + new before, minus after, equals the gas their transactions paid, from receipts / the ledger) on every
  chain; secrets: destination equals source by digest, no extra version, every other JSON key intact; deploy: the
  service ends on a verified revision; cutover: weights are the previous or the requested stage, the lock is free
  or breakable; every run leaves an audit record;
- two runs started together: one winner, the other refused naming the holder, and the same invariants.

The census and chain figures (points, runs, seconds) are printed; the matrix's wall time is what ./run-tests
reports for `-m crash`.
"""
from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

from ansible.module_utils.facilitator_ops.common import lock as lockmod
from helpers.crash import kill_chain
from helpers.crash import kill_points
from helpers.crash import run_crashing
from helpers.moto import MotoServer
from helpers.moto import free_port
from helpers.playbook import run_playbook
from helpers.registry import manifest_digest
from helpers.registry import push as push_to_registry
from helpers.solana_sim import GENESIS
from helpers.solana_sim import SolanaSim

pytestmark = pytest.mark.crash

docker = pytest.importorskip("docker")

TABLE = "facilitator-ops-locks"
REGION, SOURCE_REGION = "us-east-2", "us-east-1"
SOL = 10**9


def flat(text):
    return " ".join(text.split())


def lock_item(ddb, lock_id):
    try:
        item = ddb.get_item(TableName=TABLE, Key={"lock_id": {"S": lock_id}}, ConsistentRead=True).get("Item")
    except ddb.exceptions.ResourceNotFoundException:
        return {}
    return lockmod._unwrap(item)


def assert_lock_free_or_breakable(ddb, lock_id):
    item = lock_item(ddb, lock_id)
    if item.get("token"):
        assert lockmod.holder_gone(item), f"{lock_id} is held by a live run: {item}"


def assert_audited(run, name):
    recs = run.audit_records(name)
    assert recs, f"the run left no audit record in {name}:\n{run.tail(30)}"
    return recs


def report(label, census, runs, missed, final):
    secs = census.seconds + sum(r.seconds for r in runs) + final.seconds
    print(f"\n[crash] {label}: {len(kill_points(census))} changing points, {len(runs)} killed runs "
          f"({len(missed)} not reached), {secs:.0f} s")


def together(playbook, tmp_path, extra_a, extra_b, pause_label, seconds=6):
    """Two runs started at once; the winner holds its lock `seconds` longer, so the other surely meets it."""
    a = run_crashing(playbook, tmp_path / "a", extra_vars=extra_a, pause=(pause_label, seconds), start=False)
    b = run_crashing(playbook, tmp_path / "b", extra_vars=extra_b, pause=(pause_label, seconds), start=False)
    ra, rb = a.wait(), b.wait()
    winners = [r for r in (ra, rb) if r.rc == 0]
    losers = [r for r in (ra, rb) if r.rc != 0]
    assert len(winners) == 1 and len(losers) == 1, (ra.tail(40), rb.tail(40))
    return winners[0], losers[0]


# =============================================================================== rotation

def _rpc(url, method, *params):
    req = urllib.request.Request(url, data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                                                       "params": list(params)}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        out = json.load(r)
    if "error" in out:
        raise RuntimeError(out["error"])
    return out["result"]


@pytest.fixture(scope="module")
def rworld(tmp_path_factory):
    from integration.test_rotate_wallet import EVM_SECRET, SOL_SECRET, Anvils, _docker, _evm_wallet, _image
    from integration.test_rotate_wallet import _sol_wallet

    client = _docker()
    _image(client)
    tmp = tmp_path_factory.mktemp("crash-rotation")
    anvils = Anvils(tmp).start()
    moto = MotoServer(tmp / "moto.log").start()
    sim = SolanaSim().start()
    name = None
    try:
        seed = run_playbook("playbooks/local_stack_seed.yml", tmp, extra_vars={"aws_endpoint_url": moto.endpoint},
                            verbosity=None)
        assert seed.rc == 0, seed.tail()
        src = moto.client("secretsmanager", SOURCE_REGION)
        evm, sol = _evm_wallet(), _sol_wallet()
        src.put_secret_value(SecretId=EVM_SECRET, SecretString=json.dumps(evm))
        src.put_secret_value(SecretId=SOL_SECRET, SecretString=json.dumps(sol))
        moto.client("secretsmanager", REGION).put_secret_value(SecretId="facilitator-rpc-testnet", SecretString=json.dumps(
            {**anvils.urls, "solana-devnet": sim.url}))
        for url in anvils.urls.values():
            _rpc(url, "anvil_setBalance", evm["address"], hex(50 * 10**18))
        sim.credit(sol["address"], 20 * SOL)
        port = free_port()
        name = f"facilitator-crash-{port}"
        base = f"http://127.0.0.1:{port}"
        networks = {
            "base-sepolia": {"kind": "evm", "chain_id": 84532, "rpc_url": anvils.urls["base-sepolia"],
                             "symbol": "ETH", "target": "1", "floor": "0.1"},
            "avalanche-fuji": {"kind": "evm", "chain_id": 43113, "rpc_url": anvils.urls["avalanche-fuji"],
                               "symbol": "AVAX", "target": "5", "floor": "1"},
            "solana-devnet": {"kind": "solana", "symbol": "SOL", "target": "2", "floor": "0.5",
                              "rpc_url": sim.url, "genesis_hash": GENESIS},
        }
        ev = {"aws_endpoint_url": moto.endpoint, "ecs_deploy_local_runtime_name": name,
              "ecs_deploy_local_runtime_port": port, "ecs_deploy_base_url": base, "facilitator_base_url": base,
              "ecs_deploy_local_runtime_replace": [], "ecs_deploy_local_runtime_health_timeout": 45,
              "wallet_rotation_networks": networks, "wallet_rotation_payment_smoke": False,
              "wallet_rotation_prove_timeout": 40, "wallet": "all"}
        up = run_playbook("deploy.yml", tmp, extra_vars={**ev, "image": "127.0.0.1:5001/facilitator:1.0.0",
                                                         "force": True, "facilitator_verify_checks": ["health"]})
        assert up.rc == 0, up.tail()
        yield dict(moto=moto, anvils=anvils, sim=sim, src=src, url=base, vars=ev, tmp=tmp,
                   ddb=moto.client("dynamodb", REGION), secrets=(EVM_SECRET, SOL_SECRET))
    finally:
        if name:
            try:
                client.containers.get(name).remove(force=True)
            except docker.errors.NotFound:
                pass
        sim.stop()
        moto.stop()
        anvils.stop()


class Ledger:
    """What a rotation must conserve, from the chain-start state."""

    def __init__(self, w):
        self.w = w
        self.versions = {s: set(self._versions(s)) for s in w["secrets"]}
        self.current = {s: self._stage(s, "AWSCURRENT") for s in w["secrets"]}
        self.evm_old = self._address(w["secrets"][0], self.current[w["secrets"][0]])
        self.sol_old = self._address(w["secrets"][1], self.current[w["secrets"][1]])
        self.blocks = {n: int(_rpc(u, "eth_blockNumber"), 16) for n, u in w["anvils"].urls.items()}
        self.evm_start = {n: self._eth(n, self.evm_old) for n in w["anvils"].urls}
        self.sol_start = w["sim"].balance(self.sol_old)
        self.sol_fees0 = dict(w["sim"].fees)

    def _versions(self, secret):
        return self.w["src"].describe_secret(SecretId=secret)["VersionIdsToStages"]

    def _stage(self, secret, stage):
        return next((v for v, st in self._versions(secret).items() if stage in st), None)

    def _address(self, secret, vid):
        return json.loads(self.w["src"].get_secret_value(SecretId=secret, VersionId=vid)["SecretString"])["address"]

    def _eth(self, net, addr):
        return int(_rpc(self.w["anvils"].urls[net], "eth_getBalance", addr, "latest"), 16)

    def new_versions(self, secret):
        return sorted(set(self._versions(secret)) - self.versions[secret])

    def finished(self):
        """Did this rotation finish (a new version everywhere, no AWSPENDING)? Then the same command again
        would start another one: a rerun is the same command until then."""
        return all(self.new_versions(s) and not any("AWSPENDING" in st for st in self._versions(s).values())
                   for s in self.w["secrets"])

    def gas(self, net, addrs):
        url, addrs = self.w["anvils"].urls[net], {a.lower() for a in addrs}
        total = 0
        for n in range(self.blocks[net] + 1, int(_rpc(url, "eth_blockNumber"), 16) + 1):
            for tx in _rpc(url, "eth_getBlockByNumber", hex(n), True)["transactions"]:
                if tx["from"].lower() in addrs:
                    rec = _rpc(url, "eth_getTransactionReceipt", tx["hash"])
                    total += int(rec["gasUsed"], 16) * int(rec["effectiveGasPrice"], 16)
        return total

    def check_conserved(self):
        """Old + new before, minus after, equals the gas their transactions paid: at any moment, on every chain."""
        evm_new = [self._address(self.w["secrets"][0], v) for v in self.new_versions(self.w["secrets"][0])]
        sol_new = [self._address(self.w["secrets"][1], v) for v in self.new_versions(self.w["secrets"][1])]
        assert len(evm_new) <= 1 and len(sol_new) <= 1, (evm_new, sol_new)  # never a second key
        for net in self.w["anvils"].urls:
            held = sum(self._eth(net, a) for a in [self.evm_old] + evm_new)
            assert self.evm_start[net] - held == self.gas(net, [self.evm_old] + evm_new), net
        sim = self.w["sim"]
        fees = sum(sim.fees.get(a, 0) - self.sol_fees0.get(a, 0) for a in [self.sol_old] + sol_new)
        assert self.sol_start - sum(sim.balance(a) for a in [self.sol_old] + sol_new) == fees, "solana-devnet"
        return evm_new, sol_new


def _supported(url):
    with urllib.request.urlopen(url + "/supported", timeout=5) as r:
        doc = json.load(r)
    out = set()
    for v in (doc.get("signers") or {}).values():
        out.update(v if isinstance(v, list) else [v])
    for kind in doc.get("kinds") or []:
        if (kind.get("extra") or {}).get("feePayer"):
            out.add(kind["extra"]["feePayer"])
    return out


def _rotation_done(w, led, final):
    if final.rc != 0:  # the last kill was after the end: the rerun only finds a finished rotation
        assert "finished a rotation" in flat(final.output), final.tail(60)
    for secret in w["secrets"]:
        new = led.new_versions(secret)
        assert len(new) == 1, f"{secret}: {len(new)} new keys"
        st = w["src"].describe_secret(SecretId=secret)["VersionIdsToStages"]
        assert st[new[0]] == ["AWSCURRENT"] and "AWSPREVIOUS" in st[led.current[secret]]
        assert not any("AWSPENDING" in v for v in st.values())
    evm_new, sol_new = led.check_conserved()
    live = _supported(w["url"])
    assert evm_new[0] in live and sol_new[0] in live and led.evm_old not in live and led.sol_old not in live
    for net in w["anvils"].urls:
        assert led._eth(net, led.evm_old) == 0  # swept
    assert w["sim"].balance(led.sol_old) == 0


def test_rotation_killed_at_every_changing_point_resumes_to_one_rotation(rworld, tmp_path):
    w = rworld
    census = run_crashing("rotate_wallet.yml", tmp_path / "census", extra_vars=w["vars"])
    assert census.rc == 0 and not census.killed, census.tail(80)
    points = kill_points(census)
    labels = [p[1] for p in points]
    assert any(label.startswith("wallet_pending_key") for label in labels)
    assert any(label.startswith("wallet_transfer fund") for label in labels)
    assert any(label.startswith("wallet_transfer sweep") for label in labels)
    assert any(label.startswith("ecs_service_rollout") for label in labels)
    led = Ledger(w)

    def vars_now():  # the operator's same command (-e rotate_again=yes) until this rotation is over
        return {**w["vars"], "rotate_again": "no" if led.finished() else "yes"}

    runs, missed = [], []
    for point in points:
        run = run_crashing("rotate_wallet.yml", tmp_path / "chain", extra_vars=vars_now(),
                           at_label=point[1] if point[0] == "write" else None,
                           after_changed_task=point[1] if point[0] == "task" else None)
        runs.append(run)
        assert_audited(run, "wallet_rotation.jsonl")
        if not run.killed:
            missed.append(point)
            continue
        led.check_conserved()
        assert_lock_free_or_breakable(w["ddb"], "wallet_rotation/facilitator-production/facilitator-production")
    final = run_crashing("rotate_wallet.yml", tmp_path / "chain", extra_vars=vars_now())
    assert_audited(final, "wallet_rotation.jsonl")
    report("rotate_wallet.yml", census, runs, missed, final)
    assert len(missed) <= 1, missed  # every point was reached (the last may be done by then)
    _rotation_done(w, led, final)


def test_two_rotations_started_together_one_wins(rworld, tmp_path):
    w = rworld
    led = Ledger(w)
    label = "run_lock: rotation lock on wallet_rotation/facilitator-production/facilitator-production taken"
    win, lose = together("rotate_wallet.yml", tmp_path, {**w["vars"], "rotate_again": "yes",
                                                         "facilitator_operator": "alice@laptop-a"},
                         {**w["vars"], "rotate_again": "yes", "facilitator_operator": "bob@laptop-b"}, label)
    msg = flat(lose.output)
    assert "rotation lock on wallet_rotation/facilitator-production/facilitator-production held by" in msg
    assert ("held by alice@laptop-a" in msg) != ("held by bob@laptop-b" in msg), msg
    assert_audited(lose, "wallet_rotation.jsonl")
    _rotation_done(w, led, win)


# =============================================================================== secrets migration

WALLETS = {"karmacadabra-facilitator-mainnet": "facilitator-evm-mainnet-private-key",
           "karmacadabra-facilitator-testnet": "facilitator-evm-testnet-private-key",
           "karmacadabra-solana-keypair": "facilitator-solana-testnet-keypair"}
RPC = {"avalanche": "http://127.0.0.1:8546/avalanche", "polygon": "http://127.0.0.1:8545/polygon"}
QUICKNODE = "http://127.0.0.1:8545/quicknode-crash"


@pytest.fixture(scope="module")
def smoto(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("crash-secrets") / "moto.log").start()
    yield server
    server.stop()


def _seed_secrets(moto):
    from integration.test_rotate_wallet import _evm_wallet, _sol_wallet

    moto.reset()
    src, dst = moto.client("secretsmanager", SOURCE_REGION), moto.client("secretsmanager", REGION)
    for name in WALLETS:
        doc = _sol_wallet() if "solana" in name else _evm_wallet()
        src.create_secret(Name=name, SecretString=json.dumps(doc))
    src.create_secret(Name="karmacadabra-quicknode-base-rpc", SecretString=QUICKNODE)
    dst.create_secret(Name="facilitator-rpc-mainnet", SecretString=json.dumps(RPC))
    dst.create_secret(Name="facilitator-rpc-testnet", SecretString=json.dumps({"base-sepolia": "http://x"}))
    return src, dst


def _dest_versions(dst, name):
    try:
        return len(dst.describe_secret(SecretId=name).get("VersionIdsToStages") or {})
    except dst.exceptions.ResourceNotFoundException:
        return 0


def _secrets_consistent(src, dst, done):
    """Every destination absent or equal to its source; never a version beyond one; other keys intact."""
    for s_name, d_name in WALLETS.items():
        n = _dest_versions(dst, d_name)
        assert n <= 1, f"{d_name}: {n} versions"
        if n or done:
            assert (dst.get_secret_value(SecretId=d_name, VersionStage="AWSCURRENT")["SecretString"]
                    == src.get_secret_value(SecretId=s_name)["SecretString"]), d_name
    rpc = json.loads(dst.get_secret_value(SecretId="facilitator-rpc-mainnet", VersionStage="AWSCURRENT")["SecretString"])
    assert {k: rpc[k] for k in RPC} == RPC  # every other key intact
    assert _dest_versions(dst, "facilitator-rpc-mainnet") <= 2
    if done:
        assert rpc.get("base") == QUICKNODE and _dest_versions(dst, "facilitator-rpc-mainnet") == 2


def test_secrets_migration_killed_at_every_changing_point(smoto, tmp_path):
    ev = {"aws_endpoint_url": smoto.endpoint}
    _seed_secrets(smoto)
    census = run_crashing("migrate_secrets.yml", tmp_path / "census", extra_vars=ev)
    assert census.rc == 0, census.tail(60)
    points = kill_points(census)
    assert sum(1 for p in points if p[1].startswith("secrets: created")) == 3
    src, dst = _seed_secrets(smoto)

    def after_kill(run, point):
        assert_audited(run, "secrets_migration.jsonl")
        _secrets_consistent(src, dst, done=False)
        assert_lock_free_or_breakable(smoto.client("dynamodb", REGION), "secrets_migration/local")

    runs, missed, final = kill_chain("migrate_secrets.yml", tmp_path / "chain", ev, points, after_kill=after_kill)
    report("migrate_secrets.yml", census, runs, missed, final)
    assert final.rc == 0, final.tail(60)
    assert not missed, missed
    _secrets_consistent(src, dst, done=True)
    assert_audited(final, "secrets_migration.jsonl")


def test_two_migrations_started_together_one_wins(smoto, tmp_path):
    src, dst = _seed_secrets(smoto)
    ev = {"aws_endpoint_url": smoto.endpoint}
    win, lose = together("migrate_secrets.yml", tmp_path, {**ev, "facilitator_operator": "alice@laptop-a"},
                         {**ev, "facilitator_operator": "bob@laptop-b"},
                         "run_lock: secrets migration lock on secrets_migration/local taken")
    msg = flat(lose.output)
    assert "secrets migration lock on secrets_migration/local held by" in msg
    assert ("alice@laptop-a" in msg) or ("bob@laptop-b" in msg)
    _secrets_consistent(src, dst, done=True)


# =============================================================================== deploy

IMAGE_110 = "127.0.0.1:5001/facilitator:1.1.0"


@pytest.fixture(scope="module")
def dworld(tmp_path_factory):
    import subprocess

    client = docker.from_env()
    for tag, version in (("127.0.0.1:5001/facilitator:1.0.0", "1.0.0"), (IMAGE_110, "1.1.0")):
        try:
            client.images.get(tag)
        except docker.errors.ImageNotFound:
            subprocess.run(["docker", "build", "-q", "--network", "host", "--build-arg",
                            f"FACILITATOR_VERSION={version}", "-t", tag, "facilitator"], check=True,
                           capture_output=True, cwd=Path(__file__).resolve().parents[2])
    tmp = tmp_path_factory.mktemp("crash-deploy")
    moto = MotoServer(tmp / "moto.log").start()
    push_to_registry(("127.0.0.1:5001/facilitator:1.0.0", IMAGE_110), endpoint=moto.endpoint)
    seed = run_playbook("playbooks/local_stack_seed.yml", tmp, extra_vars={"aws_endpoint_url": moto.endpoint},
                        verbosity=None)
    assert seed.rc == 0, seed.tail()
    port = free_port()
    name = f"facilitator-crash-deploy-{port}"
    ev = {"aws_endpoint_url": moto.endpoint, "ecs_deploy_local_runtime_name": name,
          "ecs_deploy_local_runtime_port": port, "ecs_deploy_base_url": f"http://127.0.0.1:{port}",
          "ecs_deploy_local_runtime_replace": [], "ecs_deploy_local_runtime_health_timeout": 45}
    yield dict(moto=moto, vars=ev, ecs=moto.client("ecs", REGION), ddb=moto.client("dynamodb", REGION),
               url=f"http://127.0.0.1:{port}", client=client)
    try:
        client.containers.get(name).remove(force=True)
    except docker.errors.NotFound:
        pass
    moto.stop()


def _digest_ref(tag):
    """The registry's digest of a tag (its manifest), as <repo>@sha256:..."""
    return "127.0.0.1:5001/facilitator@" + manifest_digest(tag)


def _service_td(w):
    return w["ecs"].describe_services(cluster="facilitator-production", services=["facilitator-production"])[
        "services"][0]["taskDefinition"]


def _verified(w, arn):
    tags = {t["key"]: t["value"] for t in w["ecs"].list_tags_for_resource(resourceArn=arn)["tags"]}
    return tags.get("facilitator-ops:verified") == "yes"


def _version(url):
    with urllib.request.urlopen(url + "/version", timeout=5) as r:
        return json.load(r)["version"]


def test_deploy_killed_at_every_changing_point_ends_on_a_verified_revision(dworld, tmp_path):
    w = dworld
    census = run_crashing("deploy.yml", tmp_path / "census", extra_vars={**w["vars"], "version": "1.1.0"})
    assert census.rc == 0, census.tail(60)
    before = _service_td(w)
    assert _verified(w, before)
    points = kill_points(census)
    # every ECS write is a module's own now (the verified tag too, fenced, no longer a bundled module's task)
    assert [p for p in points if p[1].startswith("ecs_taskdef_derive")]
    assert ("write", "ecs_service_rollout facilitator-production: verified tag") in points, points
    ev = {**w["vars"], "image": _digest_ref(IMAGE_110)}  # same version by digest: a new revision

    def after_kill(run, point):
        assert_audited(run, "deploy.jsonl")
        assert_lock_free_or_breakable(w["ddb"], "ecs_deploy/facilitator-production/facilitator-production")
        td = _service_td(w)
        assert td == before or int(td.rsplit(":", 1)[1]) == int(before.rsplit(":", 1)[1]) + 1, td

    runs, missed, final = kill_chain("deploy.yml", tmp_path / "chain", ev, points, after_kill=after_kill)
    report("deploy.yml", census, runs, missed, final)
    assert final.rc == 0, final.tail(60)
    assert not missed, missed
    td = _service_td(w)
    assert td != before and _verified(w, td), td  # the service ends on a verified revision
    assert _version(w["url"]) == "1.1.0"
    assert_audited(final, "deploy.jsonl")


def test_two_deploys_started_together_one_wins(dworld, tmp_path):
    w = dworld
    ev = {**w["vars"], "version": "1.1.0", "force": True}
    win, lose = together("deploy.yml", tmp_path, {**ev, "facilitator_operator": "alice@laptop-a"},
                         {**ev, "facilitator_operator": "bob@laptop-b"},
                         "run_lock: deploy lock on ecs_deploy/facilitator-production/facilitator-production taken")
    msg = flat(lose.output)
    assert "deploy lock on ecs_deploy/facilitator-production/facilitator-production held by" in msg
    assert ("alice@laptop-a" in msg) or ("bob@laptop-b" in msg)
    assert _verified(w, _service_td(w)) and _version(w["url"]) == "1.1.0"
    assert_audited(lose, "deploy.jsonl")


# =============================================================================== cutover

@pytest.fixture(scope="module")
def cstack(tmp_path_factory):
    from integration.test_cutover import Stack

    s = Stack(tmp_path_factory.mktemp("crash-cutover"))
    yield s
    s.close()


def _cutover_vars(stack, **kw):
    return {**stack.extra("10"), **kw}


def test_cutover_killed_at_every_changing_point(cstack, tmp_path):
    s = cstack
    s.reset_dns()
    s.clear_lock()
    census = run_crashing("cutover.yml", tmp_path / "census", extra_vars=_cutover_vars(s))
    assert census.rc == 0, census.tail(60)
    assert s.shape() == {"old": 90, "new": 10}
    points = kill_points(census)
    assert [p for p in points if p[1] == "route53_weighted_alias: change batch sent"]
    s.reset_dns()
    s.clear_lock()
    lock_id = "facilitator.ultravioletadao.xyz."  # the normalised record name (issue 18)

    def after_kill(run, point):
        assert_audited(run, "dns_cutover.jsonl")
        assert s.shape() in ("simple:old", {"old": 90, "new": 10}), s.shape()  # previous or requested
        assert_lock_free_or_breakable(s.ddb, lock_id)

    runs, missed, final = kill_chain("cutover.yml", tmp_path / "chain", _cutover_vars(s), points, after_kill=after_kill)
    report("cutover.yml", census, runs, missed, final)
    assert final.rc == 0, final.tail(60)
    assert s.shape() == {"old": 90, "new": 10}
    item = lock_item(s.ddb, lock_id)
    assert not item.get("token") and item.get("last_stage") == "10"
    assert_audited(final, "dns_cutover.jsonl")


def test_two_cutovers_started_together_one_wins(cstack, tmp_path):
    s = cstack
    s.reset_dns()
    s.clear_lock()
    win, lose = together("cutover.yml", tmp_path, _cutover_vars(s, dns_cutover_owner="alice@laptop-a"),
                         _cutover_vars(s, dns_cutover_owner="bob@laptop-b"),
                         "run_lock: cutover lock on facilitator.ultravioletadao.xyz. taken")
    msg = flat(lose.output)
    assert "cutover lock on facilitator.ultravioletadao.xyz. held by" in msg
    assert ("alice@laptop-a" in msg) or ("bob@laptop-b" in msg)
    assert s.shape() == {"old": 90, "new": 10}
    assert not lock_item(s.ddb, "facilitator.ultravioletadao.xyz.").get("token")
