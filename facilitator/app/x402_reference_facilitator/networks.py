"""Built-in network table.

Mirrors the production facilitator's (x402-rs fork) ``Network`` enum: every
network has a v1 name (x402Version 1), a CAIP-2 id (x402Version 2), a chain id
for EVM chains, a mainnet/testnet flag that selects the key variable, and the
``RPC_URL_<NET>`` variable that enables it. A network whose RPC variable is not
set is silently skipped at start-up, exactly like production.
"""

from __future__ import annotations

from dataclasses import dataclass

EVM = "evm"
SVM = "svm"

# CAIP-2 ids of the Solana clusters (first 32 chars of the genesis hash), the
# same values as the x402 SDK's ``x402.mechanisms.svm.constants`` and the
# production facilitator's ``caip2.rs``.
SOLANA_MAINNET_CAIP2 = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"
SOLANA_DEVNET_CAIP2 = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"


@dataclass(frozen=True)
class NetworkSpec:
    name: str  # v1 name, e.g. "base-sepolia"
    caip2: str  # v2 id, e.g. "eip155:84532"
    family: str  # EVM or SVM
    testnet: bool
    rpc_env: str  # e.g. "RPC_URL_BASE_SEPOLIA"
    chain_id: int | None = None  # EVM only


def _evm(name: str, chain_id: int, testnet: bool, rpc_env: str) -> NetworkSpec:
    return NetworkSpec(name, f"eip155:{chain_id}", EVM, testnet, rpc_env, chain_id)


# Order matters only for the order of kinds in /supported.
NETWORKS: tuple[NetworkSpec, ...] = (
    _evm("base", 8453, False, "RPC_URL_BASE"),
    _evm("base-sepolia", 84532, True, "RPC_URL_BASE_SEPOLIA"),
    _evm("avalanche", 43114, False, "RPC_URL_AVALANCHE"),
    _evm("avalanche-fuji", 43113, True, "RPC_URL_AVALANCHE_FUJI"),
    _evm("polygon", 137, False, "RPC_URL_POLYGON"),
    _evm("polygon-amoy", 80002, True, "RPC_URL_POLYGON_AMOY"),
    _evm("optimism", 10, False, "RPC_URL_OPTIMISM"),
    _evm("optimism-sepolia", 11155420, True, "RPC_URL_OPTIMISM_SEPOLIA"),
    _evm("celo", 42220, False, "RPC_URL_CELO"),
    _evm("celo-sepolia", 11142220, True, "RPC_URL_CELO_SEPOLIA"),
    _evm("hyperevm", 999, False, "RPC_URL_HYPEREVM"),
    _evm("hyperevm-testnet", 998, True, "RPC_URL_HYPEREVM_TESTNET"),
    # Further EVM chains production knows about (enabled only by their RPC variable).
    _evm("sei", 1329, False, "RPC_URL_SEI"),
    _evm("sei-testnet", 1328, True, "RPC_URL_SEI_TESTNET"),
    _evm("xdc", 50, False, "RPC_URL_XDC"),
    _evm("xrpl-evm", 1440000, False, "RPC_URL_XRPL_EVM"),
    _evm("ethereum", 1, False, "RPC_URL_ETHEREUM"),
    _evm("ethereum-sepolia", 11155111, True, "RPC_URL_ETHEREUM_SEPOLIA"),
    _evm("arbitrum", 42161, False, "RPC_URL_ARBITRUM"),
    _evm("arbitrum-sepolia", 421614, True, "RPC_URL_ARBITRUM_SEPOLIA"),
    _evm("unichain", 130, False, "RPC_URL_UNICHAIN"),
    _evm("unichain-sepolia", 1301, True, "RPC_URL_UNICHAIN_SEPOLIA"),
    _evm("monad", 143, False, "RPC_URL_MONAD"),
    NetworkSpec("solana", SOLANA_MAINNET_CAIP2, SVM, False, "RPC_URL_SOLANA"),
    NetworkSpec("solana-devnet", SOLANA_DEVNET_CAIP2, SVM, True, "RPC_URL_SOLANA_DEVNET"),
)

BY_NAME: dict[str, NetworkSpec] = {n.name: n for n in NETWORKS}
BY_CAIP2: dict[str, NetworkSpec] = {n.caip2: n for n in NETWORKS}
ORDER: dict[str, int] = {}
for _i, _n in enumerate(NETWORKS):
    ORDER[_n.name] = _i
    ORDER[_n.caip2] = _i


def lookup(network: str) -> NetworkSpec | None:
    """Find a network by v1 name or CAIP-2 id."""
    return BY_NAME.get(network) or BY_CAIP2.get(network)
