# -*- coding: utf-8 -*-
"""Derive a new ECS task-definition revision from the current one, and compare
versions for the downgrade guard. Pure functions, no AWS calls.

derive_task_definition(current, image=..., value_from={...}) copies every
registerable field of `current` (describe-task-definition's `taskDefinition`),
drops the read-only ones, sets the image of the container NAMED
`container_name` (sidecars untouched, never by index) and, when given, replaces
the `valueFrom` of that container's secrets by name (adding the ones the
container lacks). It returns the register-task-definition kwargs and the list
of human-readable changes (empty: nothing to register).
"""
from __future__ import annotations

import copy
import re

# describe-task-definition fields register-task-definition refuses.
READ_ONLY_FIELDS = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
)


class DeriveError(Exception):
    pass


class VersionError(Exception):
    pass


def revision_of(arn):
    """'arn:...:task-definition/family:12' -> 'family:12'."""
    return (arn or "").rsplit("/", 1)[-1]


def container_named(taskdef, name):
    """The container definition called `name`: selected by name, never by index
    (an OpenTelemetry sidecar may sit beside the facilitator)."""
    matches = [c for c in taskdef.get("containerDefinitions") or [] if c.get("name") == name]
    if not matches:
        names = [c.get("name") for c in taskdef.get("containerDefinitions") or []]
        where = revision_of(taskdef.get("taskDefinitionArn")) or "the task definition"
        raise DeriveError(f"no container named {name!r} in {where} (containers: {names})")
    return matches[0]


# Tags this project puts on one revision about that revision (facilitator-ops:verified, :version): a new
# revision derived from it must not inherit them (it was never verified).
OWN_TAG_PREFIX = "facilitator-ops:"


def registerable(taskdef, tags=None):
    """describe-task-definition `taskDefinition` (+ tags, minus this project's own) -> register kwargs."""
    out = {k: copy.deepcopy(v) for k, v in taskdef.items() if k not in READ_ONLY_FIELDS and v not in (None, [], {})}
    kept = [copy.deepcopy(t) for t in tags or [] if not str(t.get("key", "")).startswith(OWN_TAG_PREFIX)]
    if kept:
        out["tags"] = kept
    return out


def comparable(kwargs):
    """What decides whether two revisions are the same (tags excluded: ECS does not
    version them). Lists of name/value pairs are order-insensitive."""
    out = copy.deepcopy({k: v for k, v in kwargs.items() if k != "tags"})
    for c in out.get("containerDefinitions") or []:
        for key in ("environment", "secrets"):
            if c.get(key):
                c[key] = sorted(c[key], key=lambda e: e.get("name", ""))
            elif key in c:
                del c[key]
    return out


def derive_task_definition(current, image=None, container_name="facilitator", value_from=None, tags=None):
    """Returns (register_kwargs, changes). changes: list of one-line strings."""
    if not current or "family" not in current:
        raise DeriveError("current task definition is empty or has no family")
    new = registerable(current, tags)
    cdef = container_named(new, container_name)
    changes = []
    if image and cdef.get("image") != image:
        changes.append(f"container {container_name}: image {cdef.get('image')} -> {image}")
        cdef["image"] = image
    if value_from:
        secrets = cdef.setdefault("secrets", [])
        by_name = {s.get("name"): s for s in secrets}
        for env_name in sorted(value_from):
            arn = value_from[env_name]
            if not arn:
                continue
            if env_name in by_name:
                if by_name[env_name].get("valueFrom") != arn:
                    changes.append(f"container {container_name}: secret {env_name} valueFrom "
                                   f"{by_name[env_name].get('valueFrom')} -> {arn}")
                    by_name[env_name]["valueFrom"] = arn
            else:
                changes.append(f"container {container_name}: secret {env_name} added, valueFrom {arn}")
                secrets.append({"name": env_name, "valueFrom": arn})
    return new, changes


def same_definition(a_kwargs, b_kwargs):
    return comparable(a_kwargs) == comparable(b_kwargs)


def container_image(taskdef, container_name="facilitator"):
    return container_named(taskdef, container_name).get("image")


def taskdef_summary(taskdef, container_name, missing_ok=False):
    """What the ECS modules report of a task definition: arn, revision, family:revision, and the image and version
    of the container `container_name`. Without that container: DeriveError, or with `missing_ok` (reporting on a
    revision someone else registered) image and version None."""
    try:
        image = container_image(taskdef, container_name)
    except DeriveError:
        if not missing_ok:
            raise
        image = None
    return dict(arn=taskdef.get("taskDefinitionArn"), revision=taskdef.get("revision"),
                family_revision=f"{taskdef.get('family')}:{taskdef.get('revision')}", image=image,
                version=version_from_image(image))


# ---------------------------------------------------------------- versions

_VERSION = re.compile(r"^[vV]?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_SHORTSHA = re.compile(r"^[0-9a-f]{7,40}$")


def parse_version(text):
    """'v1.68.0' -> (1, 68, 0, prerelease-or-None). Raises VersionError."""
    if text is None:
        raise VersionError("no version")
    m = _VERSION.match(str(text).strip())
    if not m:
        raise VersionError(f"{text!r} is not a version (x.y.z)")
    pre = m.group(4)
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), pre


def normalize_version(text):
    major, minor, patch, pre = parse_version(text)
    return f"{major}.{minor}.{patch}" + (f"-{pre}" if pre else "")


def _pre_key(pre):
    # semver: a release sorts after its pre-releases; identifiers compare numerically when numeric.
    if pre is None:
        return (1,)
    parts = []
    for p in pre.split("."):
        parts.append((0, int(p), "") if p.isdigit() else (1, 0, p))
    return (0, tuple(parts))


def compare_versions(a, b):
    """-1 if a < b, 0 if equal, 1 if a > b (leading v ignored, semver pre-release order)."""
    pa, pb = parse_version(a), parse_version(b)
    ka = (pa[:3], _pre_key(pa[3]))
    kb = (pb[:3], _pre_key(pb[3]))
    return (ka > kb) - (ka < kb)


def version_from_image(image):
    """The version an image reference names by its tag: `repo:1.2.3`, `repo:v1.2.3`,
    ECR's `repo:1.2.3-<shortsha>`. None for a digest-only reference, `latest`, `dev`."""
    if not image:
        return None
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    tag = last.split(":", 1)[1]
    head, sep, tail = tag.rpartition("-")
    if sep and _SHORTSHA.match(tail):
        try:
            return normalize_version(head)
        except VersionError:
            pass
    try:
        return normalize_version(tag)
    except VersionError:
        return None


def downgrade_check(running, new, allow_downgrade=False):
    """Returns (ok, message). `running` may be None/'dev' (unknown: allowed with a note);
    `new` must be a version."""
    try:
        new_n = normalize_version(new)
    except VersionError as e:
        return False, f"the new version is unusable: {e}"
    try:
        run_n = normalize_version(running)
    except VersionError:
        return True, f"running version unknown ({running!r}): no downgrade check possible, deploying {new_n}"
    cmp = compare_versions(new_n, run_n)
    if cmp < 0:
        if allow_downgrade:
            return True, f"DOWNGRADE {run_n} -> {new_n} allowed by allow_downgrade=true"
        return False, (f"refusing to downgrade {run_n} -> {new_n} (a stale tag rolled production back once); "
                       f"re-run with -e allow_downgrade=true if this is intended")
    if cmp == 0:
        return True, f"same version {new_n} as running"
    return True, f"upgrade {run_n} -> {new_n}"
