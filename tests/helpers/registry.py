"""Push a local engine image to the stack's ECR-like registry (https://127.0.0.1:5001) the
way the image build does: through skopeo (the project's Skopeo class), with the credential
the AWS stand-in's GetAuthorizationToken issues for the ECR registry host the local
inventory names, and the stack's CA. `docker push` cannot: the registry refuses a push
without that credential, and a `docker login` would write it into the user's docker config.

Any moto server issues the same credential for the account (the token is derived from the
account id), so a test's private moto works as well as the stack's.
"""
from __future__ import annotations

import os
from pathlib import Path

import boto3

from ansible.module_utils.facilitator_ops.image.ecr import credential_for
from ansible.module_utils.facilitator_ops.image.labels import split_reference
from ansible.module_utils.facilitator_ops.image.registry import Skopeo

REPO = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("FACILITATOR_OPS_STATE") or REPO / ".stack")
REGISTRY = "127.0.0.1:5001"
ECR_REGISTRY = "123456789012.dkr.ecr.us-east-2.amazonaws.com"  # inventories/local image_build_ecr_registry


def registry(endpoint="http://127.0.0.1:5000"):
    """The stack registry through skopeo, with the ECR stand-in's credential."""
    ecr = boto3.client("ecr", endpoint_url=endpoint, region_name="us-east-2",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    cred = credential_for(ecr, REGISTRY, ECR_REGISTRY)
    return Skopeo(REGISTRY, credential=(cred.username, cred.password), ca_bundle=str(STATE / "ca.pem"),
                  daemon_host=os.environ.get("DOCKER_HOST"))


def manifest_digest(tag, endpoint="http://127.0.0.1:5000"):
    """The manifest digest `127.0.0.1:5001/<repo>:<tag>` resolves to in the registry, or None."""
    _, repository, reference = split_reference(tag)
    got = registry(endpoint).manifest(repository, reference)
    return got[0] if got else None


def push(tags, endpoint="http://127.0.0.1:5000"):
    """Push each `127.0.0.1:5001/<repo>:<tag>` from the engine; a tag already holding the
    same image (config digest) is left alone. -> {tag: manifest digest}."""
    import docker

    skopeo = registry(endpoint)
    engine = docker.from_env()
    out = {}
    for tag in tags:
        _, repository, reference = split_reference(tag)
        state = skopeo.tag_state(repository, reference)
        if state is not None and state.get("config_digest") == engine.images.get(tag).id:
            out[tag] = state["digest"]
            continue
        out[tag] = skopeo.push_from_daemon(tag, repository, reference)
    return out
