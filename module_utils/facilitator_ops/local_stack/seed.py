# -*- coding: utf-8 -*-
"""Deterministic key material for the local stack's seeded secrets.

The local stack's "monorepo" secrets hold keys of the local anvil chains. They
are generated inside the module (never passed as task arguments) from anvil's
public development mnemonic, so the same world comes back after every restart.
"""
from __future__ import annotations

import hashlib
import json

ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def evm_wallet(index, mnemonic=ANVIL_MNEMONIC):
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{int(index)}")
    return {"private_key": "0x" + acct.key.hex().removeprefix("0x"), "address": acct.address}


def solana_wallet(label, mnemonic=ANVIL_MNEMONIC):
    from solders.keypair import Keypair

    seed = hashlib.sha256(f"{mnemonic}/solana/{label}".encode()).digest()
    kp = Keypair.from_seed(seed)
    return {"private_key": str(kp), "address": str(kp.pubkey())}


def render(spec):
    """Turn a seed spec into (kind, value). kind is 'string' or 'binary'.

    Wallets are seeded as the monorepo stores them (FACTS, Secrets Manager):
    {"private_key": ...} only; the migration derives the address. An EVM spec with
    `indexes` holds several keys, comma-separated, as the facilitator reads them."""
    kind = spec.get("type")
    if kind == "evm_wallet":
        indexes = spec.get("indexes") or [spec.get("index", 0)]
        return "string", json.dumps({"private_key": ",".join(evm_wallet(i)["private_key"] for i in indexes)})
    if kind == "solana_wallet":
        return "string", json.dumps({"private_key": solana_wallet(spec.get("label", "default"))["private_key"]})
    if kind == "json":
        return "string", json.dumps(spec.get("data") or {}, sort_keys=True)
    if kind == "string":
        return "string", str(spec.get("value", ""))
    if kind == "binary":
        return "binary", bytes.fromhex(spec.get("hex", ""))
    raise ValueError(f"unknown seed type {kind!r} (evm_wallet, solana_wallet, json, string, binary)")
