#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: ecs_local_runtime
short_description: Run an ECS task definition's facilitator container on the local Docker engine, as the ECS agent would
description:
  - The local stack's stand-in for ECS tasks (moto registers task definitions and updates services but never starts
    a task). Takes a B(registered) task definition, resolves the C(secrets[].valueFrom) of the container named
    O(container_name) from Secrets Manager inside the module (including the C(:json-key::) selector), pulls the image
    when absent, replaces the runtime-managed container (host network, O(port)) and reports its health the way ECS
    would, HEALTHY, or STOPPED/UNHEALTHY with the reason, exit code and last log lines (secret values scrubbed).
  - A secret that cannot be resolved or an image that cannot be pulled leaves the running container untouched
    (ECS keeps the old tasks) and reports STOPPED.
  - Does not fail on an unhealthy task (the caller's rollout waiter decides); fails only when the engine or AWS
    cannot be used.
  - With O(health_wait) a call waits at most that long for the health check; a container not healthy yet then
    reports C(STARTING) and its C(container_id); a next call with O(watch) set to it goes on waiting for the same
    container (nothing restarted; O(health_timeout) counts from its start), so the role prints progress at least
    every O(health_wait) seconds.
  - Exists because no bundled module runs a task definition, and M(community.docker.docker_container) would need
    the secret values as task arguments.
author:
  - facilitator-ops
options:
  task_definition:
    description: Task definition ARN or C(family:revision) (required for O(state=started)).
    type: str
  state:
    description: C(started) runs the task definition; C(absent) removes the runtime container; C(info) reports it.
    type: str
    choices: [started, absent, info]
    default: started
  docker_name:
    description: Name of the runtime-managed Docker container.
    type: str
    default: facilitator-local-runtime
  port:
    description: Port the facilitator listens on (host network), passed as C(PORT).
    type: int
    default: 18081
  bind_host:
    description: Address the facilitator binds and is probed on.
    type: str
    default: 127.0.0.1
  replace_containers:
    description: Other containers holding the port that the runtime takes over (removed before starting).
    type: list
    elements: str
    default: []
  health_timeout:
    description: Seconds to wait for C(/health) to answer 200.
    type: int
    default: 90
  health_wait:
    description:
      - Wait at most this many seconds for the health check in this call (C(STARTING) when not healthy yet);
        C(0) waits up to O(health_timeout).
    type: int
    default: 0
  watch:
    description:
      - The C(container_id) of a C(STARTING) result, to go on waiting for that container (O(state=started) only;
        nothing is started or replaced).
    type: str
  docker_host:
    description: Docker engine URL (default from the environment, C(DOCKER_HOST) or the local socket).
    type: str
extends_documentation_fragment:
  - facilitator_ecs.container
  - facilitator_ecs.environment
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Run the registered revision locally
  ecs_local_runtime:
    task_definition: "{{ derived.target.arn }}"
    port: 18081
    replace_containers: [facilitator-new]
  register: runtime

- name: Run it, returning after 20 s at most (STARTING while not healthy yet)
  ecs_local_runtime:
    task_definition: "{{ derived.target.arn }}"
    health_wait: 20
  register: runtime

- name: Go on waiting for the same container
  ecs_local_runtime:
    task_definition: "{{ derived.target.arn }}"
    health_wait: 20
    watch: "{{ runtime.container_id }}"
  register: runtime
  when: runtime.health_status == 'STARTING'
"""

RETURN = r"""
health_status:
  description:
    - HEALTHY, STOPPED, UNHEALTHY, or STARTING (O(health_wait) elapsed first), PLANNED in check mode, NONE for
      absent/info without a container.
  returned: always
  type: str
stopped_reason:
  description: Why the task stopped or never started.
  returned: when not healthy
  type: str
exit_code:
  description: Exit code of the container when it exited.
  returned: when stopped
  type: int
logs:
  description: Last log lines of a stopped container (secret values replaced by ***).
  returned: always
  type: list
progress:
  description: What the runtime did, with elapsed seconds.
  returned: always
  type: list
task_definition:
  description: The task definition ARN run.
  returned: always
  type: str
container_id:
  description: Short id of the runtime container (pass it as O(watch) after a C(STARTING) result).
  returned: when a container was started or watched
  type: str
current:
  description: The runtime container, C(task_definition), C(image), C(status), C(managed); null when there is none.
  returned: state=info
  type: dict
removed:
  description: Names of the containers removed (or that would be, in check mode).
  returned: state=absent
  type: list
  elements: str
"""

from ansible.module_utils.facilitator_ops.common.argspec import ECS_CONTAINER
from ansible.module_utils.facilitator_ops.common.argspec import ECS_ENVIRONMENT
from ansible.module_utils.facilitator_ops.common.aws import value_from_fetcher
from ansible.module_utils.facilitator_ops.ecs.local_runtime import Runtime
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports it

try:
    import docker
    HAS_DOCKER = True
except ImportError:
    HAS_DOCKER = False


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            task_definition=dict(type="str"),
            state=dict(type="str", default="started", choices=["started", "absent", "info"]),
            **ECS_CONTAINER,
            **ECS_ENVIRONMENT,
            docker_name=dict(type="str", default="facilitator-local-runtime"),
            port=dict(type="int", default=18081),
            bind_host=dict(type="str", default="127.0.0.1"),
            replace_containers=dict(type="list", elements="str", default=[]),
            health_timeout=dict(type="int", default=90),
            health_wait=dict(type="int", default=0),
            watch=dict(type="str"),
            docker_host=dict(type="str"),
        ),
        required_if=[("state", "started", ["task_definition"])],
        supports_check_mode=True,
    )
    if not HAS_DOCKER:
        module.fail_json(msg="the python 'docker' SDK is required")
    p = module.params
    try:
        client = docker.DockerClient(base_url=p["docker_host"]) if p["docker_host"] else docker.from_env()
        client.ping()
    except Exception as e:  # the engine is down: not a task failure
        module.fail_json(msg=f"cannot reach the Docker engine: {e}")

    fetch = value_from_fetcher(module)

    rt = Runtime(client, fetch, container_name=p["container_name"], docker_name=p["docker_name"], port=p["port"],
                 bind_host=p["bind_host"], extra_environment=p["extra_environment"],
                 replace_containers=p["replace_containers"], health_timeout=p["health_timeout"])
    if p["state"] == "info":
        cur = rt.current()
        module.exit_json(changed=False, current=cur, health_status="NONE" if cur is None else cur["status"].upper(),
                         progress=[], logs=[], task_definition=(cur or {}).get("task_definition"))
    if p["state"] == "absent":
        removed = rt.remove(check_mode=module.check_mode)
        module.exit_json(changed=bool(removed), removed=removed, health_status="NONE", progress=[], logs=[],
                         task_definition=None)

    ecs = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())
    try:
        taskdef = ecs.describe_task_definition(aws_retry=True, taskDefinition=p["task_definition"])["taskDefinition"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"cannot read task definition {p['task_definition']}")
    try:
        result = rt.run_task(taskdef, check_mode=module.check_mode, wait=p["health_wait"] or None, watch=p["watch"])
    except docker.errors.DockerException as e:
        module.fail_json(msg=f"Docker engine error: {e}", progress=rt.progress)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
