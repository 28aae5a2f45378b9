#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: secrets_migration_status
short_description: Tell from AWS whether the secrets migration happened, and the container secrets it gives the deploy
description:
  - Finds the destinations of the secrets-migration mapping (the inventory's C(secrets_migration_secrets)) by name in
    their region and recognises the migrated ones by the tag the migration leaves (C(facilitator-ops:migrated-source-digest)
    on a whole copy, C(facilitator-ops:migrated-key:<key>) on a key written into an existing JSON secret).
  - When every item with C(env) is migrated, returns the container secrets (C(valueFrom) built from the ARNs AWS
    returns); when none is, returns none (the deploy keeps the task definition's). Fails in one line when only
    some are (an interrupted migration) or when a migrated secret is tagged for another C(environment).
  - Exists so that every operator, laptop or controller job takes the same decision. The file the migration
    writes (C(state/<env>/secrets_migration.json)) exists only on the machine that ran it, and
    M(amazon.aws.secretsmanager_secret) has no read-only lookup of tags and ARNs across a mapping.
  - Only C(DescribeSecret) is called, no secret value is read. Changes nothing (check mode runs the same).
author:
  - facilitator-ops
options:
  secrets:
    description: The secrets-migration mapping (see docs/runbook-secrets-migration.md), validated as the migration does.
    type: raw
    required: true
  default_source_region:
    description: Source region for items without C(source_region) (only validated; the sources are not read).
    type: str
  default_region:
    description: Destination region for items without C(destination_region).
    type: str
  environment:
    description: The environment deployed; a migrated secret tagged C(environment) with another value is refused.
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: The migrated secrets, from AWS
  secrets_migration_status:
    secrets: "{{ secrets_migration_secrets }}"
    default_source_region: us-east-1
    default_region: us-east-2
    environment: production
  register: migrated
"""

RETURN = r"""
state:
  description: C(migrated) (every item with C(env) is) or C(not_migrated) (none is).
  returned: always
  type: str
container_secrets:
  description: C([{name, valueFrom}]) for the facilitator container, empty when not migrated.
  returned: always
  type: list
value_from:
  description: The same as a map, environment variable name to C(valueFrom).
  returned: always
  type: dict
secrets:
  description: Per migrated destination its name, region and ARN.
  returned: always
  type: dict
lines:
  description: What was decided and why, for the deploy's plan.
  returned: always
  type: list
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports it

from ansible.module_utils.facilitator_ops.common.aws import secretsmanager_client
from ansible.module_utils.facilitator_ops.secrets.core import SecretError
from ansible.module_utils.facilitator_ops.secrets.core import SecretStore
from ansible.module_utils.facilitator_ops.secrets.mapping import normalise
from ansible.module_utils.facilitator_ops.secrets.status import migration_status
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            secrets=dict(type="raw", required=True, no_log=False),  # names and regions, never values
            default_source_region=dict(type="str"),
            default_region=dict(type="str"),
            environment=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    # No mapping (an environment without a monorepo to migrate from): nothing migrated.
    entries, problems = normalise(p["secrets"], p["default_source_region"], p["default_region"] or module.region) \
        if p["secrets"] not in (None, "", []) else ([], [])
    if problems:
        module.fail_json(msg="invalid secrets mapping: " + "; ".join(problems))
    stores = {}

    def describe(region, name):
        if region not in stores:
            stores[region] = SecretStore(secretsmanager_client(module, region))
        return stores[region].describe(name)

    try:
        result = migration_status(entries, describe, p["environment"])
    except SecretError as e:
        module.fail_json(msg=str(e))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg="cannot read the migrated secrets")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
