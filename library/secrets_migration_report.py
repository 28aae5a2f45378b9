#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: secrets_migration_report
short_description: Turn secret_copy results into the deploy state, the IAM statement and the operator summary
description:
  - Takes the registered results of M(secret_copy) over the migration mapping and builds, without any AWS call,
    the document the deploy role reads (new ARNs, C(valueFrom) per key, the container C(secrets) entries per
    environment variable), the IAM policy the ECS execution role needs for exactly those ARNs, one summary line
    per secret and the audit record.
  - Exists because assembling this in Jinja would be unreadable and untestable; the logic is unit-tested.
  - Handles names, ARNs and digests only; results never carry values.
author:
  - facilitator-ops
options:
  results:
    description: The C(results) list of the registered secret_copy loop.
    type: list
    elements: dict
    required: true
  environment:
    description: Environment name recorded in the state document.
    type: str
  mode:
    description: C(copy) or C(retire_source) (wording of the summary).
    type: str
    default: copy
  policy_sid:
    description: Sid of the IAM statement.
    type: str
    default: FacilitatorReadMigratedSecrets
"""

EXAMPLES = r"""
- name: Build the report
  secrets_migration_report:
    results: "{{ copied.results }}"
    environment: local
  register: report
"""

RETURN = r"""
state:
  description: C(secrets) (per destination name, ARN, valueFrom, sources), C(container_secrets), C(iam_policy).
  returned: always
  type: dict
summary:
  description: One line per secret plus a total line.
  returned: always
  type: list
audit:
  description: One item per secret for the audit log.
  returned: always
  type: list
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.facilitator_ops.secrets.mapping import handover_report


def main():
    module = AnsibleModule(
        argument_spec=dict(
            results=dict(type="list", elements="dict", required=True),
            environment=dict(type="str"),
            mode=dict(type="str", default="copy"),
            policy_sid=dict(type="str", default="FacilitatorReadMigratedSecrets"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    report = handover_report(p["results"], p["environment"], p["mode"], module.check_mode, p["policy_sid"])
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()
