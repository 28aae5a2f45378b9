#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_labels
short_description: Read an image's digest and version label from its registry (tag or digest reference)
description:
  - Resolves O(image) (C(<registry>/<repository>:<tag>) or C(@sha256:<digest>)) in its registry and returns the
    manifest digest and the image's labels, with the facilitator version from C(org.opencontainers.image.version).
  - With O(version), checks it against the label (a leading C(v) ignored) and fails on a mismatch, so C(-e version)
    is never trusted over the image itself.
  - Exists so the deploy learns an image's version from the registry, which every operator can read, rather than
    from a state file on the laptop that built it; M(community.docker.docker_image_info) only sees the local engine.
  - Reads only (runs the same in check mode).
author:
  - facilitator-ops
options:
  image:
    description: Full image reference with its registry host.
    type: str
    required: true
  version:
    description:
      - The version the operator gave; must equal the image's label. Unset, a tag that names a version
        (C(1.2.3), C(v1.2.3), C(1.2.3-<sha>)) must equal it.
    type: str
  timeout:
    description: Seconds one registry read may take.
    type: int
    default: 60
extends_documentation_fragment:
  - facilitator_registry
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: The image's own version
  image_labels:
    image: 123456789012.dkr.ecr.us-east-2.amazonaws.com/facilitator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    version: 1.92.0
  register: image_info
"""

RETURN = r"""
digest:
  description: Manifest digest the reference resolves to.
  returned: always
  type: str
labels:
  description: The image's labels.
  returned: always
  type: dict
version:
  description: The facilitator version (the label; O(version) when the image has no usable label).
  returned: always
  type: str
line:
  description: How the version was decided.
  returned: always
  type: str
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports it

from ansible.module_utils.facilitator_ops.common.argspec import REGISTRY_ACCESS
from ansible.module_utils.facilitator_ops.ecs.taskdef import version_from_image
from ansible.module_utils.facilitator_ops.image.ecr import EcrTokenError
from ansible.module_utils.facilitator_ops.image.ecr import credential_for
from ansible.module_utils.facilitator_ops.image.labels import ReferenceError_
from ansible.module_utils.facilitator_ops.image.labels import split_reference
from ansible.module_utils.facilitator_ops.image.labels import version_check
from ansible.module_utils.facilitator_ops.image.registry import LABEL_VERSION
from ansible.module_utils.facilitator_ops.image.registry import RegistryError
from ansible.module_utils.facilitator_ops.image.registry import Skopeo
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            image=dict(type="str", required=True),
            version=dict(type="str"),
            **REGISTRY_ACCESS,
            timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        registry, repository, reference = split_reference(p["image"])
    except ReferenceError_ as e:
        module.fail_json(msg=f"image_labels: {e}")
    credential = None
    if p["registry_auth"] == "ecr":
        ecr = module.client("ecr", retry_decorator=AWSRetry.jittered_backoff())
        try:
            cred = credential_for(ecr, registry, p["ecr_registry"], aws_retry=True)
        except EcrTokenError as e:
            module.fail_json(msg=f"image_labels: {e}")
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg="image_labels: GetAuthorizationToken failed")
        credential = (cred.username, cred.password)
    client = Skopeo(registry, credential=credential, ca_bundle=p["ca_bundle"], timeout=p["timeout"])
    try:
        state = client.tag_state(repository, reference)
    except RegistryError as e:
        module.fail_json(msg=f"image_labels: {e}")
    if state is None:
        module.fail_json(msg=f"image_labels: {p['image']} does not exist in {registry}")
    labels = state.get("labels") or {}
    ok, version, line = version_check(p["version"] or version_from_image(p["image"]), labels.get(LABEL_VERSION))
    out = dict(changed=False, digest=state["digest"], labels=labels, version=version, line=line)
    if not ok:
        module.fail_json(msg=f"image_labels: {p['image']}: {line}", **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
