#!/usr/bin/env python3
"""Deploy the stack's EIP-3009 test token on each local chain (idempotent).

Run with the project venv once the chains answer (stack/chain/chains.sh start):

    .venv/bin/python stack/chain/deploy.py

For every network in stack/chain/chains.json:
  * the token is deployed by the deployer (anvil account 0) as that account's
    first transaction, so its address is CREATE(deployer, nonce 0) =
    0x5FbDB2315678afecb367f032d93F642f64180aa3 on every chain. If code is
    already there, nothing is deployed (the token's name/version/decimals
    are checked against the config instead);
  * a fresh token (totalSupply 0) gets `payer_mint` whole tokens minted to
    the payer (anvil account 1); --top-up mints an already-used token back
    up to that amount;
  * on anvil, a Multicall3-compatible contract is placed at the canonical
    Multicall3 address (the x402 SDK's facilitator calls it there) if that
    address has no code.

Writes <state>/chain.json (no secrets) and <state>/payer.key (mode 0600, the
payer's private key; anvil's public well-known dev key, kept apart anyway).
<state> is $FACILITATOR_OPS_STATE or <repo>/.stack.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_CONFIG = Path(os.environ.get("CHAINS_CONFIG") or (HERE / "chains.json"))
BUILD_DIR = HERE / "build"
CONTRACTS_DIR = HERE / "contracts"

TOKEN_CONTRACT = "EIP3009Token"
MULTICALL_CONTRACT = "Multicall3Compat"
MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11"
HD_PATH = "m/44'/60'/0'/0/{index}"


class DeployError(RuntimeError):
    """A deployment step failed; the message says what to do."""


def default_state_dir() -> Path:
    return Path(os.environ.get("FACILITATOR_OPS_STATE") or (REPO / ".stack"))


def load_config(path: Path = DEFAULT_CONFIG) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def network_token_config(config: dict[str, Any], network: dict[str, Any]) -> dict[str, Any]:
    """Token settings for a network: the global `token` block, overridden by the network's own."""
    token = dict(config.get("token", {}))
    token.update(network.get("token", {}))
    token.setdefault("name", "USD Coin")
    token.setdefault("symbol", "USDC")
    token.setdefault("version", "2")
    token.setdefault("decimals", 6)
    token.setdefault("payer_mint", "1000000")
    return token


def default_rpc_url(network: dict[str, Any]) -> str:
    return f"http://{network.get('host', '127.0.0.1')}:{network['port']}"


def derive_account(mnemonic: str, index: int):
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(mnemonic, account_path=HD_PATH.format(index=index))


# ------------------------------------------------------------------ build


def _source_hashes() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(CONTRACTS_DIR.glob("*.sol"))}


def _artifact_fresh(name: str, hashes: dict[str, str]) -> bool:
    path = BUILD_DIR / f"{name}.json"
    if not path.exists():
        return False
    try:
        art = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    src = Path(art.get("sourceFile", "")).name
    return hashes.get(src) == art.get("sourceSha256")


def ensure_built(compile_if_needed: bool = True) -> dict[str, dict[str, Any]]:
    """Load build/<Contract>.json, running compile.js first if missing or stale."""
    hashes = _source_hashes()
    names = (TOKEN_CONTRACT, MULTICALL_CONTRACT)
    if not all(_artifact_fresh(n, hashes) for n in names):
        if not compile_if_needed:
            raise DeployError(f"build artifacts missing or stale in {BUILD_DIR}; run `node compile.js`")
        if not (HERE / "node_modules" / "solc").exists():
            raise DeployError(f"solc-js not installed; run `npm ci` in {HERE} (or chains.sh install)")
        res = subprocess.run(["node", str(HERE / "compile.js")], cwd=HERE, capture_output=True, text=True)
        if res.returncode != 0:
            raise DeployError(f"compile.js failed:\n{res.stdout}{res.stderr}")
    return {n: json.loads((BUILD_DIR / f"{n}.json").read_text(encoding="utf-8")) for n in names}


# ----------------------------------------------------------------- chain


def connect(rpc_url: str, expected_chain_id: int):
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
    try:
        chain_id = w3.eth.chain_id
    except Exception as exc:  # connection refused, timeout, ...
        raise DeployError(
            f"no chain answers at {rpc_url} ({exc.__class__.__name__}); "
            "start the chains with stack/chain/chains.sh start"
        ) from exc
    if chain_id != expected_chain_id:
        raise DeployError(f"{rpc_url} is chain {chain_id}, expected {expected_chain_id}")
    return w3


def is_anvil(w3) -> bool:
    try:
        return "anvil" in str(w3.provider.make_request("web3_clientVersion", [])["result"]).lower()
    except Exception:
        return False


def send_tx(w3, account, tx: dict[str, Any]) -> Any:
    """Sign `tx` with `account`, send it, wait for the receipt, fail on revert."""
    tx = dict(tx)
    tx.setdefault("from", account.address)
    tx.setdefault("chainId", w3.eth.chain_id)
    tx.setdefault("nonce", w3.eth.get_transaction_count(account.address, "pending"))
    if "gas" not in tx:
        tx["gas"] = int(w3.eth.estimate_gas(tx) * 1.2) + 10_000
    if "maxFeePerGas" not in tx and "gasPrice" not in tx:
        base = w3.eth.get_block("latest").get("baseFeePerGas", 1_000_000_000)
        tx["maxPriorityFeePerGas"] = 1_000_000_000
        tx["maxFeePerGas"] = base * 2 + tx["maxPriorityFeePerGas"]
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    if receipt["status"] != 1:
        raise DeployError(f"transaction {tx_hash.hex()} reverted")
    return receipt


def token_contract(w3, address: str, abi: list[dict[str, Any]]):
    from web3 import Web3

    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)


def deploy_network(
    network: dict[str, Any],
    rpc_url: str,
    config: dict[str, Any],
    artifacts: dict[str, dict[str, Any]],
    *,
    top_up: bool = False,
    log=print,
) -> dict[str, Any]:
    """Make sure the token (and Multicall3) exist on one chain; return its chain.json entry."""
    from web3.utils.address import get_create_address

    name = network["name"]
    chain_id = int(network["chain_id"])
    tok = network_token_config(config, network)
    accounts = config.get("accounts", {})
    mnemonic = config["mnemonic"]
    deployer = derive_account(mnemonic, int(accounts.get("deployer_index", 0)))
    payer = derive_account(mnemonic, int(accounts.get("payer_index", 1)))

    w3 = connect(rpc_url, chain_id)
    art = artifacts[TOKEN_CONTRACT]
    address = get_create_address(deployer.address, 0)

    if w3.eth.get_code(address):
        log(f"{name}: token already deployed at {address}")
        token = token_contract(w3, address, art["abi"])
        actual = {
            "name": token.functions.name().call(),
            "version": token.functions.version().call(),
            "decimals": token.functions.decimals().call(),
        }
        wanted = {"name": tok["name"], "version": tok["version"], "decimals": int(tok["decimals"])}
        if actual != wanted:
            raise DeployError(
                f"{name}: contract at {address} has {actual}, config wants {wanted}; "
                "restart the chain (stack/chain/chains.sh restart) to redeploy"
            )
    else:
        nonce = w3.eth.get_transaction_count(deployer.address)
        if nonce != 0:
            raise DeployError(
                f"{name}: no token at {address} but deployer {deployer.address} already has nonce "
                f"{nonce}; the deployer account is reserved for this script. Restart the chain "
                "(stack/chain/chains.sh restart) and deploy again"
            )
        factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        tx = factory.constructor(tok["name"], tok["symbol"], tok["version"], int(tok["decimals"])).build_transaction(
            {"from": deployer.address, "nonce": 0, "chainId": chain_id}
        )
        receipt = send_tx(w3, deployer, tx)
        if receipt["contractAddress"] != address:
            raise DeployError(f"{name}: token landed at {receipt['contractAddress']}, expected {address}")
        log(f"{name}: deployed {TOKEN_CONTRACT} at {address} (block {receipt['blockNumber']})")
        token = token_contract(w3, address, art["abi"])

    decimals = int(tok["decimals"])
    target = int(str(tok["payer_mint"])) * 10**decimals
    supply = token.functions.totalSupply().call()
    balance = token.functions.balanceOf(payer.address).call()
    mint_amount = 0
    if supply == 0:
        mint_amount = target
    elif top_up and balance < target:
        mint_amount = target - balance
    if mint_amount:
        owner = token.functions.owner().call()
        if owner != deployer.address:
            raise DeployError(f"{name}: token owner is {owner}, not the deployer {deployer.address}")
        tx = token.functions.mint(payer.address, mint_amount).build_transaction(
            {
                "from": deployer.address,
                "chainId": chain_id,
                "nonce": w3.eth.get_transaction_count(deployer.address, "pending"),
            }
        )
        send_tx(w3, deployer, tx)
        balance += mint_amount
        log(f"{name}: minted {mint_amount / 10**decimals:,.{decimals}f} to payer {payer.address}")
    else:
        log(f"{name}: payer {payer.address} holds {balance / 10**decimals:,.{decimals}f}")

    multicall = ensure_multicall3(w3, artifacts[MULTICALL_CONTRACT], name, log)

    return {
        "network": name,
        "caip2": network.get("caip2", f"eip155:{chain_id}"),
        "chain_id": chain_id,
        "rpc_url": rpc_url,
        "token": {
            "address": address,
            "name": tok["name"],
            "symbol": tok["symbol"],
            "version": tok["version"],
            "decimals": decimals,
            "contract": TOKEN_CONTRACT,
        },
        "payer": {"address": payer.address, "hd_index": int(accounts.get("payer_index", 1))},
        "deployer": {"address": deployer.address, "hd_index": int(accounts.get("deployer_index", 0))},
        "multicall3": multicall,
    }


def ensure_multicall3(w3, artifact: dict[str, Any], name: str, log=print) -> str | None:
    """Put Multicall3Compat's runtime code at the canonical Multicall3 address (anvil only)."""
    if w3.eth.get_code(MULTICALL3_ADDRESS):
        return MULTICALL3_ADDRESS
    if not is_anvil(w3):
        log(f"{name}: warning: no Multicall3 at {MULTICALL3_ADDRESS} and this is not anvil")
        return None
    w3.provider.make_request("anvil_setCode", [MULTICALL3_ADDRESS, artifact["deployedBytecode"]])
    if not w3.eth.get_code(MULTICALL3_ADDRESS):
        raise DeployError(f"{name}: anvil_setCode for Multicall3 had no effect")
    log(f"{name}: placed {MULTICALL_CONTRACT} at {MULTICALL3_ADDRESS}")
    return MULTICALL3_ADDRESS


# ---------------------------------------------------------------- outputs


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_secret(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600 (never briefly wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)  # mkstemp: 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def deploy_all(
    *,
    config_path: Path = DEFAULT_CONFIG,
    output: Path | None = None,
    payer_key_file: Path | None = None,
    rpc_overrides: dict[str, str] | None = None,
    only: list[str] | None = None,
    top_up: bool = False,
    compile_if_needed: bool = True,
    log=print,
) -> dict[str, Any]:
    """Deploy on every configured network (or `only`); write chain.json and payer.key."""
    config = load_config(config_path)
    state = default_state_dir()
    output = output or state / "chain.json"
    payer_key_file = payer_key_file or state / "payer.key"
    rpc_overrides = rpc_overrides or {}

    networks = config["networks"]
    known = {n["name"] for n in networks}
    for name in list(rpc_overrides) + list(only or []):
        if name not in known:
            raise DeployError(f"unknown network {name!r}; configured: {', '.join(sorted(known))}")
    if only:
        networks = [n for n in networks if n["name"] in only]

    artifacts = ensure_built(compile_if_needed)

    result: dict[str, Any] = {}
    if only and output.exists():  # partial run: keep the other networks' entries
        try:
            result = json.loads(output.read_text(encoding="utf-8")).get("networks", {})
        except (OSError, ValueError):
            result = {}
    for network in networks:
        rpc_url = rpc_overrides.get(network["name"]) or default_rpc_url(network)
        result[network["name"]] = deploy_network(network, rpc_url, config, artifacts, top_up=top_up, log=log)

    accounts = config.get("accounts", {})
    payer = derive_account(config["mnemonic"], int(accounts.get("payer_index", 1)))
    doc = {
        "generated_by": "stack/chain/deploy.py",
        "payer_key_file": str(payer_key_file),
        "networks": result,
    }
    write_json_atomic(output, doc)
    write_secret(payer_key_file, "0x" + payer.key.hex().removeprefix("0x") + "\n")
    log(f"wrote {output} and {payer_key_file}")
    return doc


def parse_rpc_overrides(values: list[str]) -> dict[str, str]:
    out = {}
    for v in values:
        name, sep, url = v.partition("=")
        if not sep or not name or not url:
            raise DeployError(f"--rpc-url wants NETWORK=URL, got {v!r}")
        out[name] = url
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="chain list (default: %(default)s)")
    p.add_argument("--output", type=Path, help="chain.json path (default: <state>/chain.json)")
    p.add_argument("--payer-key-file", type=Path, help="payer key path (default: <state>/payer.key)")
    p.add_argument(
        "--rpc-url",
        action="append",
        default=[],
        metavar="NETWORK=URL",
        help="RPC URL for a network (repeatable; default http://host:port from the config)",
    )
    p.add_argument("--network", action="append", default=[], help="only this network (repeatable)")
    p.add_argument("--top-up", action="store_true", help="mint the payer back up to payer_mint")
    p.add_argument("--no-compile", action="store_true", help="fail instead of running compile.js")
    args = p.parse_args(argv)
    try:
        deploy_all(
            config_path=args.config,
            output=args.output,
            payer_key_file=args.payer_key_file,
            rpc_overrides=parse_rpc_overrides(args.rpc_url),
            only=args.network or None,
            top_up=args.top_up,
            compile_if_needed=not args.no_compile,
        )
    except DeployError as exc:
        print(f"deploy.py: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
