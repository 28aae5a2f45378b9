# -*- coding: utf-8 -*-
# GPL-3.0-or-later
"""Filters of the ecs_deploy role: the operator's input, the image and version a
deploy resolves to, the plan and rollout lines. Pure functions of their
arguments (unit-tested in tests/unit/test_filters_ecs_deploy.py).
"""
from __future__ import annotations

import json
import re

# X.Y.Z[-pre], a leading v allowed (stripped before comparing): the role passes
# ecs_deploy_version_pattern (its default is this one).
VERSION_PATTERN = r"^[vV]?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$"
# <registry>/<repo>[:tag][@sha256:digest]
IMAGE_RE = re.compile(r"^[a-z0-9][A-Za-z0-9._/:-]*(@sha256:[0-9a-f]{64})?$")
REVISION_RE = re.compile(r"^[0-9]+$")
TRUE = ("true", "yes", "1", "on", "y", "t")


def _s(value):
    return "" if value is None else str(value).strip()


def _b(value):
    return value if isinstance(value, bool) else _s(value).lower() in TRUE


def _strip_v(version):
    return re.sub(r"^[vV]", "", _s(version))


def ecs_deploy_input(image, version="", rollback=False, to_revision="", timeout=900, interval=15,
                     version_pattern=VERSION_PATTERN):
    """The operator's input (-e image/version/rollback/to_revision), normalised and
    checked (types are the argument spec's). Returns rollback (bool), image,
    version, to_revision (trimmed strings) and error: "" or one line."""
    out = dict(rollback=_b(rollback), image=_s(image), version=_s(version), to_revision=_s(to_revision), error="")
    img, ver, rev = out["image"], out["version"], out["to_revision"]
    version_re = re.compile(version_pattern)
    if not out["rollback"] and not img and not ver:
        out["error"] = "deploy: give the image: -e image=<registry>/facilitator:<version> (or a digest ref) or -e version=X.Y.Z"
    elif out["rollback"] and (img or ver):
        out["error"] = "rollback: takes no image/version (it goes back to the previous revision; -e to_revision=N to choose)"
    elif ver and not version_re.match(ver):
        out["error"] = f"deploy: invalid version {json.dumps(ver)}: expected X.Y.Z[-pre] (a leading v is allowed)"
    elif img and not version_re.match(img) and (
            not IMAGE_RE.match(img) or (":" not in img.split("/")[-1] and "@" not in img)):
        out["error"] = (f"deploy: invalid image {json.dumps(img)}: expected <registry>/<repo>:<tag>, "
                        "<registry>/<repo>@sha256:<digest> or a version X.Y.Z")
    elif rev and not REVISION_RE.match(rev):
        out["error"] = f"deploy: invalid to_revision {json.dumps(rev)}: expected a revision number"
    elif int(timeout) <= 0 or int(interval) <= 0:
        out["error"] = "deploy: ecs_deploy_timeout and ecs_deploy_interval must be positive"
    return out


def ecs_deploy_target(deploy_input, image_state=None, registry="", repository="facilitator", image_state_file="",
                      environment="this environment", version_pattern=VERSION_PATTERN):
    """The image and version to deploy.

    A version (-e version=X.Y.Z, or -e image=X.Y.Z) resolves to the image the
    image build recorded for it (image.json), else <registry>/<repository>:<version>;
    a full reference is deployed as given, with the recorded version when the
    build recorded that image. Returns image, version, by_version and error
    ("" or one line when a version cannot be resolved).
    """
    state = image_state or {}
    img, ver = deploy_input["image"], deploy_input["version"]
    version_re = re.compile(version_pattern)
    by_version = not img or bool(version_re.match(img))
    want = _strip_v(img if version_re.match(img) else ver)
    if not by_version:
        target = img
    elif _strip_v(state.get("version")) == want and _s(state.get("image")):
        target = _s(state.get("image"))
    elif _s(registry):
        target = f"{_s(registry)}/{repository}:{want}"
    else:
        target = ""
    version = want or (_s(state.get("version")) if _s(state.get("image")) == img else "")
    error = "" if target else (
        f"deploy: cannot resolve version {want} to an image: {image_state_file} does not name it and "
        f"ecs_deploy_registry is not set for {environment or 'this environment'}; pass -e image=<full reference>")
    return dict(image=target, version=version, by_version=by_version, error=error)


def ecs_deploy_value_from(secrets_state, use_migrated_secrets=True):
    """{container env name: valueFrom} from the migrated secrets (secrets_migration_status, read from
    AWS), or {} when not used or not migrated."""
    if not _b(use_migrated_secrets):
        return {}
    return {s["name"]: s["valueFrom"] for s in (secrets_state or {}).get("container_secrets") or []}


def ecs_deploy_plan_lines(plan, cluster, service, check_mode=False):
    """What a deploy will do, as printed before the operator is asked."""
    cur, tgt = plan["current"], plan["target"]
    lines = [
        f"deploy {cluster}/{service}: {cur['family_revision']} ({cur['image']}, running "
        f"{cur.get('running_version') or '?'} per {cur.get('running_version_source')}) -> "
        f"{'a new revision' if plan.get('registered') else tgt['family_revision']} ({tgt['image']}, {tgt.get('version')})",
        f"version check: {plan.get('version_check')}",
    ]
    if plan.get("changes"):
        lines += list(plan["changes"])
    else:
        lines.append("task definition: no change" + (f" (reusing {tgt['family_revision']})" if plan.get("reused") else ""))
    if check_mode:
        lines.append("check mode: nothing registered, the service is not updated")
    return lines


def ecs_deploy_rollout_lines(update, phase):
    """One ecs_service_rollout call's lines: what it saw (each line with the
    seconds since the rollout started, and the rollout state), then where it
    stands."""
    lines = [f"{phase} {line}" for line in update.get("progress") or []]
    state = update.get("state") or "?"
    last = f"{phase}: {state}"
    if update.get("waited") is not None:
        last += f" after {float(update['waited']):.0f}s"
    if update.get("reason") and state != "IN_PROGRESS":
        last += f": {update['reason']}"
    return lines + [last]


def ecs_deploy_runtime_lines(runtime):
    """What the local runtime saw: its progress, why it stopped, its last log lines (secrets scrubbed)."""
    lines = list(runtime.get("progress") or [])
    if runtime.get("stopped_reason"):
        lines.append(f"stopped: {runtime['stopped_reason']}")
    if runtime.get("logs"):
        lines += ["last log lines:"] + list(runtime["logs"])
    return lines


def ecs_deploy_requested(checked, image="", version="", to_revision=""):
    """What the operator asked for, for the audit record: the checked input
    (ecs_deploy_input) once it exists, else the raw -e values (a run refused
    before the check still records what it was given)."""
    checked = checked or {}
    return dict(image=_s(checked.get("image", image)), version=_s(checked.get("version", version)),
                to_revision=_s(checked.get("to_revision", to_revision)))


class FilterModule:
    def filters(self):
        return {
            "ecs_deploy_input": ecs_deploy_input,
            "ecs_deploy_target": ecs_deploy_target,
            "ecs_deploy_value_from": ecs_deploy_value_from,
            "ecs_deploy_plan_lines": ecs_deploy_plan_lines,
            "ecs_deploy_rollout_lines": ecs_deploy_rollout_lines,
            "ecs_deploy_runtime_lines": ecs_deploy_runtime_lines,
            "ecs_deploy_requested": ecs_deploy_requested,
        }
