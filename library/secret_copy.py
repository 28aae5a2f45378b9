#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: secret_copy
short_description: Copy a Secrets Manager secret across regions without the value leaving the module
description:
  - Reads the source secret (another region, optionally another profile or assumed role) and writes it to the
    destination secret in O(region), comparing the two by sha256 digest inside the module. An equal destination is
    left alone (no new version); a different one gets a new version only with O(overwrite=true), otherwise the
    module fails naming the secret (never its value). A destination changed since its copy (its
    C(facilitator-ops:migrated-source-digest) tag no longer matches it, e.g. a rotated wallet) is never overwritten,
    whatever O(overwrite) says (action C(superseded)).
  - With O(destination_key) the source value (a plain string, or O(source_key) of a JSON source) is written into one
    key of an existing JSON object secret by read-modify-write; the module then proves, by per-key digests, that
    every other key survived.
  - After writing it reads the destination back and verifies the digest, the O(required_keys) (which the source
    must hold too), and with O(wallet)
    that C(address) belongs to the C(private_key) beside it (EVM or Solana).
  - With O(wallet), a source holding C(private_key) only (the monorepo's shape) is copied with the C(address) derived
    from the key inside the module; a comma-separated EVM value (several signers, as the facilitator reads it) gets
    the addresses in the same order.
  - Every read names C(VersionStage=AWSCURRENT).
  - Returns the destination ARN (with its random suffix), the ECS C(valueFrom) strings and digests; never a value.
  - O(mode=verify) only checks that the destination is already an exact copy; O(mode=retire_source) does the same
    and then schedules deletion of the source with a recovery window. Both refuse when a copy would still be needed.
  - Exists because M(community.aws.secretsmanager_secret) and M(amazon.aws.secretsmanager_secret) only take the
    value as a task argument (so it passes through Ansible's variables and output), cannot copy across regions,
    cannot change one key of a JSON secret and cannot prove the other keys survived.
author:
  - facilitator-ops
options:
  source_name:
    description: Source secret name or ARN.
    type: str
    required: true
  source_region:
    description: Region of the source secret.
    type: str
    required: true
  source_profile:
    description: AWS profile for the source (default the module's credentials).
    type: str
  source_role_arn:
    description: Role to assume (with the module's or O(source_profile) credentials) to read the source.
    type: str
  source_key:
    description: With O(destination_key), read this key of a JSON source instead of the whole string.
    type: str
  destination_key:
    description: Write the value into this key of the destination JSON object secret (read-modify-write).
    type: str
  overwrite:
    description: Allow a new version when the destination (or its key) holds a different value.
    type: bool
    default: false
  create_missing:
    description:
      - Create the destination when it does not exist. Defaults to true for whole copies and false for a key
        insert (a key is normally written into an existing JSON map).
    type: bool
  description:
    description: Destination description (set on create, updated when different).
    type: str
  tags:
    description: Tags for the destination (added or updated, never removed).
    type: dict
  kms_key_id:
    description: KMS key for a created destination.
    type: str
  wallet:
    description:
      - The value is a C({"private_key", "address"}) wallet; verify the address belongs to the key (a missing
        C(address) is derived from the key and written with it).
    type: bool
    default: false
  value_from_keys:
    description:
      - Keys to build C(valueFrom) strings for. Default C(private_key) for wallets, O(destination_key) for a key
        insert, else O(required_keys).
    type: list
    elements: str
    default: []
  mode:
    description:
      - C(copy) copies; C(verify) only checks the destination is an exact, valid copy;
        C(retire_source) verifies then schedules deletion of the source.
    type: str
    choices: [copy, verify, retire_source]
    default: copy
  recovery_window_days:
    description: Recovery window for O(mode=retire_source).
    type: int
    default: 30
extends_documentation_fragment:
  - facilitator_lock
  - facilitator_secret
  - facilitator_secret.required_keys
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Copy the monorepo mainnet wallet to the standalone stack
  secret_copy:
    source_name: karmacadabra-facilitator-mainnet
    source_region: us-east-1
    name: facilitator-evm-mainnet-private-key
    region: us-east-2
    wallet: true

- name: Put the QuickNode URL into the RPC map's base key
  secret_copy:
    source_name: karmacadabra-quicknode-base-rpc
    source_region: us-east-1
    name: facilitator-rpc-mainnet
    destination_key: base
    region: us-east-2
"""

RETURN = r"""
action:
  description: create, add_version, insert_key, update_key, equal, superseded (changed since its copy, kept) or source_retired.
  returned: always
  type: str
arn:
  description: Destination ARN (with its random suffix); null in check mode for a destination still to create.
  returned: always
  type: str
value_from:
  description: ECS C(valueFrom) per key, C(<arn>:<key>::).
  returned: always
  type: dict
value_from_whole:
  description: C(valueFrom) for the whole secret (the ARN).
  returned: always
  type: str
digest:
  description: First 12 hex digits of the destination value's sha256 after the run.
  returned: when verified
  type: str
source:
  description: Source name, region, ARN, short digest, kind, whether it is scheduled for deletion.
  returned: always
  type: dict
preserved_keys:
  description: For a key insert, the other keys whose value digests are unchanged after the write.
  returned: when a key was written into an existing JSON secret
  type: list
keys:
  description: Key names of the destination JSON (never values).
  returned: when verified and JSON
  type: list
address:
  description: Public address of a wallet secret.
  returned: when wallet
  type: str
plan:
  description: One line saying what was (or would be) done.
  returned: always
  type: str
"""

try:
    import botocore  # noqa: F401  (AnsibleAWSModule reports its absence)
except ImportError:
    pass

from ansible.module_utils.facilitator_ops.common import lock
from ansible.module_utils.facilitator_ops.common.argspec import LOCK_FENCE
from ansible.module_utils.facilitator_ops.common.argspec import SECRET_NAME
from ansible.module_utils.facilitator_ops.common.argspec import SECRET_REQUIRED_KEYS
from ansible.module_utils.facilitator_ops.common.aws import secretsmanager_client
from ansible.module_utils.facilitator_ops.secrets.copy import run_copy
from ansible.module_utils.facilitator_ops.secrets.core import SecretError
from ansible.module_utils.facilitator_ops.secrets.core import SecretStore
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            **SECRET_NAME,
            **SECRET_REQUIRED_KEYS,
            source_name=dict(type="str", required=True),
            source_region=dict(type="str", required=True),
            source_profile=dict(type="str"),
            source_role_arn=dict(type="str"),
            source_key=dict(type="str", no_log=False),
            destination_key=dict(type="str", no_log=False),
            overwrite=dict(type="bool", default=False),
            create_missing=dict(type="bool"),
            description=dict(type="str"),
            tags=dict(type="dict"),
            kms_key_id=dict(type="str", no_log=False),
            wallet=dict(type="bool", default=False),
            value_from_keys=dict(type="list", elements="str", default=[], no_log=False),
            mode=dict(type="str", default="copy", choices=["copy", "verify", "retire_source"]),
            recovery_window_days=dict(type="int", default=30),
            **LOCK_FENCE,
        ),
        required_together=[["lock_table", "lock_name", "lock_token"]],
        supports_check_mode=True,
    )
    params = dict(module.params)
    params["region"] = module.region
    label = f"{params.get('region')}/{params['name']}"
    try:
        # the fence before every write, on either side (retire_source deletes at the source)
        fence = lock.fence_for_module(module, purpose="secrets migration")
        src = SecretStore(lock.fenced(
            secretsmanager_client(module, params["source_region"], params.get("source_profile"), params.get("source_role_arn")),
            fence))
        dst = SecretStore(lock.fenced(module.client("secretsmanager", retry_decorator=AWSRetry.jittered_backoff()), fence))
        result = run_copy(params, src, dst, check_mode=module.check_mode)
    except lock.LockLost as e:
        module.fail_json(msg=str(e), lost=True, name=params["name"])
    except SecretError as e:
        msg = str(e)
        module.fail_json(msg=msg if msg.startswith(label) else f"{label}: {msg}", name=params["name"])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"{label}: AWS call failed")
    for warning in result.pop("warnings", []):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
