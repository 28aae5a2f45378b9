#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: x402_payment_smoke
short_description: Pay through a facilitator end to end and prove the tokens moved on-chain
description:
  - Signs an EIP-3009 C(transferWithAuthorization) as a test payer with the official x402 SDK's client signer,
    POSTs it to the facilitator's C(/verify) then C(/settle), and checks the settlement receipt and both token
    balances on the chain.
  - Exists because a facilitator can answer C(/health), C(/supported) and even C(/verify) while its hot wallet
    cannot settle (no gas, wrong key); only a real settlement proves the payment path.
  - The payer key is read from a file inside the module and never returned. Spends real tokens and gas on the
    configured chain, so it is meant for test networks; in check mode it does nothing.
author:
  - facilitator-ops
options:
  chain_state_file:
    description: JSON file describing the chains (C(networks.<name>) with C(rpc_url), C(caip2), C(token)), as written by C(stack/chain/deploy.py).
    type: path
    required: true
  network:
    description: v1 network name to pay on.
    type: str
    required: true
  payer_key_file:
    description: File holding the payer's EVM private key (hex).
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
    description: Protocol version of the payload (1 uses v1 network names, 2 uses CAIP-2 ids).
    type: int
    choices: [1, 2]
    default: 2
  timeout:
    description: Seconds to wait for C(/settle).
    type: float
    default: 120
extends_documentation_fragment:
  - facilitator_url
"""

EXAMPLES = r"""
- name: Settle one payment through the new facilitator
  x402_payment_smoke:
    base_url: https://127.0.0.1:18444
    ca_bundle: .stack/ca.pem
    chain_state_file: .stack/chain.json
    network: base-sepolia
    payer_key_file: .stack/payer.key
    pay_to: "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"
"""

RETURN = r"""
payment:
  description: Network, payer, payee, amount, settlement transaction, and both balances before/after.
  returned: success
  type: dict
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.facilitator_ops.common.argspec import FACILITATOR_URL
from ansible.module_utils.facilitator_ops.verify.payment import smoke


def main():
    module = AnsibleModule(
        argument_spec=dict(
            **FACILITATOR_URL,
            chain_state_file=dict(type="path", required=True),
            network=dict(type="str", required=True),
            payer_key_file=dict(type="path", required=True),
            pay_to=dict(type="str", required=True),
            amount=dict(type="str", default="1000"),
            x402_version=dict(type="int", default=2, choices=[1, 2]),
            timeout=dict(type="float", default=120.0),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode:
        module.exit_json(changed=True, msg=f"would pay {p['amount']} on {p['network']} through {p['base_url']}")
    try:
        with open(p["chain_state_file"]) as f:
            chain_state = json.load(f)
        with open(p["payer_key_file"]) as f:
            payer_key = f.read().strip()
    except (OSError, ValueError) as e:
        module.fail_json(msg=f"cannot read the chain state or payer key file: {e.__class__.__name__}")
    try:
        report = smoke(
            p["base_url"], chain_state, p["network"], payer_key, p["pay_to"], p["amount"], p["x402_version"], p["timeout"],
            ca_bundle=p["ca_bundle"] or None,
        )
    except RuntimeError as e:
        module.fail_json(msg=f"payment smoke test on {p['network']}: {e}")
    except Exception as e:  # SDK or RPC errors: name the kind, never echo key material
        module.fail_json(msg=f"payment smoke test on {p['network']}: {e.__class__.__name__}: {str(e)[:200]}")
    module.exit_json(changed=True, payment=report)


if __name__ == "__main__":
    main()
