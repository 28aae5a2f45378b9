# -*- coding: utf-8 -*-
# GPL-3.0-or-later
"""Filters of the wallet_rotation role: the operator's input and the wallets it
selects, and where the start-up lines are read from. Pure functions of their
arguments (unit-tested in tests/unit/test_filters_wallet_rotation.py).
"""
from __future__ import annotations

import re

SELECT = ("evm", "solana", "all")
TRUE = ("yes", "true", "1", "on", "y", "t")
EVM_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
SOLANA_PUBKEY = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{32,44}$")


def _s(value):
    return "" if value is None else str(value).strip()


def _b(value):
    return value if isinstance(value, bool) else _s(value).lower() in TRUE


def eip55_valid(address):
    """True for an all-lower or all-upper 0x address (no checksum to check) or a mixed-case one whose case is
    its EIP-55 checksum (keccak-256 of the lower-case hex). A mixed-case address with a wrong checksum is a typo."""
    if not EVM_ADDRESS.match(address):
        return False
    body = address[2:]
    if body == body.lower() or body == body.upper():
        return True
    from eth_utils import to_checksum_address  # eth-utils: a pinned requirement (eth-account's)

    return to_checksum_address(address.lower()) == address


def _tokens(value):
    return [t for t in re.split(r"[\s,]+", _s(value)) if t]


def wallet_rotation_input(select, wallets, treasury=None, ack_dependencies=False, rotate_again=False,
                          environment="", destination_confirm="", protected=False):
    """-e wallet (evm, solana, all or one wallet's name) / treasury_* / ack_dependencies / rotate_again /
    sweep_destination_confirm, normalised and checked against the configured wallets (types are the argument
    spec's). Returns select, selected (wallet names), ack, again, destinations (kind -> treasury the selected
    wallets sweep to), confirm_missing (treasuries production must still have typed back) and error ("" or
    one line)."""
    sel = _s(select).lower()
    wallets = list(wallets or [])
    treasury = treasury or {}
    env = environment or "this environment"
    out = dict(select=sel, selected=[], ack=_b(ack_dependencies), again=_b(rotate_again), destinations={},
               confirm_missing=[], error="")
    evm, sol = _s(treasury.get("evm")), _s(treasury.get("solana"))
    names = [_s(w.get("name")).lower() for w in wallets]
    if sel not in SELECT and sel not in names:
        out["error"] = (f"rotate_wallet: -e wallet={_s(select)} is not one of evm, solana, all"
                        + "".join(f", {n}" for n in names))
    elif (evm and not EVM_ADDRESS.match(evm)) or (sol and not SOLANA_PUBKEY.match(sol)):
        out["error"] = "rotate_wallet: -e treasury_evm must be a 0x address, -e treasury_solana a base58 public key"
    elif evm and not eip55_valid(evm):
        out["error"] = (f"rotate_wallet: -e treasury_evm {evm} is not a valid EIP-55 checksum address (mixed case, "
                        f"wrong checksum: a typo?); the sweep would send the whole balance there. Nothing was changed")
    elif not wallets:
        out["error"] = (f"rotate_wallet: no wallet configured for {env} "
                        "(wallet_rotation_wallets in inventories/<env>/group_vars/facilitator/wallet_rotation.yml)")
    else:
        out["selected"] = [w.get("name") for w in wallets
                           if sel in ("all", _s(w.get("kind")).lower(), _s(w.get("name")).lower())]
        if not out["selected"]:
            out["error"] = f"rotate_wallet: no {sel} wallet configured for {env}"
            return out
        kinds = {_s(w.get("kind")).lower() for w in wallets if w.get("name") in out["selected"]}
        out["destinations"] = {k: a for k, a in (("evm", evm), ("solana", sol)) if a and k in kinds}
        typed = _tokens(destination_confirm)
        wrong = [t for t in typed if not any(_same_address(t, a) for a in out["destinations"].values())]
        if typed and wrong:
            out["error"] = (f"rotate_wallet: -e sweep_destination_confirm={','.join(wrong)} is not the sweep "
                            f"destination ({', '.join(out['destinations'].values()) or 'the new wallet: no treasury'}"
                            f"). Nothing was changed")
            return out
        if _b(protected):
            out["confirm_missing"] = [a for a in out["destinations"].values()
                                      if not any(_same_address(t, a) for t in typed)]
    return out


def _same_address(typed, address):
    """EVM addresses compare case-insensitively (the checksum was checked), Solana keys exactly."""
    if address.startswith("0x"):
        return typed.lower() == address.lower()
    return typed == address


def wallet_rotation_destination_typed(missing, answers):
    """The treasuries production still needed typed back (`confirm_missing`) against the operator's answers to
    the prompts (one per treasury, same order): "" when each was typed back exactly, else the one-line refusal."""
    answers = [_s((a or {}).get("user_input") if isinstance(a, dict) else a) for a in (answers or [])]
    bad = [m for i, m in enumerate(missing or []) if i >= len(answers) or not _same_address(answers[i], m)]
    if not bad:
        return ""
    return (f"rotate_wallet: the sweep destination {', '.join(bad)} was not typed back: the sweep sends the old "
            f"wallet's whole balance there. Rerun with -e sweep_destination_confirm=<the address> (or type it at "
            f"the prompt) after checking it with the treasury's owner. Nothing was changed")


def wallet_rotation_sweep_destinations(wallets, treasury=None):
    """The plan's SWEEP lines: per wallet of the pre-flight, where its old wallet's balance goes."""
    treasury = treasury or {}
    lines = []
    for w in wallets or []:
        t = _s(treasury.get(w.get("kind")))
        dest = (f"{t} (TREASURY, -e treasury_{w.get('kind')} / wallet_rotation_treasury)" if t
                else f"{w.get('new_address') or 'the new wallet (to be generated)'} (the new wallet)")
        lines.append(f"SWEEP {w.get('name')}: the whole balance of the old wallet {w.get('old_address')} goes to {dest}")
    return lines


def wallet_rotation_awslogs(preflight, container):
    """Where the facilitator container logs (its awslogs options in the running
    task definition): group, stream_prefix (<prefix>/<container>, as ECS names
    the streams) and region; "" for what is not configured."""
    options = ((preflight or {}).get("log_configuration") or {}).get("options") or {}
    prefix = options.get("awslogs-stream-prefix")
    return dict(group=_s(options.get("awslogs-group")), region=_s(options.get("awslogs-region")),
                stream_prefix=f"{prefix}/{container}" if prefix is not None else "")


def wallet_rotation_forward_only(wallets, failure=""):
    """"" when a failed redeploy/proof may roll back, else the one message that stops the run instead: a
    promoted wallet whose old key was (partly) swept must never become AWSCURRENT again. Names each wallet,
    why, and what on-call does (the pre-flight's `forward_only` reasons)."""
    hits = [w for w in wallets or [] if w.get("phase") == "promoted" and w.get("forward_only")]
    if not hits:
        return ""
    what = "; ".join(f"{w.get('name')}: {' and '.join(w['forward_only'])} (new {w.get('new_address')}, "
                     f"old {w.get('old_address')})" for w in hits)
    return (f"ROTATION NOT ROLLED BACK (forward only): the new wallet was not proven live ({_s(failure) or 'failed'}), "
            f"but {what}. AWSCURRENT stays on the new key: rolling back would make an empty, maybe leaked key "
            f"live. Do NOT move AWSCURRENT back by hand. Fix the cause (the service's events and stopped tasks, "
            f"/supported on the new ALB, the start-up logs), then rerun the same command: it goes forward "
            f"(redeploy, prove, sweep what is left, finish). See docs/runbook-wallet-rotation.md "
            f"\"Forward only after a sweep\".")


def wallet_rotation_fund_sources(wallets, timeout=180, window=15):
    """The plan's FUND lines: per wallet still to fund, where the funding comes from (the pre-flight's
    `fund_from`): a funding wallet, or the old wallet, the live signer, used only once idle."""
    lines = []
    for w in wallets or []:
        if w.get("phase") not in ("idle", "pending"):
            continue
        src = w.get("fund_from") or {}
        if src.get("source") == "funding wallet":
            lines.append(f"FUND {w.get('name')}: from the funding wallet {src.get('label')} {src.get('address')}")
        else:
            lines.append(f"FUND {w.get('name')}: from the old wallet {w.get('old_address')}, the live signer (no funding "
                         f"wallet configured): each EVM transfer first waits until it has nothing in flight (pending "
                         f"nonce == latest nonce), up to {timeout} s, progress every {window} s")
    return lines


class FilterModule:
    def filters(self):
        return {
            "wallet_rotation_input": wallet_rotation_input,
            "wallet_rotation_awslogs": wallet_rotation_awslogs,
            "wallet_rotation_forward_only": wallet_rotation_forward_only,
            "wallet_rotation_destination_typed": wallet_rotation_destination_typed,
            "wallet_rotation_sweep_destinations": wallet_rotation_sweep_destinations,
            "wallet_rotation_fund_sources": wallet_rotation_fund_sources,
        }
