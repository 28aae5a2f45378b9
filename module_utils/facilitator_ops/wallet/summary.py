# -*- coding: utf-8 -*-
"""The rotation's summary and audit record, from non-secret results only:
per wallet and network, old and new address, balances before and after,
amounts moved, transaction hashes, gas spent, dust left behind."""
from __future__ import annotations

from ansible.module_utils.facilitator_ops.wallet.fees import decimals_for
from ansible.module_utils.facilitator_ops.wallet.fees import from_base_units


def _by_wallet(loop_results):
    """Per wallet, per network, the transfer result; several calls (the funding rounds that wait for a busy
    sender) merge, a result that moved funds (has a tx) winning over a later skip."""
    out = {}
    for r in loop_results or []:
        name = (r.get("item") or {}).get("name")
        if name and isinstance(r.get("transfers"), dict):
            mine = out.setdefault(name, {})
            for net, res in r["transfers"].items():
                if not (mine.get(net) or {}).get("tx") or (res or {}).get("tx"):
                    mine[net] = res
    return out


def _i(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def summarize(before, after, funded, swept, proof_lines=(), environment="unknown"):
    before_by = {w["name"]: w for w in before or []}
    funded_by, swept_by = _by_wallet(funded), _by_wallet(swept)
    lines, wallets = [], []
    for w in after or []:
        b = before_by.get(w["name"], {})
        dec = decimals_for(w["kind"])
        rec = dict(name=w["name"], kind=w["kind"], secret=w.get("secret_name"), secret_arn=w.get("secret_arn"),
                   env=w.get("env"), phase_before=b.get("phase"), phase=w.get("phase"),
                   old_address=w.get("old_address"), new_address=w.get("new_address"),
                   versions=w.get("versions"), networks={})
        resumed = b.get("phase") not in (None, "idle")
        lines.append(f"{w['name']} ({w['kind']}, {w.get('env')} <- {w.get('secret_name')}): "
                     f"old {w.get('old_address')} -> new {w.get('new_address')}"
                     + (f" [resumed from phase {b.get('phase')}]" if resumed else ""))
        for net, a in (w.get("networks") or {}).items():
            bn = (b.get("networks") or {}).get(net, {})
            sym = a.get("symbol", "")
            f = (funded_by.get(w["name"]) or {}).get(net, {})
            s = (swept_by.get(w["name"]) or {}).get(net, {})

            def fmt(v, _dec=dec, _sym=sym):
                return "n/a" if v is None else f"{from_base_units(v, _dec)} {_sym}"

            if not a.get("transfers", True):
                lines.append(f"  {net}: no transfers ({a.get('reason', 'disabled')})")
                rec["networks"][net] = dict(transfers=False, reason=a.get("reason"))
                continue
            gas = sum(_i(x.get("fee")) or 0 for x in (f, s) if x.get("tx"))
            n = dict(old_before=_i(bn.get("old_balance")), new_before=_i(bn.get("new_balance")) if b.get("new_address") else 0,
                     old_after=_i(a.get("old_balance")), new_after=_i(a.get("new_balance")),
                     funded=_i(f.get("amount")) if f.get("tx") else 0, fund_tx=f.get("tx"),
                     fund_fee=_i(f.get("fee")) if f.get("tx") else 0, fund_action=f.get("action"),
                     swept=_i(s.get("amount")) if s.get("tx") else 0, sweep_tx=s.get("tx"),
                     sweep_fee=_i(s.get("fee")) if s.get("tx") else 0, sweep_action=s.get("action"),
                     sweep_to=s.get("recipient"), gas_spent=gas, dust=_i(s.get("dust")) if s else None)
            rec["networks"][net] = n
            parts = [f"  {net}: old {fmt(n['old_before'])} -> {fmt(n['old_after'])}",
                     f"new {fmt(n['new_before'])} -> {fmt(n['new_after'])}"]
            parts.append(f"funded {fmt(n['funded'])}" + (f" (tx {n['fund_tx']})" if n["fund_tx"] else
                                                          f" ({f.get('action', 'not in this run')})"))
            parts.append(f"swept {fmt(n['swept'])}" + (f" to {n['sweep_to']} (tx {n['sweep_tx']})" if n["sweep_tx"] else
                                                         f" ({s.get('action', 'not in this run')})"))
            parts.append(f"gas spent {fmt(gas)}")
            if n["dust"] is not None:
                parts.append(f"dust left {fmt(n['dust'])}")
            lines.append("; ".join(parts))
        wallets.append(rec)
    lines += list(proof_lines or [])
    if any(w["phase"] == "promoted" for w in after or []):
        lines.append("next: verify.yml reads the expected signers from the service's wallet secrets in every "
                     "environment (nothing to edit); Solana clients read the new feePayer from /supported")
    record = dict(environment=environment, wallets=wallets, proof=list(proof_lines or []))
    return lines, record
