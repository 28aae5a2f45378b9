"""Configuration from the environment, with the same variables as production.

Production (a Rust fork of x402-rs) reads:

* ``SIGNER_TYPE`` -- must be ``private-key``; anything else is fatal (exit 1).
* ``EVM_PRIVATE_KEY_MAINNET`` / ``EVM_PRIVATE_KEY_TESTNET`` falling back to
  ``EVM_PRIVATE_KEY``; each value may be a comma-separated list of keys.
  The fallback applies only when the specific variable is *unset* (a variable
  that is set but empty is an error, as ``env::var(..).or_else(..)`` in Rust).
* ``SOLANA_PRIVATE_KEY_MAINNET`` / ``SOLANA_PRIVATE_KEY_TESTNET`` falling back
  to ``SOLANA_PRIVATE_KEY``: a base58 64-byte keypair.
* ``RPC_URL_<NET>`` per network; a network without one is silently skipped.

Keys are only resolved for networks that have an RPC URL, so a testnet-only
deployment needs no mainnet key. Private keys never appear in ``repr`` or logs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import networks as nets

ENV_SIGNER_TYPE = "SIGNER_TYPE"
ENV_EVM_PRIVATE_KEY = "EVM_PRIVATE_KEY"
ENV_EVM_PRIVATE_KEY_MAINNET = "EVM_PRIVATE_KEY_MAINNET"
ENV_EVM_PRIVATE_KEY_TESTNET = "EVM_PRIVATE_KEY_TESTNET"
ENV_SOLANA_PRIVATE_KEY = "SOLANA_PRIVATE_KEY"
ENV_SOLANA_PRIVATE_KEY_MAINNET = "SOLANA_PRIVATE_KEY_MAINNET"
ENV_SOLANA_PRIVATE_KEY_TESTNET = "SOLANA_PRIVATE_KEY_TESTNET"

DEFAULT_VERSION_FILE = "/opt/facilitator/VERSION"


class ConfigError(Exception):
    """Fatal configuration problem: the process prints it and exits 1."""


@dataclass(frozen=True)
class EvmKey:
    address: str  # checksummed
    private_key: str = field(repr=False)  # 0x-prefixed hex


@dataclass(frozen=True)
class SolanaKey:
    pubkey: str  # base58 public key (the feePayer)
    keypair_base58: str = field(repr=False)


@dataclass(frozen=True)
class ActiveNetwork:
    spec: nets.NetworkSpec
    rpc_url: str = field(repr=False)  # RPC URLs may carry API keys: secrets
    key_source: str  # which variable the key(s) came from
    evm_keys: tuple[EvmKey, ...] = ()
    solana_key: SolanaKey | None = None

    @property
    def signer_addresses(self) -> list[str]:
        if self.spec.family == nets.EVM:
            return [k.address for k in self.evm_keys]
        return [self.solana_key.pubkey] if self.solana_key else []


@dataclass(frozen=True)
class RateLimit:
    per_second: float  # sustained requests per second per client IP; 0 = off
    burst: int
    trust_forwarded: bool  # key on X-Forwarded-For / X-Real-IP (behind an ALB)


@dataclass(frozen=True)
class Config:
    host: str
    port: int
    version: str
    log_level: str
    networks: tuple[ActiveNetwork, ...]
    verify_rate_limit: RateLimit
    settle_timeout_seconds: float
    settle_simulate: bool = True
    skipped: tuple[str, ...] = ()  # networks without an RPC URL (for debug logging)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}


def b58decode(text: str) -> bytes:
    """Decode base58 (Bitcoin alphabet, as Solana uses). Raises ValueError."""
    num = 0
    for ch in text:
        if ch not in _B58_INDEX:
            raise ValueError(f"invalid base58 character {ch!r}")
        num = num * 58 + _B58_INDEX[ch]
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\x00" * pad + body


def parse_evm_keys(raw: str, var: str) -> tuple[EvmKey, ...]:
    """Parse a comma-separated list of hex private keys."""
    from eth_account import Account

    keys: list[EvmKey] = []
    for position, entry in enumerate((e.strip() for e in raw.split(",")), start=1):
        if not entry:
            continue
        hexkey = entry if entry.startswith(("0x", "0X")) else "0x" + entry
        try:
            account = Account.from_key(hexkey)
        except Exception:  # never echo the key itself
            raise ConfigError(
                f"env {var}: entry #{position} is not a valid EVM private key "
                "(expected 32 bytes of hex, optionally 0x-prefixed)"
            ) from None
        keys.append(EvmKey(address=account.address, private_key="0x" + hexkey[2:].lower()))
    if not keys:
        raise ConfigError(f"env {var} did not contain any private keys")
    # Same key listed twice would share one nonce sequence from two signers.
    seen: dict[str, EvmKey] = {}
    for k in keys:
        seen.setdefault(k.address, k)
    return tuple(seen.values())


def parse_solana_key(raw: str, var: str) -> SolanaKey:
    """Parse a base58 64-byte Solana keypair (secret || public)."""
    from solders.keypair import Keypair

    text = raw.strip()
    if not text:
        raise ConfigError(f"env {var} is empty (expected a base58 64-byte keypair)")
    try:
        data = b58decode(text)
    except ValueError:
        raise ConfigError(f"env {var} is not valid base58") from None
    if len(data) != 64:
        raise ConfigError(
            f"env {var} decodes to {len(data)} bytes; a Solana keypair is 64 bytes"
        )
    try:
        keypair = Keypair.from_bytes(data)
    except Exception:
        raise ConfigError(f"env {var} is not a valid ed25519 keypair") from None
    if bytes(keypair.pubkey()) != data[32:]:
        raise ConfigError(f"env {var}: public half does not match the secret half")
    return SolanaKey(pubkey=str(keypair.pubkey()), keypair_base58=text)


def _key_var(env: Mapping[str, str], specific: str, fallback: str) -> str | None:
    """Production semantics: the specific variable wins whenever it is set."""
    if specific in env:
        return specific
    if fallback in env:
        return fallback
    return None


def _log_level(env: Mapping[str, str]) -> str:
    """LOG_LEVEL, else the default directive of RUST_LOG (``info``, ``x=debug,warn``)."""
    raw = env.get("LOG_LEVEL") or ""
    if not raw:
        for directive in (env.get("RUST_LOG") or "").split(","):
            directive = directive.strip()
            if directive and "=" not in directive:
                raw = directive
    level = (raw or "info").strip().lower()
    mapping = {
        "trace": "DEBUG",
        "debug": "DEBUG",
        "info": "INFO",
        "warn": "WARNING",
        "warning": "WARNING",
        "error": "ERROR",
        "off": "CRITICAL",
    }
    return mapping.get(level, "INFO")


def read_version(env: Mapping[str, str]) -> str:
    """The version baked into the image (file) wins; then the env; then "dev".

    Production compiles its version in, so a runtime variable cannot make an old
    image claim a new version. The image writes the build arg to
    ``/opt/facilitator/VERSION`` (override the path with FACILITATOR_VERSION_FILE).
    """
    path = Path(env.get("FACILITATOR_VERSION_FILE") or DEFAULT_VERSION_FILE)
    try:
        baked = path.read_text(encoding="utf-8").strip()
    except OSError:
        baked = ""
    if baked:
        return baked
    return (env.get("FACILITATOR_VERSION") or "").strip() or "dev"


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"env {name}={raw!r} is not a number") from None
    if value < 0:
        raise ConfigError(f"env {name} must not be negative")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"env {name}={raw!r} is not a boolean")


# --------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------


def load(env: Mapping[str, str] | None = None) -> Config:
    """Read the whole configuration. Raises ConfigError on anything fatal."""
    env = os.environ if env is None else env

    signer_type = env.get(ENV_SIGNER_TYPE)
    if signer_type is None:
        raise ConfigError(f"env {ENV_SIGNER_TYPE} not set (the only supported value is 'private-key')")
    if signer_type != "private-key":
        raise ConfigError(
            f"Unknown signer type {signer_type!r} in {ENV_SIGNER_TYPE} "
            "(the only supported value is 'private-key')"
        )

    port_raw = (env.get("PORT") or "8080").strip()
    try:
        port = int(port_raw)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise ConfigError(f"env PORT={port_raw!r} is not a TCP port") from None

    active: list[ActiveNetwork] = []
    skipped: list[str] = []
    evm_cache: dict[str, tuple[EvmKey, ...]] = {}
    sol_cache: dict[str, SolanaKey] = {}
    for spec in nets.NETWORKS:
        rpc_url = (env.get(spec.rpc_env) or "").strip()
        if not rpc_url:
            skipped.append(spec.name)  # silently skipped, like production
            continue
        if spec.family == nets.EVM:
            specific = ENV_EVM_PRIVATE_KEY_TESTNET if spec.testnet else ENV_EVM_PRIVATE_KEY_MAINNET
            var = _key_var(env, specific, ENV_EVM_PRIVATE_KEY)
            if var is None:
                raise ConfigError(
                    f"network {spec.name} has {spec.rpc_env} set but neither env "
                    f"{specific} nor {ENV_EVM_PRIVATE_KEY} is set"
                )
            if var not in evm_cache:
                evm_cache[var] = parse_evm_keys(env[var], var)
            active.append(ActiveNetwork(spec, rpc_url, var, evm_keys=evm_cache[var]))
        else:
            specific = (
                ENV_SOLANA_PRIVATE_KEY_TESTNET if spec.testnet else ENV_SOLANA_PRIVATE_KEY_MAINNET
            )
            var = _key_var(env, specific, ENV_SOLANA_PRIVATE_KEY)
            if var is None:
                raise ConfigError(
                    f"network {spec.name} has {spec.rpc_env} set but neither env "
                    f"{specific} nor {ENV_SOLANA_PRIVATE_KEY} is set"
                )
            if var not in sol_cache:
                sol_cache[var] = parse_solana_key(env[var], var)
            active.append(ActiveNetwork(spec, rpc_url, var, solana_key=sol_cache[var]))

    rate = RateLimit(
        per_second=_float(env, "RATE_LIMIT_VERIFY_PER_SECOND", 50.0),
        burst=int(_float(env, "RATE_LIMIT_VERIFY_BURST", 200)),
        trust_forwarded=_bool(env, "RATE_LIMIT_TRUST_FORWARDED", True),
    )

    return Config(
        host=(env.get("BIND_HOST") or "127.0.0.1").strip(),
        port=port,
        version=read_version(env),
        log_level=_log_level(env),
        networks=tuple(active),
        verify_rate_limit=rate,
        settle_timeout_seconds=_float(env, "SETTLE_CONFIRMATION_TIMEOUT_SECONDS", 120.0) or 120.0,
        settle_simulate=_bool(env, "SETTLE_SIMULATE", True),
        skipped=tuple(skipped),
    )
