"""Assemble the x402 SDK facilitator from the configuration.

Uses the official x402 Python SDK throughout:

* ``x402.x402FacilitatorSync`` -- routing, hooks, ``get_supported()``;
* ``x402.mechanisms.evm.exact.ExactEvmFacilitatorScheme`` (x402 v2) and
  ``x402.mechanisms.evm.exact.v1.facilitator.ExactEvmSchemeV1`` (x402 v1) --
  EIP-3009 ``transferWithAuthorization`` verification and settlement;
* ``x402.mechanisms.evm.FacilitatorWeb3Signer`` -- one per EVM key and network;
* ``x402.mechanisms.svm.exact.ExactSvmFacilitatorScheme`` / ``ExactSvmSchemeV1``
  with ``x402.mechanisms.svm.FacilitatorKeypairSigner`` for Solana.

The SDK binds one signer (so one RPC endpoint) to a scheme instance, so every
network gets its own scheme instances. The SDK's router, however, falls back to
a family wildcard (``eip155:*``) and would send a payment for an unconfigured
chain to whichever EVM scheme was registered first; :class:`ReferenceFacilitator`
therefore routes by exact network only, like production, which rejects a
network it has no provider for.
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any

from x402 import x402FacilitatorSync
from x402.schemas import SupportedResponse

from . import networks as nets
from .config import ActiveNetwork, Config

log = logging.getLogger("x402_reference_facilitator")


class MultiKeyEvmSigner:
    """``FacilitatorEvmSigner`` over several keys on one chain.

    Production accepts a comma-separated key list (several signers, for overlap
    during a rotation) and spreads transactions over them. Reads go through the
    first key's connection; writes rotate round-robin, each key keeping its own
    nonce sequence inside its ``FacilitatorWeb3Signer``.
    """

    def __init__(self, signers: list[Any]):
        if not signers:
            raise ValueError("at least one signer required")
        self._signers = signers
        self._primary = signers[0]
        self._cycle = itertools.cycle(signers)
        self._lock = threading.Lock()

    def _next(self) -> Any:
        with self._lock:
            return next(self._cycle)

    # -- identity -------------------------------------------------------
    def get_addresses(self) -> list[str]:
        return [s.address for s in self._signers]

    @property
    def address(self) -> str:
        return self._primary.address

    # -- reads ----------------------------------------------------------
    def get_chain_id(self) -> int:
        return self._primary.get_chain_id()

    def read_contract(self, address: str, abi: list[dict[str, Any]], function_name: str, *args: Any) -> Any:
        return self._primary.read_contract(address, abi, function_name, *args)

    def verify_typed_data(self, *args: Any, **kwargs: Any) -> bool:
        return self._primary.verify_typed_data(*args, **kwargs)

    def get_balance(self, address: str, token_address: str) -> int:
        return self._primary.get_balance(address, token_address)

    def get_code(self, address: str) -> bytes:
        return self._primary.get_code(address)

    def wait_for_transaction_receipt(self, tx_hash: str) -> Any:
        return self._primary.wait_for_transaction_receipt(tx_hash)

    # -- writes (round-robin over keys) ---------------------------------
    def write_contract(self, address: str, abi: list[dict[str, Any]], function_name: str, *args: Any, data_suffix: str | None = None) -> str:
        return self._next().write_contract(address, abi, function_name, *args, data_suffix=data_suffix)

    def send_transaction(self, to: str, data: bytes) -> str:
        return self._next().send_transaction(to, data)


class ReferenceFacilitator(x402FacilitatorSync):
    """x402FacilitatorSync whose routing requires an exact network match."""

    def _find_facilitator(self, scheme: str, network: str):  # type: ignore[override]
        for data in self._schemes:
            if data.facilitator.scheme == scheme and network in data.networks:
                return data.facilitator
        return None

    def _find_facilitator_v1(self, scheme: str, network: str):  # type: ignore[override]
        for data in self._schemes_v1:
            if data.facilitator.scheme == scheme and network in data.networks:
                return data.facilitator
        return None

    def is_supported(self, version: int, scheme: str, network: str) -> bool:
        if version == 1:
            return self._find_facilitator_v1(scheme, network) is not None
        return self._find_facilitator(scheme, network) is not None

    def get_supported(self) -> SupportedResponse:
        """SDK response, kinds ordered like production: per network v1 then v2."""
        supported = super().get_supported()
        supported.kinds.sort(key=lambda k: (nets.ORDER.get(str(k.network), 1 << 30), k.x402_version))
        return supported


def _extend_sdk_v1_tables() -> None:
    """Teach the SDK's v1 (name-based) EVM lookups our extra network names.

    ``x402.mechanisms.evm.v1`` maps legacy names to chain ids with a module-level
    dict; names it lacks (optimism, celo-sepolia, hyperevm, ...) would fail v1
    verification with "Unknown v1 network". Existing entries are never changed.
    """
    from x402.mechanisms.evm.v1 import constants as v1c

    for spec in nets.NETWORKS:
        if spec.family == nets.EVM and spec.chain_id is not None:
            v1c.V1_NETWORK_CHAIN_IDS.setdefault(spec.name, spec.chain_id)


def _build_evm(fac: ReferenceFacilitator, net: ActiveNetwork, cfg: Config) -> None:
    from x402.mechanisms.evm import FacilitatorWeb3Signer
    from x402.mechanisms.evm.exact import ExactEvmFacilitatorScheme, ExactEvmSchemeConfig
    from x402.mechanisms.evm.exact.v1.facilitator import ExactEvmSchemeV1, ExactEvmSchemeV1Config

    web3_signers = [
        FacilitatorWeb3Signer(
            private_key=key.private_key,
            rpc_url=net.rpc_url,
            confirmation_timeout_seconds=cfg.settle_timeout_seconds,
        )
        for key in net.evm_keys
    ]
    signer = MultiKeyEvmSigner(web3_signers)
    # simulate_in_settle: re-run the eth_call simulation before broadcasting, so a
    # replayed or no-longer-fundable authorization is refused without burning gas.
    fac.register(
        [net.spec.caip2],
        ExactEvmFacilitatorScheme(signer, ExactEvmSchemeConfig(simulate_in_settle=cfg.settle_simulate)),
    )
    fac.register_v1(
        [net.spec.name],
        ExactEvmSchemeV1(signer, ExactEvmSchemeV1Config(simulate_in_settle=cfg.settle_simulate)),
    )


def _build_svm(fac: ReferenceFacilitator, net: ActiveNetwork) -> None:
    from solders.keypair import Keypair
    from x402.mechanisms.svm import FacilitatorKeypairSigner
    from x402.mechanisms.svm.exact import ExactSvmFacilitatorScheme
    from x402.mechanisms.svm.exact.v1.facilitator import ExactSvmSchemeV1
    from x402.mechanisms.svm.settlement_cache import SettlementCache

    assert net.solana_key is not None
    keypair = Keypair.from_base58_string(net.solana_key.keypair_base58)
    signer = FacilitatorKeypairSigner(keypair, rpc_url=net.rpc_url)
    cache = SettlementCache()
    fac.register([net.spec.caip2], ExactSvmFacilitatorScheme(signer, cache))
    fac.register_v1([net.spec.name], ExactSvmSchemeV1(signer, cache))


def build(cfg: Config) -> ReferenceFacilitator:
    """Register every configured network; log one line per network like production."""
    _extend_sdk_v1_tables()
    fac = ReferenceFacilitator()
    for net in cfg.networks:
        if net.spec.family == nets.EVM:
            _build_evm(fac, net, cfg)
            log.info(
                "Initialized provider network=%s signers=[%s]",
                net.spec.name,
                ", ".join(net.signer_addresses),
            )
        else:
            _build_svm(fac, net)
            log.info(
                "Initialized provider network=%s signers=[%s] feePayer=%s",
                net.spec.name,
                ", ".join(net.signer_addresses),
                net.signer_addresses[0],
            )
    for name in cfg.skipped:
        log.debug("Skipping network %s: %s not set", name, nets.BY_NAME[name].rpc_env)
    return fac
