#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: audit_record
short_description: Append one record to a capability's JSON-lines audit log, never de-duplicated
description:
  - Appends O(record) as one JSON line to O(path) with C(ts) (UTC) and C(operator) (user@host) added in front; the
    directory is created C(0700) and the file C(0600). One C(write) on a descriptor opened with C(O_APPEND), then
    C(fsync), so concurrent runs never overwrite each other and a kill right after the task does not lose the line.
  - Every changing playbook calls it when it starts, after each change and in an C(always) path, so a run that fails
    or is killed still leaves a record of what it changed.
  - Exists because M(ansible.builtin.lineinfile) de-duplicates (an identical line is "already present") and rewrites
    the file, which an append-only audit log must never do.
  - Refuses a record with a key named like key material (C(private_key), C(password), ...).
  - Writes nothing in check mode (returns the record it would write). Never reports a change (bookkeeping).
author:
  - facilitator-ops
options:
  path:
    description: The audit file (JSON lines), e.g. C({{ facilitator_audit_dir }}/wallet_rotation.jsonl).
    type: path
    required: true
  record:
    description: The record (names, addresses, version ids, digests, results; never key material).
    type: dict
    required: true
  capability:
    description: Added to the record as C(capability) (before O(record)'s own keys).
    type: str
"""

EXAMPLES = r"""
- name: "Audit: started"
  audit_record:
    path: "{{ facilitator_audit_dir }}/ecs_deploy.jsonl"
    capability: ecs_deploy
    record:
      step: start
      environment: "{{ facilitator_env }}"
"""

RETURN = r"""
record:
  description: The record as written (or as it would be written, in check mode).
  returned: always
  type: dict
path:
  description: O(path).
  returned: always
  type: str
written:
  description: Bytes appended (0 in check mode).
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.facilitator_ops.common.audit import AuditError
from ansible.module_utils.facilitator_ops.common.audit import append
from ansible.module_utils.facilitator_ops.common.audit import build


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            record=dict(type="dict", required=True),
            capability=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    record = build(p["record"], p["capability"])
    written = 0
    if not module.check_mode:
        try:
            written = append(p["path"], record)
        except (AuditError, OSError) as e:
            module.fail_json(msg=f"audit {p['path']}: {e}", record={}, path=p["path"], written=0)
    module.exit_json(changed=False, record=record, path=p["path"], written=written)


if __name__ == "__main__":
    main()
