# -*- coding: utf-8 -*-
"""Public addresses of wallet keys (EVM and Solana), shared by the secrets
migration (derives a missing `address`), verification (live signers) and
rotation. Returns addresses only, never echoes a key."""
from __future__ import annotations


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
