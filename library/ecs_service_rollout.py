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
extends_documentation_fragment:
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
watch:
  description:
    - What a next call needs to go on waiting for this rollout, C(since) (ISO time of the update), C(started)
      (epoch seconds), C(deployment_id), C(new_deployment).
  returned: when the rollout was waited for
  type: dict
"""

import datetime
import time

from ansible.module_utils.facilitator_ops.common.argspec import ECS_CONTAINER
from ansible.module_utils.facilitator_ops.common.argspec import ECS_SERVICE
from ansible.module_utils.facilitator_ops.ecs.rollout import describe_service
from ansible.module_utils.facilitator_ops.ecs.rollout import VERIFIED_TAG
from ansible.module_utils.facilitator_ops.ecs.rollout import VERSION_TAG
from ansible.module_utils.facilitator_ops.ecs.rollout import from_runtime
from ansible.module_utils.facilitator_ops.ecs.rollout import previous_verified
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


def _previous_verified(call, current_td):
    """Highest ACTIVE revision of the family below the current one that deploy.yml verified (its tag)."""
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
        ),
        supports_check_mode=True,
    )
    p = module.params
    ecs = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())

    def call(name, **kwargs):
        return getattr(ecs, name)(aws_retry=True, **kwargs)

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
        target = p["task_definition"]
        if target.isdigit():
            target = f"{prev_td['family']}:{target}"
        elif target.lower() == "previous":
            target = _previous_verified(call, prev_td)
            if target is None:
                module.fail_json(msg=(f"no verified revision of {prev_td['family']} below {revision_of(previous)} to go "
                                      f"back to (deploy.yml tags a revision {VERIFIED_TAG} once it verified it): pass "
                                      f"-e to_revision=N to choose one"))
        described = call("describe_task_definition", taskDefinition=target, include=["TAGS"])
        target_td, target_tags = described["taskDefinition"], tags_dict(described.get("tags"))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"cannot read task definition {p['task_definition']}")
    target = target_td["taskDefinitionArn"]
    same = previous == target
    watch = p["watch"]
    needs_update = p["update"] and not watch and (not same or p["force_new_deployment"])
    result = dict(changed=False, updated=needs_update, previous_task_definition=previous,
                  task_definition=target, progress=[], state="SKIPPED", reason="",
                  previous=taskdef_summary(prev_td, p["container_name"], missing_ok=True),
                  target=dict(taskdef_summary(target_td, p["container_name"], missing_ok=True),
                              verified=bool(target_tags.get(VERIFIED_TAG)),
                              verified_version=target_tags.get(VERSION_TAG)))
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
            svc, deployment_id = update_service(call, p["cluster"], p["service"], target,
                                                p["force_new_deployment"], p["circuit_breaker"])
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
