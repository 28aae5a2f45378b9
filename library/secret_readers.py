#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: secret_readers
short_description: Find the ECS task definitions and services that still read given Secrets Manager secrets
description:
  - Reads every ACTIVE task definition of the regions involved (the secrets' and the clusters') and the task
    definitions the services of O(clusters) run (their deployments too, ACTIVE or not), and returns each one whose
    C(secrets[].valueFrom), log driver C(secretOptions) or C(repositoryCredentials) names one of O(secrets) (full or
    partial ARN, name, or the C(/aws/reference/secretsmanager/) parameter), with the services that run it.
  - The gate before the monorepo secrets are retired (scheduled for deletion). ECS reads secrets when a task starts,
    so a retired secret breaks the next start of the old service, of the new service's previous revision (the way
    back) or of anything else that still names it.
  - Exists because no bundled module searches task definitions by the secrets they reference
    (M(community.aws.ecs_taskdefinition_info) describes one known revision).
  - Changes nothing (check mode runs the same); reads no secret value.
author:
  - facilitator-ops
options:
  secrets:
    description:
      - The secrets, each C(name), C(region) and (when known) C(arn); other keys are ignored (the migration's
        C(source) results can be passed as they are).
    type: list
    elements: dict
    required: true
  clusters:
    description: ECS clusters whose services are named as readers, each C(cluster) and C(region).
    type: list
    elements: dict
    default: []
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Who still reads the monorepo secrets
  secret_readers:
    secrets:
      - {name: karmacadabra-facilitator-mainnet, region: us-east-1}
    clusters:
      - {cluster: karmacadabra-prod, region: us-east-1}
      - {cluster: facilitator-production, region: us-east-2}
  register: readers
"""

RETURN = r"""
readers:
  description:
    - One item per task definition that reads one of the secrets, C(task_definition) (family:revision), C(arn),
      C(region), C(status), C(reads) (secret, container, variable) and C(services) (cluster/service).
  returned: always
  type: list
message:
  description: The one-line refusal naming every reader, empty when there is none.
  returned: always
  type: str
checked:
  description: How many task definitions were read.
  returned: always
  type: int
regions:
  description: The regions whose ACTIVE task definitions were read.
  returned: always
  type: list
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports it

from ansible.module_utils.facilitator_ops.secrets.readers import find_readers
from ansible.module_utils.facilitator_ops.secrets.readers import refusal
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def _problems(secrets, clusters):
    problems = []
    for i, s in enumerate(secrets):
        if not s.get("name") or not s.get("region"):
            problems.append(f"secrets item {i + 1} needs name and region")
    for i, c in enumerate(clusters):
        if not c.get("cluster") or not c.get("region"):
            problems.append(f"clusters item {i + 1} needs cluster and region")
    return problems


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            secrets=dict(type="list", elements="dict", required=True, no_log=False),  # names, regions, ARNs
            clusters=dict(type="list", elements="dict", default=[]),
        ),
        supports_check_mode=True,
    )
    secrets = [dict(name=s.get("name"), region=s.get("region"), arn=s.get("arn")) for s in module.params["secrets"]]
    clusters = [dict(cluster=c.get("cluster"), region=c.get("region")) for c in module.params["clusters"]]
    problems = _problems(secrets, clusters)
    if problems:
        module.fail_json(msg="secret_readers: " + "; ".join(problems))
    clients = {}

    def ecs_for(region):
        if region not in clients:
            clients[region] = module.client("ecs", region=region, retry_decorator=AWSRetry.jittered_backoff())
        return clients[region]

    try:
        found = find_readers(secrets, clusters, ecs_for, retry_kw={"aws_retry": True}) if secrets else \
            dict(readers=[], warnings=[], checked=0, regions=[])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg="cannot read the ECS task definitions and services")
    for warning in found.pop("warnings"):
        module.warn(warning)
    module.exit_json(changed=False, message=refusal(found["readers"]) if found["readers"] else "", **found)


if __name__ == "__main__":
    main()
