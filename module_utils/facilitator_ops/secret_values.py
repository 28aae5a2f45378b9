# -*- coding: utf-8 -*-
"""Secret-value helpers shared by the secrets modules.

Everything here works on values already inside the module process and only
ever returns digests, key names and addresses: never a value.
"""
from __future__ import annotations

import base64
import hashlib
import json

DIGEST_SHORT = 12


def value_digest(string_value=None, binary_value=None):
    """sha256 of a secret value, tagged with its kind so a string and a binary
    with the same bytes never compare equal."""
    h = hashlib.sha256()
    if binary_value is not None:
        if isinstance(binary_value, str):
            binary_value = base64.b64decode(binary_value)
        h.update(b"binary:")
        h.update(binary_value)
    else:
        h.update(b"string:")
        h.update((string_value or "").encode("utf-8"))
    return h.hexdigest()


def short(digest):
    return digest[:DIGEST_SHORT] if digest else None


def json_keys(string_value):
    """Sorted top-level keys of a JSON object secret, or None if not an object."""
    try:
        doc = json.loads(string_value)
    except (TypeError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    return sorted(doc)


def key_digests(doc):
    """Per-key digests of a JSON object: lets a caller prove every other key
    of a read-modify-write survived without comparing values in the clear."""
    return {k: hashlib.sha256(json.dumps(v, sort_keys=True).encode()).hexdigest() for k, v in doc.items()}


def evm_address_for_key(private_key):
    """Checksummed address of an EVM private key (eth-account)."""
    from eth_account import Account  # imported lazily: only wallet secrets need it

    return Account.from_key(private_key).address


def solana_address_for_key(private_key_b58):
    from solders.keypair import Keypair

    return str(Keypair.from_base58_string(private_key_b58).pubkey())


def wallet_address_matches(doc):
    """For {"private_key", "address"} documents: does the address belong to the
    key? Returns (ok, kind) where kind is 'evm', 'solana' or None (unknown)."""
    pk = doc.get("private_key")
    addr = doc.get("address")
    if not isinstance(pk, str) or not isinstance(addr, str):
        return False, None
    if pk.startswith("0x") or (len(pk) == 64 and all(c in "0123456789abcdefABCDEF" for c in pk)):
        try:
            return evm_address_for_key(pk).lower() == addr.lower(), "evm"
        except Exception:  # malformed key: not a match, never echo it
            return False, "evm"
    try:
        return solana_address_for_key(pk) == addr, "solana"
    except Exception:
        return False, "solana"
