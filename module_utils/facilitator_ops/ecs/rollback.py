# -*- coding: utf-8 -*-
"""A rollback's target, recorded in AWS when the rollback starts, so that a rerun
(after a kill, or by a second operator) finishes THAT rollback instead of
computing a new "previous" from what runs now (which would go back two revisions).

The record is a set of tags on the ECS service itself (TagResource on the service
ARN), readable by anyone with the service's describe rights:

- ``facilitator-ops:rollback``       ``started`` or ``done``
- ``facilitator-ops:rollback-to``    the task definition ARN the rollback goes to
- ``facilitator-ops:rollback-from``  the task definition ARN the service ran when it started
- ``facilitator-ops:rollback-at``    when it started (UTC ISO) / finished
- ``facilitator-ops:rollback-by``    who started it

A ``started`` record is honoured while the service runs its ``from`` or its ``to``
revision (the ECS circuit breaker may have put it back on ``from``); a ``done`` record
while the service still runs its ``to`` (a rerun then changes nothing). When the service
runs anything else (a deploy moved it), the record is stale and ignored; a verified
deploy removes it.

Also the checks on an explicit ``-e to_revision``: it exists (the caller's describe),
is of the service's family, ACTIVE, and not below the rollback floor version unless
``allow_downgrade``.
"""
from __future__ import annotations

import datetime

from ansible.module_utils.facilitator_ops.common import crashpoint
from ansible.module_utils.facilitator_ops.ecs.taskdef import VersionError
from ansible.module_utils.facilitator_ops.ecs.taskdef import compare_versions
from ansible.module_utils.facilitator_ops.ecs.taskdef import revision_of

MARK = "facilitator-ops:rollback"
MARK_TO = "facilitator-ops:rollback-to"
MARK_FROM = "facilitator-ops:rollback-from"
MARK_AT = "facilitator-ops:rollback-at"
MARK_BY = "facilitator-ops:rollback-by"
MARK_KEYS = (MARK, MARK_TO, MARK_FROM, MARK_AT, MARK_BY)


def _now_iso(now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def read_mark(service_tags):
    """The rollback record in a service's tags (dict), or None."""
    if service_tags.get(MARK) not in ("started", "done") or not service_tags.get(MARK_TO):
        return None
    return dict(state=service_tags[MARK], to=service_tags[MARK_TO], from_=service_tags.get(MARK_FROM, ""),
                at=service_tags.get(MARK_AT, ""), by=service_tags.get(MARK_BY, ""))


def honoured(mark, current_arn):
    """Does `mark` still describe the service running `current_arn`? (see the module docstring)"""
    if not mark:
        return False
    if mark["state"] == "started":
        return current_arn in (mark["to"], mark["from_"])
    return current_arn == mark["to"]


def mark_line(mark):
    """One line naming a rollback record, for plans and messages."""
    return (f"rollback {revision_of(mark['from_']) if mark['from_'] else '?'} -> {revision_of(mark['to'])} "
            f"{'started' if mark['state'] == 'started' else 'finished'} {mark['at'] or '?'} by {mark['by'] or '?'}")


def start_tags(from_arn, to_arn, by, now=None):
    """The tags written on the service when a rollback starts (before its update-service)."""
    return {MARK: "started", MARK_TO: to_arn, MARK_FROM: from_arn, MARK_AT: _now_iso(now), MARK_BY: by or "?"}


def done_tags(mark, to_arn, by, now=None):
    """The tags that mark the rollback to `to_arn` finished (verified)."""
    return {MARK: "done", MARK_TO: to_arn, MARK_FROM: (mark or {}).get("from_", ""), MARK_AT: _now_iso(now),
            MARK_BY: by or "?"}


def check_target(current_td, target_td, floor_version=None, allow_downgrade=False, target_version=None):
    """None when `target_td` may be rolled back to from `current_td`, else the one-line reason.

    Same family as the service's task definition, ACTIVE, and (with a floor) its version not below
    `floor_version` unless `allow_downgrade` (an unknown version is below any floor)."""
    name = f"{target_td.get('family')}:{target_td.get('revision')}"
    if target_td.get("family") != current_td.get("family"):
        return (f"to_revision {name} is not of the service's family {current_td.get('family')}: "
                f"a rollback stays in its family")
    if target_td.get("status", "ACTIVE") != "ACTIVE":
        return f"to_revision {name} is {target_td.get('status')}, not ACTIVE: pick an ACTIVE revision"
    if floor_version and not allow_downgrade:
        try:
            below = target_version is None or compare_versions(target_version, floor_version) < 0
        except VersionError:
            below = True
        if below:
            return (f"to_revision {name} runs version {target_version or 'unknown'}, below the rollback floor "
                    f"{floor_version} (ecs_deploy_rollback_floor_version): re-run with -e allow_downgrade=true "
                    f"if this is intended")
    return None


class RollbackRefused(Exception):
    """The rollback's target cannot be used (one line)."""


def service_tags(call, service_arn):
    return {t.get("key"): t.get("value") for t in call("list_tags_for_resource", resourceArn=service_arn).get("tags") or []}


def previous_verified_arn(call, current_td):
    """Highest ACTIVE revision of the family below the current one that a deploy verified (its tag), or None."""
    from ansible.module_utils.facilitator_ops.ecs.rollout import previous_verified
    from ansible.module_utils.facilitator_ops.ecs.rollout import tags_dict

    arns, token = [], None
    while True:
        kwargs = dict(familyPrefix=current_td["family"], status="ACTIVE", sort="DESC")
        if token:
            kwargs["nextToken"] = token
        out = call("list_task_definitions", **kwargs)
        arns += out.get("taskDefinitionArns") or []
        token = out.get("nextToken")
        if not token:
            break
    family = [a for a in arns if a.rsplit(":", 1)[0].endswith("/" + current_td["family"])]
    return previous_verified(family, current_td["revision"],
                             lambda arn: tags_dict(call("list_tags_for_resource", resourceArn=arn).get("tags")))


def resolve_target(call, svc, current_td, requested, rollback=False):
    """The task definition `requested` names (ARN, family:revision, a bare revision, or `previous`), and the
    service's rollback record when `rollback`. Returns (target, mark, note):
    - `previous` with an honoured record: the record's target (a rerun finishes THAT rollback);
    - `previous` otherwise: the highest verified ACTIVE revision below the current one;
    - an explicit target different from an honoured, unfinished record's: used (explicit wins), noted.
    RollbackRefused when `previous` finds nothing."""
    from ansible.module_utils.facilitator_ops.ecs.rollout import VERIFIED_TAG

    mark, note = None, ""
    if rollback:
        mark = read_mark(service_tags(call, svc["serviceArn"]))
        if not honoured(mark, svc.get("taskDefinition")):
            mark = None
    target = requested
    if target.isdigit():
        target = f"{current_td['family']}:{target}"
    elif target.lower() == "previous":
        if mark:
            note = ("finishing the " if mark["state"] == "started" else "already done: the ") + mark_line(mark)
            return mark["to"], mark, note
        target = previous_verified_arn(call, current_td)
        if target is None:
            raise RollbackRefused(
                f"no verified revision of {current_td['family']} below {revision_of(svc.get('taskDefinition'))} to go "
                f"back to (deploy.yml tags a revision {VERIFIED_TAG} once it verified it): pass "
                f"-e to_revision=N to choose one")
    if mark and mark["state"] == "started" and revision_of(target) != revision_of(mark["to"]):
        note = f"replacing the unfinished {mark_line(mark)} (explicit to_revision)"
    return target, mark, note


def _tag_list(tags):
    return [{"key": k, "value": v} for k, v in tags.items()]


def record_start(call, service, service_arn, from_arn, to_arn, by, mark=None):
    """Tag the service with the rollback's target right before its update-service (unless an unfinished
    record of the same target is already there: a rerun finishing it)."""
    if mark and mark["state"] == "started" and mark["to"] == to_arn:
        return False
    call("tag_resource", resourceArn=service_arn, tags=_tag_list(start_tags(from_arn, to_arn, by)))
    crashpoint.wrote(f"ecs_service_rollout {service}: rollback started")
    return True


def record_verified(call, fence, service, service_arn, target, version, rollback, by, check_mode=False):
    """After the verification: the verified tags on `target` (what `previous` goes back to) and the service's
    rollback record marked done (a rollback) or removed (a verified deploy supersedes it). Idempotent; `fence()`
    right before the first write; check mode writes nothing. Returns (changed, line)."""
    from ansible.module_utils.facilitator_ops.ecs.rollout import VERIFIED_TAG
    from ansible.module_utils.facilitator_ops.ecs.rollout import VERSION_TAG

    want = {VERIFIED_TAG: "yes", VERSION_TAG: str(version or "")}
    have = {t.get("key"): t.get("value") for t in call("list_tags_for_resource", resourceArn=target).get("tags") or []}
    tag_target = any(have.get(k) != v for k, v in want.items())
    on_service = service_tags(call, service_arn)
    current = read_mark(on_service)
    set_mark, drop_mark = {}, []
    if rollback:
        if not (current and current["state"] == "done" and current["to"] == target):
            set_mark = done_tags(current if current and current["to"] == target else None, target, by)
    else:
        drop_mark = [k for k in MARK_KEYS if k in on_service]
    changed = bool(tag_target or set_mark or drop_mark)
    line = (f"{revision_of(target)} recorded as verified" + ("; rollback record: done" if set_mark else "")
            + ("; stale rollback record removed" if drop_mark else ""))
    if check_mode or not changed:
        return changed, line
    fence()
    if tag_target:
        call("tag_resource", resourceArn=target, tags=_tag_list(want))
        crashpoint.wrote(f"ecs_service_rollout {service}: verified tag")
    if set_mark:
        call("tag_resource", resourceArn=service_arn, tags=_tag_list(set_mark))
        crashpoint.wrote(f"ecs_service_rollout {service}: rollback done")
    if drop_mark:
        call("untag_resource", resourceArn=service_arn, tagKeys=drop_mark)
        crashpoint.wrote(f"ecs_service_rollout {service}: rollback record removed")
    return changed, line
