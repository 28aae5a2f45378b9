#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: secrets_migration_mapping
short_description: Validate and normalise the secrets-migration mapping before anything is read or written
description:
  - Checks every item of the inventory's C(secrets_migration_secrets) (names, regions, types, keys, env names,
    duplicates, source equal to destination) and fills in the defaults, so a malformed mapping fails in one line
    before any AWS call.
  - Exists because M(ansible.builtin.assert) cannot say which item and which field is wrong without a page of
    Jinja per rule, and the same checks must be unit-testable.
  - Touches nothing; runs on the control node.
author:
  - facilitator-ops
options:
  secrets:
    description: The mapping, a list of items (see the role's README in docs/runbook-secrets-migration.md).
    type: raw
    required: true
  default_source_region:
    description: Source region for items without C(source_region).
    type: str
  default_region:
    description: Destination region for items without C(destination_region).
    type: str
  default_tags:
    description: Tags merged under each item's own C(tags).
    type: dict
    default: {}
  default_overwrite:
    description:
      - Overwrite policy for items without C(overwrite), except wallets (C(type=wallet)), which are overwritten only
        when named in O(overwrite_items).
    type: bool
    default: false
  overwrite_items:
    description:
      - Destination names whose item may be overwritten in this run (a list, or a comma-separated string); the only
        way to overwrite a wallet. Each must be a destination of the mapping, otherwise the module fails naming it.
      - A destination changed since its copy (a rotated wallet) is never overwritten by the source, named or not.
    type: raw
    default: []
"""

EXAMPLES = r"""
- name: Validate the mapping
  secrets_migration_mapping:
    secrets: "{{ secrets_migration_secrets }}"
    default_source_region: us-east-1
    default_region: us-east-2
  register: mapping

- name: Validate the mapping, allowing this run to overwrite one wallet
  secrets_migration_mapping:
    secrets: "{{ secrets_migration_secrets }}"
    default_source_region: us-east-1
    default_region: us-east-2
    overwrite_items: [facilitator-evm-mainnet-private-key]
  register: mapping
"""

RETURN = r"""
entries:
  description: The normalised items (regions, tags, wallet flag, overwrite and create_missing resolved).
  returned: success
  type: list
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.facilitator_ops.secrets.mapping import normalise


def main():
    module = AnsibleModule(
        argument_spec=dict(
            secrets=dict(type="raw", required=True, no_log=False),  # names and regions, never values
            default_source_region=dict(type="str"),
            default_region=dict(type="str"),
            default_tags=dict(type="dict", default={}),
            default_overwrite=dict(type="bool", default=False),
            overwrite_items=dict(type="raw", default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    entries, problems = normalise(
        p["secrets"], p["default_source_region"], p["default_region"], p["default_tags"], p["default_overwrite"],
        p["overwrite_items"],
    )
    if problems:
        module.fail_json(msg="invalid secrets mapping: " + "; ".join(problems))
    module.exit_json(changed=False, entries=entries)


if __name__ == "__main__":
    main()
