#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: ecs_service_rollout
short_description: Move an ECS service to a task-definition revision and wait for the truth of the rollout
description:
  - Updates the service to O(task_definition) with the deployment circuit breaker enabled (rollback on) and waits
    until the new deployment is PRIMARY with C(rolloutState) COMPLETED, running equals desired and no other
    deployment is left. A FAILED rollout, a circuit-breaker rollback (service events), tasks of the new revision
    stopping with errors, or the timeout fail the task with the reason; C(progress) holds the lines seen.
  - With O(external_result) (the local stack) no ECS polling happens; the local runtime's result is the rollout
    result (moto never moves deployments), HEALTHY is COMPLETED and anything else FAILED.
  - Exists because C(aws ecs wait services-stable) reports success after a circuit-breaker rollback and returns early
    after C(--force-new-deployment), and M(community.aws.ecs_service) does not wait for a rollout at all.
  - Idempotent, the service already on O(task_definition) and no O(force_new_deployment) means no update.
    Check mode updates nothing.
  - With O(poll_window) a call waits at most about that long; a rollout still in progress then returns
    C(state=IN_PROGRESS) (not a failure) and a C(watch) to pass back in the next call, which goes on waiting
    for the same rollout (no update). The role loops so that the operator sees the rollout's state at least
    every O(poll_window) seconds instead of nothing for up to O(timeout).
  - The image and version reported are those of the container O(container_name), whose exit code is the one that
    counts for a stopped task.
author:
  - facilitator-ops
options:
  task_definition:
    description:
      - Task definition ARN (or C(family:revision)) to run.
      - C(previous) means the highest ACTIVE revision of the service's family below the current one that a deploy
        verified (tag C(facilitator-ops:verified), rollback); a bare number is a revision of the service's family.
    type: str
    required: true
  force_new_deployment:
    description: Start a new deployment even when the revision does not change (e.g. only secret values changed).
    type: bool
    default: false
  circuit_breaker:
    description: Enable the deployment circuit breaker with rollback on the update.
    type: bool
    default: true
  update:
    description: Update the service (false only waits / evaluates).
    type: bool
    default: true
  wait:
    description: Wait for the rollout.
    type: bool
    default: true
  timeout:
    description: Seconds to wait before failing with C(TIMEOUT).
    type: int
    default: 900
  interval:
    description: Seconds between polls.
    type: int
    default: 15
  stopped_task_threshold:
    description: Tasks of the new revision stopped with errors that fail the rollout.
    type: int
    default: 1
  poll_window:
    description:
      - Wait at most about this many seconds in this call (polling at most every O(poll_window) seconds); a rollout
        still in progress then returns C(state=IN_PROGRESS) and C(watch). C(0) waits up to O(timeout) in one call.
    type: int
    default: 0
  watch:
    description:
      - The C(watch) returned by an earlier call that returned C(IN_PROGRESS). Continues waiting for that rollout
        (the service is not updated again); O(timeout) counts from the start of the first call.
    type: dict
  external_result:
    description: Result of M(ecs_local_runtime) that stands for the rollout (local stack only).
    type: dict
  rollback:
    description:
      - The update is a rollback. Its target is recorded on the service (tags C(facilitator-ops:rollback*)) right
        before the update, so that a rerun after a kill, or a second operator, finishes THAT rollback. With
        O(task_definition=previous) an unfinished record (the service still runs its C(from) or C(to)) names the
        target instead of a newly computed previous revision, and a finished one whose target still runs makes the
        rerun change nothing. A record the service has moved away from (a deploy since) is ignored.
      - An explicit target (ARN, C(family:revision), a number) must exist, be of the service's family and ACTIVE, and
        its version not below O(min_version) unless O(allow_downgrade); else the task fails in one line before any
        change.
    type: bool
    default: false
  min_version:
    description: With O(rollback), the lowest version a rollback may go to without O(allow_downgrade) (empty, no floor).
    type: str
    default: ""
  allow_downgrade:
    description: With O(rollback), allow a target below O(min_version).
    type: bool
    default: false
  record_verified:
    description:
      - Record O(task_definition) as verified (tags C(facilitator-ops:verified) and C(facilitator-ops:version) on it,
        what O(task_definition=previous) goes back to) instead of updating or waiting. With O(rollback) the service's
        rollback record is marked done; without, a rollback record left on the service is removed (a verified
        deploy supersedes it).
    type: bool
    default: false
  version:
    description: With O(record_verified), the version recorded (default, the container image's tag version).
    type: str
  operator:
    description: Who runs it (C(user@host)), written in the rollback record.
    type: str
extends_documentation_fragment:
  - facilitator_lock
  - facilitator_ecs
  - facilitator_ecs.container
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Roll out and wait
  ecs_service_rollout:
    cluster: facilitator-production
    service: facilitator-production
    task_definition: "{{ derived.target.arn }}"
    timeout: 900
  register: rollout

- name: Roll out, returning at least every 20 s with the state (call again with the watch while IN_PROGRESS)
  ecs_service_rollout:
    cluster: facilitator-production
    service: facilitator-production
    task_definition: "{{ derived.target.arn }}"
    poll_window: 20
  register: rollout

- name: Go on waiting for the same rollout
  ecs_service_rollout:
    cluster: facilitator-production
    service: facilitator-production
    task_definition: "{{ rollout.task_definition }}"
    update: false
    watch: "{{ rollout.watch }}"
    poll_window: 20
  register: rollout
  when: rollout.state == 'IN_PROGRESS'
"""

RETURN = r"""
state:
  description:
    - COMPLETED, FAILED, ROLLED_BACK, TIMEOUT, or SKIPPED (no wait) / PLANNED (check mode), or IN_PROGRESS
      (O(poll_window) elapsed; call again with C(watch)).
  returned: always
  type: str
reason:
  description: One line saying why.
  returned: always
  type: str
progress:
  description: Progress lines with elapsed seconds.
  returned: always
  type: list
updated:
  description: Whether update-service was called (would be, in check mode).
  returned: always
  type: bool
previous_task_definition:
  description: The service's task definition before the update.
  returned: always
  type: str
task_definition:
  description: The task definition ARN rolled out.
  returned: always
  type: str
previous:
  description: C(arn), C(revision), C(image), C(version) of the service's task definition before the update.
  returned: always
  type: dict
target:
  description: C(arn), C(revision), C(image), C(version) of O(task_definition), C(verified) (it carries the verified tag) and C(verified_version).
  returned: always
  type: dict
deployment_id:
  description: Id of the ECS deployment the update started.
  returned: when the service was updated
  type: str
seconds:
  description: Seconds from the start of the module to the end of the wait.
  returned: when the rollout was waited for (or taken from O(external_result))
  type: float
waited:
  description: Seconds waited for this rollout so far, this call and the earlier ones of the same O(watch).
  returned: when the rollout was waited for
  type: float
rollback_record:
  description:
    - With O(rollback), the service's rollback record that decided the target (C(state) started or done, C(to),
      C(from_), C(at), C(by)), or null. C(note) says how it was used.
  returned: with O(rollback)
  type: dict
note:
  description: How a rollback record was used (finishing it, already done, replaced by an explicit target), or empty.
  returned: always
  type: str
watch:
  description:
    - What a next call needs to go on waiting for this rollout, C(since) (ISO time of the update), C(started)
      (epoch seconds), C(deployment_id), C(new_deployment).
  returned: when the rollout was waited for
  type: dict
"""

import datetime
import time

from ansible.module_utils.facilitator_ops.common import lock
from ansible.module_utils.facilitator_ops.common.argspec import ECS_CONTAINER
from ansible.module_utils.facilitator_ops.common.argspec import LOCK_FENCE
from ansible.module_utils.facilitator_ops.common.argspec import ECS_SERVICE
from ansible.module_utils.facilitator_ops.ecs import rollback as rb
from ansible.module_utils.facilitator_ops.ecs.rollout import describe_service
from ansible.module_utils.facilitator_ops.ecs.rollout import VERIFIED_TAG
from ansible.module_utils.facilitator_ops.ecs.rollout import VERSION_TAG
from ansible.module_utils.facilitator_ops.ecs.rollout import from_runtime
from ansible.module_utils.facilitator_ops.ecs.rollout import tags_dict
from ansible.module_utils.facilitator_ops.ecs.rollout import update_service
from ansible.module_utils.facilitator_ops.ecs.rollout import wait_for_rollout
from ansible.module_utils.facilitator_ops.ecs.taskdef import revision_of
from ansible.module_utils.facilitator_ops.ecs.taskdef import taskdef_summary
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports it


def record_verified(module, call, fence, svc, target, summary):
    """record_verified=true: the verified tags on the target and the rollback record (rb.record_verified)."""
    p = module.params
    version = p["version"] if p["version"] is not None else (summary.get("version") or "")
    try:
        changed, line = rb.record_verified(call, fence, p["service"], svc["serviceArn"], target, version,
                                           p["rollback"], p["operator"], module.check_mode)
    except lock.LockLost as e:
        module.fail_json(msg=str(e), lost=True)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"cannot record {revision_of(target)} as verified")
    return dict(changed=changed, task_definition=target, target=summary, state="VERIFIED", progress=[], reason=line,
                note="", updated=False, previous_task_definition=svc.get("taskDefinition"))


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            **ECS_SERVICE,
            **ECS_CONTAINER,
            task_definition=dict(type="str", required=True),
            force_new_deployment=dict(type="bool", default=False),
            circuit_breaker=dict(type="bool", default=True),
            update=dict(type="bool", default=True),
            wait=dict(type="bool", default=True),
            timeout=dict(type="int", default=900),
            interval=dict(type="int", default=15),
            stopped_task_threshold=dict(type="int", default=1),
            poll_window=dict(type="int", default=0),
            watch=dict(type="dict"),
            external_result=dict(type="dict"),
            rollback=dict(type="bool", default=False),
            min_version=dict(type="str", default=""),
            allow_downgrade=dict(type="bool", default=False),
            record_verified=dict(type="bool", default=False),
            version=dict(type="str"),
            operator=dict(type="str"),
            **LOCK_FENCE,
        ),
        required_together=[["lock_table", "lock_name", "lock_token"]],
        supports_check_mode=True,
    )
    p = module.params
    ecs = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())

    def call(name, **kwargs):
        return getattr(ecs, name)(aws_retry=True, **kwargs)

    fence = lock.fence_for_module(module, purpose="deploy")

    t0 = time.monotonic()
    try:
        svc = describe_service(call, p["cluster"], p["service"])
    except LookupError as e:
        module.fail_json(msg=str(e))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="cannot describe the service")
    previous = svc.get("taskDefinition")
    try:
        prev_td = call("describe_task_definition", taskDefinition=previous)["taskDefinition"]
        target, mark, note = rb.resolve_target(call, svc, prev_td, p["task_definition"], p["rollback"])
    except rb.RollbackRefused as e:
        module.fail_json(msg=str(e))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"cannot read the task definitions of {p['service']}")
    try:
        described = call("describe_task_definition", taskDefinition=target, include=["TAGS"])
        target_td, target_tags = described["taskDefinition"], tags_dict(described.get("tags"))
    except botocore.exceptions.ClientError as e:
        if p["rollback"] and e.response.get("Error", {}).get("Code") in ("ClientException", "InvalidParameterException"):
            module.fail_json(msg=f"to_revision {revision_of(target)} does not exist: "
                                 f"{e.response.get('Error', {}).get('Message', '')}")
        module.fail_json_aws(e, msg=f"cannot read task definition {p['task_definition']}")
    except botocore.exceptions.BotoCoreError as e:
        module.fail_json_aws(e, msg=f"cannot read task definition {p['task_definition']}")
    target = target_td["taskDefinitionArn"]
    target_summary = taskdef_summary(target_td, p["container_name"], missing_ok=True)
    if p["rollback"] and not (mark and target == mark["to"]):
        refused = rb.check_target(prev_td, target_td, p["min_version"], p["allow_downgrade"],
                                  target_tags.get(VERSION_TAG) or target_summary.get("version"))
        if refused:
            module.fail_json(msg=refused)
    if p["record_verified"]:
        module.exit_json(**record_verified(module, call, fence, svc, target, target_summary))
    same = previous == target
    watch = p["watch"]
    needs_update = p["update"] and not watch and (not same or p["force_new_deployment"])
    result = dict(changed=False, updated=needs_update, previous_task_definition=previous,
                  task_definition=target, progress=[], state="SKIPPED", reason=note, note=note,
                  previous=taskdef_summary(prev_td, p["container_name"], missing_ok=True),
                  target=dict(target_summary,
                              verified=bool(target_tags.get(VERIFIED_TAG)),
                              verified_version=target_tags.get(VERSION_TAG)))
    if p["rollback"]:
        result["rollback_record"] = dict(mark, note=note) if mark else None
    if module.check_mode:
        result.update(changed=needs_update, state="PLANNED",
                      reason=(f"would update {p['service']} {revision_of(previous)} -> {revision_of(target)}"
                              + (" (force new deployment)" if p["force_new_deployment"] else "")
                              if needs_update else f"{p['service']} already runs {revision_of(target)}"))
        module.exit_json(**result)

    deployment_id = None
    started = time.time()
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)
    new_deployment = needs_update
    if watch:
        # the same rollout as an earlier call: its update time, deployment and clock
        since = datetime.datetime.fromisoformat(watch["since"])
        started = float(watch["started"])
        deployment_id = watch.get("deployment_id")
        new_deployment = bool(watch.get("new_deployment"))
    if needs_update:
        try:
            fence()  # right before the writes: the run's lock is still ours
            if p["rollback"]:  # the target, recorded in AWS before the update: a rerun finishes this rollback
                rb.record_start(call, p["service"], svc["serviceArn"], previous, target, p["operator"], mark)
            svc, deployment_id = update_service(call, p["cluster"], p["service"], target,
                                                p["force_new_deployment"], p["circuit_breaker"])
        except lock.LockLost as e:
            module.fail_json(msg=str(e), lost=True, **result)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"update-service to {revision_of(target)} failed")
        result["changed"] = True
        result["deployment_id"] = deployment_id
        target = svc.get("taskDefinition") or target
        new_deployment = True

    if p["external_result"] is not None:
        out = from_runtime(p["external_result"], target)
    elif not p["wait"]:
        result["reason"] = f"{p['service']} updated to {revision_of(target)}, not waiting" if needs_update \
            else f"{p['service']} already runs {revision_of(target)}"
        module.exit_json(**result)
    else:
        result["watch"] = dict(since=since.isoformat(), started=started, deployment_id=deployment_id,
                               new_deployment=new_deployment)
        try:
            out = wait_for_rollout(call, p["cluster"], p["service"], target, since, deployment_id,
                                   timeout=p["timeout"], interval=p["interval"],
                                   stopped_threshold=p["stopped_task_threshold"], container_name=p["container_name"],
                                   new_deployment=new_deployment, window=p["poll_window"] or None,
                                   waited=max(0.0, time.time() - started))
        except LookupError as e:
            module.fail_json(msg=str(e), **result)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg="error while waiting for the rollout")
    result.update(state=out["state"], reason=out["reason"], progress=out["progress"],
                  seconds=round(time.monotonic() - t0, 1), task_definition=target)
    if "watch" in result:
        result["waited"] = round(time.time() - started, 1)
    if out["state"] not in ("COMPLETED", "IN_PROGRESS"):
        module.fail_json(msg=f"rollout {out['state']}: {out['reason']}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
