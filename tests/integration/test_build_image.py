"""build_image.yml on the local stack: the reference facilitator is built with
the Docker engine (classic builder), checked, pushed to the stack's OCI
registry (127.0.0.1:5001) and its digest verified; the ECR API is a private
moto server. Every run is `-vvv` and leak-scanned for the registry token.

Each test module uses its own repository in the registry (`imgb-test-<hex>`),
so it never touches what the stack or other tests pushed. The first build takes
a minute or two (wheels, pip install in the image).
"""
from __future__ import annotations

import json
import os
import secrets as pysecrets
import shutil
import stat
import subprocess
import urllib.request
from pathlib import Path

import pytest

from helpers.leakscan import LeakScanner
from helpers.moto import MotoServer
from helpers.moto import free_port
from helpers.playbook import run_playbook

REPO = Path(__file__).resolve().parents[2]
REGISTRY = "127.0.0.1:5001"
VERSION = "1.92.0"
PAGE = "app/x402_reference_facilitator/static/index.html"
MANIFEST_ACCEPT = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
])
# moto's GetAuthorizationToken password is "<account>-auth-token" (token = base64 "AWS:<password>").
MOTO_TOKEN_PASSWORD = "123456789012-auth-token"


def _docker_ok():
    if not shutil.which("docker"):
        return "docker CLI not installed"
    p = subprocess.run(["docker", "image", "inspect", "facilitator-ops/base:bookworm"], capture_output=True)
    if p.returncode != 0:
        return "Docker engine down or base image facilitator-ops/base:bookworm missing (stack/stackctl up)"
    return None


def _registry_ok():
    try:
        urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=2).read()
        return None
    except OSError as e:
        return f"local OCI registry {REGISTRY} is down ({e}); run stack/registry/start-registry.sh"


pytestmark = pytest.mark.skipif(bool(_docker_ok() or _registry_ok()),
                                reason=str(_docker_ok() or _registry_ok()))


def registry_digest(repository, tag):
    req = urllib.request.Request(f"http://{REGISTRY}/v2/{repository}/manifests/{tag}",
                                 headers={"Accept": MANIFEST_ACCEPT})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.headers["Docker-Content-Digest"]
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def copy_tree(dst):
    shutil.copytree(REPO / "facilitator", dst,
                    ignore=shutil.ignore_patterns(".wheels", "__pycache__", "*.egg-info", "build"))
    return dst


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def repository():
    name = f"imgb-test-{pysecrets.token_hex(4)}"
    yield name
    # Local tags of this test's images (the registry keeps its copy: docker-registry has no delete here).
    out = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", f"{REGISTRY}/{name}"],
                         capture_output=True, text=True).stdout.split()
    if out:
        subprocess.run(["docker", "image", "rm", "--force", *out], capture_output=True)


@pytest.fixture(scope="module")
def scanner():
    s = LeakScanner()
    s.add("moto ECR token password", MOTO_TOKEN_PASSWORD)
    return s


@pytest.fixture(scope="module")
def docker_config(tmp_path_factory):
    """The docker client config ecr_login writes (outside the scanned dirs: holding
    the credential is its job, like `docker login`)."""
    return tmp_path_factory.mktemp("dockercfg")


def build(moto, repository, tmp_path, scanner, docker_config, *args, extra=None, **kw):
    ev = {"aws_endpoint_url": moto.endpoint, "image_build_repository": repository,
          "image_build_check_port": free_port()}
    ev.update(extra or {})
    env = {"DOCKER_CONFIG": str(docker_config)}
    return run_playbook("build_image.yml", tmp_path, extra_vars=ev, args=args, scanner=scanner, env=env, **kw)


@pytest.fixture(scope="module")
def first_build(moto, repository, scanner, docker_config, tmp_path_factory):
    """One real build + push, through the ECR-token path (registry_auth=ecr: the
    local registry ignores the credential, so the token is really used)."""
    tmp = tmp_path_factory.mktemp("first-build")
    run = build(moto, repository, tmp, scanner, docker_config,
                extra={"version": VERSION, "image_build_registry_auth": "ecr"}, timeout=900)
    assert run.rc == 0, run.tail(80)
    return run


# ---------------------------------------------------------------------------
@pytest.mark.parametrize("version, expected", [
    (None, "a version is required: -e version=X.Y.Z"),
    ("dev", 'invalid version "dev"'),
    ("v1.2", 'invalid version "v1.2"'),
    ("latest", 'invalid version "latest"'),
])
def test_bad_version_fails_in_one_line_before_anything(moto, repository, scanner, docker_config, tmp_path,
                                                        version, expected):
    extra = {} if version is None else {"version": version}
    run = build(moto, repository, tmp_path, scanner, docker_config, extra=extra)
    assert run.rc != 0
    assert expected in run.stdout
    # ok 1: the role's argument spec validation; the input check fails next, before anything is read
    assert run.recap == {"ok": 1, "changed": 0, "unreachable": 0, "failed": 1, "skipped": 0,
                         "rescued": 0, "ignored": 0}
    assert "Validating arguments against arg spec 'main'" in run.stdout


def test_guard_stops_a_tree_that_lost_its_branding(moto, repository, scanner, docker_config, tmp_path):
    src = copy_tree(tmp_path / "upstream")
    page = src / PAGE
    page.write_text(page.read_text().replace("Ultravioleta DAO", "x402 Upstream"))
    run = build(moto, repository, tmp_path, scanner, docker_config,
                extra={"version": "1.93.0", "image_build_source_dir": str(src)})
    assert run.rc != 0
    assert f"source guard: {PAGE}: rule 'contains 'Ultravioleta DAO'' failed: text not found" in run.stdout
    assert run.recap["changed"] == 0
    assert registry_digest(repository, "1.93.0") is None
    assert "tasks/build.yml" not in run.stdout


def test_check_mode_plans_only(moto, repository, scanner, docker_config, tmp_path):
    run = build(moto, repository, tmp_path, scanner, docker_config, "--check", "--diff",
                extra={"version": "1.94.0"})
    assert run.rc == 0, run.tail()
    assert run.recap["changed"] == 0
    assert "image build PLAN (check mode, nothing built or pushed)" in run.stdout
    assert "action: build (no image of this version and source)" in run.stdout
    assert registry_digest(repository, "1.94.0") is None
    assert not list((Path(run.dirs["state"])).iterdir())
    repos = moto.client("ecr", "us-east-2").describe_repositories()["repositories"]
    assert repository not in [r["repositoryName"] for r in repos]


def test_build_push_digest_verified(first_build, moto, repository, docker_config):
    state = json.loads((Path(first_build.dirs["state"]) / "image.json").read_text())
    rev = state["revision"]
    assert state["version"] == VERSION
    assert state["tags"] == [f"{VERSION}-{rev}", VERSION, "latest", "local"]
    assert state["image"] == f"{REGISTRY}/{repository}@{state['digest']}"
    for tag in state["tags"]:
        assert registry_digest(repository, tag) == state["digest"], tag
    # The local image's RepoDigest is the same digest, and its labels carry version/revision/source.
    inspect = json.loads(subprocess.run(["docker", "image", "inspect", f"{REGISTRY}/{repository}:{VERSION}"],
                                        capture_output=True, text=True, check=True).stdout)[0]
    assert f"{REGISTRY}/{repository}@{state['digest']}" in inspect["RepoDigests"]
    labels = inspect["Config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.revision"] == rev
    assert labels["xyz.ultravioletadao.facilitator-ops.source-digest"] == state["source_digest"]
    assert "/version is 1.92.0" in first_build.stdout and "contains 'Ultravioleta DAO'" in first_build.stdout
    assert "digest verified: yes (registry == local)" in first_build.stdout
    # ECR repository (moto) with scan on push.
    repo = moto.client("ecr", "us-east-2").describe_repositories(repositoryNames=[repository])["repositories"][0]
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    assert repo["imageTagMutability"] == "MUTABLE"
    # The token path wrote a docker login for the registry, private to the user.
    cfg_path = docker_config / "config.json"
    assert stat.S_IMODE(os.stat(cfg_path).st_mode) == 0o600
    assert REGISTRY in json.loads(cfg_path.read_text())["auths"]
    audit = first_build.audit_records("image_build.jsonl")
    assert audit[-1]["action"] == "build" and audit[-1]["image"] == state["image"]


def test_second_run_changes_nothing(first_build, moto, repository, scanner, docker_config, tmp_path):
    before = json.loads((Path(first_build.dirs["state"]) / "image.json").read_text())
    # Same revision as the first build (the checkout may get new commits meanwhile).
    run = build(moto, repository, tmp_path, scanner, docker_config, dirs=first_build.dirs,
                extra={"version": VERSION, "image_build_registry_auth": "ecr",
                       "image_build_vcs_ref": before["revision"]})
    assert run.rc == 0, run.tail()
    assert run.recap["changed"] == 0, run.tail()
    assert "action: none (registry already holds this version and source)" in run.stdout
    assert "tasks/build.yml" not in run.stdout and "tasks/push.yml" not in run.stdout
    after = json.loads((Path(run.dirs["state"]) / "image.json").read_text())
    assert after == before
    assert [a["action"] for a in run.audit_records("image_build.jsonl")][-1] == "none"


def test_retag_of_a_version_with_another_source_is_refused(first_build, moto, repository, scanner,
                                                            docker_config, tmp_path):
    state = json.loads((Path(first_build.dirs["state"]) / "image.json").read_text())
    src = copy_tree(tmp_path / "changed")
    (src / "README.md").write_text((src / "README.md").read_text() + "\nA change after the release.\n")
    extra = {"version": VERSION, "image_build_source_dir": str(src), "image_build_vcs_ref": state["revision"]}
    run = build(moto, repository, tmp_path, scanner, docker_config, extra=extra)
    assert run.rc != 0
    assert f"refusing to overwrite {REGISTRY}/{repository}: tag {VERSION}-{state['revision']} exists" in run.stdout
    assert "-e allow_retag=true" in run.stdout
    assert run.recap["changed"] == 0
    for tag in state["tags"]:
        assert registry_digest(repository, tag) == state["digest"]
    # Told to, the plan goes ahead (check mode here: the decision, not another build).
    allowed = build(moto, repository, tmp_path, scanner, docker_config, "--check",
                    extra=dict(extra, allow_retag=True))
    assert allowed.rc == 0, allowed.tail()
    assert "action: build (overwriting refused tag(s) (allow_retag))" in allowed.stdout


def test_moved_mutable_tag_is_put_back_without_rebuild(first_build, moto, repository, scanner, docker_config,
                                                       tmp_path):
    state = json.loads((Path(first_build.dirs["state"]) / "image.json").read_text())
    # A new environment tag for the same version and source: a manifest copy, no build, no push.
    run = build(moto, repository, tmp_path, scanner, docker_config,
                extra={"version": VERSION, "image_build_env_tag": "staging-rehearsal",
                       "image_build_vcs_ref": state["revision"]})
    assert run.rc == 0, run.tail()
    assert "action: retag" in run.stdout and "staging-rehearsal" in run.stdout
    assert registry_digest(repository, "staging-rehearsal") == state["digest"]
    assert "tasks/build.yml" not in run.stdout and "tasks/push.yml" not in run.stdout
