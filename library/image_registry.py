#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_registry
short_description: Plan, push, tag and verify facilitator images in a registry (ECR) through skopeo
description:
  - Reads what each tag points to and the image's labels, so a build can be skipped when the registry already holds
    the same version and source, and so an existing version tag is never silently overwritten by a different image.
  - O(state=plan) reads the tags and decides C(none), C(retag), C(push), C(build) or refuses
    (an existing protected tag with a different digest, unless O(allow_retag)). Read-only.
  - O(state=pushed) copies the local Docker engine image O(image) to the registry under the first of O(tags) and
    points the others at the pushed digest; an existing tag already holding that image config is left as it is.
  - O(state=tagged) points O(tags) at an existing manifest O(digest) (no rebuild, no layer upload).
  - O(state=verified) checks that every tag points at O(digest) and, with O(image_id), that the manifest's image
    config is that local image.
  - All registry access goes through C(skopeo) (Debian package), which speaks the distribution API as ECR serves it (
    auth challenges; blob GETs answered with a 307 to a presigned S3 URL on another host, followed without
    sending the credential there, as S3 refuses a second auth mechanism). TLS is always verified.
  - The ECR credential is fetched inside the module and reaches skopeo through an anonymous in-memory file for the
    registry host only; it is never an argument, a file on disk, a result or a log line.
  - Exists because M(community.aws.ecs_ecr) manages the repository, not images, and
    M(community.docker.docker_image_push) neither protects version tags nor compares digests.
author:
  - facilitator-ops
options:
  state:
    description: What to do.
    type: str
    choices: [plan, pushed, tagged, verified]
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
  image:
    description: Local Docker engine image to push (pushed), e.g. C(127.0.0.1:5001/facilitator:1.92.0-abc1234).
    type: str
  image_id:
    description: The local image's id (C(sha256:...) of its config), compared with the registry's image config (pushed, verified).
    type: str
  digest:
    description: Manifest digest the O(tags) must point to (tagged, verified).
    type: str
  tags:
    description: Tags to push (pushed; the first receives the upload), to point at O(digest) (tagged) or to check (verified).
    type: list
    elements: str
    default: []
  docker_host:
    description: Docker engine the O(image) is read from (pushed). Default C(DOCKER_HOST), else the local socket.
    type: str
  timeout:
    description: Seconds one skopeo call may take.
    type: int
    default: 600
extends_documentation_fragment:
  - facilitator_registry
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Plan the push of 1.92.0
  image_registry:
    registry: 123456789012.dkr.ecr.us-east-2.amazonaws.com
    repository: facilitator
    version: 1.92.0
    source_digest: "{{ guard.source_digest }}"
    protected_tags: [1.92.0-abc1234, 1.92.0]
    mutable_tags: [latest]

- name: Push the built image by its version tags (local stack registry, stack CA)
  image_registry:
    state: pushed
    registry: 127.0.0.1:5001
    ecr_registry: 123456789012.dkr.ecr.us-east-2.amazonaws.com
    ca_bundle: .stack/ca.pem
    repository: facilitator
    image: 127.0.0.1:5001/facilitator:1.92.0-abc1234
    image_id: "{{ info.images[0].Id }}"
    tags: [1.92.0-abc1234, 1.92.0]

- name: Verify the pushed tags
  image_registry:
    state: verified
    registry: 123456789012.dkr.ecr.us-east-2.amazonaws.com
    repository: facilitator
    digest: "{{ pushed.digest }}"
    image_id: "{{ info.images[0].Id }}"
    tags: [1.92.0-abc1234, 1.92.0]
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
  description: The manifest digest (pushed, tagged, verified).
  returned: state in (pushed, tagged, verified)
  type: str
moved:
  description: Tags that were pointed at RV(digest) (or would be, in check mode).
  returned: state in (pushed, tagged)
  type: list
  elements: str
report:
  description: One line per tag (verified).
  returned: state=verified
  type: list
  elements: str
"""

import os

from ansible.module_utils.facilitator_ops.common.argspec import REGISTRY_ACCESS
from ansible.module_utils.facilitator_ops.image.ecr import EcrTokenError
from ansible.module_utils.facilitator_ops.image.ecr import credential_for
from ansible.module_utils.facilitator_ops.image.registry import RegistryError
from ansible.module_utils.facilitator_ops.image.registry import Skopeo
from ansible.module_utils.facilitator_ops.image.registry import compare_digests
from ansible.module_utils.facilitator_ops.image.registry import plan_push
from ansible.module_utils.facilitator_ops.image.registry import tag_summary
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule


def _client(module):
    p = module.params
    credential = None
    if p["registry_auth"] == "ecr":
        ecr = module.client("ecr", retry_decorator=AWSRetry.jittered_backoff())
        try:
            cred = credential_for(ecr, p["registry"], p["ecr_registry"], aws_retry=True)
        except EcrTokenError as e:
            module.fail_json(msg=f"image_registry: {e}")
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg="image_registry: GetAuthorizationToken failed")
        credential = (cred.username, cred.password)
    return Skopeo(p["registry"], credential=credential, ca_bundle=p["ca_bundle"], timeout=p["timeout"],
                  daemon_host=p["docker_host"] or os.environ.get("DOCKER_HOST"))


def _need(module, *names):
    missing = [n for n in names if not module.params[n]]
    if missing:
        module.fail_json(msg=f"image_registry: state={module.params['state']} needs {', '.join(missing)}")


def do_plan(module, client):
    p = module.params
    _need(module, "version", "source_digest")
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


def _point(module, client, digest, tags):
    """Point tags at digest; -> the tags that moved (or would)."""
    moved = []
    for tag in tags:
        current = client.manifest(module.params["repository"], tag)
        if current is not None and current[0] == digest:
            continue
        moved.append(tag)
        if not module.check_mode:
            client.copy_tag(module.params["repository"], digest, tag)
    return moved


def do_pushed(module, client):
    p = module.params
    _need(module, "image", "image_id", "tags")
    first = p["tags"][0]
    current = client.tag_state(p["repository"], first)
    if current is not None and current.get("config_digest") == p["image_id"]:
        digest, moved = current["digest"], []
    elif module.check_mode:
        module.exit_json(changed=True, digest=None, moved=list(p["tags"]),
                         msg=f"would push {p['image']} as {', '.join(p['tags'])}")
    else:
        digest, moved = client.push_from_daemon(p["image"], p["repository"], first), [first]
    moved += _point(module, client, digest, p["tags"][1:])
    module.exit_json(changed=bool(moved), digest=digest, moved=moved,
                     msg=f"{p['registry']}/{p['repository']}@{digest}: " + (
                         f"pushed/tagged {', '.join(moved)}" if moved else "already there"),
                     diff=dict(before={"tags_elsewhere": moved}, after={"tags_elsewhere": []}))


def do_tagged(module, client):
    p = module.params
    _need(module, "digest", "tags")
    if client.manifest(p["repository"], p["digest"]) is None:
        module.fail_json(msg=f"image_registry: {p['repository']}@{p['digest']} is not in the registry")
    moved = _point(module, client, p["digest"], p["tags"])
    module.exit_json(changed=bool(moved), digest=p["digest"], moved=moved,
                     diff=dict(before={"tags_elsewhere": moved}, after={"tags_elsewhere": []}))


def do_verified(module, client):
    p = module.params
    _need(module, "digest", "tags")
    remote = {t: client.tag_state(p["repository"], t) for t in p["tags"]}
    ok, lines = compare_digests(p["digest"], remote, p["image_id"])
    out = dict(changed=False, digest=p["digest"], report=lines,
               remote={t: (s or {}).get("digest") for t, s in remote.items()})
    if not ok:
        module.fail_json(msg="digest verification failed: " + "; ".join(x for x in lines if x.startswith("FAIL")),
                         **out)
    module.exit_json(msg=f"registry digest {p['digest']} verified for {len(remote)} tag(s)", **out)


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            state=dict(type="str", choices=["plan", "pushed", "tagged", "verified"], default="plan"),
            registry=dict(type="str", required=True),
            **REGISTRY_ACCESS,
            repository=dict(type="str", required=True),
            version=dict(type="str"),
            source_digest=dict(type="str"),
            protected_tags=dict(type="list", elements="str", default=[]),
            mutable_tags=dict(type="list", elements="str", default=[]),
            local_labels=dict(type="dict"),
            allow_retag=dict(type="bool", default=False),
            image=dict(type="str"),
            image_id=dict(type="str"),
            digest=dict(type="str"),
            tags=dict(type="list", elements="str", default=[]),
            docker_host=dict(type="str"),
            timeout=dict(type="int", default=600),
        ),
        supports_check_mode=True,
    )
    client = _client(module)
    try:
        {"plan": do_plan, "pushed": do_pushed, "tagged": do_tagged,
         "verified": do_verified}[module.params["state"]](module, client)
    except RegistryError as e:
        module.fail_json(msg=f"image_registry: {e}")


if __name__ == "__main__":
    main()
