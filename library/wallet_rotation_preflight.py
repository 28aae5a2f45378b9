#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: wallet_rotation_preflight
short_description: Read-only pre-flight of a facilitator wallet rotation (live secrets, phase, balances, refusals)
description:
  - Reads the ECS service's B(running) task definition and, for every configured wallet, the secret the facilitator
    container actually injects (by C(valueFrom), with production's precedence C(EVM_PRIVATE_KEY_TESTNET) before
    the legacy C(EVM_PRIVATE_KEY)), so the live secret is rotated and never a legacy copy.
  - For each wallet secret, derives the rotation phase from its version stages (C(idle), C(pending) = an
    C(AWSPENDING) version exists, C(promoted) = C(AWSPENDING) is C(AWSCURRENT)), the old and new address, and on
    every configured network the balances, what funding the new wallet up to its target needs, and refusals that
    name the network (the old wallet cannot fund the new one, wrong chain id, RPC unreachable).
  - Lists configured dependencies (contracts, services) bound to the old address.
  - Exists because no bundled module relates an ECS task definition's secrets to wallet balances on chains, and
    the key must be read to know its address, which must stay inside the module. Returns addresses, version ids,
    ARNs and balances; never a key or an RPC URL.
  - Never changes anything (runs the same in check mode).
author:
  - facilitator-ops
options:
  wallets:
    description:
      - Wallets to rotate, C(name), C(kind) (C(evm) or C(solana)), C(env) (the task definition variables that can
        carry the key, in the facilitator's precedence order), optional C(secret) (the name the inventory expects the
        task definition to read) and C(networks).
    type: list
    elements: dict
    required: true
  dependencies:
    description: Contracts or services bound to a wallet address (C(name), C(bound_address) or C(wallet), C(network), C(note)).
    type: list
    elements: dict
    default: []
  select:
    description: Which wallets to rotate, C(evm), C(solana), C(all) or one wallet's C(name).
    type: str
    default: all
  served_networks:
    description:
      - Networks the facilitator serves (C(facilitator_expected_networks)); a served network of a wallet's family and
        tier (by its variable's C(_MAINNET)/C(_TESTNET) suffix) that the wallet's C(networks) lack is refused (the new
        key would go live there unfunded).
    type: list
    elements: str
    default: []
  network_catalog:
    description: The network catalogue (C(facilitator_network_catalog)) giving each network's C(kind) and C(tier).
    type: dict
    default: {}
  sweep_to:
    description:
      - Sweep destination per wallet kind (C(evm), C(solana)) when it is a treasury; empty or absent means the new
        wallet. Reported per wallet in RV(wallets) (C(sweep_destination)); a Solana treasury that is not an existing
        system account (C(getAccountInfo)) on a network with transfers is refused, naming the network.
    type: dict
    default: {}
  funding_wallets:
    description:
      - Per wallet kind (C(evm), C(solana)), the Secrets Manager secret (name in the module's region, or ARN) of a
        funding wallet (C({private_key, address})) the new wallet is funded from instead of the old one, the live
        signer. Its address (never its key) and balances are in the plan; too little balance is refused, naming the
        network. Empty or absent, funding comes from the old wallet.
    type: dict
    default: {}
  other_signers:
    description:
      - Other ECS services that may sign with the same keys (the monorepo's facilitator until the cutover ends and
        it is decommissioned), each C(name), C(cluster), C(service), C(region), C(container). Their running
        deployments' task definitions are read the ECS way (C(valueFrom)) and the address each wallet-key secret
        holds is compared with the old address of every wallet rotated; a live one that signs with it (or whose key
        cannot be read) is refused, naming it (the sweep would leave its traffic with no gas). Dependencies of
        C(kind=signer) bound to the old address are refused the same way.
    type: list
    elements: dict
    default: []
  min_interval_minutes:
    description:
      - An idle wallet whose current version this tool finished less than this ago (the secret's
        C(facilitator-ops:rotated) tag, readable from any machine) is reported in RV(recent).
    type: int
    default: 60
extends_documentation_fragment:
  - facilitator_ecs
  - facilitator_ecs.container
  - facilitator_wallet.chains
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Pre-flight
  wallet_rotation_preflight:
    cluster: facilitator-production
    service: facilitator-production
    wallets: "{{ wallet_rotation_wallets }}"
    networks: "{{ wallet_rotation_networks }}"
    select: evm
  register: preflight
"""

RETURN = r"""
task_definition:
  description: ARN of the task definition the service runs.
  returned: always
  type: str
task_definition_revision:
  description: C(family:revision) of RV(task_definition).
  returned: always
  type: str
image:
  description: Image of the facilitator container.
  returned: always
  type: str
log_configuration:
  description: The facilitator container's C(logConfiguration) (where M(wallet_signer_proof) reads start-up lines).
  returned: always
  type: dict
wallets:
  description:
    - Per wallet, phase, versions, old/new address, secret ARN, per-network balances and status, C(sweep_destination)
      (the treasury or the new wallet), C(fund_from) (the funding wallet or the old wallet) and C(forward_only) (why a promoted wallet can no longer roll back, i.e. its sweep
      started or its old wallet is empty on a network).
  returned: always
  type: list
refusals:
  description: Reasons the rotation cannot go on (each names the wallet or network).
  returned: always
  type: list
warnings_list:
  description: Things the operator should know (old wallet below floor, unused fallback variables).
  returned: always
  type: list
dependencies:
  description: Dependencies bound to an old address (they break when it changes).
  returned: always
  type: list
phase:
  description: The least advanced wallet's phase (idle, pending, promoted), where the run resumes.
  returned: always
  type: str
recent:
  description: Wallet secrets rotated by this tool less than O(min_interval_minutes) ago (a rerun would rotate again).
  returned: always
  type: list
deployment_started:
  description: Epoch seconds the service's PRIMARY deployment was created (start-up lines before it do not count).
  returned: always
  type: float
batch:
  description:
    - The rotation being resumed (the batch tag of the selected wallets mid-rotation), null when all are idle. Its
      wallets that already finished carry C(done=true) in RV(wallets) and are not rotated again.
  returned: always
  type: str
other_signers:
  description:
    - Per configured other signer, C(live), C(state) and C(signers) (variable, secret, address or why it could not
      be read, task definition). Addresses only, never a key.
  returned: always
  type: list
plan:
  description: Human-readable plan lines.
  returned: always
  type: list
"""

import time

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports it

from ansible.module_utils.facilitator_ops.common.argspec import ECS_CONTAINER
from ansible.module_utils.facilitator_ops.common.argspec import ECS_SERVICE
from ansible.module_utils.facilitator_ops.common.argspec import WALLET_CHAINS
from ansible.module_utils.facilitator_ops.wallet.aws import AwsContext
from ansible.module_utils.facilitator_ops.wallet.rotation import RotationError
from ansible.module_utils.facilitator_ops.wallet.rotation import current_address
from ansible.module_utils.facilitator_ops.wallet.rotation import kept_addresses
from ansible.module_utils.facilitator_ops.wallet.rotation import live_wallet_secrets
from ansible.module_utils.facilitator_ops.wallet.rotation import other_signer_lines
from ansible.module_utils.facilitator_ops.wallet.rotation import other_signer_refusals
from ansible.module_utils.facilitator_ops.wallet.rotation import read_other_signers
from ansible.module_utils.facilitator_ops.ecs.taskdef import DeriveError
from ansible.module_utils.facilitator_ops.ecs.taskdef import container_named
from ansible.module_utils.facilitator_ops.wallet.rotation import preflight_wallet
from ansible.module_utils.facilitator_ops.wallet.rotation import done_in_batch
from ansible.module_utils.facilitator_ops.wallet.rotation import recently_rotated
from ansible.module_utils.facilitator_ops.wallet.rotation import rotation_batch
from ansible.module_utils.facilitator_ops.wallet.rotation import uncovered_networks
from ansible.module_utils.facilitator_ops.wallet.secret import WalletSecretError
from ansible.module_utils.facilitator_ops.wallet.state import StateError
from ansible.module_utils.facilitator_ops.wallet.state import combined_phase
from ansible.module_utils.facilitator_ops.wallet.state import next_steps
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def plan_lines(wallets):
    lines = []
    for w in wallets:
        steps = next_steps(w["phase"])
        lines.append(f"{w['name']} ({w['kind']}, {w['env']} <- {w['secret_name']} in {w['region']}): phase "
                     f"{w['phase']}, old {w['old_address']}, new {w['new_address'] or '(to be generated)'}; "
                     f"steps left: {', '.join(steps)}")
        for name, n in w["networks"].items():
            bits = [f"  {name}: {n.get('status')}"]
            if n.get("old_balance_fmt"):
                bits.append(f"old {n['old_balance_fmt']}")
            if n.get("new_balance_fmt"):
                bits.append(f"new {n['new_balance_fmt']}")
            bits.append(f"target {n['target_fmt']}, floor {n['floor_fmt']}")
            if n.get("need"):
                bits.append(f"fund {n['need_fmt']} (fee cap {n['fee_cap_fmt']})")
            if n.get("reason"):
                bits.append(n["reason"])
            lines.append("; ".join(bits))
    return lines


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            **ECS_SERVICE,
            **ECS_CONTAINER,
            **WALLET_CHAINS,
            wallets=dict(type="list", elements="dict", required=True),
            dependencies=dict(type="list", elements="dict", default=[]),
            select=dict(type="str", default="all"),
            served_networks=dict(type="list", elements="str", default=[]),
            network_catalog=dict(type="dict", default={}),
            min_interval_minutes=dict(type="int", default=60),
            sweep_to=dict(type="dict", default={}),
            other_signers=dict(type="list", elements="dict", default=[]),
            funding_wallets=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    p = module.params
    ctx = AwsContext(module)
    try:
        nets = ctx.networks(p["networks"])
        wanted = [w for w in p["wallets"] if p["select"] in ("all", w.get("kind"), w.get("name"))]
        if not wanted:
            module.fail_json(msg=f"no configured wallet of kind or name {p['select']} (wallet_rotation_wallets)")
        for w in wanted:
            missing = [n for n in w.get("networks") or [] if n not in nets]
            if missing:
                raise RotationError(f"{w.get('name')}: network(s) {', '.join(missing)} not in wallet_rotation_networks")
        ecs = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())
        svc = ecs.describe_services(aws_retry=True, cluster=p["cluster"], services=[p["service"]])
        services = [s for s in svc.get("services") or [] if s.get("status") != "INACTIVE"]
        if not services:
            module.fail_json(msg=f"ECS service {p['cluster']}/{p['service']} not found in {module.region}")
        td_arn = services[0]["taskDefinition"]
        td = ecs.describe_task_definition(aws_retry=True, taskDefinition=td_arn)["taskDefinition"]
        container = container_named(td, p["container_name"])
        live, problems = live_wallet_secrets(container, wanted)
        # Wallets this run leaves alone: their live addresses may keep a rotated wallet's old one in /supported.
        others, _ = live_wallet_secrets(container, [w for w in p["wallets"] if w not in wanted])
        kept = kept_addresses([dict(o, current_address=current_address(o, ctx.secrets)) for o in others],
                              {w["name"] for w in wanted})
        primary = next((d for d in services[0].get("deployments") or [] if d.get("status") == "PRIMARY"), {})
        started = primary.get("createdAt")
        deployment_started = started.timestamp() if hasattr(started, "timestamp") else float(started or 0)
        funders = {}
        for kind, secret_id in (p["funding_wallets"] or {}).items():
            if secret_id:
                funder = ctx.wallet_secret(secret_id, kind).current()
                funders[kind] = dict(address=funder.address, label=str(secret_id).split(":")[-1])
        reports, refusals, warnings, deps = [], list(problems), [], []
        for w in live:
            gaps = uncovered_networks(w, p["served_networks"], p["network_catalog"])
            if gaps:
                refusals.append(f"{w['name']}: the facilitator serves {', '.join(gaps)} with {w['env']} but "
                                f"wallet_rotation_wallets does not fund it there: the new key would go live without "
                                f"gas; add the network(s) to the wallet and wallet_rotation_networks")
            r = preflight_wallet(w, nets, ctx.secrets, lambda net: ctx.chain(net, p["rpc_timeout"]),
                                 p["dependencies"], sweep_to=p["sweep_to"], funder=funders.get(w["kind"]))
            if r.get("proof_new"):
                r["proof_new"]["kept"] = [a for a in kept.get(r["kind"], []) if a != r["new_address"]]
            reports.append(r)
            refusals += [f"{r['name']}: {x}" if not x.startswith(r["name"]) else x for x in r["refusals"]]
            warnings += [f"{r['name']}: {x}" for x in r["warnings"]]
            if r["unused_fallbacks"]:
                warnings.append(f"{r['name']}: the task definition also injects {', '.join(r['unused_fallbacks'])} "
                                f"(shadowed by {r['env']}): that secret is NOT rotated")
            deps += [dict(d, wallet=r["name"], old_address=r["old_address"]) for d in r["dependencies"]]
        # Every other live user of an address the sweep empties (the old stack until it is decommissioned).
        others = read_other_signers(p["other_signers"], ctx.ecs, ctx.secrets, p["wallets"], container_named)
        refusals += other_signer_refusals(reports, others, p["dependencies"])
    except (RotationError, DeriveError, WalletSecretError, StateError) as e:
        module.fail_json(msg=f"pre-flight: {e}")
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg="pre-flight: AWS call failed")
    batch = rotation_batch(reports)
    for r in reports:
        r["done"] = done_in_batch(r, batch)
    module.exit_json(
        changed=False,
        task_definition=td_arn,
        task_definition_revision=td_arn.rsplit("/", 1)[-1],
        image=container.get("image"),
        log_configuration=container.get("logConfiguration") or {},
        wallets=reports,
        refusals=refusals,
        warnings_list=warnings,
        dependencies=deps,
        phase=combined_phase([r["phase"] for r in reports]),
        recent=recently_rotated(reports, p["min_interval_minutes"], time.time(), batch),
        batch=batch,
        deployment_started=deployment_started,
        plan=plan_lines(reports) + other_signer_lines(others),
        other_signers=others,
    )


if __name__ == "__main__":
    main()
