#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: ecr_login
short_description: Log the Docker client in to an ECR registry with a token from ecr:GetAuthorizationToken
description:
  - Calls C(ecr:GetAuthorizationToken), checks the credential against the registry's C(/v2/) endpoint and writes it to
    the docker client config (mode 0600) that M(community.docker.docker_image_push) reads, like
    C(aws ecr get-login-password | docker login --password-stdin).
  - Exists because no bundled module gets an ECR token (M(community.docker.docker_login) needs the password as a task
    argument, which would put the token in the task's arguments and results).
  - The token never leaves the module process. It is not returned, not logged and not a fact; only the registry host,
    the user name and the expiry are returned.
  - With O(registry_auth=none) (a local registry standing in for ECR) the token is still fetched, to exercise the API,
    but not used; the module verifies that the registry answers without credentials and reports the login as skipped.
  - Refreshing a short-lived credential is bookkeeping, not a change to the facilitator, so C(changed) is false unless
    O(report_changes) is set; check mode fetches and verifies but writes nothing.
author:
  - facilitator-ops
options:
  registry:
    description:
      - Registry host[:port] to log in to. Default the host of the token's C(proxyEndpoint).
      - Locally the ECR API is moto while the registry is the stack's OCI registry (C(127.0.0.1:5001)).
    type: str
  registry_ids:
    description: AWS account ids of the registries (default the caller's account).
    type: list
    elements: str
  docker_config:
    description: Docker client config file to write. Default C($DOCKER_CONFIG/config.json), else C(~/.docker/config.json).
    type: path
  verify:
    description: Check the credential (or the absence of auth) against C(GET /v2/) before writing it.
    type: bool
    default: true
  report_changes:
    description: Report C(changed) when the stored credential changed.
    type: bool
    default: false
extends_documentation_fragment:
  - facilitator_registry
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Log in to the production ECR registry
  ecr_login:
    region: us-east-2

- name: Local stack (moto ECR API, auth-less OCI registry)
  ecr_login:
    registry: 127.0.0.1:5001
    registry_scheme: http
    registry_auth: none
"""

RETURN = r"""
registry:
  description: Registry host the login applies to.
  returned: always
  type: str
username:
  description: User name of the credential (C(AWS) for ECR).
  returned: always
  type: str
expires_at:
  description: Expiry of the token (ISO 8601).
  returned: always
  type: str
login:
  description: C(written) (credential stored), C(unchanged), C(skipped) (auth-less registry) or C(planned) (check mode).
  returned: always
  type: str
docker_config:
  description: Docker config file used (not for C(registry_auth=none)).
  returned: when registry_auth is ecr
  type: str
"""

import os

from ansible.module_utils.facilitator_ops.common.argspec import REGISTRY_ACCESS
from ansible.module_utils.facilitator_ops.image.ecr import EcrTokenError
from ansible.module_utils.facilitator_ops.image.ecr import docker_config_path
from ansible.module_utils.facilitator_ops.image.ecr import fetch_credentials
from ansible.module_utils.facilitator_ops.image.ecr import merge_docker_auth
from ansible.module_utils.facilitator_ops.image.ecr import pick_credential
from ansible.module_utils.facilitator_ops.image.ecr import read_docker_config
from ansible.module_utils.facilitator_ops.image.ecr import write_docker_config
from ansible.module_utils.facilitator_ops.image.registry import RegistryClient
from ansible.module_utils.facilitator_ops.image.registry import RegistryError
from ansible.module_utils.facilitator_ops.image.registry import registry_base_url
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            registry=dict(type="str"),
            registry_ids=dict(type="list", elements="str"),
            **REGISTRY_ACCESS,
            docker_config=dict(type="path"),
            verify=dict(type="bool", default=True),
            report_changes=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    client = module.client("ecr", retry_decorator=AWSRetry.jittered_backoff())
    try:
        creds = fetch_credentials(client, p["registry_ids"], aws_retry=True)
        cred = pick_credential(creds, p["registry"])
    except EcrTokenError as e:
        module.fail_json(msg=f"ecr_login: {e}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        if getattr(e, "response", {}).get("Error", {}).get("Code") == "AccessDeniedException":
            module.fail_json(msg="ecr_login: ecr:GetAuthorizationToken denied for these credentials")
        module.fail_json_aws(e, msg="ecr_login: GetAuthorizationToken failed")
    registry = p["registry"] or cred.registry
    out = dict(changed=False, registry=registry, username=cred.username, expires_at=cred.expires_at)
    base = registry_base_url(registry, p["registry_scheme"])

    if p["registry_auth"] == "none":
        if p["verify"]:
            try:
                status, challenge = RegistryClient(base).ping()
            except RegistryError as e:
                module.fail_json(msg=f"ecr_login: {e}", **out)
            if status != 200:
                module.fail_json(
                    msg=f"ecr_login: registry {registry} answers HTTP {status} without credentials"
                        f"{' (' + challenge.split(' ')[0] + ' auth)' if challenge else ''}: it needs registry_auth=ecr",
                    **out)
        out.update(login="skipped", msg=f"registry {registry} needs no credentials: login skipped (token not used)")
        module.exit_json(**out)

    if p["verify"]:
        try:
            status, _ = RegistryClient(base, authorization=cred.basic_header()).ping()
        except RegistryError as e:
            module.fail_json(msg=f"ecr_login: {e}", **out)
        if status != 200:
            module.fail_json(msg=f"ecr_login: registry {registry} refused the ECR credential (HTTP {status})", **out)

    path = docker_config_path(p["docker_config"])
    out["docker_config"] = path
    try:
        current = read_docker_config(path)
        new, differs = merge_docker_auth(current, registry, cred.docker_auth())
        if differs and not module.check_mode:
            write_docker_config(path, new)
        elif os.path.exists(path) and (os.stat(path).st_mode & 0o077) and not module.check_mode:
            os.chmod(path, 0o600)
    except (EcrTokenError, OSError) as e:
        module.fail_json(msg=f"ecr_login: cannot update {path}: {getattr(e, 'strerror', None) or e}", **out)
    out["login"] = "planned" if module.check_mode else ("written" if differs else "unchanged")
    out["changed"] = bool(differs and p["report_changes"])
    out["msg"] = f"docker client logged in to {registry} (token expires {cred.expires_at or 'unknown'})"
    module.exit_json(**out)


if __name__ == "__main__":
    main()
