# -*- coding: utf-8 -*-
"""Argument-spec pieces several modules share, merged into their own spec:

    argument_spec=dict(**ECS_SERVICE, **ECS_CONTAINER, image=dict(type="str"), ...)

(a duplicate key is then a TypeError, so a module cannot silently override a piece).
Each piece is documented once, by the doc fragment named beside it (doc_fragments/<name>.py),
which the module lists under extends_documentation_fragment; tests/unit/test_module_docs.py
checks that the two agree.
"""
from __future__ import annotations

# facilitator_ecs
ECS_SERVICE = dict(
    cluster=dict(type="str", required=True),
    service=dict(type="str", required=True),
)
# facilitator_ecs.container
ECS_CONTAINER = dict(container_name=dict(type="str", default="facilitator"))
# facilitator_ecs.environment
ECS_ENVIRONMENT = dict(extra_environment=dict(type="dict", default={}))

# facilitator_wallet (an ARN: names the secret, holds no key material)
WALLET_SECRET = dict(secret_arn=dict(type="str", required=True, no_log=False))
# facilitator_wallet.kind
WALLET_KIND = dict(kind=dict(type="str", required=True, choices=["evm", "solana"]))
# facilitator_wallet.versions
WALLET_VERSIONS = dict(
    old_version=dict(type="str", required=True),
    new_version=dict(type="str", required=True),
)
# facilitator_wallet.chains
WALLET_CHAINS = dict(
    networks=dict(type="dict", required=True),
    rpc_timeout=dict(type="float", default=20.0),
)

# facilitator_secret
SECRET_NAME = dict(name=dict(type="str", required=True))
# facilitator_secret.required_keys (key names, not values)
SECRET_REQUIRED_KEYS = dict(required_keys=dict(type="list", elements="str", default=[], no_log=False))

# facilitator_registry
REGISTRY_ACCESS = dict(
    registry_auth=dict(type="str", choices=["ecr", "none"], default="ecr"),
    ecr_registry=dict(type="str"),
    ca_bundle=dict(type="path"),
)

# facilitator_url
FACILITATOR_URL = dict(
    base_url=dict(type="str", required=True),
    ca_bundle=dict(type="path"),
)

# facilitator_lock (the fence: the run's lock, checked right before each write; the token is not a
# secret, it only names the run that holds the lock)
LOCK_FENCE = dict(
    lock_table=dict(type="str"),
    lock_name=dict(type="str"),
    lock_token=dict(type="str", no_log=False),
    lock_region=dict(type="str"),
)
