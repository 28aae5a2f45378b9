#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: ecr_login
short_description: Log the Docker client in to an ECR registry with a token from ecr:GetAuthorizationToken
description:
  - Calls C(ecr:GetAuthorizationToken), checks the credential against the registry's C(/v2/) endpoint (HTTPS,
    verified) and stores it where the Docker client reads it, like C(aws ecr get-login-password | docker login
    --password-stdin) - for operators' own docker commands; the project's playbooks pass the credential to skopeo
    inside M(image_registry) instead and need no docker login.
  - A docker config with a credential helper (C(credsStore), or C(credHelpers) for this registry) gets the credential
    through C(docker-credential-<helper> store), on its stdin; a config without one gets it in C(auths) (file mode
    0600). A configured helper that is not installed fails with that reason, before anything is written.
  - Exists because no bundled module gets an ECR token (M(community.docker.docker_login) needs the password as a task
    argument, which would put the token in the task's arguments and results).
  - The token never leaves the module process except into the helper's stdin or the config file. It is not
    returned, not logged and not a fact; only the registry host, the user name and the expiry are returned.
  - The credential goes to one registry host only (O(registry), issued for O(ecr_registry)); there is no fallback to
    whatever token GetAuthorizationToken returned.
  - Refreshing a short-lived credential is bookkeeping, not a change to the facilitator, so C(changed) is false unless
    O(report_changes) is set; check mode fetches and verifies but writes nothing.
author:
  - facilitator-ops
options:
  registry:
    description:
      - Registry host[:port] to log in to. Default the host of O(ecr_registry), else of the caller's own registry
        (the token's C(proxyEndpoint)).
    type: str
  docker_config:
    description: Docker client config file to write. Default C($DOCKER_CONFIG/config.json), else C(~/.docker/config.json).
    type: path
  verify:
    description: Check the credential (or, with O(registry_auth=none), the absence of auth) against C(GET /v2/) first.
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

- name: The local stack's ECR-like registry (credential issued by the AWS stand-in)
  ecr_login:
    registry: 127.0.0.1:5001
    ecr_registry: 123456789012.dkr.ecr.us-east-2.amazonaws.com
    ca_bundle: .stack/ca.pem
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
credential_helper:
  description: The docker credential helper the credential was stored with, or null (stored in the config file).
  returned: when registry_auth is ecr
  type: str
"""

import os
import shutil

from ansible.module_utils.facilitator_ops.common.argspec import REGISTRY_ACCESS
from ansible.module_utils.facilitator_ops.common.http import ssl_context
from ansible.module_utils.facilitator_ops.image.ecr import EcrTokenError
from ansible.module_utils.facilitator_ops.image.ecr import credential_for
from ansible.module_utils.facilitator_ops.image.ecr import credential_helper
from ansible.module_utils.facilitator_ops.image.ecr import docker_config_path
from ansible.module_utils.facilitator_ops.image.ecr import fetch_credentials
from ansible.module_utils.facilitator_ops.image.ecr import merge_docker_auth
from ansible.module_utils.facilitator_ops.image.ecr import read_docker_config
from ansible.module_utils.facilitator_ops.image.ecr import store_with_helper
from ansible.module_utils.facilitator_ops.image.ecr import write_docker_config
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule


def ping(registry, auth, ca_bundle):
    """HTTP status of GET https://<registry>/v2/ (TLS verified)."""
    import httpx

    try:
        return httpx.get(f"https://{registry}/v2/", auth=auth, verify=ssl_context(ca_bundle), timeout=30).status_code
    except httpx.HTTPError as e:
        raise EcrTokenError(f"registry {registry} unreachable: {e.__class__.__name__}: {e}") from None


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            registry=dict(type="str"),
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
        if p["registry"] or p["ecr_registry"]:
            cred = credential_for(client, p["registry"] or p["ecr_registry"], p["ecr_registry"], aws_retry=True)
        else:  # the caller's own registry: the token is for the host it names
            cred = fetch_credentials(client, aws_retry=True)[0]
    except EcrTokenError as e:
        module.fail_json(msg=f"ecr_login: {e}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        if getattr(e, "response", {}).get("Error", {}).get("Code") == "AccessDeniedException":
            module.fail_json(msg="ecr_login: ecr:GetAuthorizationToken denied for these credentials")
        module.fail_json_aws(e, msg="ecr_login: GetAuthorizationToken failed")
    registry = p["registry"] or p["ecr_registry"] or cred.registry
    out = dict(changed=False, registry=registry, username=cred.username, expires_at=cred.expires_at)

    try:
        if p["registry_auth"] == "none":
            if p["verify"]:
                status = ping(registry, None, p["ca_bundle"])
                if status != 200:
                    module.fail_json(msg=f"ecr_login: registry {registry} answers HTTP {status} without credentials: "
                                         "it needs registry_auth=ecr", **out)
            out.update(login="skipped", msg=f"registry {registry} needs no credentials: login skipped (token not used)")
            module.exit_json(**out)
        if p["verify"]:
            status = ping(registry, (cred.username, cred.password), p["ca_bundle"])
            if status != 200:
                module.fail_json(msg=f"ecr_login: registry {registry} refused the ECR credential (HTTP {status})", **out)

        path = docker_config_path(p["docker_config"])
        out["docker_config"] = path
        current = read_docker_config(path)
        helper = credential_helper(current, registry)
        out["credential_helper"] = helper
        if helper and module.check_mode:
            if not shutil.which(f"docker-credential-{helper}"):
                raise EcrTokenError(f"the docker config stores credentials with the helper '{helper}' but "
                                    f"docker-credential-{helper} is not on PATH")
            differs = True
        elif helper:
            differs = store_with_helper(helper, registry, cred.username, cred.password)
        else:
            new, differs = merge_docker_auth(current, registry, cred.docker_auth())
            if differs and not module.check_mode:
                write_docker_config(path, new)
            elif os.path.exists(path) and (os.stat(path).st_mode & 0o077) and not module.check_mode:
                os.chmod(path, 0o600)
    except EcrTokenError as e:
        module.fail_json(msg=f"ecr_login: {e}", **out)
    except OSError as e:
        module.fail_json(msg=f"ecr_login: cannot update {out.get('docker_config')}: {e.strerror or e}", **out)
    out["login"] = "planned" if module.check_mode else ("written" if differs else "unchanged")
    out["changed"] = bool(differs and p["report_changes"])
    out["msg"] = (f"docker client logged in to {registry}"
                  f"{' via docker-credential-' + helper if helper else ''} (token expires {cred.expires_at or 'unknown'})")
    module.exit_json(**out)


if __name__ == "__main__":
    main()
