# -*- coding: utf-8 -*-
"""Orchestration of the wallet rotation modules (pre-flight, fund, sweep).

- `live_wallet_secrets()` reads which secrets the RUNNING task definition
  injects (by `valueFrom`), with production's variable precedence
  (EVM_PRIVATE_KEY_TESTNET before the legacy EVM_PRIVATE_KEY), so the live
  secret is rotated and never a legacy copy.
- `network_config()` validates one network's inventory entry (kind, chain,
  target/floor in native units, RPC URL or the Secrets Manager key holding it).
- `preflight()` puts it together: per wallet its phase (wallet_state), old and
  new address, per network balances, what funding needs, refusals naming the
  network, dependencies bound to the old address.
- `transfer_all()` runs fund or sweep on every network of a wallet in
  parallel and collects one result (or one error) per network.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.facilitator_ops.ecs.secrets import ResolveError
from ansible.module_utils.facilitator_ops.ecs.secrets import parse_value_from
from ansible.module_utils.facilitator_ops.wallet.evm import EvmChain
from ansible.module_utils.facilitator_ops.wallet.fees import TransferRefused
from ansible.module_utils.facilitator_ops.wallet.fees import FeeError
from ansible.module_utils.facilitator_ops.wallet.fees import SOLANA_RENT_EXEMPT_MIN
from ansible.module_utils.facilitator_ops.wallet.fees import TRANSFER_GAS
from ansible.module_utils.facilitator_ops.wallet.fees import decimals_for
from ansible.module_utils.facilitator_ops.wallet.fees import evm_fund_fees
from ansible.module_utils.facilitator_ops.wallet.fees import from_base_units
from ansible.module_utils.facilitator_ops.wallet.fees import to_base_units
from ansible.module_utils.facilitator_ops.wallet.rpc import JsonRpc
from ansible.module_utils.facilitator_ops.wallet.rpc import RpcError
from ansible.module_utils.facilitator_ops.wallet.secret import WalletSecret
from ansible.module_utils.facilitator_ops.wallet.secret import WalletSecretError
from ansible.module_utils.facilitator_ops.wallet.solana import SolanaChain
from ansible.module_utils.facilitator_ops.wallet.state import StateError
from ansible.module_utils.facilitator_ops.wallet.state import forward_only

KINDS = ("evm", "solana")


class RotationError(Exception):
    """Safe to print."""


# ---------------------------------------------------------------- config


def network_config(name, cfg):
    """Validated network entry with base-unit amounts. Raises RotationError."""
    if not isinstance(cfg, dict):
        raise RotationError(f"network {name}: not a mapping")
    kind = cfg.get("kind")
    if kind not in KINDS:
        raise RotationError(f"network {name}: kind must be evm or solana, got {kind!r}")
    dec = decimals_for(kind)
    try:
        target = to_base_units(cfg.get("target"), dec)
        floor = to_base_units(cfg.get("floor", "0"), dec)
        dust = to_base_units(cfg.get("dust", "0"), dec)
    except FeeError as e:
        raise RotationError(f"network {name}: target/floor/dust: {e}") from None
    if target <= 0:
        raise RotationError(f"network {name}: target must be > 0")
    if floor > target:
        raise RotationError(f"network {name}: floor {cfg.get('floor')} is above target {cfg.get('target')}")
    if kind == "solana" and target < SOLANA_RENT_EXEMPT_MIN:
        raise RotationError(f"network {name}: target below Solana's rent-exempt minimum")
    transfers = cfg.get("transfers", True)
    if transfers and not (cfg.get("rpc_url") or cfg.get("rpc_secret")):
        raise RotationError(f"network {name}: rpc_url or rpc_secret (+ rpc_key) is required")
    if kind == "evm" and not cfg.get("chain_id"):
        raise RotationError(f"network {name}: chain_id is required (it guards against a wrong RPC URL)")
    return dict(name=name, kind=kind, target=target, floor=floor, dust=dust, decimals=dec,
                symbol=cfg.get("symbol") or ("SOL" if kind == "solana" else "ETH"),
                chain_id=cfg.get("chain_id"), genesis_hash=cfg.get("genesis_hash"), l1_fee=cfg.get("l1_fee"),
                priority_fee_wei=cfg.get("priority_fee_wei"), transfers=bool(transfers),
                transfers_skip_reason=cfg.get("transfers_skip_reason") or "transfers disabled for this network",
                rpc_url=cfg.get("rpc_url"), rpc_secret=cfg.get("rpc_secret"), rpc_key=cfg.get("rpc_key") or name,
                rpc_region=cfg.get("rpc_region"))


def resolve_rpc_url(net, secret_reader):
    """The RPC URL, from the inventory or from a Secrets Manager JSON map
    (production URLs carry API keys). Never returned to Ansible."""
    if net.get("rpc_url"):
        return net["rpc_url"]
    text = secret_reader(net.get("rpc_region"), net["rpc_secret"])
    try:
        doc = json.loads(text)
    except (TypeError, ValueError):
        doc = None
    if isinstance(doc, dict):
        if net["rpc_key"] not in doc:
            raise RotationError(f"network {net['name']}: key {net['rpc_key']!r} missing in {net['rpc_secret']}")
        return doc[net["rpc_key"]]
    return text


def chain_for(net, rpc_url, transport=None, timeout=20.0):
    rpc = JsonRpc(rpc_url, net["name"], timeout=timeout, transport=transport)
    if net["kind"] == "evm":
        return EvmChain(rpc, net["name"], chain_id=net["chain_id"], l1_fee=net.get("l1_fee"),
                        priority_fee_wei=net.get("priority_fee_wei"))
    return SolanaChain(rpc, net["name"], genesis_hash=net.get("genesis_hash"))


def fmt(value, net):
    return None if value is None else f"{from_base_units(value, net['decimals'])} {net['symbol']}"


# ---------------------------------------------------------------- task definition


def live_wallet_secrets(container, wallets):
    """For each configured wallet, the secret the container actually reads.

    wallets: [{name, kind, env: [VAR, fallback...], secret?: expected name}].
    Returns (resolved list, problems)."""
    by_env = {}
    for s in container.get("secrets") or []:
        by_env[s.get("name")] = s.get("valueFrom") or s.get("value_from")
    plain = {e.get("name") for e in container.get("environment") or []}
    out, problems, seen = [], [], {}
    for w in wallets:
        envs = w.get("env") or []
        envs = [envs] if isinstance(envs, str) else list(envs)
        hit = next((e for e in envs if e in by_env or e in plain), None)
        if hit is None:
            problems.append(f"{w['name']}: the task definition reads none of {', '.join(envs)}")
            continue
        if hit in plain:
            problems.append(f"{w['name']}: {hit} is a plain environment variable in the task definition, "
                            f"not a secret: refusing to rotate a key kept outside Secrets Manager")
            continue
        try:
            ref = parse_value_from(by_env[hit])
        except ResolveError as e:
            problems.append(f"{w['name']}: {e}")
            continue
        name = ref["arn"].split(":")[6]
        if ref["json_key"] != "private_key":
            problems.append(f"{w['name']}: {hit} reads {'key ' + repr(ref['json_key']) if ref['json_key'] else 'the whole secret'}"
                            f" of {name}, expected the private_key of a {{private_key, address}} document")
            continue
        if ref["version_stage"] or ref["version_id"]:
            problems.append(f"{w['name']}: {hit} pins {ref['version_stage'] or ref['version_id']} of {name}: "
                            f"a promoted version would never reach the facilitator")
            continue
        expected = w.get("secret")
        if expected and not (name == expected or name.rsplit("-", 1)[0] == expected):
            problems.append(f"{w['name']}: the task definition reads {name} for {hit}, the inventory says "
                            f"{expected}: fix the inventory (wallet_rotation_wallets) or the task definition")
            continue
        if ref["arn"] in seen:
            problems.append(f"{w['name']}: {hit} reads the same secret as {seen[ref['arn']]}: rotate them as one "
                            f"wallet (one entry with both variables)")
            continue
        seen[ref["arn"]] = w["name"]
        fallbacks = [e for e in envs if e != hit]
        shadow = [e for e in fallbacks if e in by_env and envs.index(e) > envs.index(hit)]
        out.append(dict(name=w["name"], kind=w["kind"], env=hit, secret_arn=ref["arn"], secret_name=name,
                        region=ref["region"], networks=list(w.get("networks") or []),
                        unused_fallbacks=shadow))
    return out, problems


# ---------------------------------------------------------------- other live signers


def wallet_env_kinds(wallets):
    """{VARIABLE: kind} for every task-definition variable a configured wallet may read its key from."""
    out = {}
    for w in wallets or []:
        envs = w.get("env") or []
        for e in ([envs] if isinstance(envs, str) else envs):
            out.setdefault(e, w.get("kind"))
    return out


def signer_secrets(container, wallets):
    """The wallet keys a container (another service's) injects, by any variable a configured wallet may read:
    [{env, kind, arn, region, secret_name, version_stage, version_id}]; a key in plain environment has arn None
    (its address cannot be read without the value: it is reported as unknown, never read)."""
    kinds = wallet_env_kinds(wallets)
    out = []
    for s in container.get("secrets") or []:
        env = s.get("name")
        if env not in kinds:
            continue
        try:
            ref = parse_value_from(s.get("valueFrom") or s.get("value_from") or "")
        except ResolveError as e:
            out.append(dict(env=env, kind=kinds[env], arn=None, problem=str(e)))
            continue
        out.append(dict(env=env, kind=kinds[env], arn=ref["arn"], region=ref["region"],
                        secret_name=ref["arn"].split(":")[6], version_stage=ref["version_stage"],
                        version_id=ref["version_id"]))
    for e in container.get("environment") or []:
        if e.get("name") in kinds:
            out.append(dict(env=e["name"], kind=kinds[e["name"]], arn=None, problem="a key in plain environment"))
    return out


def service_liveness(service):
    """(live, state) of a described ECS service (None: not found). Live = ACTIVE (or DRAINING) with tasks desired,
    running or pending: its tasks sign with the keys their task definitions read."""
    if not service or service.get("status") == "INACTIVE":
        return False, "not found (deleted or never there)"
    desired, running, pending = (int(service.get(k) or 0) for k in ("desiredCount", "runningCount", "pendingCount"))
    state = f"{service.get('status')}, desired {desired}, running {running}, pending {pending}"
    return bool(desired or running or pending), state


def service_task_definitions(service):
    """Every task definition the service's deployments run (PRIMARY and, during a rolling deploy, ACTIVE ones)."""
    tds = [d.get("taskDefinition") for d in service.get("deployments") or [] if d.get("taskDefinition")]
    if service.get("taskDefinition") and service["taskDefinition"] not in tds:
        tds.insert(0, service["taskDefinition"])
    return tds


def _client_error_code(e):
    return ((getattr(e, "response", None) or {}).get("Error") or {}).get("Code")


def read_other_signers(configs, ecs_client, secret_client, wallets, pick_container, aws_retry=True):
    """What each configured other service (the monorepo's facilitator until it is decommissioned) signs with,
    read the ECS way: its RUNNING deployments' task definitions, the wallet-key secrets its container injects
    (`valueFrom`), and the address each referenced version holds (read here, never returned: addresses only).
    configs: [{name, cluster, service, region, container}]; ecs_client(region) / secret_client(region) -> clients;
    pick_container(task_definition, name) selects the container by name (the module passes ecs/taskdef's).
    Returns [{name, cluster, service, region, live, state, signers: [{env, kind, arn, secret_name, address |
    problem, task_definition}]}]."""
    kw = {"aws_retry": True} if aws_retry else {}
    out = []
    for c in configs or []:
        for k in ("name", "cluster", "service", "region"):
            if not c.get(k):
                raise RotationError(f"wallet_rotation_other_signers: an entry lacks {k!r} (name, cluster, service, "
                                    f"region, container)")
        ecs = ecs_client(c["region"])
        try:
            resp = ecs.describe_services(cluster=c["cluster"], services=[c["service"]], **kw)
            svc = next((x for x in resp.get("services") or [] if x.get("status") != "INACTIVE"), None)
        except Exception as e:  # noqa: BLE001 (botocore ClientError: only a missing cluster means "not there")
            if _client_error_code(e) != "ClusterNotFoundException":
                raise
            svc = None
        live, state = service_liveness(svc)
        entry = dict(name=c["name"], cluster=c["cluster"], service=c["service"], region=c["region"], live=live,
                     state=state, signers=[])
        for td_arn in service_task_definitions(svc) if svc else []:
            td = ecs.describe_task_definition(taskDefinition=td_arn, **kw)["taskDefinition"]
            container = pick_container(td, c.get("container") or "facilitator")
            for sig in signer_secrets(container, wallets):
                sig["task_definition"] = td_arn.rsplit("/", 1)[-1]
                if sig.get("arn"):
                    try:
                        sig["address"] = _version_address(secret_client(sig["region"]), sig, aws_retry)
                    except (WalletSecretError, StateError) as e:
                        sig["problem"] = str(e)
                    except Exception as e:  # noqa: BLE001 (AccessDenied in another account: unknown, not safe)
                        code = _client_error_code(e)
                        if code is None:
                            raise
                        sig["problem"] = f"{sig['secret_name']}: {code}"
                entry["signers"].append(sig)
        out.append(entry)
    return out


def _version_address(client, sig, aws_retry):
    """The address the version a task definition references holds (its stage or version id, else AWSCURRENT)."""
    ws = WalletSecret(client, sig["arn"], sig["kind"], label=sig["secret_name"], aws_retry=aws_retry)
    vid = sig.get("version_id")
    if not vid:
        stage = sig.get("version_stage") or "AWSCURRENT"
        vid = next((v for v, st in ws.state()["stages"].items() if stage in (st or [])), None)
        if vid is None:
            raise WalletSecretError(f"{sig['secret_name']}: no version staged {stage}")
    return ws.read(vid).address


def other_signer_refusals(reports, others, dependencies=()):
    """Refusals for every rotating wallet whose old address (the one the sweep empties) another live signer
    still uses: a configured other service (`others`: name, cluster, service, region, live, state, signers with
    arn/address) that reads the same secret or a secret holding the same address, or a dependency of kind
    `signer` bound to it. Each names the signer and what to do."""
    out = []
    for r in reports:
        old = str(r.get("old_address") or "").lower()
        for o in others or []:
            if not o.get("live"):
                continue
            hits = [s for s in o.get("signers") or [] if s.get("kind") == r.get("kind") and (
                (s.get("arn") and s["arn"] == r.get("secret_arn")) or (old and str(s.get("address") or "").lower() == old))]
            unknown = [s for s in o.get("signers") or [] if s.get("kind") == r.get("kind") and not s.get("address")
                       and s not in hits]
            if unknown and not hits:
                out.append(
                    f"{r['name']}: cannot tell which {r.get('kind')} key {o['name']} ({o['cluster']}/{o['service']} in "
                    f"{o['region']}: {o['state']}) signs with ({'; '.join(s['env'] + ': ' + str(s.get('problem')) for s in unknown)}):"
                    f" it may be {r.get('old_address')}, which the sweep empties. Let this run read it, or finish the "
                    f"cutover and decommission {o['name']} first")
            if hits:
                how = ", ".join(f"{h['env']} <- {h.get('secret_name') or h.get('arn')}" for h in hits)
                out.append(
                    f"{r['name']}: {o['name']} ({o['cluster']}/{o['service']} in {o['region']}: {o['state']}) still signs "
                    f"with {r.get('old_address')} ({how}): the sweep would leave its traffic (the share still on the old ALB, any "
                    f"later cutover stage=0) settling with no gas. Finish the cutover and decommission {o['name']} first, "
                    f"or rotate only when it no longer signs with this key (its task definition reads another one)")
        for d in dependencies or []:
            if str(d.get("kind") or "") != "signer":
                continue
            bound = str(d.get("bound_address") or "").lower()
            if (bound and bound == old) or d.get("wallet") == r.get("name"):
                out.append(f"{r['name']}: dependency {d.get('name', '?')} signs with {r.get('old_address')} "
                           f"({d.get('note') or 'a live signer'}): the sweep would leave it with no gas. Move it to "
                           f"another key (or stop it) first; -e ack_dependencies=yes does not cover a live signer")
    return out


def other_signer_lines(others):
    """The plan's lines about the other services that may sign with the same keys."""
    lines = []
    for o in others or []:
        signers = "; ".join(f"{s['env']} <- {s.get('secret_name') or '?'} = {s.get('address') or s.get('problem') or '?'}"
                            for s in o.get("signers") or [])
        lines.append(f"OTHER SIGNER {o['name']} ({o['cluster']}/{o['service']} in {o['region']}): "
                     f"{'LIVE' if o.get('live') else 'not live'} ({o['state']})" + (f": {signers}" if signers else ""))
    return lines


# ---------------------------------------------------------------- pre-flight


def uncovered_networks(w, served, catalog):
    """Networks the facilitator serves with this wallet's key but the rotation
    would not fund: the new key would go live there with no gas."""
    if not served or not catalog:
        return []
    family = "svm" if w["kind"] == "solana" else "evm"
    env = w.get("env") or ""
    tier = "mainnet" if env.endswith("_MAINNET") else "testnet" if env.endswith("_TESTNET") else None
    out = []
    for name in served:
        c = catalog.get(name) or {}
        if c.get("kind") != family or (tier and c.get("tier") != tier):
            continue
        if name not in w["networks"]:
            out.append(name)
    return sorted(out)


def dependencies_for(address, dependencies, wallet_name):
    hits = []
    for d in dependencies or []:
        bound = str(d.get("bound_address") or "")
        if (bound and bound.lower() == str(address).lower()) or d.get("wallet") == wallet_name:
            hits.append(dict(name=d.get("name", "?"), network=d.get("network"), kind=d.get("kind", "contract"),
                             address=d.get("address"), note=d.get("note", "")))
    return hits


def preflight_wallet(w, nets, secret_client, chain_factory, dependencies=(), aws_retry=True, sweep_to=None,
                     funder=None):
    """`funder`: {address, label} of the configured funding wallet of this wallet's kind (None: the new wallet
    is funded from the old one, the live signer, each transfer waiting until it is idle)."""
    """One wallet's pre-flight. secret_client(region) -> boto3 client;
    chain_factory(net) -> EvmChain/SolanaChain. Never raises for a network
    problem: it is reported under that network and as a refusal."""
    ws = WalletSecret(secret_client(w["region"]), w["secret_arn"], w["kind"], label=w["secret_name"],
                      aws_retry=aws_retry)
    st = ws.state()
    old = ws.read(st["old"])
    new = ws.read(st["new"]) if st["new"] else None
    report = dict(w, phase=st["phase"], versions=dict(current=st["current"], pending=st["pending"],
                                                      previous=st["previous"], old=st["old"], new=st["new"]),
                  rotated=st.get("rotated"), batch=st.get("batch"), sweep_started=st.get("sweep_started"),
                  old_address=old.address, new_address=new.address if new else None, networks={}, refusals=[],
                  warnings=[], underfunded=[], dependencies=dependencies_for(old.address, dependencies, w["name"]))
    nets_of = list(w["networks"])
    report["proof_old"] = dict(wallet=w["name"], kind=w["kind"], expect=old.address,
                               replaced=new.address if new else None, networks=nets_of)
    report["proof_new"] = dict(wallet=w["name"], kind=w["kind"], expect=new.address, replaced=old.address,
                               networks=nets_of) if new else None
    if funder:
        report["fund_from"] = dict(address=funder["address"], source="funding wallet", label=funder.get("label"))
        if funder["address"].lower() in (old.address.lower(), str(new.address if new else "").lower()):
            report["refusals"].append(f"{w['name']}: the funding wallet {funder.get('label')} holds "
                                      f"{funder['address']}, a key of this rotation: configure another funding wallet")
    else:
        report["fund_from"] = dict(address=old.address, source="old wallet (the live signer)", label=None)
    treasury = str((sweep_to or {}).get(w["kind"]) or "").strip()
    report["sweep_destination"] = treasury or (new.address if new else None)
    report["sweep_to_treasury"] = bool(treasury)
    if treasury and treasury.lower() == old.address.lower():
        report["refusals"].append(f"{w['name']}: the sweep destination {treasury} is the old wallet itself")
    if st["phase"] == "promoted" and new is not None and new.address == old.address:
        report["refusals"].append(f"{w['name']}: old and new versions hold the same address")
    for name in w["networks"]:
        net = nets[name]
        if net["kind"] != w["kind"]:
            report["refusals"].append(f"{w['name']}: network {name} is {net['kind']}, the wallet is {w['kind']}")
            continue
        entry = dict(kind=net["kind"], symbol=net["symbol"], target=net["target"], floor=net["floor"],
                     target_fmt=fmt(net["target"], net), floor_fmt=fmt(net["floor"], net), transfers=net["transfers"])
        report["networks"][name] = entry
        if not net["transfers"]:
            entry.update(status="skipped", reason=net["transfers_skip_reason"])
            continue
        try:
            chain = chain_factory(net)
            if net["kind"] == "evm":
                chain.check_chain_id()
            else:
                chain.check_genesis()
            if treasury and net["kind"] == "solana":
                # checked before anything changes (and again right before the sweep sends)
                chain.check_system_account(treasury)
            old_bal = chain.balance(old.address)
            entry.update(old_balance=old_bal, old_balance_fmt=fmt(old_bal, net))
            if old_bal < net["floor"] and st["phase"] != "promoted":
                report["warnings"].append(f"{name}: the old wallet holds {fmt(old_bal, net)}, below the floor "
                                          f"{fmt(net['floor'], net)}")
            if new is not None:
                new_bal = chain.balance(new.address)
                entry.update(new_balance=new_bal, new_balance_fmt=fmt(new_bal, net))
            else:
                new_bal = 0
            if st["phase"] == "pending" and new_bal < net["floor"]:
                report["underfunded"].append(f"{name}: {fmt(new_bal, net)} < floor {fmt(net['floor'], net)}")
            if st["phase"] == "promoted":
                entry.update(status="to_sweep" if old_bal > net["dust"] else "swept")
                continue
            # The source: a funding wallet when one is configured (it never takes a nonce the running
            # facilitator believes free), else the old wallet, which keeps its floor.
            src = funder["address"] if funder else old.address
            src_bal = chain.balance(src) if funder else old_bal
            if funder:
                entry.update(funder_balance=src_bal, funder_balance_fmt=fmt(src_bal, net))
            if net["kind"] == "evm":
                plan = chain.plan_fund(src, new.address if new else src, net["target"],
                                       reserve=0 if funder else net["floor"]) \
                    if new is not None else _fresh_plan(chain, src, net)
                need, cap, keep = plan["need"], plan["max_cost"], 0 if funder else net["floor"]
            else:
                need = max(0, net["target"] - new_bal)
                cap = 5000
                keep = SOLANA_RENT_EXEMPT_MIN if funder else max(net["floor"], SOLANA_RENT_EXEMPT_MIN)
            entry.update(need=need, need_fmt=fmt(need, net), fee_cap=cap, fee_cap_fmt=fmt(cap, net))
            if need == 0:
                entry.update(status="funded")
            elif funder and src_bal < need + cap + keep:
                entry.update(status="cannot_fund")
                report["refusals"].append(
                    f"{name}: the funding wallet {funder.get('label')} ({src}) holds {fmt(src_bal, net)}, cannot fund "
                    f"the new one with {fmt(need, net)} + fees {fmt(cap, net)}: top it up, or lower "
                    f"wallet_rotation_networks.{name}.target")
            elif not funder and old_bal < need + cap + keep:
                # The old wallet stays the live signer until the new one is proven (and is where a failed
                # proof rolls back to): funding never takes it below its floor.
                entry.update(status="cannot_fund")
                report["refusals"].append(
                    f"{name}: the old wallet {old.address} holds {fmt(old_bal, net)}, cannot fund the new one with "
                    f"{fmt(need, net)} + fees {fmt(cap, net)} and keep its floor {fmt(keep, net)} (it stays the live "
                    f"signer until the new one is proven): top it up, or lower wallet_rotation_networks.{name}.target")
            else:
                entry.update(status="to_fund")
        except (RpcError, TransferRefused, RotationError) as e:
            entry.update(status="error", reason=str(e))
            report["refusals"].append(f"{name}: {e}")
    report["forward_only"] = forward_only_reasons(report)
    return report


def forward_only_reasons(report):
    """Why a promoted wallet can no longer be rolled back onto its old key ([] when it can): the sweep into
    this rotation's new version has started (the secret's sweep-started mark), or the old wallet already
    holds nothing (or only dust) on a network. Rolling back would make an empty, maybe leaked key live."""
    if report.get("phase") != "promoted":
        return []
    reasons = []
    why = forward_only({"sweep_started": report.get("sweep_started")}, (report.get("versions") or {}).get("new"))
    if why:
        reasons.append(why)
    drained = sorted(n for n, e in (report.get("networks") or {}).items() if e.get("status") == "swept")
    if drained:
        reasons.append(f"the old wallet {report.get('old_address')} holds nothing (or only dust) on "
                       f"{', '.join(drained)}")
    return reasons


def _fresh_plan(chain, old_address, net):
    base, prio = chain.fees()
    if base is None:
        cap = prio * TRANSFER_GAS
    else:
        cap = evm_fund_fees(base, prio)[2]
    return dict(need=net["target"], max_cost=cap)


def rotation_batch(reports):
    """The rotation a run resumes: the batch of the selected wallets that are mid-rotation (None: all idle,
    a new rotation starts)."""
    batches = sorted({r.get("batch") for r in reports if r["phase"] != "idle" and r.get("batch")})
    return batches[0] if batches else None


def done_in_batch(report, batch):
    """An idle wallet that finished in the rotation being resumed: never started again by it."""
    rec = report.get("rotated") or {}
    return bool(batch) and report["phase"] == "idle" and rec.get("batch") == batch \
        and rec.get("version") == report["versions"]["current"]


def recently_rotated(reports, min_interval_minutes, now, batch=None):
    """Idle wallets whose AWSCURRENT is the version this tool finished less
    than min_interval_minutes ago (the ROTATED_TAG on the secret, readable from any
    machine and written before AWSPENDING is removed): running again would
    rotate a second time. Wallets done in the rotation being resumed are not
    listed (the run skips them)."""
    out = []
    for r in reports:
        rec = r.get("rotated") or {}
        if r["phase"] != "idle" or rec.get("version") != r["versions"]["current"] or done_in_batch(r, batch):
            continue
        age = now - float(rec.get("epoch") or 0)
        if age < 60 * int(min_interval_minutes):
            out.append(f"{r['name']} ({r['secret_name']}, {int(age // 60)} min ago)")
    return out


def current_address(w, secret_client, aws_retry=True):
    """The AWSCURRENT address of a live wallet secret (None when it cannot be read)."""
    try:
        ws = WalletSecret(secret_client(w["region"]), w["secret_arn"], w["kind"], label=w["secret_name"],
                          aws_retry=aws_retry)
        return ws.read(ws.state()["current"]).address
    except (WalletSecretError, KeyError):
        return None


def kept_addresses(all_reports, selected_names):
    """Per kind, the live (AWSCURRENT) addresses of configured wallets this run does not rotate: a rotated
    wallet's old address may legitimately stay live through them (two wallets sharing a key)."""
    out = {}
    for r in all_reports:
        if r["name"] not in selected_names and r.get("current_address"):
            out.setdefault(r["kind"], []).append(r["current_address"])
    return out


# ---------------------------------------------------------------- transfers


def transfer_all(jobs, parallel=True):
    """jobs: [(network, callable)] -> {network: result or {'error': msg}}."""
    results = {}
    if not jobs:
        return results

    def run(job):
        name, fn = job
        try:
            return name, fn()
        except (RpcError, TransferRefused, RotationError, WalletSecretError) as e:
            return name, dict(network=name, action="error", error=str(e))
        except Exception as e:  # signing/library errors: the class only, never a message that could quote a key
            return name, dict(network=name, action="error", error=f"{name}: {e.__class__.__name__}")

    if parallel and len(jobs) > 1:
        with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
            for name, res in pool.map(run, jobs):
                results[name] = res
    else:
        for job in jobs:
            name, res = run(job)
            results[name] = res
    return results


def format_result(res, net):
    out = dict(res)
    for k in ("amount", "fee", "old_before", "old_after", "new_before", "new_after", "dust", "target"):
        if out.get(k) is not None:
            out[k + "_fmt"] = fmt(out[k], net)
    return out


def result_line(network, res):
    """One line an operator reads: what happened on a network."""
    bits = [f"{network}: {res.get('action')}"]
    if res.get("amount"):
        bits.append(f"{res.get('amount_fmt')} {res.get('sender', '?')} -> {res.get('recipient', '?')}")
    if res.get("tx"):
        bits.append(f"tx {res['tx']}")
    if res.get("fee"):
        bits.append(f"fee {res.get('fee_fmt')}")
    if res.get("new_after_fmt"):
        bits.append(f"recipient now {res['new_after_fmt']}")
    if res.get("old_after_fmt") is not None and res.get("action") in ("swept", "dust", "skipped"):
        bits.append(f"old wallet left {res['old_after_fmt']}")
    if res.get("reason"):
        bits.append(f"({res['reason']})")
    if res.get("error"):
        bits.append(res["error"])
    return " ".join(bits)
