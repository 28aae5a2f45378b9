# -*- coding: utf-8 -*-
# GPL-3.0-or-later
"""The image registry through skopeo (Docker Registry v2 / OCI distribution, which
ECR speaks too): what a tag points to, the image's labels, pushing a local engine
image, pointing a tag at a digest; and the decisions of an image build: build or
not, which tags to move, refusal to overwrite a version tag, digest verification
after a push. No hand-written HTTP: skopeo handles auth challenges and ECR's 307
blob redirects to S3 (never forwarding the credential) and verifies TLS.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

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


def authfile_json(registry, username, password):
    """containers-auth.json granting `username:password` to `registry` only."""
    import base64

    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {registry: {"auth": auth}}})


class Skopeo:
    """The registry through skopeo (containers/image): registry v2 / OCI distribution as ECR
    serves it, auth challenges, and blob GETs answered with a 307 to another host (ECR -> S3),
    which it follows without sending the credential on.

    The credential for `registry` (and only for that host) reaches skopeo as an auth file
    in an anonymous memory file (memfd) passed as an open descriptor: never on a command
    line, in the environment or on disk. `ca_bundle` adds a CA to the system trust
    (a --cert-dir holding a copy of it); TLS is always verified.
    """

    def __init__(self, registry, credential=None, ca_bundle=None, timeout=600, binary="skopeo",
                 daemon_host=None, runner=subprocess.run):
        self.registry = registry
        self._credential = credential  # (username, password) or None; never returned or logged
        self.ca_bundle = ca_bundle or None
        self.timeout = timeout
        self.binary = binary
        self.daemon_host = daemon_host
        self._run_proc = runner

    def __repr__(self):
        return f"Skopeo(registry={self.registry!r}, credential={'yes' if self._credential else 'none'})"

    def ref(self, repository, reference):
        sep = "@" if reference.startswith("sha256:") else ":"
        return f"docker://{self.registry}/{repository}{sep}{reference}"

    def _run(self, args, what, write_digest=False):
        """Run skopeo with the auth file / cert dir options; -> (stdout, digest or None).
        Raises RegistryError naming `what` (never a credential) on failure."""
        fds, opts = [], []
        certdir = None
        try:
            if self._credential:
                fd = os.memfd_create("registry-auth", 0)
                os.write(fd, authfile_json(self.registry, *self._credential).encode())
                fds.append(fd)
                opts += ["--authfile", f"/dev/fd/{fd}"]
            digest_fd = None
            if write_digest:
                digest_fd = os.memfd_create("digest", 0)
                fds.append(digest_fd)
            if self.ca_bundle:
                if not os.path.isfile(self.ca_bundle):
                    raise RegistryError(f"CA bundle {self.ca_bundle} does not exist")
                certdir = tempfile.mkdtemp(prefix="fo-certs-")
                shutil.copyfile(self.ca_bundle, os.path.join(certdir, "ca.crt"))
            argv = [self.binary] + _with_certs(_with_auth(args, opts), certdir)
            if digest_fd is not None:
                argv = argv[:2] + ["--digestfile", f"/dev/fd/{digest_fd}"] + argv[2:]
            try:
                proc = self._run_proc(argv, pass_fds=tuple(fds), capture_output=True, text=True,
                                      timeout=self.timeout, stdin=subprocess.DEVNULL,
                                      env=_clean_env(self.daemon_host))
            except FileNotFoundError:
                raise RegistryError(f"{self.binary} is not installed (Debian package skopeo; ./bootstrap.sh)") from None
            except subprocess.TimeoutExpired:
                raise RegistryError(f"{what}: skopeo did not finish within {self.timeout}s") from None
            if proc.returncode != 0:
                raise RegistryError(f"{what}: {_reason(proc.stderr)}")
            digest = None
            if digest_fd is not None:
                os.lseek(digest_fd, 0, os.SEEK_SET)
                digest = os.read(digest_fd, 200).decode().strip() or None
            return proc.stdout, digest
        finally:
            for fd in fds:
                os.close(fd)
            if certdir:
                shutil.rmtree(certdir, ignore_errors=True)

    def manifest(self, repository, reference):
        """-> (digest, media type, raw manifest dict) or None when the tag/digest does not exist."""
        import hashlib

        try:
            raw, _ = self._run(["inspect", "--raw", "--no-tags", self.ref(repository, reference)],
                               f"read {repository}:{reference} from {self.registry}")
        except RegistryError as e:
            if _not_found(str(e)):
                return None
            raise
        doc = json.loads(raw)
        digest = "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
        return digest, doc.get("mediaType", ""), doc

    def tag_state(self, repository, tag):
        """{'digest', 'media_type', 'config_digest', 'labels'} for an existing tag, else None.
        The labels come from the image config, a blob (a 307 to the blob host on ECR)."""
        got = self.manifest(repository, tag)
        if got is None:
            return None
        digest, media_type, doc = got
        labels, config_digest = {}, (doc.get("config") or {}).get("digest")
        if config_digest:
            raw, _ = self._run(["inspect", "--config", "--raw", self.ref(repository, digest)],
                               f"read the image config of {repository}@{digest[:19]}")
            labels = (json.loads(raw).get("config") or {}).get("Labels") or {}
        return {"digest": digest, "media_type": media_type, "config_digest": config_digest, "labels": labels}

    def push_from_daemon(self, image, repository, tag):
        """Copy a local Docker engine image to repository:tag; -> the pushed manifest digest."""
        args = ["copy", "--retry-times", "2"]
        if self.daemon_host:
            args += ["--src-daemon-host", self.daemon_host]
        _, digest = self._run(args + [f"docker-daemon:{image}", self.ref(repository, tag)],
                              f"push {image} to {self.registry}/{repository}:{tag}", write_digest=True)
        if not digest:
            raise RegistryError(f"push {image}: skopeo reported no digest")
        return digest

    def copy_tag(self, repository, digest, tag):
        """Point `tag` at the manifest `digest` (same registry: blobs are already there)."""
        self._run(["copy", "--retry-times", "2", "--preserve-digests", self.ref(repository, digest),
                   self.ref(repository, tag)], f"tag {repository}@{digest[:19]} as {tag}")


def _with_auth(args, opts):
    """Auth options go after the subcommand; copy takes --src-/--dest-authfile."""
    if not opts:
        return args
    if args[0] == "copy":
        path = opts[1]
        return [args[0], "--src-authfile", path, "--dest-authfile", path] + args[1:]
    return [args[0]] + opts + args[1:]


def _with_certs(args, certdir):
    if not certdir:
        return args
    if args[0] == "copy":
        return [args[0], "--src-cert-dir", certdir, "--dest-cert-dir", certdir] + args[1:]
    return [args[0], "--cert-dir", certdir] + args[1:]


def _clean_env(daemon_host):
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "XDG_RUNTIME_DIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY")
    env = {k: v for k, v in os.environ.items() if k in keep}
    # containers/image would read these as credentials or registries config: never ours to pass on
    if daemon_host:
        env["DOCKER_HOST"] = daemon_host
    return env


def _reason(stderr):
    """skopeo's last error line, without the log prefix (it never contains the auth file's content)."""
    lines = [x for x in (stderr or "").strip().splitlines() if x.strip()]
    last = lines[-1] if lines else "failed"
    if 'msg="' in last:
        last = last.split('msg="', 1)[1].rsplit('"', 1)[0]
    return last.replace("\\n", " ").replace("\\t", " ")[:400]


def _not_found(text):
    t = text.lower()
    return "manifest unknown" in t or ("not found" in t and "manifest" in t)


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
    Skopeo.tag_state. local: state-like dict of the local image
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


def compare_digests(expected, remote, image_id=None):
    """remote: {tag: state|None} (Skopeo.tag_state). Every tag must point at the
    manifest `expected`, whose image config must be the local image `image_id`
    (when given). -> (ok, lines)."""
    lines = []
    ok = bool(expected)
    if not expected:
        lines.append("FAIL no pushed digest to compare with")
    for tag, st in sorted(remote.items()):
        digest = (st or {}).get("digest")
        if st is None:
            ok = False
            lines.append(f"FAIL {tag}: not in the registry")
        elif expected and digest != expected:
            ok = False
            lines.append(f"FAIL {tag}: registry {digest} != pushed {expected}")
        elif image_id and st.get("config_digest") != image_id:
            ok = False
            lines.append(f"FAIL {tag}: image config {st.get('config_digest')} != local image {image_id}")
        else:
            lines.append(f"OK   {tag}: {digest}" + (" (config = local image)" if image_id else ""))
    return ok, lines


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
