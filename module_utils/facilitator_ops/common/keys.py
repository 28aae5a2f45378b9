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


def _is_evm(pk):
    first = pk.split(",")[0].strip()
    return first.startswith("0x") or (len(first) == 64 and all(c in "0123456789abcdefABCDEF" for c in first))


def wallet_address_for(private_key):
    """The `address` a wallet secret holding `private_key` should carry. An EVM value may
    be a comma-separated list of keys (several signers, as the facilitator reads it):
    the addresses then come in the same order, comma-separated. Raises ValueError
    (never quoting the key) when a key is malformed."""
    try:
        if _is_evm(private_key):
            return ",".join(evm_address_for_key(k.strip()) for k in private_key.split(",") if k.strip())
        return solana_address_for_key(private_key.strip())
    except Exception:
        raise ValueError("private_key is not a valid EVM or Solana key") from None


def wallet_address_matches(doc):
    """For {"private_key", "address"} documents: does the address belong to the
    key (to each key, in order, for a comma-separated EVM value)? Returns (ok, kind)
    where kind is 'evm', 'solana' or None (unknown)."""
    pk = doc.get("private_key")
    addr = doc.get("address")
    if not isinstance(pk, str) or not isinstance(addr, str):
        return False, None
    kind = "evm" if _is_evm(pk) else "solana"
    try:
        want = wallet_address_for(pk)
    except ValueError:  # malformed key: not a match, never echo it
        return False, kind
    if kind == "evm":
        return [a.strip().lower() for a in addr.split(",")] == want.lower().split(","), kind
    return want == addr.strip(), kind
