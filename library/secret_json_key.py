#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: secret_json_key
short_description: Change or remove one key of a JSON Secrets Manager secret, keeping every other key
description:
  - Reads the JSON object secret, changes one key, writes a new version, reads it back and proves by per-key
    digests that every other key survived (fails naming the damaged keys otherwise; AWSPREVIOUS holds the old one).
  - A key already holding the value is left alone (no new version).
  - Exists because C(update-secret --secret-string), M(community.aws.secretsmanager_secret) and
    M(amazon.aws.secretsmanager_secret) replace the whole document (changing one RPC URL that way has wiped the
    other keys of production's RPC map). None of them can prove the other keys survived.
  - Returns digests, key names and the ARN; never a value.
author:
  - facilitator-ops
options:
  key:
    description: The JSON key to change.
    type: str
    required: true
  value:
    description: New value of the key (a string). Required with O(state=present). A secret, never logged.
    type: str
  state:
    description: C(present) sets the key, C(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  overwrite:
    description: Allow changing a key that already holds a different value.
    type: bool
    default: true
  create_missing:
    description: Create the secret (as a one-key JSON object) when it does not exist.
    type: bool
    default: false
  description:
    description: Description for a created secret.
    type: str
  expected_digest:
    description:
      - Compare-and-swap guard. The current value's sha256 must start with this (e.g. the 12-hex digest shown by a
        previous check run), or nothing is written.
    type: str
extends_documentation_fragment:
  - facilitator_lock
  - facilitator_secret
  - facilitator_secret.required_keys
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Point the base network at a new RPC URL
  secret_json_key:
    name: facilitator-rpc-mainnet
    key: base
    value: "{{ new_url }}"
    required_keys: [avalanche, polygon]
  no_log: true
"""

RETURN = r"""
action:
  description: create, insert_key, update_key, remove_key or equal.
  returned: always
  type: str
arn:
  description: ARN of the secret.
  returned: always
  type: str
digest_before:
  description: Short sha256 of the whole value before.
  returned: always
  type: str
digest:
  description: Short sha256 of the whole value after.
  returned: when written or verified
  type: str
key_digest:
  description: Short sha256 of the key's new value (compare with a source secret's digest).
  returned: state=present
  type: str
preserved_keys:
  description: Other keys whose value digests are unchanged after the write.
  returned: when written
  type: list
keys:
  description: Key names after the run.
  returned: when written or verified
  type: list
value_from:
  description: ECS C(valueFrom) for the key, C(<arn>:<key>::).
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
from ansible.module_utils.facilitator_ops.secrets.core import SecretError
from ansible.module_utils.facilitator_ops.secrets.core import SecretStore
from ansible.module_utils.facilitator_ops.secrets.json_key import run_set_key
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            **SECRET_NAME,
            **SECRET_REQUIRED_KEYS,
            key=dict(type="str", required=True, no_log=False),
            value=dict(type="str", no_log=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            overwrite=dict(type="bool", default=True),
            create_missing=dict(type="bool", default=False),
            description=dict(type="str"),
            expected_digest=dict(type="str", no_log=False),
            **LOCK_FENCE,
        ),
        required_together=[["lock_table", "lock_name", "lock_token"]],
        supports_check_mode=True,
    )
    params = dict(module.params)
    params["region"] = module.region
    label = f"{params.get('region')}/{params['name']}[{params['key']}]"
    try:
        fence = lock.fence_for_module(module, purpose="secrets")
        store = SecretStore(lock.fenced(module.client("secretsmanager", retry_decorator=AWSRetry.jittered_backoff()), fence))
        result = run_set_key(params, store, check_mode=module.check_mode)
    except lock.LockLost as e:
        module.fail_json(msg=str(e), lost=True, name=params["name"])
    except SecretError as e:
        module.fail_json(msg=str(e) if str(e).startswith(label) else f"{label}: {e}", name=params["name"])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"{label}: AWS call failed")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
