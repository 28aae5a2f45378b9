"""deploy.yml / rollback.yml end to end on the local stack, in a private world.

A private moto (seeded by playbooks/local_stack_seed.yml) holds the ECS
cluster/service/task family; the local runtime runs each registered revision on
the stack's Docker engine, on a free port under its own container name (the
shared facilitator-new on :18081 is left alone). Images: the stack registry's
facilitator:1.0.0 (the seeded revision) and 1.1.0, and a broken image (FROM
1.1.0, exits 1 at start), built here when absent (needs facilitator/.wheels).

The images are pushed to the stack registry: the deploy reads an image's version
from its label there (never only from -e version or a local state file).

In order: check mode registers nothing; a new version end to end (+ verify.yml);
the same deploy again changes nothing; a downgrade is refused; a version that is
not the image's own is refused; a broken image and a missing secret are rolled
back with the facilitator still serving; rollback.yml goes back to the last
verified revision only; a refused confirmation takes no lock (issue 18, 8b); a
rollback killed after its update-service is finished by the rerun, which never
goes back two revisions, and a rerun after it finished changes nothing (issue 18, 6). Every run is -vvv and leak-scanned for the seeded secret
values.
"""
from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import docker
import pytest

from helpers.crash import run_crashing
from helpers.leakscan import LeakScanner
from helpers.moto import MotoServer
from helpers.moto import free_port
from helpers.playbook import REPO
from helpers.playbook import run_playbook
from helpers.registry import manifest_digest
from helpers.registry import push as push_to_registry


REGISTRY = "127.0.0.1:5001"
BASE, NEW = f"{REGISTRY}/facilitator:1.0.0", f"{REGISTRY}/facilitator:1.1.0"
BROKEN = f"{REGISTRY}/facilitator-test-broken:1.2.0"
# Starts and runs but never answers /health: the wait for its health lasts the whole health timeout.
SILENT = f"{REGISTRY}/facilitator-test-silent:1.3.0"
FAMILY = "facilitator-production"
REGION = "us-east-2"


def _docker():
    try:
        client = docker.from_env()
        client.ping()
        return client
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"Docker engine not reachable: {e}")


def _build(client, tag, version):
    if not list((REPO / "facilitator" / ".wheels").glob("*.whl")):
        pytest.skip(f"{tag} absent and facilitator/.wheels empty: run facilitator/build-wheels.sh")
    subprocess.run(["docker", "build", "-q", "--network", "host", "--build-arg", f"FACILITATOR_VERSION={version}",
                    "-t", tag, str(REPO / "facilitator")], check=True, capture_output=True)


@pytest.fixture(scope="module")
def images():
    client = _docker()
    for tag, version in ((BASE, "1.0.0"), (NEW, "1.1.0")):
        try:
            client.images.get(tag)
        except docker.errors.ImageNotFound:
            _build(client, tag, version)
    for tag, entrypoint, label in ((BROKEN, "echo fatal: broken image >&2; exit 1", "1.2.0"), (SILENT, "exec sleep 3600", "1.3.0")):
        try:  # an image left by an older test without the version label is rebuilt
            if client.images.get(tag).labels.get("org.opencontainers.image.version") == label:
                continue
        except docker.errors.ImageNotFound:
            pass
        dockerfile = (f'FROM {NEW}\nLABEL org.opencontainers.image.version={label}\n'
                      f'ENTRYPOINT ["/bin/sh", "-c", "{entrypoint}"]\nCMD []\n')
        subprocess.run(["docker", "build", "-q", "--network", "host", "-t", tag, "-"], input=dockerfile.encode(),
                       check=True, capture_output=True)
    push_to_registry((BASE, NEW, BROKEN, SILENT))  # where the deploy reads their labels
    return client


@pytest.fixture(scope="module")
def world(tmp_path_factory, images):
    tmp = tmp_path_factory.mktemp("deploy-world")
    moto = MotoServer(tmp / "moto.log").start()
    seed = run_playbook("playbooks/local_stack_seed.yml", tmp, extra_vars={"aws_endpoint_url": moto.endpoint},
                        verbosity=None)
    if seed.rc != 0:
        moto.stop()
        pytest.fail("seeding the private moto failed:\n" + seed.tail())
    port = free_port()
    name = f"facilitator-test-runtime-{port}"
    scanner = LeakScanner()
    sm = moto.client("secretsmanager", "us-east-1")
    for s in sm.list_secrets()["SecretList"]:
        value = sm.get_secret_value(SecretId=s["ARN"])["SecretString"]
        try:
            doc = json.loads(value)
            if isinstance(doc, dict) and doc.get("private_key"):
                scanner.add(f"{s['Name']} private_key", doc["private_key"])
        except ValueError:
            pass
    w = dict(moto=moto, port=port, name=name, url=f"http://127.0.0.1:{port}", scanner=scanner, tmp=tmp,
             ecs=moto.client("ecs", REGION),
             vars={"aws_endpoint_url": moto.endpoint, "ecs_deploy_local_runtime_name": name,
                   "ecs_deploy_local_runtime_port": port, "ecs_deploy_base_url": f"http://127.0.0.1:{port}",
                   "ecs_deploy_local_runtime_replace": [], "ecs_deploy_local_runtime_health_timeout": 45})
    yield w
    try:
        images.containers.get(name).remove(force=True)
    except docker.errors.NotFound:
        pass
    moto.stop()


def deploy(world, tmp_path, playbook="deploy.yml", args=(), dirs=None, stamped=False, **extra):
    return run_playbook(playbook, tmp_path, extra_vars={**world["vars"], **extra}, args=args,
                        scanner=world["scanner"], dirs=dirs, stamped=stamped)


def flat(text):
    """Output with YAML line wrapping undone (one space for any whitespace run)."""
    return " ".join(text.split())


def revisions(world):
    return sorted(int(a.rsplit(":", 1)[1]) for a in
                  world["ecs"].list_task_definitions(familyPrefix=FAMILY)["taskDefinitionArns"])


def service_revision(world):
    svc = world["ecs"].describe_services(cluster=FAMILY, services=[FAMILY])["services"][0]
    return int(svc["taskDefinition"].rsplit(":", 1)[1])


def live_version(world):
    with urllib.request.urlopen(world["url"] + "/version", timeout=5) as r:
        return json.load(r)["version"]


def test_check_mode_registers_nothing(world, tmp_path):
    run = deploy(world, tmp_path, args=["--check", "--diff"], version="1.1.0")
    assert run.rc == 0, run.tail()
    assert "check mode: nothing registered" in flat(run.stdout)
    assert "+ image: 127.0.0.1:5001/facilitator:1.1.0" in flat(run.stdout)  # the diff
    assert revisions(world) == [1] and service_revision(world) == 1
    with pytest.raises(docker.errors.NotFound):
        docker.from_env().containers.get(world["name"])
    assert run.audit_records("deploy.jsonl") == []


MIGRATED_ENV = {"EVM_PRIVATE_KEY_MAINNET": "facilitator-evm-mainnet-private-key",
                "EVM_PRIVATE_KEY_TESTNET": "facilitator-evm-testnet-private-key",
                "SOLANA_PRIVATE_KEY_TESTNET": "facilitator-solana-testnet-keypair"}


def _migrate(world, tmp_path):
    """The real secrets migration on the world's moto (its own temp, audit and state dirs)."""
    run = run_playbook("migrate_secrets.yml", tmp_path, extra_vars={"aws_endpoint_url": world["moto"].endpoint},
                       scanner=world["scanner"])
    assert run.rc == 0, run.tail()
    sm = world["moto"].client("secretsmanager", REGION)
    return {env: sm.describe_secret(SecretId=name)["ARN"] for env, name in MIGRATED_ENV.items()}


def _unmigrate(world):
    """Back to the world before the migration: the migrated secrets are gone (the tests after run on it)."""
    sm = world["moto"].client("secretsmanager", REGION)
    for name in MIGRATED_ENV.values():
        try:
            sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        except sm.exceptions.ResourceNotFoundException:
            pass


def test_issue18_4_deploy_uses_the_migrated_arns_found_in_aws_with_an_empty_state_dir(world, tmp_path):
    """Issue 18 (4): after a migration run elsewhere (its state file on another machine), a
    second operator with an EMPTY state dir gets the same decision: the deploy's plan takes
    the migrated secrets' ARNs from AWS. A stale state file naming other ARNs decides nothing."""
    try:
        arns = _migrate(world, tmp_path / "migration-laptop")
        base = Path(tmp_path) / "run-0"
        dirs = {k: base / d for k, d in (("local_temp", "ansible-local"), ("remote_temp", "ansible-remote"),
                                         ("tmpdir", "tmp"), ("audit", "audit"), ("state", "state"))}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        assert not list(dirs["state"].iterdir())  # the second operator's state dir: empty
        run = deploy(world, tmp_path, args=["--check", "--diff"], version="1.1.0", dirs=dirs)
        assert run.rc == 0, run.tail()
        out = flat(run.stdout)
        for env, arn in arns.items():
            assert f"secret {env} valueFrom " in out and f"-> {arn}:private_key::" in out, (env, run.tail())
        assert revisions(world) == [1] and service_revision(world) == 1  # check mode: nothing registered

        # A state file left by another environment's run: never the deploy's decision.
        other = "arn:aws:secretsmanager:us-east-2:123456789012:secret:facilitator-evm-testnet-private-key-OTHERX"
        (dirs["state"] / "secrets_migration.json").write_text(json.dumps({
            "environment": "staging",
            "container_secrets": [{"name": "EVM_PRIVATE_KEY_TESTNET", "valueFrom": f"{other}:private_key::"}]}))
        again = deploy(world, tmp_path, args=["--check", "--diff"], version="1.1.0", dirs=dirs)
        assert again.rc == 0, again.tail()
        assert other not in again.stdout
        assert f"-> {arns['EVM_PRIVATE_KEY_TESTNET']}:private_key::" in flat(again.stdout)
    finally:
        _unmigrate(world)


def test_deploy_new_version_end_to_end(world, tmp_path):
    run = deploy(world, tmp_path, version="1.1.0")
    assert run.rc == 0, run.tail()
    assert revisions(world) == [1, 2] and service_revision(world) == 2
    assert live_version(world) == "1.1.0"
    out = flat(run.stdout)
    assert "from facilitator-production:1 1.0.0" in out and "to facilitator-production:2 1.1.0" in out
    assert "result: SUCCEEDED" in flat(run.stdout)
    start, rec = run.audit_records("deploy.jsonl")
    assert start["step"] == "start" and rec["step"] == "end"
    assert rec["to"]["version"] == "1.1.0" and rec["registered"] and rec["result"] == "SUCCEEDED" and rec["verified"]
    tags = world["ecs"].list_tags_for_resource(resourceArn=world["ecs"].describe_services(
        cluster=FAMILY, services=[FAMILY])["services"][0]["taskDefinition"])["tags"]
    assert {"key": "facilitator-ops:verified", "value": "yes"} in tags
    # a new user's second step: verify.yml confirms it, against this world's AWS (the signers it
    # expects are the ones this world's service is configured with, never the shared stack's)
    v = run_playbook("verify.yml", tmp_path, extra_vars={"aws_endpoint_url": world["moto"].endpoint,
                                                         "facilitator_verify_base_url": world["url"],
                                                         "facilitator_expected_version": "1.1.0"})
    assert v.rc == 0, v.tail()


def test_same_image_again_changes_nothing(world, tmp_path):
    run = deploy(world, tmp_path, version="1.1.0")
    assert run.rc == 0, run.tail()
    assert run.recap["changed"] == 0, run.tail()
    assert revisions(world) == [1, 2]
    assert "no change: the service already runs it" in flat(run.stdout)


def test_downgrade_is_refused(world, tmp_path):
    run = deploy(world, tmp_path, version="1.0.0")
    assert run.rc != 0
    assert "refusing to downgrade 1.1.0 -> 1.0.0" in flat(run.output)
    assert revisions(world) == [1, 2] and live_version(world) == "1.1.0"


def test_version_that_is_not_the_images_own_is_refused(world, tmp_path):
    """-e version is never trusted over the image: 1.0.0's image says it is 1.0.0."""
    run = deploy(world, tmp_path, image=BASE, version="1.3.0")
    assert run.rc != 0
    assert "-e version=1.3.0 but the image says it is 1.0.0" in flat(run.output)
    assert revisions(world) == [1, 2] and service_revision(world) == 2


def test_bad_input_fails_in_one_line_before_anything(world, tmp_path):
    run = deploy(world, tmp_path, version="1.x")
    # ok: the argument spec's validation and the input check, nothing else
    assert run.rc != 0 and run.recap["ok"] <= 2, run.tail()
    assert "Look for the state files" not in run.stdout and "What the service serves now" not in run.stdout
    assert 'deploy: invalid version "1.x"' in flat(run.output)


def test_broken_image_is_rolled_back(world, tmp_path):
    run = deploy(world, tmp_path, image=BROKEN)
    assert run.rc != 0
    assert "Essential container in task exited (container facilitator exit code 1)" in flat(run.output)
    assert "rolled back to facilitator-production:2 (1.1.0): rollout COMPLETED" in flat(run.output)
    assert "fatal: broken image" in flat(run.output)  # the stopped container's last log lines
    assert revisions(world) == [1, 2, 3] and service_revision(world) == 2
    assert live_version(world) == "1.1.0"
    rec = run.audit_records("deploy.jsonl")[-1]
    assert rec["result"].startswith("FAILED") and rec["to"]["revision"] == "facilitator-production:3"


def test_missing_secret_is_rolled_back(world, tmp_path):
    """The migrated secret a new revision reads lacks the key its valueFrom selects: the
    task cannot start (ResourceInitializationError) and the deploy is rolled back."""
    try:
        _migrate(world, tmp_path / "migration")
        sm = world["moto"].client("secretsmanager", REGION)
        sm.put_secret_value(SecretId="facilitator-evm-testnet-private-key", SecretString=json.dumps({"address": "0x0"}))
        run = deploy(world, tmp_path, version="1.1.0")
        assert run.rc != 0
        assert "ResourceInitializationError" in flat(run.output) and "EVM_PRIVATE_KEY_TESTNET" in flat(run.output)
        assert "rolled back to facilitator-production:2" in flat(run.output)
        assert service_revision(world) == 2 and live_version(world) == "1.1.0"
    finally:
        _unmigrate(world)


def _gaps(times):
    return [round(b - a, 1) for a, b in zip(times, times[1:])]


def test_a_container_slow_to_get_healthy_prints_its_state_at_least_every_30s(world, tmp_path):
    """Local runtime path: the container runs but never answers /health; while the
    role waits the whole health timeout (50 s) it prints the runtime's state at
    least every 30 s (20 s by default), then rolls back."""
    run = deploy(world, tmp_path, image=SILENT, ecs_deploy_local_runtime_health_timeout=50, stamped=True)
    assert run.rc != 0
    started = run.stamped(r"TASK \[ecs_deploy : \(local\) Run the revision on the Docker engine, deploy ")
    states = run.stamped(r"facilitator-production:\d+: (started|waiting for|STARTING|UNHEALTHY)")
    unhealthy = run.stamped(r"facilitator-production:\d+: UNHEALTHY")
    assert started and unhealthy, run.tail()
    during = [t for t in states if started[0] <= t <= unhealthy[0]]
    assert len(during) >= 3, (during, run.tail())
    gaps = _gaps([started[0]] + during)
    assert max(gaps) <= 30, gaps
    out = flat(run.output)
    assert "STARTING" in out and "no healthy" in out
    assert "Task failed container health checks" in out and "rolled back to facilitator-production:2" in out
    assert service_revision(world) == 2 and live_version(world) == "1.1.0"


def test_rollback_goes_back_to_a_verified_revision_only(world, tmp_path):
    # revision 1 is the seeded one: nobody verified it, rollback.yml does not guess
    run = deploy(world, tmp_path, playbook="rollback.yml")
    assert run.rc != 0
    assert "no verified revision of facilitator-production below facilitator-production:2" in flat(run.output)
    assert service_revision(world) == 2
    run = deploy(world, tmp_path, playbook="rollback.yml", to_revision="1")
    assert run.rc == 0, run.tail()
    assert service_revision(world) == 1 and live_version(world) == "1.0.0"
    assert "rollback facilitator-production/facilitator-production (local): from facilitator-production:2" in flat(run.stdout)
    # back up to 1.1.0 (revision 2, reused), then rollback.yml finds the now verified revision 1 by itself
    assert deploy(world, tmp_path, version="1.1.0").rc == 0
    run = deploy(world, tmp_path, playbook="rollback.yml")
    assert run.rc == 0, run.tail()
    assert service_revision(world) == 1 and live_version(world) == "1.0.0"


def test_an_ecs_rollout_prints_its_state_at_least_every_30s(world, tmp_path):
    """ECS path (no local runtime): moto never moves a deployment, so the rollout
    stays IN_PROGRESS until the timeout (70 s); the role prints its state at least
    every 30 s meanwhile (the same loop production runs), then fails with TIMEOUT."""
    run = deploy(world, tmp_path, version="1.0.0", force=True, ecs_deploy_local_runtime=False,
                 ecs_deploy_timeout=70, ecs_deploy_interval=5, ecs_deploy_auto_rollback=False, ecs_deploy_verify=False,
                 stamped=True)
    assert run.rc != 0
    update = run.stamped(r"TASK \[ecs_deploy : Update the service, deploy to ")
    states = run.stamped(r"deploy: IN_PROGRESS after \d+s")
    end = run.stamped(r"rollout TIMEOUT")
    assert update and end, run.tail()
    assert len(states) >= 3, run.tail()
    gaps = _gaps([update[0]] + [t for t in states if t <= end[0]] + [end[0]])
    assert max(gaps) <= 30, gaps
    assert "timed out after 70s" in flat(run.output)
    assert "NOT rolled back (ecs_deploy_auto_rollback=false)" in flat(run.output)


def _service_tags(world):
    svc = world["ecs"].describe_services(cluster=FAMILY, services=[FAMILY])["services"][0]
    return {t["key"]: t["value"] for t in world["ecs"].list_tags_for_resource(resourceArn=svc["serviceArn"])["tags"]}


def test_8b_a_refused_confirmation_takes_no_lock_and_changes_nothing(world, tmp_path):
    """The lock is taken AFTER the prompt: a run left at its prompt (here: not confirmed) holds no lock."""
    before = service_revision(world)
    run = deploy(world, tmp_path, version="1.1.0", force=True, facilitator_require_confirmation=True)
    assert run.rc != 0
    assert "Not confirmed: nothing was changed" in flat(run.output)
    assert "Ask for confirmation" in run.stdout
    # the locked run begins (audit start, then the lock) only after a yes: no start record, no lock
    steps = [r["step"] for r in run.audit_records("deploy.jsonl")]
    assert steps == ["end"], f"the run began (audit start + lock) before the prompt: {steps}"
    assert "Take the lock, deploy lock on" not in run.stdout
    assert service_revision(world) == before


def test_6_rollback_rerun_after_a_kill_finishes_the_same_rollback(world, tmp_path):
    """rollback.yml killed after its update-service (the service already runs the target, not verified yet):
    the rerun finishes THAT rollback instead of computing "previous" from what runs now (two revisions back),
    and a rerun after it finished changes nothing."""
    assert deploy(world, tmp_path, version="1.1.0").rc == 0                         # revision 2, verified
    run = deploy(world, tmp_path, image=f"{REGISTRY}/facilitator@" + manifest_digest(NEW))  # 1.1.0, a new revision
    assert run.rc == 0, run.tail()
    top = service_revision(world)
    assert top > 2 and live_version(world) == "1.1.0"
    killed = run_crashing("rollback.yml", tmp_path / "killed", extra_vars=world["vars"],
                          at_label=f"ecs_local_runtime: started {world['name']}")
    assert killed.killed, killed.output[-3000:]
    assert service_revision(world) == 2                   # the update-service happened, then the laptop died
    run = deploy(world, tmp_path, playbook="rollback.yml")
    assert service_revision(world) == 2, "the rerun went back two revisions"
    assert run.rc == 0, run.tail()
    assert live_version(world) == "1.1.0"
    assert "finishing the rollback facilitator-production:" in flat(run.stdout)
    assert _service_tags(world).get("facilitator-ops:rollback") == "done"
    # a second operator, after it finished: nothing changes
    run = deploy(world, tmp_path, playbook="rollback.yml")
    assert run.rc == 0, run.tail()
    assert service_revision(world) == 2 and "already done: the rollback" in flat(run.stdout)


def test_6_to_revision_is_checked_before_any_change(world, tmp_path):
    before = service_revision(world)
    run = deploy(world, tmp_path, playbook="rollback.yml", to_revision="999")
    assert run.rc != 0 and "to_revision facilitator-production:999 does not exist" in flat(run.output)
    run = deploy(world, tmp_path, playbook="rollback.yml", to_revision="1", ecs_deploy_rollback_floor_version="1.1.0")
    assert run.rc != 0
    assert "runs version 1.0.0, below the rollback floor 1.1.0" in flat(run.output)
    assert "start" not in [r["step"] for r in run.audit_records("deploy.jsonl")]  # refused before the lock
    assert service_revision(world) == before
