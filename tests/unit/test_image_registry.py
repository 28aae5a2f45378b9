"""Registry decisions (build / reuse / refuse a retag), digest comparison, the
registry client against a fake HTTP opener, and the scan-findings gate."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest

from ansible.module_utils.facilitator_ops.image import registry as r

SRC = "a" * 64
OTHER = "b" * 64
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
PROT = ["1.2.3-abc1234", "1.2.3"]
MUT = ["latest", "production"]


def state(digest, version="1.2.3", source=SRC):
    return {"digest": digest, "media_type": r.MANIFEST_TYPES[0],
            "labels": {r.LABEL_VERSION: version, r.LABEL_SOURCE_DIGEST: source}}


def test_nothing_in_registry_builds():
    plan = r.plan_push("1.2.3", SRC, PROT, MUT, {t: None for t in PROT + MUT})
    assert plan["action"] == "build" and plan["tags_to_move"] == PROT + MUT


def test_same_version_and_source_changes_nothing():
    remote = {t: state(D1) for t in PROT + MUT}
    plan = r.plan_push("1.2.3", SRC, PROT, MUT, remote)
    assert plan["action"] == "none" and plan["digest"] == D1 and plan["tags_to_move"] == []


def test_same_source_moves_only_missing_or_stale_tags():
    remote = {PROT[0]: state(D1), PROT[1]: state(D1), "latest": state(D2, "1.0.0", OTHER), "production": None}
    plan = r.plan_push("1.2.3", SRC, PROT, MUT, remote)
    assert plan["action"] == "retag" and plan["tags_to_move"] == ["latest", "production"]


def test_version_tag_with_other_source_is_refused():
    remote = {PROT[0]: None, PROT[1]: state(D2, source=OTHER), "latest": None, "production": None}
    plan = r.plan_push("1.2.3", SRC, PROT, MUT, remote)
    assert plan["action"] == "refuse"
    assert "tag 1.2.3 exists with digest " + D2[:19] in plan["reason"]


def test_refused_retag_allowed_rebuilds():
    remote = {PROT[0]: None, PROT[1]: state(D2, source=OTHER), "latest": None, "production": None}
    plan = r.plan_push("1.2.3", SRC, PROT, MUT, remote, allow_retag=True)
    assert plan["action"] == "build" and plan["refused"]


def test_unlabelled_foreign_image_is_refused():
    remote = {PROT[0]: None, PROT[1]: {"digest": D2, "labels": {}}, "latest": None, "production": None}
    assert r.plan_push("1.2.3", SRC, PROT, MUT, remote)["action"] == "refuse"


def test_mutable_tags_never_refuse():
    remote = {PROT[0]: None, PROT[1]: None, "latest": state(D2, "9.9.9", OTHER), "production": None}
    assert r.plan_push("1.2.3", SRC, PROT, MUT, remote)["action"] == "build"


def test_local_image_of_same_source_is_pushed_not_rebuilt():
    remote = {t: None for t in PROT + MUT}
    local = {"labels": {r.LABEL_VERSION: "1.2.3", r.LABEL_SOURCE_DIGEST: SRC}}
    assert r.plan_push("1.2.3", SRC, PROT, MUT, remote, local=local)["action"] == "push"
    local["labels"][r.LABEL_SOURCE_DIGEST] = OTHER
    assert r.plan_push("1.2.3", SRC, PROT, MUT, remote, local=local)["action"] == "build"


def test_compare_digests():
    ok, lines = r.compare_digests(D1, {"1.2.3": {"digest": D1}, "latest": {"digest": D1}})
    assert ok and all(x.startswith("OK") for x in lines)
    ok, lines = r.compare_digests(D1, {"1.2.3": {"digest": D1}, "latest": {"digest": D2}})
    assert not ok and any(x.startswith("FAIL latest") for x in lines)
    ok, lines = r.compare_digests(D1, {"1.2.3": None})
    assert not ok and "not in the registry" in lines[0]
    ok, _ = r.compare_digests(None, {"1.2.3": {"digest": D1}})
    assert not ok
    ok, lines = r.compare_digests(D1, {"1.2.3": {"digest": D1, "config_digest": D2}}, image_id=D1)
    assert not ok and "!= local image" in lines[0]


class FakeSkopeo:
    """Records each skopeo call with the auth file's content (read from the passed
    descriptor, as skopeo would) and answers like a registry holding one image."""

    def __init__(self, missing=(), fail=None):
        self.calls = []
        self.config = json.dumps({"config": {"Labels": {r.LABEL_VERSION: "1.2.3", r.LABEL_SOURCE_DIGEST: SRC}}})
        self.config_digest = "sha256:" + hashlib.sha256(self.config.encode()).hexdigest()
        self.manifest = json.dumps({"schemaVersion": 2, "mediaType": r.MANIFEST_TYPES[0],
                                    "config": {"digest": self.config_digest}})
        self.digest = "sha256:" + hashlib.sha256(self.manifest.encode()).hexdigest()
        self.missing, self.fail = set(missing), fail

    def __call__(self, argv, pass_fds=(), **kw):
        import os
        import subprocess

        files = {}
        for i, a in enumerate(argv):
            if a.startswith("/dev/fd/") and argv[i - 1] in ("--authfile", "--src-authfile", "--dest-authfile"):
                fd = int(a.rsplit("/", 1)[1])
                assert fd in pass_fds
                files[argv[i - 1]] = open(f"/proc/self/fd/{fd}").read()
            if argv[i - 1] in ("--cert-dir", "--src-cert-dir", "--dest-cert-dir"):
                files[argv[i - 1]] = sorted(os.listdir(a))
            if argv[i - 1] == "--digestfile":
                with open(f"/proc/self/fd/{int(a.rsplit('/', 1)[1])}", "w") as f:
                    f.write(self.digest)
        self.calls.append((argv, files, kw.get("env")))
        ref = argv[-1]
        if self.fail:
            return subprocess.CompletedProcess(argv, 1, "", f'time="x" level=fatal msg="{self.fail}"')
        if argv[1] == "inspect" and any(ref.endswith(":" + t) for t in self.missing):
            return subprocess.CompletedProcess(
                argv, 1, "", 'time="x" level=fatal msg="Error parsing image name: reading manifest x: manifest unknown"')
        if argv[1] == "inspect":
            return subprocess.CompletedProcess(argv, 0, self.config if "--config" in argv else self.manifest, "")
        return subprocess.CompletedProcess(argv, 0, "", "")


def test_skopeo_tag_state_labels_and_missing_tag(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    fake = FakeSkopeo(missing={"latest"})
    sk = r.Skopeo("127.0.0.1:5001", credential=("AWS", "s3cr3t-token-value"), ca_bundle=str(ca), runner=fake)
    st = sk.tag_state("facilitator", "1.2.3")
    assert st["digest"] == fake.digest and st["config_digest"] == fake.config_digest
    assert st["labels"][r.LABEL_SOURCE_DIGEST] == SRC
    assert sk.tag_state("facilitator", "latest") is None
    for argv, files, env in fake.calls:
        # the credential reaches skopeo through a descriptor, for this registry only; never in argv or env
        assert not any("s3cr3t" in a for a in argv) and not any("s3cr3t" in v for v in env.values())
        auths = json.loads(files["--authfile"])["auths"]
        assert list(auths) == ["127.0.0.1:5001"]
        assert base64.b64decode(auths["127.0.0.1:5001"]["auth"]).decode() == "AWS:s3cr3t-token-value"
        assert files["--cert-dir"] == ["ca.crt"]
        assert "--tls-verify=false" not in argv


def test_skopeo_push_copy_and_errors_never_carry_the_credential():
    fake = FakeSkopeo()
    sk = r.Skopeo("r.example", credential=("AWS", "s3cr3t-token-value"), runner=fake, daemon_host="unix:///x.sock")
    assert sk.push_from_daemon("r.example/facilitator:1.2.3-abc", "facilitator", "1.2.3-abc") == fake.digest
    argv, files, env = fake.calls[-1]
    assert argv[:2] == ["skopeo", "copy"] and "--src-daemon-host" in argv and env["DOCKER_HOST"] == "unix:///x.sock"
    assert argv[-2:] == ["docker-daemon:r.example/facilitator:1.2.3-abc", "docker://r.example/facilitator:1.2.3-abc"]
    assert json.loads(files["--dest-authfile"]) == json.loads(files["--src-authfile"])
    sk.copy_tag("facilitator", fake.digest, "latest")
    assert fake.calls[-1][0][-2:] == [f"docker://r.example/facilitator@{fake.digest}", "docker://r.example/facilitator:latest"]
    assert "--preserve-digests" in fake.calls[-1][0]
    failing = r.Skopeo("r.example", credential=("AWS", "s3cr3t-token-value"),
                       runner=FakeSkopeo(fail="authentication required"))
    with pytest.raises(r.RegistryError, match="authentication required") as err:
        failing.manifest("facilitator", "1.2.3")
    assert "s3cr3t" not in str(err.value)


def test_skopeo_without_credential_passes_no_auth_file():
    fake = FakeSkopeo()
    r.Skopeo("r.example", runner=fake).manifest("facilitator", "1.2.3")
    argv, files, _ = fake.calls[0]
    assert "--authfile" not in argv and not files


def test_scan_gate_thresholds():
    ok, lines = r.evaluate_findings({"CRITICAL": 0, "HIGH": 2, "LOW": 7}, {"CRITICAL": 0, "HIGH": 3})
    assert ok and "OK   LOW: 7" in lines
    ok, lines = r.evaluate_findings({"CRITICAL": 1}, {"CRITICAL": 0})
    assert not ok and lines[0] == "FAIL CRITICAL: 1 finding(s) > 0 allowed"
    assert r.evaluate_findings({}, {"critical": 0})[0]


def test_tag_summary():
    assert r.tag_summary(None) is None
    assert r.tag_summary(state("sha256:" + "a" * 64)) == {"digest": "sha256:" + "a" * 64, "version": "1.2.3",
                                                           "source_digest": SRC}
    assert r.tag_summary({"digest": "sha256:b", "labels": None}) == {"digest": "sha256:b", "version": None,
                                                                     "source_digest": None}
