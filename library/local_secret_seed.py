#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: local_secret_seed
short_description: Seed a Secrets Manager secret of the local stack with generated key material
description:
  - Creates one secret of the local stack's "before" world (the monorepo secrets and the new stack's RPC maps) when it
    is missing. An existing secret is left as it is (a rotated key is the world moving on, not drift), unless
    O(overwrite) is set.
  - Exists because the seeded wallets must hold keys of the local anvil chains without the keys ever being task arguments
    or registered values; M(community.aws.secretsmanager_secret) only accepts the value as an argument.
  - Values are derived inside the module from anvil's public development mnemonic, so every restart of the stack seeds the same world.
  - Never use against a real account; it refuses to run without O(endpoint_url).
author:
  - facilitator-ops
options:
  description:
    description: Secret description.
    type: str
    default: ""
  overwrite:
    description: Put the seed value as a new version when the secret exists with another value.
    type: bool
    default: false
  seed:
    description:
      - How to build the value. C(type) is one of C(evm_wallet) (with C(index), the anvil account index),
        C(solana_wallet) (with C(label)), C(json) (with C(data), a dict), C(string) (with C(value)), C(binary) (with C(hex)).
    type: dict
    required: true
extends_documentation_fragment:
  - facilitator_secret
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Seed the monorepo testnet wallet
  local_secret_seed:
    name: karmacadabra-facilitator-testnet
    region: us-east-1
    endpoint_url: http://127.0.0.1:5000
    seed: {type: evm_wallet, index: 2}
"""

RETURN = r"""
name:
  description: The secret's name (O(name)).
  returned: always
  type: str
arn:
  description: ARN of the secret.
  returned: always
  type: str
digest:
  description: First 12 hex digits of the seed value's sha256.
  returned: always
  type: str
kept:
  description: True when the secret exists with another value and was left as it is (O(overwrite) off).
  returned: always
  type: bool
"""

try:
    import botocore  # noqa: F401  (AnsibleAWSModule reports its absence)
except ImportError:
    pass

from ansible.module_utils.facilitator_ops.common.argspec import SECRET_NAME
from ansible.module_utils.facilitator_ops.common.digests import short
from ansible.module_utils.facilitator_ops.common.digests import value_digest
from ansible.module_utils.facilitator_ops.local_stack.seed import render
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            **SECRET_NAME,
            description=dict(type="str", default=""),
            seed=dict(type="dict", required=True),
            overwrite=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    if not module.params.get("endpoint_url"):
        module.fail_json(msg="local_secret_seed only runs against a local endpoint_url (moto), never real AWS")
    client = module.client("secretsmanager", retry_decorator=AWSRetry.jittered_backoff())
    name = module.params["name"]
    try:
        kind, value = render(module.params["seed"])
    except ValueError as e:
        module.fail_json(msg=f"{name}: {e}")
    new_digest = value_digest(string_value=value) if kind == "string" else value_digest(binary_value=value)
    payload = {"SecretString": value} if kind == "string" else {"SecretBinary": value}

    try:
        current = client.get_secret_value(aws_retry=True, SecretId=name)
        cur_digest = value_digest(current.get("SecretString"), current.get("SecretBinary"))
    except is_boto3_error_code("ResourceNotFoundException"):
        current, cur_digest = None, None

    result = dict(changed=False, name=name, digest=short(new_digest), kept=False)
    if current is not None and (cur_digest == new_digest or not module.params["overwrite"]):
        result["arn"] = current["ARN"]
        result["kept"] = cur_digest != new_digest
        module.exit_json(**result)
    result["changed"] = True
    result["diff"] = dict(before={"digest": short(cur_digest)}, after={"digest": short(new_digest)})
    if module.check_mode:
        result["arn"] = current["ARN"] if current else None
        module.exit_json(**result)
    if current is None:
        resp = client.create_secret(aws_retry=True, Name=name, Description=module.params["description"], **payload)
    else:
        resp = client.put_secret_value(aws_retry=True, SecretId=name, **payload)
    result["arn"] = resp["ARN"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
