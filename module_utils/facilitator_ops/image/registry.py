# -*- coding: utf-8 -*-
# GPL-3.0-or-later
"""Registry HTTP API (Docker Registry v2 / OCI distribution, which ECR speaks
too): what a tag points to, the image's labels, copying a manifest to another
tag; and the decisions of an image build: build or not, which tags to move,
refusal to overwrite a version tag, digest verification after a push.
"""
from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
LABEL_VERSION = "org.opencontainers.image.version"
LABEL_SOURCE_DIGEST = "xyz.ultravioletadao.facilitator-ops.source-digest"


class RegistryError(RuntimeError):
    pass


class RegistryClient:
    """Minimal registry v2 client. `authorization` is a full header value
    (e.g. "Basic ..."), kept private; errors never include it."""

    def __init__(self, base_url, authorization=None, timeout=30.0, opener=None):
        self.base_url = base_url.rstrip("/")
        self._authorization = authorization
        self.timeout = timeout
        self._open = opener or urllib.request.urlopen

    def _request(self, method, path, headers=None, data=None):
        req = urllib.request.Request(self.base_url + path, method=method, data=data)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        if self._authorization:
            req.add_header("Authorization", self._authorization)
        try:
            resp = self._open(req, timeout=self.timeout)
            return resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers.items()) if e.headers else {}, e.read() or b""
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise RegistryError(f"registry {self.base_url} unreachable: {reason}") from None

    def ping(self):
        status, headers, _ = self._request("GET", "/v2/")
        return status, headers.get("WWW-Authenticate") or headers.get("Www-Authenticate") or ""

    def get_manifest(self, repository, reference):
        """-> (digest, media type, raw bytes) or None when the tag/digest does not exist."""
        status, headers, body = self._request(
            "GET", f"/v2/{repository}/manifests/{reference}", headers={"Accept": ", ".join(MANIFEST_TYPES)})
        if status == 404:
            return None
        if status == 401:
            raise RegistryError(f"registry {self.base_url}: not authorized to read {repository}")
        if status != 200:
            raise RegistryError(f"registry {self.base_url}: GET manifest {repository}:{reference} -> HTTP {status}")
        h = {k.lower(): v for k, v in headers.items()}
        digest = h.get("docker-content-digest") or "sha256:" + hashlib.sha256(body).hexdigest()
        return digest, h.get("content-type", "").split(";")[0], body

    def get_blob_json(self, repository, digest):
        status, _, body = self._request("GET", f"/v2/{repository}/blobs/{digest}")
        if status != 200:
            raise RegistryError(f"registry {self.base_url}: GET blob {repository}@{digest[:19]} -> HTTP {status}")
        return json.loads(body)

    def put_manifest(self, repository, tag, media_type, body):
        status, headers, resp = self._request(
            "PUT", f"/v2/{repository}/manifests/{tag}", headers={"Content-Type": media_type}, data=body)
        if status not in (200, 201):
            raise RegistryError(
                f"registry {self.base_url}: PUT manifest {repository}:{tag} -> HTTP {status} {resp[:200]!r}")
        h = {k.lower(): v for k, v in headers.items()}
        return h.get("docker-content-digest", "")

    def tag_state(self, repository, tag):
        """{'digest', 'labels', 'media_type'} for an existing tag, else None."""
        got = self.get_manifest(repository, tag)
        if got is None:
            return None
        digest, media_type, body = got
        labels = {}
        try:
            manifest = json.loads(body)
        except ValueError:
            manifest = {}
        config = manifest.get("config") or {}
        if config.get("digest"):
            cfg = self.get_blob_json(repository, config["digest"])
            labels = (cfg.get("config") or {}).get("Labels") or {}
        return {"digest": digest, "media_type": media_type, "labels": labels}


def same_source(state, version, source_digest):
    labels = (state or {}).get("labels") or {}
    return labels.get(LABEL_VERSION) == version and labels.get(LABEL_SOURCE_DIGEST) == source_digest


def tag_summary(state):
    """What image_registry reports of a tag: its digest and version / source-digest labels (None: no such tag)."""
    if state is None:
        return None
    labels = state.get("labels") or {}
    return {"digest": state["digest"], "version": labels.get(LABEL_VERSION),
            "source_digest": labels.get(LABEL_SOURCE_DIGEST)}


def plan_push(version, source_digest, protected_tags, mutable_tags, remote, local=None, allow_retag=False):
    """Decide what a run does.

    remote: {tag: state|None} for every tag (protected + mutable), state as
    RegistryClient.tag_state. local: state-like dict of the local image
    (digest unused, labels used) or None.

    Returns {'action': 'none'|'retag'|'push'|'build', 'digest', 'tags_to_move',
    'refused' (list of lines), 'reason'}.
    - An existing protected tag (version, version-sha) built from the same
      version and source is reused: no build, no push.
    - An existing protected tag pointing to anything else is refused unless
      allow_retag (the build then overwrites it).
    """
    refused = []
    reuse = None
    for tag in protected_tags:
        state = remote.get(tag)
        if state is None:
            continue
        if same_source(state, version, source_digest):
            if reuse is None:
                reuse = state["digest"]
            elif reuse != state["digest"]:
                refused.append(f"tag {tag} is {state['digest'][:19]}, another protected tag is {reuse[:19]}")
        else:
            labels = state.get("labels") or {}
            refused.append(
                f"tag {tag} exists with digest {state['digest'][:19]} "
                f"(version {labels.get(LABEL_VERSION, '?')}, source {str(labels.get(LABEL_SOURCE_DIGEST, '?'))[:12]}), "
                f"this source is {source_digest[:12]}")
    if refused and not allow_retag:
        return {"action": "refuse", "digest": reuse, "tags_to_move": [], "refused": refused,
                "reason": "; ".join(refused)}
    if refused:  # allowed: rebuild and overwrite
        reuse = None
    if reuse:
        move = [t for t in list(protected_tags) + list(mutable_tags)
                if (remote.get(t) or {}).get("digest") != reuse]
        return {"action": "retag" if move else "none", "digest": reuse, "tags_to_move": move, "refused": refused,
                "reason": ("registry already holds this version and source"
                           + (f"; tags to point at it: {', '.join(move)}" if move else ""))}
    tags = list(protected_tags) + list(mutable_tags)
    if local and same_source(local, version, source_digest):
        return {"action": "push", "digest": None, "tags_to_move": tags, "refused": refused,
                "reason": "the local engine already holds this version and source: push without rebuilding"}
    return {"action": "build", "digest": None, "tags_to_move": tags, "refused": refused,
            "reason": ("overwriting refused tag(s) (allow_retag)" if refused else "no image of this version and source")}


def local_digest_for(repo_digests, registry, repository):
    """The digest of `registry/repository@sha256:...` among docker's RepoDigests, or None."""
    want = f"{registry}/{repository}@"
    for ref in repo_digests or []:
        if ref.startswith(want):
            return ref[len(want):]
    return None


def compare_digests(local_digest, remote):
    """remote: {tag: digest|None}. -> (ok, lines)."""
    lines = []
    ok = bool(local_digest)
    if not local_digest:
        lines.append("FAIL local image has no RepoDigest for this registry (was it pushed?)")
    for tag, digest in sorted(remote.items()):
        if digest is None:
            ok = False
            lines.append(f"FAIL {tag}: not in the registry")
        elif local_digest and digest != local_digest:
            ok = False
            lines.append(f"FAIL {tag}: registry {digest} != local {local_digest}")
        else:
            lines.append(f"OK   {tag}: {digest}")
    return ok, lines


def registry_base_url(registry, scheme="https"):
    return f"{scheme}://{registry}"


SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")


def evaluate_findings(counts, thresholds):
    """counts: {severity: n} (ECR findingSeverityCounts); thresholds: {severity: max allowed}.
    -> (ok, lines). A severity without a threshold is reported, never gated."""
    counts = {str(k).upper(): int(v) for k, v in (counts or {}).items()}
    limits = {str(k).upper(): int(v) for k, v in (thresholds or {}).items()}
    ok = True
    lines = []
    for sev in SEVERITIES:
        n = counts.get(sev, 0)
        if sev in limits and n > limits[sev]:
            ok = False
            lines.append(f"FAIL {sev}: {n} finding(s) > {limits[sev]} allowed")
        elif sev in limits or n:
            lines.append(f"OK   {sev}: {n}" + (f" (<= {limits[sev]})" if sev in limits else ""))
    return ok, lines
