#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_registry
short_description: Plan, tag and verify facilitator images in a registry through its HTTP API
description:
  - Talks to the registry's HTTP API (Docker Registry v2 / OCI distribution, which ECR also serves) to read what each
    tag points to and the image's labels, so a build can be skipped when the registry already holds the same version
    and source, and so an existing version tag is never silently overwritten by a different image.
  - O(state=plan) reads the tags and decides C(none), C(retag), C(push), C(build) or refuses
    (an existing protected tag with a different digest, unless O(allow_retag)). Read-only.
  - O(state=tagged) points tags at an existing manifest digest (a manifest copy, no rebuild, no push of layers).
  - O(state=verified) compares every tag's manifest digest in the registry with the local image's RepoDigest.
  - Exists because M(community.aws.ecs_ecr) manages the repository, not images, M(community.docker.docker_image_push)
    does not compare digests or protect tags, and locally the images live in an OCI registry that the ECR API
    (moto) knows nothing about.
author:
  - facilitator-ops
options:
  state:
    description: What to do.
    type: str
    choices: [plan, tagged, verified]
    default: plan
  registry:
    description: Registry host[:port], e.g. C(123456789012.dkr.ecr.us-east-2.amazonaws.com) or C(127.0.0.1:5001).
    type: str
    required: true
  repository:
    description: Repository name in the registry.
    type: str
    required: true
  version:
    description: Facilitator version being built (plan).
    type: str
  source_digest:
    description: Source digest of the tree being built (plan), compared with the images' source-digest label.
    type: str
  protected_tags:
    description: Tags that must never move to a different image silently (C(<version>), C(<version>-<sha>)).
    type: list
    elements: str
    default: []
  mutable_tags:
    description: Tags that follow the newest build (C(latest), an environment tag).
    type: list
    elements: str
    default: []
  local_labels:
    description: Labels of the image already in the local engine under the build's name (plan), if any.
    type: dict
  allow_retag:
    description: Allow overwriting protected tags that point to a different image.
    type: bool
    default: false
  digest:
    description: Manifest digest the O(tags) must point to (tagged).
    type: str
  tags:
    description: Tags to point at O(digest) (tagged) or to verify (verified).
    type: list
    elements: str
    default: []
  repo_digests:
    description: RepoDigests of the local image (verified), as reported by the Docker engine.
    type: list
    elements: str
    default: []
  timeout:
    description: HTTP timeout in seconds.
    type: float
    default: 30
extends_documentation_fragment:
  - facilitator_registry
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Plan the push of 1.92.0
  image_registry:
    registry: 127.0.0.1:5001
    registry_scheme: http
    registry_auth: none
    repository: facilitator
    version: 1.92.0
    source_digest: "{{ guard.source_digest }}"
    protected_tags: [1.92.0-abc1234, 1.92.0]
    mutable_tags: [latest]

- name: Verify the pushed tags
  image_registry:
    state: verified
    registry: 127.0.0.1:5001
    registry_scheme: http
    registry_auth: none
    repository: facilitator
    tags: [1.92.0-abc1234, 1.92.0, latest]
    repo_digests: "{{ image_info.images[0].RepoDigests }}"
"""

RETURN = r"""
plan:
  description: The decision (C(action), C(digest), C(tags_to_move), C(refused), C(reason)).
  returned: state=plan
  type: dict
remote:
  description:
    - With O(state=plan), per tag, C(digest), C(version) and C(source_digest) labels, or null when the tag does not exist.
    - With O(state=verified), per tag, the registry's manifest digest, or null when the tag does not exist.
  returned: state in (plan, verified)
  type: dict
digest:
  description: The manifest digest (tagged, verified).
  returned: state in (tagged, verified)
  type: str
moved:
  description: Tags that were pointed at RV(digest) (or would be, in check mode).
  returned: state=tagged
  type: list
  elements: str
report:
  description: One line per tag (verified).
  returned: state=verified
  type: list
  elements: str
"""

from ansible.module_utils.facilitator_ops.common.argspec import REGISTRY_ACCESS
from ansible.module_utils.facilitator_ops.image.ecr import EcrTokenError
from ansible.module_utils.facilitator_ops.image.ecr import fetch_credentials
from ansible.module_utils.facilitator_ops.image.ecr import pick_credential
from ansible.module_utils.facilitator_ops.image.registry import RegistryClient
from ansible.module_utils.facilitator_ops.image.registry import RegistryError
from ansible.module_utils.facilitator_ops.image.registry import compare_digests
from ansible.module_utils.facilitator_ops.image.registry import local_digest_for
from ansible.module_utils.facilitator_ops.image.registry import plan_push
from ansible.module_utils.facilitator_ops.image.registry import registry_base_url
from ansible.module_utils.facilitator_ops.image.registry import tag_summary
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule


def _client(module):
    p = module.params
    auth = None
    if p["registry_auth"] == "ecr":
        ecr = module.client("ecr", retry_decorator=AWSRetry.jittered_backoff())
        try:
            cred = pick_credential(fetch_credentials(ecr, aws_retry=True), p["registry"])
        except EcrTokenError as e:
            module.fail_json(msg=f"image_registry: {e}")
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg="image_registry: GetAuthorizationToken failed")
        auth = cred.basic_header()
    return RegistryClient(registry_base_url(p["registry"], p["registry_scheme"]), authorization=auth,
                          timeout=p["timeout"])


def do_plan(module, client):
    p = module.params
    if not p["version"] or not p["source_digest"]:
        module.fail_json(msg="image_registry: state=plan needs version and source_digest")
    tags = list(dict.fromkeys(p["protected_tags"] + p["mutable_tags"]))
    remote = {t: client.tag_state(p["repository"], t) for t in tags}
    local = {"labels": p["local_labels"]} if p["local_labels"] else None
    plan = plan_push(p["version"], p["source_digest"], p["protected_tags"], p["mutable_tags"], remote,
                     local=local, allow_retag=p["allow_retag"])
    out = dict(changed=False, plan=plan, remote={t: tag_summary(s) for t, s in remote.items()})
    if plan["action"] == "refuse":
        module.fail_json(
            msg=(f"refusing to overwrite {p['registry']}/{p['repository']}: {plan['reason']} "
                 "(re-run with -e allow_retag=true to overwrite)"), **out)
    module.exit_json(msg=plan["reason"], **out)


def do_tagged(module, client):
    p = module.params
    if not p["digest"] or not p["tags"]:
        module.fail_json(msg="image_registry: state=tagged needs digest and tags")
    got = client.get_manifest(p["repository"], p["digest"])
    if got is None:
        module.fail_json(msg=f"image_registry: {p['repository']}@{p['digest']} is not in the registry")
    digest, media_type, body = got
    moved = []
    for tag in p["tags"]:
        current = client.get_manifest(p["repository"], tag)
        if current is not None and current[0] == digest:
            continue
        moved.append(tag)
        if not module.check_mode:
            client.put_manifest(p["repository"], tag, media_type, body)
    module.exit_json(changed=bool(moved), digest=digest, moved=moved,
                     diff=dict(before={"tags_elsewhere": moved}, after={"tags_elsewhere": []}))


def do_verified(module, client):
    p = module.params
    local = local_digest_for(p["repo_digests"], p["registry"], p["repository"])
    remote = {}
    for tag in p["tags"]:
        got = client.get_manifest(p["repository"], tag)
        remote[tag] = got[0] if got else None
    ok, lines = compare_digests(local, remote)
    out = dict(changed=False, digest=local, report=lines, remote=remote)
    if not ok:
        module.fail_json(msg="digest verification failed: " + "; ".join(x for x in lines if x.startswith("FAIL")),
                         **out)
    module.exit_json(msg=f"registry digest {local} verified for {len(remote)} tag(s)", **out)


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            state=dict(type="str", choices=["plan", "tagged", "verified"], default="plan"),
            registry=dict(type="str", required=True),
            **REGISTRY_ACCESS,
            repository=dict(type="str", required=True),
            version=dict(type="str"),
            source_digest=dict(type="str"),
            protected_tags=dict(type="list", elements="str", default=[]),
            mutable_tags=dict(type="list", elements="str", default=[]),
            local_labels=dict(type="dict"),
            allow_retag=dict(type="bool", default=False),
            digest=dict(type="str"),
            tags=dict(type="list", elements="str", default=[]),
            repo_digests=dict(type="list", elements="str", default=[]),
            timeout=dict(type="float", default=30.0),
        ),
        supports_check_mode=True,
    )
    client = _client(module)
    try:
        {"plan": do_plan, "tagged": do_tagged, "verified": do_verified}[module.params["state"]](module, client)
    except RegistryError as e:
        module.fail_json(msg=f"image_registry: {e}")


if __name__ == "__main__":
    main()
