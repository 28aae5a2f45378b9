"""build_image.yml on the local stack's ECR-like registry: the reference facilitator
is built with the Docker engine (classic builder), checked, pushed by its version
tags through skopeo, gated, then the moving tags are set, and every digest is
verified. The registry (https://127.0.0.1:5001, the stack's CA) takes exactly the
credential the ECR API hands out and answers blob GETs with a 307 to an S3
stand-in (https://localhost:5003) that refuses any request carrying
Authorization and logs every request; the ECR API is a private moto server
(whose GetAuthorizationToken gives the same deterministic credential as the
stack's). Every run is `-vvv` and leak-scanned for the registry token, and the
blob host's log proves the token never reached it.

Each test module uses its own repository in the registry (`imgb-test-<hex>`),
so it never touches what the stack or other tests pushed. The first build takes
a minute or two (wheels, pip install in the image).
"""
from __future__ import annotations

import json
import os
import secrets as pysecrets
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from helpers.leakscan import LeakScanner
from helpers.moto import MotoServer
from helpers.moto import free_port
from helpers.playbook import run_playbook

REPO = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("FACILITATOR_OPS_STATE") or REPO / ".stack")
CA = STATE / "ca.pem"


def tls():
    import ssl

    return ssl.create_default_context(cafile=str(CA))

BLOB_LOG = STATE / "haproxy" / "haproxy.log"
REGISTRY = "127.0.0.1:5001"
VERSION = "1.92.0"
PAGE = "app/x402_reference_facilitator/static/index.html"
MANIFEST_ACCEPT = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
])
# moto's GetAuthorizationToken password is "<account>-auth-token" (token = base64 "AWS:<password>").
MOTO_TOKEN_PASSWORD = "123456789012-auth-token"


def _stack_problem():
    if not shutil.which("docker") or subprocess.run(["docker", "image", "inspect", "facilitator-ops/base:bookworm"],
                                                    capture_output=True).returncode != 0:
        return "Docker engine down or base image facilitator-ops/base:bookworm missing (stack/stackctl up)"
    try:
        code = httpx.get(f"https://{REGISTRY}/v2/", verify=tls(), timeout=5).status_code
    except (httpx.HTTPError, OSError) as e:
        return f"the stack's ECR-like registry {REGISTRY} is down ({e}); run stack/stackctl up"
    if code != 401:
        return f"https://{REGISTRY}/v2/ answered {code} without credentials (expected 401): not the ECR-like registry"
    return None


@pytest.fixture(scope="module", autouse=True)
def stack_up():
    problem = _stack_problem()
    if problem:
        pytest.fail(problem)


def registry_digest(repository, tag):
    """The manifest digest the registry serves for a tag (HEAD, answered by the registry itself)."""
    r = httpx.head(f"https://{REGISTRY}/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_ACCEPT},
                   auth=("AWS", MOTO_TOKEN_PASSWORD), verify=tls(), timeout=10)
    if r.status_code == 404:
        return None
    r.raise_for_status()
    return r.headers["docker-content-digest"]


def blob_log(repository, since=0):
    """The S3 stand-in's request log for this repository's blobs (lines after offset `since`)."""
    with open(BLOB_LOG) as f:
        f.seek(since)
        lines = [json.loads(x) for x in f if '"fe":"s3-blobs"' in x or '"fe":"ecr"' in x]
    return [x for x in lines if f"/v2/{repository}/blobs/" in x["p"]]


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


def build(moto, repository, tmp_path, scanner, *args, extra=None, **kw):
    ev = {"aws_endpoint_url": moto.endpoint, "image_build_repository": repository,
          "image_build_check_port": free_port()}
    ev.update(extra or {})
    return run_playbook("build_image.yml", tmp_path, extra_vars=ev, args=args, scanner=scanner, **kw)


@pytest.fixture(scope="module")
def first_build(moto, repository, scanner, tmp_path_factory):
    """One real build + push with the ECR credential (the registry refuses anything else)."""
    tmp = tmp_path_factory.mktemp("first-build")
    run = build(moto, repository, tmp, scanner, extra={"version": VERSION}, timeout=900)
    assert run.rc == 0, run.tail(80)
    return run


# ---------------------------------------------------------------------------
@pytest.mark.parametrize("version, expected", [
    (None, "a version is required: -e version=X.Y.Z"),
    ("dev", 'invalid version "dev"'),
    ("v1.2", 'invalid version "v1.2"'),
    ("latest", 'invalid version "latest"'),
])
def test_bad_version_fails_in_one_line_before_anything(moto, repository, scanner, tmp_path, version, expected):
    extra = {} if version is None else {"version": version}
    run = build(moto, repository, tmp_path, scanner, extra=extra)
    assert run.rc != 0
    assert expected in run.stdout
    # ok 1: the role's argument spec validation; the input check fails next, before anything is read
    assert run.recap == {"ok": 1, "changed": 0, "unreachable": 0, "failed": 1, "skipped": 0,
                         "rescued": 0, "ignored": 0}
    assert "Validating arguments against arg spec 'main'" in run.stdout


def test_guard_stops_a_tree_that_lost_its_branding(moto, repository, scanner, tmp_path):
    src = copy_tree(tmp_path / "upstream")
    page = src / PAGE
    page.write_text(page.read_text().replace("Ultravioleta DAO", "x402 Upstream"))
    run = build(moto, repository, tmp_path, scanner,
                extra={"version": "1.93.0", "image_build_source_dir": str(src)})
    assert run.rc != 0
    assert f"source guard: {PAGE}: rule 'contains 'Ultravioleta DAO'' failed: text not found" in run.stdout
    assert run.recap["changed"] == 0
    assert registry_digest(repository, "1.93.0") is None
    assert "tasks/build.yml" not in run.stdout


def test_check_mode_plans_only(moto, repository, scanner, tmp_path):
    run = build(moto, repository, tmp_path, scanner, "--check", "--diff",
                extra={"version": "1.94.0"})
    assert run.rc == 0, run.tail()
    assert run.recap["changed"] == 0
    assert "image build PLAN (check mode, nothing built or pushed)" in run.stdout
    assert "action: build (no image of this version and source)" in run.stdout
    assert registry_digest(repository, "1.94.0") is None
    assert not list((Path(run.dirs["state"])).iterdir())
    repos = moto.client("ecr", "us-east-2").describe_repositories()["repositories"]
    assert repository not in [r["repositoryName"] for r in repos]


def test_build_push_digest_verified(first_build, moto, repository):
    state = json.loads((Path(first_build.dirs["state"]) / "image.json").read_text())
    rev = state["revision"]
    assert state["version"] == VERSION
    assert state["tags"] == [f"{VERSION}-{rev}", VERSION, "latest", "local"]
    assert state["image"] == f"{REGISTRY}/{repository}@{state['digest']}"
    for tag in state["tags"]:
        assert registry_digest(repository, tag) == state["digest"], tag
    # The registry's image config is the local image (its id), whose labels carry version/revision/source.
    inspect = json.loads(subprocess.run(["docker", "image", "inspect", f"{REGISTRY}/{repository}:{VERSION}-{rev}"],
                                        capture_output=True, text=True, check=True).stdout)[0]
    assert "image config = the pushed local image" in first_build.stdout
    labels = inspect["Config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.revision"] == rev
    assert labels["xyz.ultravioletadao.facilitator-ops.source-digest"] == state["source_digest"]
    assert "/version is 1.92.0" in first_build.stdout and "contains 'Ultravioleta DAO'" in first_build.stdout
    # Version tags first, the scan gate, and only then the moving tags.
    out = first_build.stdout
    assert (out.index("Push by the version tags (skopeo")
            < out.index("Gate on scan findings") < out.index("Move the moving tags to the gated image: latest, local"))
    # ECR repository (moto) with scan on push.
    repo = moto.client("ecr", "us-east-2").describe_repositories(repositoryNames=[repository])["repositories"][0]
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    assert repo["imageTagMutability"] == "MUTABLE"
    audit = first_build.audit_records("image_build.jsonl")
    assert audit[-1]["action"] == "build" and audit[-1]["image"] == state["image"]


def test_second_run_changes_nothing(first_build, moto, repository, scanner, tmp_path):
    before = json.loads((Path(first_build.dirs["state"]) / "image.json").read_text())
    log_at = BLOB_LOG.stat().st_size
    # Same revision as the first build (the checkout may get new commits meanwhile).
    run = build(moto, repository, tmp_path, scanner, dirs=first_build.dirs,
                extra={"version": VERSION, "image_build_vcs_ref": before["revision"]})
    assert run.rc == 0, run.tail()
    assert run.recap["changed"] == 0, run.tail()
    assert "action: none (registry already holds this version and source)" in run.stdout
    assert "tasks/build.yml" not in run.stdout and "tasks/push.yml" not in run.stdout
    after = json.loads((Path(run.dirs["state"]) / "image.json").read_text())
    assert after == before
    assert [a["action"] for a in run.audit_records("image_build.jsonl")][-1] == "none"
    # It read the existing tags' labels from their image config, a blob: ECR answered
    # 307 and the S3 stand-in served it, and the token never reached that host.
    seen = blob_log(repository, log_at)
    redirected = [x for x in seen if x["fe"] == "ecr" and x["m"] == "GET" and x["st"] == 307]
    served = [x for x in seen if x["fe"] == "s3-blobs"]
    assert redirected and served, seen
    assert all(x["st"] == 200 and x["m"] == "GET" for x in served), served
    assert all(x["auth"] == "0" for x in served), "the ECR credential reached the blob host"


def test_blob_host_never_saw_a_credential_and_refuses_one(first_build, repository):
    """Over the whole module: every request the S3 stand-in got for this repository
    came without Authorization; one that carries it is refused (400, as S3 does)."""
    served = [x for x in blob_log(repository) if x["fe"] == "s3-blobs"]
    assert served and all(x["auth"] == "0" for x in served)
    blob = served[0]["p"]
    r = httpx.get(f"https://localhost:5003{blob}?X-Amz-Signature=x", auth=("AWS", MOTO_TOKEN_PASSWORD),
                  verify=tls(), timeout=10)
    assert r.status_code == 400 and "Only one auth mechanism allowed" in r.text
    assert httpx.get(f"https://localhost:5003{blob}?X-Amz-Signature=x", verify=tls(), timeout=10).status_code == 200
    # Without the ECR credential the registry itself refuses.
    assert httpx.get(f"https://{REGISTRY}{blob}", verify=tls(), timeout=10).status_code == 401


def test_retag_of_a_version_with_another_source_is_refused(first_build, moto, repository, scanner, tmp_path):
    state = json.loads((Path(first_build.dirs["state"]) / "image.json").read_text())
    src = copy_tree(tmp_path / "changed")
    (src / "README.md").write_text((src / "README.md").read_text() + "\nA change after the release.\n")
    extra = {"version": VERSION, "image_build_source_dir": str(src), "image_build_vcs_ref": state["revision"]}
    run = build(moto, repository, tmp_path, scanner, extra=extra)
    assert run.rc != 0
    assert f"refusing to overwrite {REGISTRY}/{repository}: tag {VERSION}-{state['revision']} exists" in run.stdout
    assert "-e allow_retag=true" in run.stdout
    assert run.recap["changed"] == 0
    for tag in state["tags"]:
        assert registry_digest(repository, tag) == state["digest"]
    # Told to, the plan goes ahead (check mode here: the decision, not another build).
    allowed = build(moto, repository, tmp_path, scanner, "--check",
                    extra=dict(extra, allow_retag=True))
    assert allowed.rc == 0, allowed.tail()
    assert "action: build (overwriting refused tag(s) (allow_retag))" in allowed.stdout


def test_moved_mutable_tag_is_put_back_without_rebuild(first_build, moto, repository, scanner, tmp_path):
    state = json.loads((Path(first_build.dirs["state"]) / "image.json").read_text())
    # A new environment tag for the same version and source: a manifest copy, no build, no push.
    run = build(moto, repository, tmp_path, scanner,
                extra={"version": VERSION, "image_build_env_tag": "staging-rehearsal",
                       "image_build_vcs_ref": state["revision"]})
    assert run.rc == 0, run.tail()
    assert "action: retag" in run.stdout and "staging-rehearsal" in run.stdout
    assert registry_digest(repository, "staging-rehearsal") == state["digest"]
    assert "tasks/build.yml" not in run.stdout and "tasks/push.yml" not in run.stdout
