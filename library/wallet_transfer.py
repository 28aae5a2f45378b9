#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: wallet_transfer
short_description: Fund the new facilitator wallet from the old one, or sweep the old one, on every network in parallel
description:
  - C(mode=fund) (rotation step "fund", before promotion) tops the new (C(AWSPENDING)) wallet up to each network's
    target from the old (C(AWSCURRENT)) wallet, which keeps at least the network's floor (it is the live signer until
    the new one is proven, and where a failed proof rolls back to). A network where the new wallet already holds the
    target is skipped, so a rerun never pays twice; before reading balances it waits until the sender has nothing in
    flight (EVM, by pending nonce; Solana, a transfer recorded on the secret before it was sent is settled first).
  - C(mode=sweep) (after the new wallet is proven live) moves the old (C(AWSPREVIOUS)) wallet's whole native balance
    minus the exact fee to the new wallet or a treasury; EVM sweeps pin the gas price (C(maxFeePerGas) ==
    C(maxPriorityFeePerGas)) so the fee is known in advance and nothing but reported dust stays. A network whose old
    balance is already 0 (or dust) is skipped.
  - Networks run in parallel; each waits for its receipt (EVM) or confirmation (Solana) and reports amount, fee
    actually paid, transaction, balances before and after. One failing network does not stop the others; the module
    then fails naming it, with every network's result.
  - Refuses unless the secret's version stages match the step (fund only while pending, sweep only once promoted).
  - Before the first sweep transfer, tags the secret C(facilitator-ops:sweep-started) with the new version; from then
    on the rotation only goes forward (M(wallet_secret_stage) refuses to roll back onto the swept old key).
  - Exists because the bundled collections have no chain modules, and signing needs the key, which must not leave
    the module; keys are read from Secrets Manager here, RPC URLs too when they are secrets. Never returns either.
author:
  - facilitator-ops
options:
  mode:
    description: C(fund) or C(sweep).
    type: str
    choices: [fund, sweep]
    required: true
  expected_old_address:
    description: Address pre-flight saw for the old wallet (checked against the key read).
    type: str
    required: true
  expected_new_address:
    description: Address of the new wallet (checked against its version).
    type: str
    required: true
  to_address:
    description:
      - Sweep destination (a treasury); default the new wallet. Ignored by C(fund). A Solana treasury must be an
        existing system account (C(getAccountInfo) says it exists, owned by the System Program), or nothing is sent.
    type: str
  funding_secret:
    description:
      - C(fund) only. A funding wallet's Secrets Manager secret (name in the module's region, or ARN; a
        C({private_key, address}) document of O(kind)) to fund the new wallet from instead of the old wallet, the
        live signer (whose nonces the running facilitator allocates). Its key is read and used here only.
    type: str
  idle_window:
    description:
      - C(fund) from the old wallet (no O(funding_secret)), EVM. Seconds to wait for the old signer to be idle
        (pending nonce == latest nonce) before each transfer; a network still busy after it is returned as
        C(waiting) in RV(waiting) (nothing sent there) so the caller prints progress and calls again. 0 waits up
        to O(timeout), then fails.
    type: int
    default: 0
  network_names:
    description: Networks to transfer on.
    type: list
    elements: str
    required: true
  parallel:
    description: Run networks in parallel.
    type: bool
    default: true
  timeout:
    description: Seconds to wait per network for in-flight transactions and for the receipt.
    type: int
    default: 180
extends_documentation_fragment:
  - facilitator_lock
  - facilitator_wallet
  - facilitator_wallet.kind
  - facilitator_wallet.versions
  - facilitator_wallet.chains
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Fund the new wallet
  wallet_transfer:
    mode: fund
    secret_arn: "{{ w.secret_arn }}"
    kind: evm
    old_version: "{{ w.versions.old }}"
    new_version: "{{ w.versions.new }}"
    expected_old_address: "{{ w.old_address }}"
    expected_new_address: "{{ w.new_address }}"
    networks: "{{ wallet_rotation_networks }}"
    network_names: [base-sepolia, avalanche-fuji]
"""

RETURN = r"""
transfers:
  description: Per network, action (funded, swept, skipped, dust, waiting, would_fund, would_sweep, error), amount, fee, tx, balances before/after (base units and formatted).
  returned: always
  type: dict
lines:
  description: One line per network for the operator.
  returned: always
  type: list
errors:
  description: Networks that failed, with the reason.
  returned: always
  type: list
source:
  description: Address the funds came (or would come) from (the funding wallet or the old wallet).
  returned: always
  type: str
waiting:
  description: Networks where the old signer was still busy after O(idle_window) (nothing sent there; call again).
  returned: always
  type: list
destination:
  description: Address the funds went (or would go) to.
  returned: always
  type: str
mode:
  description: O(mode).
  returned: always
  type: str
"""

import time

try:
    import botocore
except ImportError:
    pass

from ansible.module_utils.facilitator_ops.common import crashpoint
from ansible.module_utils.facilitator_ops.common import lock
from ansible.module_utils.facilitator_ops.common.argspec import LOCK_FENCE
from ansible.module_utils.facilitator_ops.common.argspec import WALLET_CHAINS
from ansible.module_utils.facilitator_ops.common.argspec import WALLET_KIND
from ansible.module_utils.facilitator_ops.common.argspec import WALLET_SECRET
from ansible.module_utils.facilitator_ops.common.argspec import WALLET_VERSIONS
from ansible.module_utils.facilitator_ops.wallet.aws import AwsContext
from ansible.module_utils.facilitator_ops.wallet.aws import wallet_secret
from ansible.module_utils.facilitator_ops.wallet.rotation import RotationError
from ansible.module_utils.facilitator_ops.wallet.rotation import format_result
from ansible.module_utils.facilitator_ops.wallet.rotation import result_line
from ansible.module_utils.facilitator_ops.wallet.rotation import transfer_all
from ansible.module_utils.facilitator_ops.wallet.secret import InflightRecord
from ansible.module_utils.facilitator_ops.wallet.secret import WalletSecretError
from ansible.module_utils.facilitator_ops.wallet.state import StateError
from ansible.module_utils.facilitator_ops.wallet.state import transfer_stage_check
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            mode=dict(type="str", required=True, choices=["fund", "sweep"]),
            **WALLET_SECRET,
            **WALLET_KIND,
            **WALLET_VERSIONS,
            **WALLET_CHAINS,
            expected_old_address=dict(type="str", required=True),
            expected_new_address=dict(type="str", required=True),
            to_address=dict(type="str"),
            funding_secret=dict(type="str", no_log=False),  # a secret's name or ARN, not its value
            idle_window=dict(type="int", default=0),
            network_names=dict(type="list", elements="str", required=True),
            parallel=dict(type="bool", default=True),
            timeout=dict(type="int", default=180),
            **LOCK_FENCE,
        ),
        required_together=[["lock_table", "lock_name", "lock_token"]],
        supports_check_mode=True,
    )
    p = module.params
    ws = wallet_secret(module, p["kind"])
    label = ws.label
    ctx = AwsContext(module)
    try:
        nets = ctx.networks(p["networks"])
        unknown = [n for n in p["network_names"] if n not in nets]
        if unknown:
            raise RotationError(f"unknown network(s) {', '.join(unknown)}")
        st = ws.state()
        transfer_stage_check(p["mode"], st, p["old_version"], p["new_version"])
        old = ws.read(p["old_version"])
        new = ws.read(p["new_version"])
        if old.address.lower() != p["expected_old_address"].lower():
            raise RotationError(f"old version {p['old_version']} holds {old.address}, expected {p['expected_old_address']}")
        if new.address.lower() != p["expected_new_address"].lower():
            raise RotationError(f"new version {p['new_version']} holds {new.address}, expected {p['expected_new_address']}")
        dest = new.address if p["mode"] == "fund" else (p["to_address"] or new.address)
        if dest.lower() == old.address.lower():
            raise RotationError("destination is the old wallet itself")
        if p["mode"] == "sweep" and not module.check_mode:
            # Before the first sweep transfer: from here on the rotation only goes forward (never a rollback
            # onto the old key it empties).
            ws.mark_sweep_started(p["new_version"], time.time())
        funder = None
        if p["mode"] == "fund" and p["funding_secret"]:
            funder = ctx.wallet_secret(p["funding_secret"], p["kind"]).current()
            if funder.address.lower() in (old.address.lower(), new.address.lower()):
                raise RotationError(f"the funding wallet {p['funding_secret']} holds {funder.address}, a key of "
                                    f"this rotation")
        signer = (funder or old).signer()
        source = funder.address if funder else old.address
        crashpoint.set_scope(f"wallet_transfer {p['mode']} {label}")  # one crash point per call, whichever network sends first
        jobs, skipped = [], {}
        for name in p["network_names"]:
            net = nets[name]
            if not net["transfers"]:
                skipped[name] = dict(network=name, kind=net["kind"], action="skipped", reason=net["transfers_skip_reason"])
                continue
            chain = ctx.chain(net, p["rpc_timeout"])
            # Solana transfers are recorded on the secret (with the pending version) before they are sent.
            extra = dict(inflight=InflightRecord(ws, p["mode"], name, p["new_version"])) if net["kind"] == "solana" else {}
            if p["mode"] == "fund":
                # The old wallet keeps its floor: it is the live signer until the new one is proven. A funding
                # wallet keeps nothing back; the old signer is only used once it is idle.
                if not funder and net["kind"] == "evm" and p["idle_window"]:
                    extra["idle_window"] = p["idle_window"]

                def job(chain=chain, net=net, extra=extra):
                    return format_result(chain.fund(signer, dest, net["target"], timeout=p["timeout"],
                                                    check_mode=module.check_mode,
                                                    reserve=0 if funder else net["floor"], **extra), net)
            else:
                if net["kind"] == "solana" and dest != new.address:
                    # a treasury (no checksum in base58): an existing system account, or nothing is sent
                    extra["require_system_account"] = True

                def job(chain=chain, net=net, extra=extra):
                    return format_result(chain.sweep(signer, dest, timeout=p["timeout"], check_mode=module.check_mode,
                                                     dust_threshold=net["dust"], **extra), net)
            jobs.append((name, job))
        if not module.check_mode:
            lock.fence_for_module(module, purpose="rotation")()  # the fence, right before the chains are written
        results = transfer_all(jobs, parallel=p["parallel"])
        results.update(skipped)
        del signer, old, funder
    except lock.LockLost as e:
        module.fail_json(msg=f"{label}: {p['mode']}: {e}", transfers={}, errors=[str(e)], lost=True)
    except (RotationError, WalletSecretError, StateError) as e:
        module.fail_json(msg=f"{label}: {p['mode']}: {e}", transfers={}, errors=[str(e)])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"{label}: AWS call failed")
    errors = [r["error"] for r in results.values() if r.get("action") == "error"]
    waiting = sorted(n for n, r in results.items() if r.get("action") == "waiting")
    moved = [n for n, r in results.items() if r.get("action") in ("funded", "swept")]
    out = dict(changed=bool(moved) or (module.check_mode and any(
        r.get("action", "").startswith("would_") for r in results.values())),
        transfers=results, errors=errors, destination=dest, mode=p["mode"], source=source, waiting=waiting,
        lines=[f"{label} " + result_line(n, r) for n, r in sorted(results.items())])
    if errors:
        module.fail_json(msg=f"{label}: {p['mode']} failed on {len(errors)} network(s): " + " | ".join(errors), **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
