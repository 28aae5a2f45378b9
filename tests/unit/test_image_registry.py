"""Registry decisions (build / reuse / refuse a retag), digest comparison, the
registry client against a fake HTTP opener, and the scan-findings gate."""
from __future__ import annotations

import hashlib
import io
import json
import urllib.error

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


def test_local_digest_for_picks_this_registry():
    digests = ["other:5000/facilitator@" + D2, "127.0.0.1:5001/facilitator@" + D1]
    assert r.local_digest_for(digests, "127.0.0.1:5001", "facilitator") == D1
    assert r.local_digest_for(digests, "127.0.0.1:5001", "facilitator-x") is None


def test_compare_digests():
    ok, lines = r.compare_digests(D1, {"1.2.3": D1, "latest": D1})
    assert ok and all(x.startswith("OK") for x in lines)
    ok, lines = r.compare_digests(D1, {"1.2.3": D1, "latest": D2})
    assert not ok and any(x.startswith("FAIL latest") for x in lines)
    ok, lines = r.compare_digests(D1, {"1.2.3": None})
    assert not ok and "not in the registry" in lines[0]
    ok, _ = r.compare_digests(None, {"1.2.3": D1})
    assert not ok


class FakeResponse:
    def __init__(self, status, headers, body):
        self.status, self.headers, self._body = status, headers, body

    def read(self):
        return self._body


class FakeRegistry:
    """Enough of the registry v2 API for tag_state / put_manifest."""

    def __init__(self):
        self.config = json.dumps({"config": {"Labels": {r.LABEL_VERSION: "1.2.3", r.LABEL_SOURCE_DIGEST: SRC}}}).encode()
        self.config_digest = "sha256:" + hashlib.sha256(self.config).hexdigest()
        self.manifest = json.dumps({"schemaVersion": 2, "mediaType": r.MANIFEST_TYPES[0],
                                    "config": {"digest": self.config_digest}}).encode()
        self.digest = "sha256:" + hashlib.sha256(self.manifest).hexdigest()
        self.tags = {"1.2.3": self.manifest}
        self.requests = []

    def __call__(self, req, timeout=None):
        self.requests.append((req.get_method(), req.full_url, dict(req.header_items())))
        path = req.full_url.split("://", 1)[1].split("/", 1)[1]
        if req.get_method() == "PUT":
            self.tags[path.rsplit("/", 1)[1]] = req.data
            return FakeResponse(201, {"Docker-Content-Digest": self.digest}, b"")
        if "/manifests/" in path:
            ref = path.rsplit("/", 1)[1]
            body = self.manifest if ref == self.digest else self.tags.get(ref)
            if body is None:
                raise urllib.error.HTTPError(req.full_url, 404, "not found", {}, io.BytesIO(b"{}"))
            return FakeResponse(200, {"Docker-Content-Digest": self.digest,
                                      "Content-Type": r.MANIFEST_TYPES[0]}, body)
        if path.endswith(self.config_digest):
            return FakeResponse(200, {}, self.config)
        raise urllib.error.HTTPError(req.full_url, 404, "not found", {}, io.BytesIO(b"{}"))


def test_client_tag_state_and_copy():
    fake = FakeRegistry()
    client = r.RegistryClient("http://127.0.0.1:5001", authorization="Basic QVdTOnNlY3JldA==", opener=fake)
    st = client.tag_state("facilitator", "1.2.3")
    assert st["digest"] == fake.digest and st["labels"][r.LABEL_SOURCE_DIGEST] == SRC
    assert client.tag_state("facilitator", "latest") is None
    client.put_manifest("facilitator", "latest", r.MANIFEST_TYPES[0], fake.manifest)
    assert client.tag_state("facilitator", "latest")["digest"] == fake.digest
    accept = fake.requests[0][2]["Accept"]
    assert r.MANIFEST_TYPES[0] in accept and r.MANIFEST_TYPES[1] in accept
    assert all(h[2].get("Authorization") == "Basic QVdTOnNlY3JldA==" for h in fake.requests)


def test_client_errors_never_carry_the_authorization():
    def refuse(req, timeout=None):
        raise urllib.error.HTTPError(req.full_url, 401, "unauthorized", {}, io.BytesIO(b""))

    client = r.RegistryClient("https://r.example", authorization="Basic c2VjcmV0LXRva2VuLXZhbHVl", opener=refuse)
    with pytest.raises(r.RegistryError) as e:
        client.get_manifest("facilitator", "1.2.3")
    assert "c2VjcmV0" not in str(e.value) and "not authorized" in str(e.value)


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
