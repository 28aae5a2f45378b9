#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: ecs_container_env_file
short_description: Resolve an ECS container definition's environment and secrets into a private env file
description:
  - Reads the C(environment) and C(secrets) of one container definition, resolves each C(valueFrom) from Secrets Manager
    (including the C(:json-key:stage:version-id) selector) exactly as the ECS agent does, and writes a docker env file
    with mode 0600.
  - Exists so the local stack runs the facilitator from the same task definition as ECS, without any secret value ever
    being a task argument, a registered result or a fact. No bundled module resolves C(valueFrom).
  - Returns variable names and a digest only.
author:
  - facilitator-ops
options:
  container_definition:
    description: The container definition (as returned by C(describe-task-definition)); C(environment) and C(secrets) are used.
    type: dict
    required: true
  dest:
    description: Env file to write (its directory must exist).
    type: path
    required: true
extends_documentation_fragment:
  - facilitator_ecs.environment
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Env file of the facilitator container
  ecs_container_env_file:
    container_definition: "{{ taskdef.containerDefinitions | selectattr('name', 'equalto', 'facilitator') | first }}"
    extra_environment: {PORT: "18081"}
    dest: .stack/facilitator-new.env
"""

RETURN = r"""
names:
  description: Names of the variables written (plain and secret).
  returned: always
  type: list
  elements: str
secret_names:
  description: Names of the variables resolved from Secrets Manager.
  returned: always
  type: list
  elements: str
digest:
  description: First 12 hex digits of the file content's sha256.
  returned: always
  type: str
dest:
  description: The env file (O(dest)).
  returned: always
  type: str
"""

import os
import tempfile

from ansible.module_utils.facilitator_ops.common.argspec import ECS_ENVIRONMENT
from ansible.module_utils.facilitator_ops.common.aws import value_from_fetcher
from ansible.module_utils.facilitator_ops.ecs.secrets import ResolveError
from ansible.module_utils.facilitator_ops.ecs.secrets import content_digest
from ansible.module_utils.facilitator_ops.ecs.secrets import render_env_file
from ansible.module_utils.facilitator_ops.ecs.secrets import resolve_secrets
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            container_definition=dict(type="dict", required=True),
            **ECS_ENVIRONMENT,
            dest=dict(type="path", required=True),
        ),
        supports_check_mode=True,
    )
    cdef = module.params["container_definition"]
    fetch = value_from_fetcher(module)

    env = {e["name"]: e.get("value", "") for e in cdef.get("environment") or []}
    try:
        secret_env = resolve_secrets(cdef.get("secrets") or [], fetch)
        env.update(secret_env)
        env.update({k: str(v) for k, v in module.params["extra_environment"].items()})
        text = render_env_file(env)
    except ResolveError as e:
        module.fail_json(msg=str(e))
    digest = content_digest(text)
    dest = module.params["dest"]
    current = None
    if os.path.exists(dest):
        with open(dest) as f:
            current = content_digest(f.read())
    result = dict(
        changed=current != digest,
        names=sorted(env),
        secret_names=sorted(secret_env),
        digest=digest[:12],
        dest=dest,
        diff=dict(before={"digest": (current or "")[:12]}, after={"digest": digest[:12]}),
    )
    if result["changed"] and not module.check_mode:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest) or ".", prefix=".env.")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, dest)
        except OSError as e:
            if os.path.exists(tmp):
                os.unlink(tmp)
            module.fail_json(msg=f"cannot write {dest}: {e.strerror}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
