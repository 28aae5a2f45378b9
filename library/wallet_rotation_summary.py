#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: wallet_rotation_summary
short_description: Build the wallet rotation's summary lines and audit record from the steps' results
description:
  - Per wallet and network, old and new address, balances before and after, amounts moved, transaction hashes, gas
    spent and dust left, from the run's first pre-flight, the fund and sweep results and the final pre-flight.
  - Exists because building that table in Jinja is unreadable and untestable; the inputs are results of the other
    wallet modules, which never carry key material. Changes nothing.
author:
  - facilitator-ops
options:
  before:
    description: Wallets of the run's first pre-flight (the RV(wallet_rotation_preflight#module:wallets) result of M(wallet_rotation_preflight)).
    type: list
    elements: dict
    required: true
  after:
    description: Wallets of the final pre-flight.
    type: list
    elements: dict
    required: true
  funded:
    description: Loop results of the fund step (M(wallet_transfer) mode=fund).
    type: list
    elements: dict
    default: []
  swept:
    description: Loop results of the sweep step.
    type: list
    elements: dict
    default: []
  proof:
    description: Proof lines.
    type: list
    elements: str
    default: []
  environment:
    description: Environment name for the record.
    type: str
    default: unknown
"""

EXAMPLES = r"""
- name: Summary
  wallet_rotation_summary:
    before: "{{ first.wallets }}"
    after: "{{ now.wallets }}"
    funded: "{{ funded.results }}"
    swept: "{{ swept.results }}"
  register: summary
"""

RETURN = r"""
lines:
  description: The summary an operator pastes.
  returned: always
  type: list
record:
  description: The audit record (addresses, balances, amounts, hashes; no key material).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.facilitator_ops.wallet.summary import summarize


def main():
    module = AnsibleModule(
        argument_spec=dict(
            before=dict(type="list", elements="dict", required=True),
            after=dict(type="list", elements="dict", required=True),
            funded=dict(type="list", elements="dict", default=[]),
            swept=dict(type="list", elements="dict", default=[]),
            proof=dict(type="list", elements="str", default=[]),
            environment=dict(type="str", default="unknown"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    lines, record = summarize(p["before"], p["after"], p["funded"], p["swept"], p["proof"], p["environment"])
    module.exit_json(changed=False, lines=lines, record=record)


if __name__ == "__main__":
    main()
