#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_source_guard
short_description: Check the facilitator source tree against protected-file rules before a build
description:
  - Evaluates configured rules (file exists, contains a text, minimum size, regex present, the network file lists the
    configured networks) against the source tree, and fails with one line naming the file and the rule.
  - Exists because production once lost its landing page when an upstream update overwrote the branding;
    M(ansible.builtin.stat) and M(ansible.builtin.lineinfile) can check one file at a time but not express a rule set
    kept as data per environment, nor report every failed rule at once.
  - Also returns the source digest (sha256 over relative paths and contents minus excluded globs), which identifies
    "the same source" so an unchanged tree is not rebuilt.
  - Read-only, so it runs the same in check mode.
author:
  - facilitator-ops
options:
  source_dir:
    description: Root of the facilitator source tree (rule paths are relative to it).
    type: path
    required: true
  rules:
    description:
      - List of rules. Keys C(path) (required, relative), C(description), C(exists) (default true; false means the file
        must not exist), C(contains) (text or list of texts), C(min_size) (bytes), C(regex) (pattern or list, multiline),
        C(networks) (list of network names each of which must appear as a quoted string literal).
    type: list
    elements: dict
    required: true
  digest_exclude:
    description: Globs (relative path or base name) left out of the source digest, e.g. generated wheels.
    type: list
    elements: str
    default: []
  fail_on_error:
    description: Fail the task when a rule fails (otherwise report only).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Guard the reference facilitator
  image_source_guard:
    source_dir: "{{ playbook_dir }}/facilitator"
    rules:
      - path: app/x402_reference_facilitator/static/index.html
        contains: Ultravioleta DAO
        min_size: 4096
      - path: app/x402_reference_facilitator/networks.py
        networks: [base-sepolia, avalanche-fuji]
    digest_exclude: [.wheels]
"""

RETURN = r"""
passed:
  description: Whether every rule passed.
  returned: always
  type: bool
report:
  description: One line per check (OK/FAIL path rule detail).
  returned: always
  type: list
  elements: str
failures:
  description: The failed checks, each with C(path), C(rule), C(detail).
  returned: always
  type: list
  elements: dict
source_digest:
  description: sha256 (64 hex) of the source tree (paths and contents, minus excluded globs).
  returned: always
  type: str
file_count:
  description: Number of files in the source digest.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.facilitator_ops.image.guard import GuardConfigError
from ansible.module_utils.facilitator_ops.image.guard import run_guard
from ansible.module_utils.facilitator_ops.image.guard import source_digest


def main():
    module = AnsibleModule(
        argument_spec=dict(
            source_dir=dict(type="path", required=True),
            rules=dict(type="list", elements="dict", required=True),
            digest_exclude=dict(type="list", elements="str", default=[]),
            fail_on_error=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        report = run_guard(p["source_dir"], p["rules"])
    except GuardConfigError as e:
        module.fail_json(msg=f"source guard: {e}")
    digest, count = source_digest(p["source_dir"], p["digest_exclude"])
    out = dict(
        changed=False,
        passed=report.passed,
        report=report.lines(),
        failures=[dict(path=r.path, rule=r.rule, detail=r.detail) for r in report.failures],
        source_digest=digest,
        file_count=count,
        msg=report.message(),
    )
    if not report.passed and p["fail_on_error"]:
        module.fail_json(**out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
