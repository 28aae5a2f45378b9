"""The execution environment end to end, on the local stack (issue 13).

build_ee.yml builds the EE offline (or finds it: inputs digested, nothing rebuilt) and pushes
it to the stack's registry; then ansible-navigator, configured by nothing but the repository's
ansible-navigator.yml, runs the entry playbooks inside it against the stack: verify.yml,
migrate_secrets.yml --check, and cutover.yml -e stage=10 then -e stage=0 on a "before" world of
its own (a private moto and two facilitator processes: the shared stack's cutover may be
finalized by the time the tests run). Every navigator run is
-vvv and leak-scanned: its stdout/stderr, navigator's log, its temp dir (runner's private data
dir), the audit and state dirs; the canaries are the real wallet keys of the stack's world
(read from its Secrets Manager) and the test payer key. Playbook artifacts are off: the tests
check that none is written.

Needs the stack (stack/stackctl up) and the pinned environment (ansible-navigator); either
missing is a failure, not a skip.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import yaml

from helpers.leakscan import LeakScanner
from helpers.playbook import RECAP
from helpers.playbook import REPO
from helpers.playbook import run_playbook
from helpers.registry import manifest_digest

VENV_BIN = Path(sys.executable).parent
MOTO = "http://127.0.0.1:5000"
REGISTRY = "127.0.0.1:5001"
ESCAPES = re.compile(r"\x1b\[K[A-Za-z0-9+/=]*\x1b\[[0-9]+D|\x1b\[K|\x1b\[[0-9;]*m")


def tool(name):
    for cand in (VENV_BIN / name, REPO / ".venv" / "bin" / name):
        if cand.exists():
            return str(cand)
    found = shutil.which(name)
    assert found, f"{name} is not installed: ./bootstrap.sh installs requirements.txt"
    return found


def require_stack():
    try:
        urllib.request.urlopen(f"{MOTO}/moto-api/", timeout=3).read()
    except OSError as e:
        pytest.fail(f"the local stack's moto does not answer on {MOTO} ({e}): run stack/stackctl up")
    # The ECR-like registry: HTTPS with the stack's CA, 401 without the ECR credential.
    import ssl

    ctx = ssl.create_default_context(cafile=str(stack_state_dir() / "ca.pem"))
    try:
        urllib.request.urlopen(f"https://{REGISTRY}/v2/", timeout=3, context=ctx).read()
        pytest.fail(f"https://{REGISTRY}/v2/ answered without credentials: not the stack's ECR-like registry")
    except urllib.error.HTTPError as e:
        if e.code != 401:
            pytest.fail(f"the local stack's registry answered {e.code} on https://{REGISTRY}/v2/: run stack/stackctl up")
    except OSError as e:
        pytest.fail(f"the local stack's registry does not answer on https://{REGISTRY}/v2/ ({e}): run stack/stackctl up")
    assert subprocess.run(["docker", "info"], capture_output=True).returncode == 0, "no Docker engine: stack/stackctl up"


def aws(service, region):
    return boto3.client(service, endpoint_url=MOTO, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def stack_state_dir():
    return Path(os.environ.get("FACILITATOR_OPS_STATE") or REPO / ".stack").resolve()


@pytest.fixture(scope="module")
def scanner():
    """Canaries: the private keys the stack's world really holds, and the test payer's key."""
    require_stack()
    sm = aws("secretsmanager", "us-east-1")
    s = LeakScanner()
    for sec in sm.list_secrets()["SecretList"]:
        value = sm.get_secret_value(SecretId=sec["ARN"], VersionStage="AWSCURRENT")["SecretString"]
        try:
            doc = json.loads(value)
        except ValueError:
            continue
        key = doc.get("private_key") if isinstance(doc, dict) else None
        if key:
            s.add(f"{sec['Name']} private_key", key)
            if key.startswith("0x"):
                s.add(f"{sec['Name']} private_key (bare hex)", key[2:])
    payer = stack_state_dir() / "payer.key"
    if payer.exists():
        s.add("test payer key", payer.read_text().strip())
    assert len(s.canaries) >= 3, "the stack's world holds no wallet secrets: stack/stackctl up seeds them"
    return s


@pytest.fixture(scope="module")
def ee_image(tmp_path_factory):
    """build_ee.yml as run-tests runs it; the second run finds everything done."""
    require_stack()
    tmp = tmp_path_factory.mktemp("build-ee")
    first = run_playbook("build_ee.yml", tmp, verbosity="-v", timeout=1800)
    assert first.rc == 0, first.tail(80)
    state = json.loads((Path(first.dirs["state"]) / "ee_image.json").read_text())
    second = run_playbook("build_ee.yml", tmp, verbosity="", dirs=first.dirs, timeout=900)
    assert second.rc == 0, second.tail(80)
    return {"state": state, "first": first, "second": second}


@dataclass
class NavRun:
    rc: int
    stdout: str
    stderr: str
    audit: Path
    state: Path

    @property
    def recap(self):
        totals = {}
        for m in RECAP.finditer(self.stdout):
            for k, v in m.groupdict().items():
                if k != "host":
                    totals[k] = totals.get(k, 0) + int(v)
        return totals

    def tail(self, n=60):
        return "\n".join((self.stdout + "\n" + self.stderr).splitlines()[-n:])


@pytest.fixture
def navigator(tmp_path, scanner, ee_image):
    """ansible-navigator run from the repository root, as a user types it (plus -vvv)."""
    # Audit/state dirs must be visible to the host after the run: inside the project,
    # which navigator mounts (a gitignored place), removed afterwards.
    work = REPO / ".ansible" / "navigator-tests" / uuid.uuid4().hex[:12]
    made = []

    def run(playbook, *args, timeout=900):
        audit, state, tmpdir = work / f"run{len(made)}" / "audit", work / f"run{len(made)}" / "state", tmp_path / f"tmp{len(made)}"
        for d in (audit, state, tmpdir):
            d.mkdir(parents=True, exist_ok=True)
        made.append(audit)
        env = dict(os.environ, PATH=f"{Path(tool('ansible-navigator')).parent}:{os.environ['PATH']}",
                   TMPDIR=str(tmpdir), FACILITATOR_OPS_AUDIT_DIR=str(audit), FACILITATOR_OPS_STATE_DIR=str(state))
        env.pop("ANSIBLE_CONFIG", None)  # the project's ansible.cfg is found from the working directory
        cmd = [tool("ansible-navigator"), "run", playbook, "--mode", "stdout", "-vvv", *args]
        stack = stack_state_dir()
        if not stack.is_relative_to(REPO):
            # a stack state dir outside the project needs its mount (docs/execution-environment.md)
            env["FACILITATOR_OPS_STATE"] = str(stack)
            cmd += ["--eev", f"{stack}:{stack}:ro"]
        before = set(REPO.glob("*-artifact-*.json"))
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        out = ESCAPES.sub("", proc.stdout)
        log = REPO / "ansible-navigator.log"
        scanner.assert_clean(
            texts={f"navigator {playbook} stdout": proc.stdout, f"navigator {playbook} stderr": proc.stderr,
                   "ansible-navigator.log": log.read_bytes() if log.exists() else b""},
            trees=[tmpdir, audit, state])
        assert set(REPO.glob("*-artifact-*.json")) == before, "a playbook artifact was written (artifacts are off)"
        # runner's private data dir (env files, job events) does not outlive the run
        assert not list(tmpdir.glob("ansible-navigator_*")), sorted(os.listdir(tmpdir))
        return NavRun(proc.returncode, out, ESCAPES.sub("", proc.stderr), audit, state)

    yield run
    shutil.rmtree(work, ignore_errors=True)


def test_ee_image_is_built_pushed_and_cached(ee_image):
    state = ee_image["state"]
    version = yaml.safe_load((REPO / "collections/ansible_collections/facilitator/ops/galaxy.yml").read_text())["version"]
    assert state["version"] == version and state["registry"] == REGISTRY
    assert state["repository"] == "facilitator-ops-ee"
    assert f"{version}" in state["tags"] and state["digest"].startswith("sha256:")
    # the registry serves the tag at the recorded digest (read as the build reads it: skopeo, ECR credential, CA)
    assert manifest_digest(f"{REGISTRY}/facilitator-ops-ee:{version}") == state["digest"]
    second = ee_image["second"]
    assert second.recap["changed"] == 0, second.tail()
    assert re.search(r"action: (none|retag)", second.stdout), second.tail()
    # what ansible-navigator.yml names is in the engine
    nav = yaml.safe_load((REPO / "ansible-navigator.yml").read_text())["ansible-navigator"]
    assert nav["execution-environment"]["image"] == f"{REGISTRY}/facilitator-ops-ee:{version}"
    assert subprocess.run(["docker", "image", "inspect", nav["execution-environment"]["image"]],
                          capture_output=True).returncode == 0


def docker_run(image, *args, user=None):
    cmd = ["docker", "run", "--rm", "--network", "none"] + (["--user", user] if user else []) + [image, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_ee_follows_the_controller_conventions(ee_image, scanner):
    image = f"{REGISTRY}/facilitator-ops-ee:{ee_image['state']['version']}"
    info = json.loads(subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True).stdout)[0]["Config"]
    assert info["User"] == "1000" and info["WorkingDir"] == "/runner"
    assert info["Entrypoint"] == ["/usr/local/bin/ee-entrypoint", "dumb-init"]
    assert info["Labels"]["ansible-execution-environment"] == "true"
    assert info["Labels"]["org.opencontainers.image.version"] == ee_image["state"]["version"]
    assert "HOME=/runner" in info["Env"]
    # an arbitrary uid (controller container groups, OpenShift) gets a passwd entry and a writable HOME
    r = docker_run(image, "bash", "-c", 'id -u; id -g; echo "$HOME"; getent passwd "$(id -u)" | cut -d: -f1; touch "$HOME/probe" && echo writable', user="4321")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["4321", "0", "/runner", "runner", "writable"]
    # dumb-init is PID 1
    r = docker_run(image, "cat", "/proc/1/cmdline")
    assert r.stdout.split("\0")[0].endswith("dumb-init"), r.stdout
    # ansible-runner (the controller's worker), the collections and the project's content resolve
    # by Ansible's defaults, without the repository's ansible.cfg
    r = docker_run(image, "bash", "-c", "ansible-runner --version && ansible-galaxy collection list --format json"
                   " && ansible-doc -t module -l | grep -E '^ansible.legacy.(image_registry|secret_copy|cutover_gate) ' | wc -l"
                   " && ansible-doc -t role -l | grep -c -x -E '(facilitator_verify|dns_cutover|ee_image):'")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[-2:] == ["3", "3"], r.stdout[-500:]
    colls = {}
    for found in json.loads(lines[1]).values():
        colls.update({k: v["version"] for k, v in found.items()})
    for c in yaml.safe_load((REPO / "requirements.yml").read_text())["collections"]:
        assert colls.get(c["name"]) == c["version"], (c, colls)
    assert "facilitator.ops" in colls
    # no secret baked in: none of the world's secrets anywhere in the image's files (a value the
    # repository itself publishes, like anvil's development keys, is not a secret of the world)
    needles = [c.value for c in scanner.canaries
               if subprocess.run(["git", "grep", "-qF", c.value], cwd=REPO).returncode != 0]
    assert needles, "every canary is published in the repository: nothing left to look for"
    r = docker_run(image, "bash", "-c", 'for n in "$@"; do grep -rIlFs -e "$n" /usr /opt /etc /runner /root /home /var /tmp; done',
                   "_", *needles, user="0")
    assert r.stdout.strip() == "", f"a secret of the stack's world is baked into the image: {r.stdout[:300]}"
    # the check itself finds a planted value
    r = docker_run(image, "bash", "-c", f'echo {needles[0]} > /tmp/planted; grep -rIlFs -e "$1" /tmp', "_", needles[0], user="0")
    assert r.stdout.strip() == "/tmp/planted", r.stdout + r.stderr


def test_navigator_runs_the_playbooks_inside_the_ee(navigator):
    # -vvv's header names the config file and the interpreter: the project's ansible.cfg, the EE's venv
    run = navigator("verify.yml", "--check")
    assert run.rc == 0, run.tail()
    assert f"Using {REPO}/ansible.cfg as config file" in run.stdout
    assert re.search(r"ansible-playbook \[core 2\.\d+\.\d+\]", run.stdout), run.tail()
    assert "python version = 3.11" in run.stdout and "/opt/ee/bin/python" in run.stdout, run.stdout[:1500]


def test_verify_in_the_ee(navigator):
    # with the payment smoke test: x402's EVM signer in the EE, chain.json and the payer key
    # from the stack's state dir
    run = navigator("verify.yml", "-e", "facilitator_verify_payment_enabled=true")
    assert run.rc == 0, run.tail()
    assert run.recap["failed"] == 0 and run.recap["ok"] > 0
    assert "OK   networks: /supported serves" in run.stdout
    assert re.search(r"OK   payment: ", run.stdout), run.tail()


@pytest.fixture
def cutover_world(tmp_path_factory):
    """A "before" world of the test's own (private moto with the simple alias to the old ALB, two
    facilitator processes): the shared stack may be anywhere in its life (a user runs README
    command 1, which finalizes the cutover, and a rotation, before command 2)."""
    from integration.test_cutover import Stack

    world = Stack(tmp_path_factory.mktemp("ee-cutover"))
    world.reset_dns()
    yield world
    world.close()


def test_cutover_in_the_ee_stage_10_then_0(navigator, cutover_world):
    w = cutover_world
    run = navigator("cutover.yml", "-e", json.dumps(w.extra("10")))
    assert run.rc == 0, run.tail(80)
    assert w.shape() == {"old": 90, "new": 10}, run.tail()
    assert (run.audit / "dns_cutover.jsonl").exists(), sorted(p.name for p in run.audit.iterdir())
    back = navigator("cutover.yml", "-e", json.dumps(w.extra("0")))
    assert back.rc == 0, back.tail(80)
    assert w.shape() == {"old": 100, "new": 0}, back.tail()


def secrets_snapshot():
    """Every secret in both regions with its versions and their stages."""
    out = {}
    for region in ("us-east-1", "us-east-2"):
        sm = aws("secretsmanager", region)
        for sec in sm.list_secrets()["SecretList"]:
            versions = sm.list_secret_version_ids(SecretId=sec["ARN"])["Versions"]
            out[(region, sec["Name"])] = sorted((v["VersionId"], tuple(sorted(v.get("VersionStages", [])))) for v in versions)
    return out


def test_migrate_secrets_check_in_the_ee(navigator):
    before = secrets_snapshot()
    run = navigator("migrate_secrets.yml", "--check")
    assert run.rc == 0, run.tail(80)
    assert run.recap["failed"] == 0
    assert secrets_snapshot() == before, "check mode changed Secrets Manager"
