#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: cutover_probe
short_description: The DNS cutover gate's HTTP probe of the new side, with a tally of the traffic it sent
description:
  - Checks the facilitator behind O(base_url) (the new ALB's own name) the way M(facilitator_probe) does (health, version,
    branding, the network set from C(/supported), the signers) and POSTs a signed EIP-3009 payment to C(/verify), which must
    call it valid. The payment is never settled, so nothing moves on-chain.
  - Exists because the gate judges the same ALB's CloudWatch metrics, and every probe request is counted there too. This module
    returns what it sent and got per CloudWatch minute (RV(sent)), which M(cutover_gate) subtracts (O(cutover_gate#module:probe_sent)),
    and sends a handful of requests, not a load test (the real traffic is the load, judged through the metrics).
  - The payer key is read from O(payment.payer_key_file) inside the module and never returned; only its address is.
  - Read-only towards AWS and the chains; runs the same in check mode.
author:
  - facilitator-ops
options:
  checks:
    description: Which checks to run.
    type: list
    elements: str
    choices: [health, version, branding, networks, signers, verify]
    default: [health, version, branding, networks, signers, verify]
  expected_version:
    description: Version C(/version) must report (a leading C(v) is ignored); unset, any but C(dev).
    type: str
  branding_text:
    description: Text the landing page must contain.
    type: str
    default: Ultravioleta DAO
  expected_networks:
    description: v1 network names C(/supported) must list.
    type: list
    elements: str
    default: []
  network_catalog:
    description: Network catalogue (v1 name to C(caip2), ...), as in C(group_vars/all).
    type: dict
    default: {}
  expected_evm_signers:
    description: EVM signer addresses C(/supported) must list (the running service's, from M(facilitator_live_wallets)).
    type: list
    elements: str
    default: []
  expected_solana_fee_payers:
    description: Solana fee payers C(/supported) must list.
    type: list
    elements: str
    default: []
  payment:
    description: The payment POSTed to C(/verify) (required when O(checks) has C(verify)).
    type: dict
    suboptions:
      chain_state_file:
        description: JSON file describing the chains (C(networks.<name>) with C(caip2), C(token)), as the payment smoke test reads it.
        type: path
        required: true
      network:
        description: v1 network name to sign for.
        type: str
        required: true
      payer_key_file:
        description: File holding the payer's EVM private key (hex), the payment smoke test's payer.
        type: path
        required: true
      pay_to:
        description: Recipient address.
        type: str
        required: true
      amount:
        description: Amount in the token's smallest unit.
        type: str
        default: "1000"
      x402_version:
        description: Protocol version of the payload.
        type: int
        choices: [1, 2]
        default: 2
  timeout:
    description: Seconds per request.
    type: float
    default: 10
extends_documentation_fragment:
  - facilitator_url
"""

EXAMPLES = r"""
- name: Probe the new ALB
  cutover_probe:
    base_url: https://127.0.0.1:18444
    ca_bundle: .stack/ca.pem
    expected_networks: [base-sepolia]
    payment:
      chain_state_file: .stack/chain.json
      network: base-sepolia
      payer_key_file: .stack/payer.key
      pay_to: "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"
  register: probe
"""

RETURN = r"""
passed:
  description: Every check passed.
  returned: always
  type: bool
msg:
  description: One line, the failed checks' reasons (or that all passed).
  returned: always
  type: str
results:
  description: One dict per check, C(name), C(ok), C(detail).
  returned: always
  type: list
  elements: dict
sent:
  description: The probe's own traffic, C([minute (epoch), requests answered, 5XX among them, requests without an answer]).
  returned: always
  type: list
  elements: list
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.facilitator_ops.common.argspec import FACILITATOR_URL
from ansible.module_utils.facilitator_ops.cutover import probe as cprobe

CHECKS = ["health", "version", "branding", "networks", "signers", "verify"]
PAYMENT_SPEC = dict(
    chain_state_file=dict(type="path", required=True),
    network=dict(type="str", required=True),
    payer_key_file=dict(type="path", required=True),
    pay_to=dict(type="str", required=True),
    amount=dict(type="str", default="1000"),
    x402_version=dict(type="int", default=2, choices=[1, 2]),
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            **FACILITATOR_URL,
            checks=dict(type="list", elements="str", choices=CHECKS, default=CHECKS),
            expected_version=dict(type="str"),
            branding_text=dict(type="str", default="Ultravioleta DAO"),
            expected_networks=dict(type="list", elements="str", default=[]),
            network_catalog=dict(type="dict", default={}),
            expected_evm_signers=dict(type="list", elements="str", default=[]),
            expected_solana_fee_payers=dict(type="list", elements="str", default=[]),
            payment=dict(type="dict", options=PAYMENT_SPEC),
            timeout=dict(type="float", default=10.0),
        ),
        supports_check_mode=True,
    )
    p = module.params
    payment = None
    if "verify" in p["checks"]:
        if not p["payment"]:
            module.fail_json(msg="checks has verify: payment (chain_state_file, network, payer_key_file, pay_to) is required")
        pay = p["payment"]
        try:
            with open(pay["chain_state_file"]) as f:
                nets = json.load(f).get("networks") or {}
            with open(pay["payer_key_file"]) as f:
                payer_key = f.read().strip()
        except (OSError, ValueError) as e:
            module.fail_json(msg=f"cannot read the chain state or payer key file: {e.__class__.__name__}")
        if pay["network"] not in nets:
            module.fail_json(msg=f"network {pay['network']!r} not in {pay['chain_state_file']} ({', '.join(sorted(nets)) or 'none'})")
        payment = dict(payer_key=payer_key, network=nets[pay["network"]], x402_version=pay["x402_version"],
                       pay_to=pay["pay_to"], amount=pay["amount"])
    results, sent = cprobe.probe(
        p["base_url"], p["checks"], expected_version=p["expected_version"], branding_text=p["branding_text"],
        expected_networks=p["expected_networks"], network_catalog=p["network_catalog"],
        expected_evm_signers=p["expected_evm_signers"], expected_fee_payers=p["expected_solana_fee_payers"],
        payment=payment, timeout=p["timeout"], ca_bundle=p["ca_bundle"] or None,
    )
    failed = [c for c in results if not c.ok]
    msg = (f"{p['base_url']}: " + " | ".join(c.detail for c in failed)) if failed else \
        f"{p['base_url']}: all {len(results)} checks passed"
    module.exit_json(changed=False, passed=not failed, msg=msg, sent=sent,
                     results=[{"name": c.name, "ok": c.ok, "detail": c.detail} for c in results])


if __name__ == "__main__":
    main()
