# -*- coding: utf-8 -*-
"""Which hot wallets the running ECS service reads, as public addresses.

Follows the service's current task definition to the wallet secrets its
facilitator container reads (`EVM_PRIVATE_KEY*`, `SOLANA_PRIVATE_KEY*` by
valueFrom), reads them inside the module and derives each address from the
key itself (a key variable may hold a comma-separated list). Only addresses
leave: the verify role then checks that exactly those are the live signers,
which catches a secret changed without a new deployment (FACTS: secrets are
read when a task starts).
"""
from __future__ import annotations


from ansible.module_utils.facilitator_ops.ecs.secrets import ResolveError
from ansible.module_utils.facilitator_ops.ecs.secrets import resolve_secrets
from ansible.module_utils.facilitator_ops.common.keys import evm_address_for_key
from ansible.module_utils.facilitator_ops.common.keys import solana_address_for_key

EVM_PREFIX = "EVM_PRIVATE_KEY"
SOLANA_PREFIX = "SOLANA_PRIVATE_KEY"


def wallet_secret_entries(container):
    """The container's secrets entries that carry wallet keys."""
    out = []
    for item in container.get("secrets") or []:
        name = item.get("name") or ""
        if name.startswith(EVM_PREFIX) or name.startswith(SOLANA_PREFIX):
            out.append(item)
    return out


def addresses_for(name, value):
    """Addresses of the key(s) in one variable; never echoes the value."""
    keys = [k.strip() for k in value.split(",") if k.strip()] if name.startswith(EVM_PREFIX) else [value.strip()]
    addrs = []
    for i, key in enumerate(keys):
        try:
            addrs.append(evm_address_for_key(key) if name.startswith(EVM_PREFIX) else solana_address_for_key(key))
        except Exception:  # malformed key: say which variable, never the value
            raise ResolveError(f"{name}: key #{i + 1} is not a valid {'EVM' if name.startswith(EVM_PREFIX) else 'Solana'} key") from None
    return addrs


def served_tiers(expected_networks, catalog):
    """{'evm': {'mainnet', ...}, 'svm': {...}} for the networks this environment serves."""
    tiers = {"evm": set(), "svm": set()}
    for name in expected_networks or []:
        entry = (catalog or {}).get(name) or {}
        if entry.get("kind") in tiers and entry.get("tier"):
            tiers[entry["kind"]].add(entry["tier"])
    return tiers


def variable_in_use(name, present, tiers):
    """Production's fallback: *_MAINNET / *_TESTNET first, then the bare name.
    A variable is in use when a served network of its kind and tier reads it."""
    prefix = EVM_PREFIX if name.startswith(EVM_PREFIX) else SOLANA_PREFIX
    kind = "evm" if prefix == EVM_PREFIX else "svm"
    suffix = name[len(prefix):]
    if suffix in ("_MAINNET", "_TESTNET"):
        return suffix[1:].lower() in tiers[kind]
    if suffix:
        return False
    return any(prefix + "_" + tier.upper() not in present for tier in tiers[kind])


def live_wallets(task_definition, container_name, get_secret_value, expected_networks=None, catalog=None):
    containers = [c for c in task_definition.get("containerDefinitions") or [] if c.get("name") == container_name]
    if not containers:
        raise ResolveError(f"no container named {container_name!r} in {task_definition.get('taskDefinitionArn')}")
    entries = wallet_secret_entries(containers[0])
    values = resolve_secrets(entries, get_secret_value)
    by_variable = {}
    evm, solana = [], []
    tiers = served_tiers(expected_networks, catalog) if expected_networks else None
    for name in sorted(values):
        addrs = addresses_for(name, values[name])
        by_variable[name] = addrs
        if tiers is not None and not variable_in_use(name, values, tiers):
            continue  # e.g. the mainnet key of an environment serving testnets only
        target = evm if name.startswith(EVM_PREFIX) else solana
        target.extend(a for a in addrs if a not in target)
    plain = [e["name"] for e in containers[0].get("environment") or [] if e.get("name", "").startswith((EVM_PREFIX, SOLANA_PREFIX))]
    return {
        "task_definition": task_definition.get("taskDefinitionArn"),
        "evm_signers": evm,
        "solana_fee_payers": solana,
        "by_variable": by_variable,
        "plain_environment_keys": plain,
    }
