#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: ecs_taskdef_derive
short_description: Derive the next task-definition revision of an ECS service from its current one, with a downgrade guard
description:
  - Reads the service's B(current) task definition (with its tags), copies every registerable field (read-only fields
    dropped), sets the image of the container B(named) O(container_name) (sidecars untouched, never by index) and,
    when given, replaces the C(valueFrom) of that container's secrets by variable name (the secrets migration's output).
  - Registers the new revision only when something changed; reuses a recent revision when it is already identical
    (a retried or rolled-back deploy does not pile up revisions). Check mode registers nothing and returns the plan.
  - Refuses a downgrade (running version newer than the new one, leading C(v) ignored) unless O(allow_downgrade).
  - Exists because M(community.aws.ecs_taskdefinition) rebuilds a definition from task arguments (it cannot copy the
    current one, keeps no unknown fields and selects nothing by container name) and no bundled module compares versions.
author:
  - facilitator-ops
options:
  image:
    description: Full image reference to deploy (tag or digest). Unset keeps the current image (secrets-only change).
    type: str
  new_version:
    description: Version the new image reports; unset derives it from the image tag (C(1.2.3), C(v1.2.3), C(1.2.3-<sha>)).
    type: str
  running_version:
    description: Version the service serves now (e.g. its C(/version)); unset or unusable falls back to the current image tag.
    type: str
  allow_downgrade:
    description: Deploy an older version than the running one.
    type: bool
    default: false
  value_from:
    description: Map of environment variable name to the new secret C(valueFrom) (missing ones are added).
    type: dict
    default: {}
  reuse_identical:
    description: Reuse one of the family's 5 newest ACTIVE revisions when it equals the derived definition instead of registering.
    type: bool
    default: true
extends_documentation_fragment:
  - facilitator_lock
  - facilitator_ecs
  - facilitator_ecs.container
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Derive and register the next revision
  ecs_taskdef_derive:
    cluster: facilitator-production
    service: facilitator-production
    image: 123456789012.dkr.ecr.us-east-2.amazonaws.com/facilitator:1.92.0-abc1234
    running_version: "1.91.0"
  register: derived
"""

RETURN = r"""
current:
  description: The service's current task definition (arn, revision, image, version).
  returned: always
  type: dict
target:
  description: The revision to deploy (arn is the current one when nothing changed, null in check mode when new).
  returned: always
  type: dict
changes:
  description: One line per change (image, secret valueFrom).
  returned: always
  type: list
registered:
  description: Whether a new revision was registered (or would be, in check mode).
  returned: always
  type: bool
reused:
  description: Whether an identical existing revision was reused.
  returned: always
  type: bool
version_check:
  description: The downgrade guard's verdict.
  returned: always
  type: str
"""

from ansible.module_utils.facilitator_ops.common import crashpoint
from ansible.module_utils.facilitator_ops.common import lock
from ansible.module_utils.facilitator_ops.common.argspec import ECS_CONTAINER
from ansible.module_utils.facilitator_ops.common.argspec import LOCK_FENCE
from ansible.module_utils.facilitator_ops.common.argspec import ECS_SERVICE
from ansible.module_utils.facilitator_ops.ecs.taskdef import DeriveError
from ansible.module_utils.facilitator_ops.ecs.taskdef import derive_task_definition
from ansible.module_utils.facilitator_ops.ecs.taskdef import downgrade_check
from ansible.module_utils.facilitator_ops.ecs.taskdef import normalize_version
from ansible.module_utils.facilitator_ops.ecs.taskdef import registerable
from ansible.module_utils.facilitator_ops.ecs.taskdef import same_definition
from ansible.module_utils.facilitator_ops.ecs.taskdef import taskdef_summary
from ansible.module_utils.facilitator_ops.ecs.taskdef import version_from_image
from ansible.module_utils.facilitator_ops.ecs.taskdef import VersionError
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports it


REUSE_LOOKBACK = 5


def _describe(ecs, ref):
    out = ecs.describe_task_definition(aws_retry=True, taskDefinition=ref, include=["TAGS"])
    return out["taskDefinition"], out.get("tags") or []


def _usable(version):
    try:
        return normalize_version(version)
    except VersionError:
        return None


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            **ECS_SERVICE,
            **ECS_CONTAINER,
            image=dict(type="str"),
            new_version=dict(type="str"),
            running_version=dict(type="str"),
            allow_downgrade=dict(type="bool", default=False),
            value_from=dict(type="dict", default={}),
            reuse_identical=dict(type="bool", default=True),
            **LOCK_FENCE,
        ),
        required_together=[["lock_table", "lock_name", "lock_token"]],
        supports_check_mode=True,
    )
    p = module.params
    ecs = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())
    try:
        svcs = ecs.describe_services(aws_retry=True, cluster=p["cluster"], services=[p["service"]]).get("services")
        if not svcs or svcs[0].get("status") != "ACTIVE":
            module.fail_json(msg=f"ECS service {p['service']} not found (or not ACTIVE) in cluster {p['cluster']}")
        current, tags = _describe(ecs, svcs[0]["taskDefinition"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="cannot read the service's current task definition")

    try:
        cur = taskdef_summary(current, p["container_name"])
    except DeriveError as e:
        module.fail_json(msg=str(e))
    image = p["image"] or cur["image"]
    new_version = _usable(p["new_version"]) or version_from_image(image)
    running = _usable(p["running_version"]) or cur["version"]
    cur["running_version"] = running
    cur["running_version_source"] = "live /version" if _usable(p["running_version"]) else "current image tag"
    if not new_version:
        module.fail_json(msg=f"cannot tell the version of {image}: pass it (-e version=x.y.z)", current=cur)
    ok, verdict = downgrade_check(running, new_version, p["allow_downgrade"])
    if not ok:
        module.fail_json(msg=verdict, current=cur, version_check=verdict)

    try:
        new_kwargs, changes = derive_task_definition(current, image=image, container_name=p["container_name"],
                                                     value_from=p["value_from"], tags=tags)
    except DeriveError as e:
        module.fail_json(msg=str(e))

    before = {"image": cur["image"], "secrets": _secrets(current, p["container_name"])}
    after = {"image": image, "secrets": _secrets(new_kwargs, p["container_name"])}
    result = dict(changed=False, current=cur, changes=changes, registered=False, reused=False,
                  version_check=verdict,
                  diff=dict(before=before, after=after,
                            before_header=cur["family_revision"], after_header=f"{current['family']}:next"))
    target = dict(cur, version=new_version)
    if not changes:
        result["target"] = target
        module.exit_json(**result)

    try:
        if p["reuse_identical"]:
            # The few newest ACTIVE revisions (a retried or rolled-back deploy registered it already).
            recent = ecs.list_task_definitions(aws_retry=True, familyPrefix=current["family"], status="ACTIVE",
                                               sort="DESC", maxResults=REUSE_LOOKBACK).get("taskDefinitionArns") or []
            for arn in recent:
                if arn == current.get("taskDefinitionArn") or arn.rsplit(":", 1)[0] != current["taskDefinitionArn"].rsplit(":", 1)[0]:
                    continue
                candidate, _ = _describe(ecs, arn)
                if same_definition(registerable(candidate), new_kwargs):
                    result.update(reused=True, target=dict(taskdef_summary(candidate, p["container_name"]), version=new_version))
                    module.exit_json(**result)
        if module.check_mode:
            result.update(changed=True, registered=True,
                          target=dict(arn=None, revision=None, family_revision=f"{current['family']}:(new)",
                                      image=image, version=new_version))
            module.exit_json(**result)
        # the fence, right before the write: the run's lock is still ours
        lock.fence_for_module(module, purpose="deploy")()
        registered = ecs.register_task_definition(aws_retry=True, **new_kwargs)["taskDefinition"]
        crashpoint.wrote(f"ecs_taskdef_derive: registered a revision of {registered.get('family')}")
    except lock.LockLost as e:
        module.fail_json(msg=str(e), lost=True)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="cannot register the new task definition")
    result.update(changed=True, registered=True, target=dict(taskdef_summary(registered, p["container_name"]), version=new_version))
    module.exit_json(**result)


def _secrets(td, name):
    for c in td.get("containerDefinitions") or []:
        if c.get("name") == name:
            return {s["name"]: s.get("valueFrom") for s in c.get("secrets") or []}
    return {}


if __name__ == "__main__":
    main()
