"""Tests of the stack's local chains and EIP-3009 test token.

Needs the anvil chains (stack/chain/chains.sh start); skipped otherwise.
Most tests deploy their own token instance from a random, anvil-funded account
so they never depend on or disturb the balances of the stack's accounts; the
deploy tests and one x402 test use the stack's token itself.
"""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHAIN_DIR = REPO / "stack" / "chain"
CONFIG_PATH = Path(os.environ.get("CHAINS_CONFIG") or (CHAIN_DIR / "chains.json"))
CONFIG = json.loads(CONFIG_PATH.read_text(encoding="utf-8"))
NETWORKS = {n["name"]: n for n in CONFIG["networks"]}

MAX_UINT256 = 2**256 - 1


def _chain_id_at(url: str) -> int | None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return int(json.loads(resp.read())["result"], 16)
    except Exception:
        return None


def _rpc_url(net: dict) -> str:
    return f"http://{net.get('host', '127.0.0.1')}:{net['port']}"


_UP = {name: _chain_id_at(_rpc_url(n)) == n["chain_id"] for name, n in NETWORKS.items()}
if not any(_UP.values()):
    pytest.skip(
        "anvil chains not running (nothing answers eth_chainId at "
        + ", ".join(_rpc_url(n) for n in NETWORKS.values())
        + "); start them with stack/chain/chains.sh start",
        allow_module_level=True,
    )

from eth_account import Account  # noqa: E402
from web3 import Web3  # noqa: E402
from web3.exceptions import ContractLogicError  # noqa: E402
from web3.logs import DISCARD  # noqa: E402


def _load_deploy_module():
    spec = importlib.util.spec_from_file_location("chain_deploy", CHAIN_DIR / "deploy.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["chain_deploy"] = mod
    spec.loader.exec_module(mod)
    return mod


deploy = _load_deploy_module()
ARTIFACTS = deploy.ensure_built()
TOKEN_ABI = ARTIFACTS["EIP3009Token"]["abi"]
TOKEN_CFG = deploy.network_token_config(CONFIG, {})
TOKEN_NAME = TOKEN_CFG["name"]
TOKEN_VERSION = TOKEN_CFG["version"]
TOKEN_DECIMALS = int(TOKEN_CFG["decimals"])

TRANSFER_TYPES = {
    "TransferWithAuthorization": [
        {"name": "from", "type": "address"},
        {"name": "to", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "validAfter", "type": "uint256"},
        {"name": "validBefore", "type": "uint256"},
        {"name": "nonce", "type": "bytes32"},
    ]
}
RECEIVE_TYPES = {"ReceiveWithAuthorization": TRANSFER_TYPES["TransferWithAuthorization"]}
CANCEL_TYPES = {
    "CancelAuthorization": [
        {"name": "authorizer", "type": "address"},
        {"name": "nonce", "type": "bytes32"},
    ]
}
PERMIT_TYPES = {
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}


# ------------------------------------------------------------------ helpers


def funded_account(w3, eth: int = 100):
    """A brand-new random account with `eth` ether (anvil_setBalance)."""
    acct = Account.create()
    w3.provider.make_request("anvil_setBalance", [acct.address, hex(eth * 10**18)])
    return acct


def transact(w3, acct, fn, gas: int | None = None):
    """Send contract call `fn` from `acct`; return the receipt (status may be 0 if gas is fixed)."""
    tx = {"from": acct.address, "nonce": w3.eth.get_transaction_count(acct.address, "pending")}
    if gas is not None:
        tx["gas"] = gas
    tx = fn.build_transaction(tx)
    signed = acct.sign_transaction(tx)
    return w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction), timeout=30)


def assert_reverts(w3, acct, fn, reason: str):
    """`fn` reverts with `reason` both as eth_call and as a mined transaction."""
    with pytest.raises(ContractLogicError) as exc:
        fn.call({"from": acct.address})
    assert reason in str(exc.value), str(exc.value)
    receipt = transact(w3, acct, fn, gas=300_000)
    assert receipt["status"] == 0


def domain(token, chain_id: int, name: str = TOKEN_NAME, version: str = TOKEN_VERSION) -> dict:
    return {"name": name, "version": version, "chainId": chain_id, "verifyingContract": token.address}


def sign(acct, dom: dict, types: dict, message: dict) -> bytes:
    return bytes(acct.sign_typed_data(domain_data=dom, message_types=types, message_data=message).signature)


def vrs(sig: bytes):
    return sig[64], sig[:32], sig[32:64]


def authorization(frm, to, value, valid_after=0, valid_before=None, nonce=None) -> dict:
    return {
        "from": frm,
        "to": to,
        "value": value,
        "validAfter": valid_after,
        "validBefore": valid_before if valid_before is not None else int(time.time()) + 3600,
        "nonce": nonce if nonce is not None else os.urandom(32),
    }


def twa_args(auth: dict) -> list:
    return [auth["from"], auth["to"], auth["value"], auth["validAfter"], auth["validBefore"], auth["nonce"]]


def twa_vrs(token, auth: dict, sig: bytes):
    """transferWithAuthorization(..., uint8 v, bytes32 r, bytes32 s)."""
    return token.get_function_by_signature(
        "transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)"
    )(*twa_args(auth), *vrs(sig))


def twa_bytes(token, auth: dict, sig: bytes):
    """transferWithAuthorization(..., bytes signature)."""
    return token.get_function_by_signature(
        "transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)"
    )(*twa_args(auth), sig)


# ----------------------------------------------------------------- fixtures


@pytest.fixture(params=sorted(NETWORKS), scope="module")
def net(request):
    n = NETWORKS[request.param]
    if not _UP[request.param]:
        # Some chains answer (the module did not skip): this one being down is a broken stack.
        pytest.fail(f"{request.param}: chain {n['chain_id']} not answering at {_rpc_url(n)} while "
                    f"{', '.join(k for k, up in _UP.items() if up)} do")
    return n


@pytest.fixture(scope="module")
def w3(net):
    return Web3(Web3.HTTPProvider(_rpc_url(net)))


@pytest.fixture
def fresh(w3):
    """A token instance of this test's own: (token, owner, payer) with 1,000 tokens at payer."""
    owner = funded_account(w3)
    payer = funded_account(w3)
    art = ARTIFACTS["EIP3009Token"]
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    receipt = transact(w3, owner, factory.constructor(TOKEN_NAME, "USDC", TOKEN_VERSION, TOKEN_DECIMALS))
    assert receipt["status"] == 1
    token = w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])
    assert transact(w3, owner, token.functions.mint(payer.address, 1_000 * 10**TOKEN_DECIMALS))["status"] == 1
    return token, owner, payer


@pytest.fixture(scope="module")
def stack_deployment(tmp_path_factory):
    """Run deploy.py's deploy (idempotent) into a temporary output dir."""
    out = tmp_path_factory.mktemp("chain-state")
    only = [name for name, up in _UP.items() if up]
    doc = deploy.deploy_all(output=out / "chain.json", payer_key_file=out / "payer.key", only=only, log=lambda *_: None)
    return doc, out


# -------------------------------------------------------------- deployment


def test_deploy_is_idempotent_and_writes_outputs(net, w3, stack_deployment):
    doc, out = stack_deployment
    entry = doc["networks"][net["name"]]
    deployer = Web3.to_checksum_address(entry["deployer"]["address"])

    assert entry["network"] == net["name"]
    assert entry["caip2"] == f"eip155:{net['chain_id']}"
    assert entry["chain_id"] == net["chain_id"]
    assert entry["rpc_url"] == _rpc_url(net)
    # deployer's first transaction: CREATE(anvil account 0, nonce 0)
    assert entry["token"]["address"] == "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert entry["token"]["name"] == TOKEN_NAME
    assert entry["token"]["version"] == TOKEN_VERSION
    assert entry["token"]["decimals"] == TOKEN_DECIMALS
    assert entry["payer"]["address"] == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil account 1
    assert entry["multicall3"] == "0xcA11bde05977b3631167028862bE2a173976CA11"
    assert w3.eth.get_code(entry["multicall3"])

    # payer.key: 0600, and it is the payer's key; no key material in chain.json
    key_file = out / "payer.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert Account.from_key(key_file.read_text().strip()).address == entry["payer"]["address"]
    chain_json = (out / "chain.json").read_text()
    assert key_file.read_text().strip().removeprefix("0x") not in chain_json

    # the chain's token matches the entry
    token = w3.eth.contract(address=entry["token"]["address"], abi=TOKEN_ABI)
    assert token.functions.name().call() == TOKEN_NAME
    assert token.functions.version().call() == TOKEN_VERSION
    assert token.functions.decimals().call() == TOKEN_DECIMALS
    assert token.functions.owner().call() == deployer
    assert token.functions.totalSupply().call() > 0

    # second run: nothing sent, same answer
    nonce_before = w3.eth.get_transaction_count(deployer)
    block_before = w3.eth.block_number
    doc2 = deploy.deploy_all(
        output=out / "chain2.json", payer_key_file=out / "payer2.key", only=[net["name"]], log=lambda *_: None
    )
    assert doc2["networks"][net["name"]] == entry
    assert w3.eth.get_transaction_count(deployer) == nonce_before
    assert w3.eth.block_number == block_before


def test_deploy_refuses_mismatch_and_dead_rpc(net, tmp_path, stack_deployment):
    # a token already on the chain that differs from the config is an error, not a redeploy
    other = json.loads(json.dumps(CONFIG))
    other["token"]["name"] = "Not " + TOKEN_NAME
    cfg = tmp_path / "chains.json"
    cfg.write_text(json.dumps(other))
    with pytest.raises(deploy.DeployError, match="restart the chain"):
        deploy.deploy_all(
            config_path=cfg,
            output=tmp_path / "c.json",
            payer_key_file=tmp_path / "k",
            only=[net["name"]],
            log=lambda *_: None,
        )
    # an RPC URL override that nothing answers
    with pytest.raises(deploy.DeployError, match="chains.sh start"):
        deploy.deploy_all(
            output=tmp_path / "c.json",
            payer_key_file=tmp_path / "k",
            only=[net["name"]],
            rpc_overrides={net["name"]: "http://127.0.0.1:9"},
            log=lambda *_: None,
        )
    assert not (tmp_path / "c.json").exists()


def test_domain_separator_matches_eip712(net, w3, fresh):
    from eth_account.messages import encode_typed_data

    token, _, _ = fresh
    assert token.functions.name().call() == TOKEN_NAME
    assert token.functions.version().call() == TOKEN_VERSION
    assert token.functions.decimals().call() == TOKEN_DECIMALS
    msg = encode_typed_data(
        domain_data=domain(token, net["chain_id"]),
        message_types=CANCEL_TYPES,
        message_data={"authorizer": token.address, "nonce": b"\x00" * 32},
    )
    # SignableMessage.header is the EIP-712 domain separator
    assert token.functions.DOMAIN_SEPARATOR().call() == bytes(msg.header)


def test_only_owner_mints(w3, fresh):
    token, _, payer = fresh
    assert_reverts(w3, payer, token.functions.mint(payer.address, 1), "caller is not the owner")


# ----------------------------------------------------------------- EIP-3009


@pytest.mark.parametrize("overload", ["vrs", "bytes"])
def test_transfer_with_authorization(net, w3, fresh, overload):
    token, _, payer = fresh
    payee = Account.create().address
    relayer = funded_account(w3)
    value = 12_345_678
    auth = authorization(payer.address, payee, value)
    sig = sign(payer, domain(token, net["chain_id"]), TRANSFER_TYPES, auth)
    before = token.functions.balanceOf(payer.address).call()
    assert token.functions.authorizationState(payer.address, auth["nonce"]).call() is False

    fn = twa_vrs(token, auth, sig) if overload == "vrs" else twa_bytes(token, auth, sig)
    receipt = transact(w3, relayer, fn)
    assert receipt["status"] == 1

    assert token.functions.balanceOf(payer.address).call() == before - value
    assert token.functions.balanceOf(payee).call() == value
    assert token.functions.balanceOf(relayer.address).call() == 0
    assert token.functions.authorizationState(payer.address, auth["nonce"]).call() is True
    used = token.events.AuthorizationUsed().process_receipt(receipt, errors=DISCARD)
    assert [(e.args.authorizer, e.args.nonce) for e in used] == [(payer.address, auth["nonce"])]
    transfers = token.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert [(e.args["from"], e.args.to, e.args.value) for e in transfers] == [(payer.address, payee, value)]

    # replay of the same authorization, through either overload
    assert_reverts(w3, relayer, twa_vrs(token, auth, sig), "authorization is used")
    assert_reverts(w3, relayer, twa_bytes(token, auth, sig), "authorization is used")
    assert token.functions.balanceOf(payee).call() == value


def test_expired_authorization_rejected(net, w3, fresh):
    token, _, payer = fresh
    relayer = funded_account(w3)
    auth = authorization(payer.address, relayer.address, 1, valid_before=int(time.time()) - 5)
    sig = sign(payer, domain(token, net["chain_id"]), TRANSFER_TYPES, auth)
    assert_reverts(w3, relayer, twa_vrs(token, auth, sig), "authorization is expired")
    assert token.functions.authorizationState(payer.address, auth["nonce"]).call() is False


def test_not_yet_valid_authorization_rejected(net, w3, fresh):
    token, _, payer = fresh
    relayer = funded_account(w3)
    auth = authorization(payer.address, relayer.address, 1, valid_after=int(time.time()) + 3600)
    sig = sign(payer, domain(token, net["chain_id"]), TRANSFER_TYPES, auth)
    assert_reverts(w3, relayer, twa_vrs(token, auth, sig), "authorization is not yet valid")


def test_wrong_signer_rejected(net, w3, fresh):
    token, _, payer = fresh
    relayer = funded_account(w3)
    mallory = Account.create()
    auth = authorization(payer.address, relayer.address, 10)
    sig = sign(mallory, domain(token, net["chain_id"]), TRANSFER_TYPES, auth)  # from=payer, signed by mallory
    assert_reverts(w3, relayer, twa_vrs(token, auth, sig), "invalid signature")
    assert_reverts(w3, relayer, twa_bytes(token, auth, sig), "invalid signature")
    assert token.functions.balanceOf(relayer.address).call() == 0


def test_tampered_or_foreign_domain_rejected(net, w3, fresh):
    token, _, payer = fresh
    relayer = funded_account(w3)
    auth = authorization(payer.address, relayer.address, 10)
    sig = sign(payer, domain(token, net["chain_id"]), TRANSFER_TYPES, auth)
    assert_reverts(w3, relayer, twa_vrs(token, {**auth, "value": 11}, sig), "invalid signature")
    # same message, other domains: name, version, chain id
    for dom in (
        domain(token, net["chain_id"], name="USDC"),
        domain(token, net["chain_id"], version="1"),
        domain(token, net["chain_id"] + 1),
    ):
        bad = sign(payer, dom, TRANSFER_TYPES, auth)
        assert_reverts(w3, relayer, twa_vrs(token, auth, bad), "invalid signature")
    # malformed signatures
    assert_reverts(w3, relayer, twa_bytes(token, auth, sig[:64]), "invalid signature")
    high_s = (
        sig[:32]
        + (
            0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 - int.from_bytes(sig[32:64], "big")
        ).to_bytes(32, "big")
        + bytes([55 - sig[64]])
    )
    assert_reverts(w3, relayer, twa_bytes(token, auth, high_s), "invalid signature")
    # the genuine one still works afterwards
    assert transact(w3, relayer, twa_vrs(token, auth, sig))["status"] == 1


def test_insufficient_balance_rejected(net, w3, fresh):
    token, _, payer = fresh
    relayer = funded_account(w3)
    auth = authorization(payer.address, relayer.address, token.functions.balanceOf(payer.address).call() + 1)
    sig = sign(payer, domain(token, net["chain_id"]), TRANSFER_TYPES, auth)
    assert_reverts(w3, relayer, twa_vrs(token, auth, sig), "transfer amount exceeds balance")
    assert token.functions.authorizationState(payer.address, auth["nonce"]).call() is False


def test_receive_with_authorization(net, w3, fresh):
    token, _, payer = fresh
    payee = funded_account(w3)
    other = funded_account(w3)
    auth = authorization(payer.address, payee.address, 500)
    sig = sign(payer, domain(token, net["chain_id"]), RECEIVE_TYPES, auth)
    rwa = token.get_function_by_signature(
        "receiveWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)"
    )
    assert_reverts(w3, other, rwa(*twa_args(auth), *vrs(sig)), "caller must be the payee")
    # a ReceiveWithAuthorization signature is not a TransferWithAuthorization one
    assert_reverts(w3, other, twa_vrs(token, auth, sig), "invalid signature")
    assert transact(w3, payee, rwa(*twa_args(auth), *vrs(sig)))["status"] == 1
    assert token.functions.balanceOf(payee.address).call() == 500
    assert token.functions.authorizationState(payer.address, auth["nonce"]).call() is True


def test_cancel_authorization(net, w3, fresh):
    token, _, payer = fresh
    relayer = funded_account(w3)
    auth = authorization(payer.address, relayer.address, 7)
    dom = domain(token, net["chain_id"])
    sig = sign(payer, dom, TRANSFER_TYPES, auth)
    cancel_sig = sign(payer, dom, CANCEL_TYPES, {"authorizer": payer.address, "nonce": auth["nonce"]})
    cancel = token.get_function_by_signature("cancelAuthorization(address,bytes32,bytes)")
    wrong = sign(Account.create(), dom, CANCEL_TYPES, {"authorizer": payer.address, "nonce": auth["nonce"]})
    assert_reverts(w3, relayer, cancel(payer.address, auth["nonce"], wrong), "invalid signature")

    receipt = transact(w3, relayer, cancel(payer.address, auth["nonce"], cancel_sig))
    assert receipt["status"] == 1
    assert len(token.events.AuthorizationCanceled().process_receipt(receipt, errors=DISCARD)) == 1
    assert token.functions.authorizationState(payer.address, auth["nonce"]).call() is True
    assert_reverts(w3, relayer, twa_vrs(token, auth, sig), "authorization is used or canceled")
    assert_reverts(w3, relayer, cancel(payer.address, auth["nonce"], cancel_sig), "authorization is used or canceled")


def test_permit(net, w3, fresh):
    token, _, payer = fresh
    spender = funded_account(w3)
    deadline = int(time.time()) + 600
    msg = {"owner": payer.address, "spender": spender.address, "value": 99, "nonce": 0, "deadline": deadline}
    sig = sign(payer, domain(token, net["chain_id"]), PERMIT_TYPES, msg)
    permit = token.get_function_by_signature("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)")
    assert transact(w3, spender, permit(payer.address, spender.address, 99, deadline, *vrs(sig)))["status"] == 1
    assert token.functions.allowance(payer.address, spender.address).call() == 99
    assert token.functions.nonces(payer.address).call() == 1
    assert_reverts(w3, spender, permit(payer.address, spender.address, 99, deadline, *vrs(sig)), "invalid signature")
    assert transact(w3, spender, token.functions.transferFrom(payer.address, spender.address, 99))["status"] == 1
    assert token.functions.balanceOf(spender.address).call() == 99


def test_multicall3_compat(w3):
    """The x402 facilitator's tryAggregate at the canonical Multicall3 address."""
    entry = deploy.ensure_multicall3(w3, ARTIFACTS["Multicall3Compat"], "test", log=lambda *_: None)
    mc = w3.eth.contract(address=entry, abi=ARTIFACTS["Multicall3Compat"]["abi"])
    assert mc.functions.getChainId().call() == w3.eth.chain_id


# A minimal EIP-1271 contract wallet, compiled here with the pinned solc-js; it
# accepts ECDSA signatures by its owner over the digest it is asked about.
WALLET_SOURCE = """
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract TestWallet1271 {
    address public immutable owner;
    constructor(address owner_) { owner = owner_; }
    function isValidSignature(bytes32 digest, bytes memory sig) external view returns (bytes4) {
        if (sig.length != 65) return 0xffffffff;
        bytes32 r; bytes32 s; uint8 v;
        assembly { r := mload(add(sig, 0x20)) s := mload(add(sig, 0x40)) v := byte(0, mload(add(sig, 0x60))) }
        return ecrecover(digest, v, r, s) == owner ? bytes4(0x1626ba7e) : bytes4(0xffffffff);
    }
}
"""

_COMPILE_JS = """
const solc = require('solc');
const src = require('fs').readFileSync(0, 'utf8');
const out = JSON.parse(solc.compile(JSON.stringify({language: 'Solidity', sources: {'W.sol': {content: src}},
  settings: {evmVersion: 'cancun', outputSelection: {'*': {'*': ['abi', 'evm.bytecode.object']}}}})));
const errs = (out.errors || []).filter(e => e.severity === 'error');
if (errs.length) { console.error(errs.map(e => e.formattedMessage).join('\\n')); process.exit(1); }
const c = out.contracts['W.sol']['TestWallet1271'];
console.log(JSON.stringify({abi: c.abi, bytecode: '0x' + c.evm.bytecode.object}));
"""


@pytest.fixture(scope="module")
def wallet_artifact():
    res = subprocess.run(
        ["node", "-e", _COMPILE_JS], input=WALLET_SOURCE, cwd=CHAIN_DIR, capture_output=True, text=True, check=True
    )
    return json.loads(res.stdout)


def deploy_wallet(w3, artifact, owner_address):
    deployer = funded_account(w3)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = transact(w3, deployer, factory.constructor(owner_address))
    assert receipt["status"] == 1
    return receipt["contractAddress"]


def test_eip1271_contract_wallet(net, w3, fresh, wallet_artifact):
    """Accounts with code are checked with isValidSignature (USDC v2.2 rule), both overloads."""
    token, owner, _ = fresh
    wallet_owner = Account.create()
    wallet = deploy_wallet(w3, wallet_artifact, wallet_owner.address)
    assert transact(w3, owner, token.functions.mint(wallet, 1_000))["status"] == 1
    relayer = funded_account(w3)
    dom = domain(token, net["chain_id"])

    auth = authorization(wallet, relayer.address, 400)
    assert_reverts(
        w3, relayer, twa_bytes(token, auth, sign(Account.create(), dom, TRANSFER_TYPES, auth)), "invalid signature"
    )
    assert transact(w3, relayer, twa_bytes(token, auth, sign(wallet_owner, dom, TRANSFER_TYPES, auth)))["status"] == 1
    auth2 = authorization(wallet, relayer.address, 600)
    assert transact(w3, relayer, twa_vrs(token, auth2, sign(wallet_owner, dom, TRANSFER_TYPES, auth2)))["status"] == 1
    assert token.functions.balanceOf(relayer.address).call() == 1_000
    assert token.functions.balanceOf(wallet).call() == 0


# -------------------------------------------------------------- x402 SDK


class _WalletSigner:
    """x402 ClientEvmSigner for a contract wallet: pays from the wallet, signs with its owner key."""

    def __init__(self, wallet_address, owner):
        self.address = wallet_address
        self._owner = owner

    def sign_typed_data(self, domain, types, primary_type, message):
        from x402.mechanisms.evm.signers import EthAccountSigner

        return EthAccountSigner(self._owner).sign_typed_data(domain, types, primary_type, message)


def _x402_facilitator(w3, net):
    from x402.mechanisms.evm.signers import FacilitatorWeb3Signer

    fac_acct = funded_account(w3)
    return FacilitatorWeb3Signer(private_key=fac_acct.key.hex(), rpc_url=_rpc_url(net), confirmation_timeout_seconds=30)


def _requirements_v2(net, token_address, pay_to, amount, name=TOKEN_NAME, version=TOKEN_VERSION):
    from x402.schemas import PaymentRequirements

    return PaymentRequirements(
        scheme="exact",
        network=f"eip155:{net['chain_id']}",
        asset=token_address,
        amount=str(amount),
        pay_to=pay_to,
        max_timeout_seconds=300,
        extra={"name": name, "version": version},
    )


def test_x402_sdk_exact_v2_verify_and_settle(net, w3, fresh):
    """The SDK's client signer builds the payload; the SDK's facilitator verifies and settles it."""
    from x402.mechanisms.evm.exact.client import ExactEvmScheme as ExactClient
    from x402.mechanisms.evm.exact.facilitator import ExactEvmScheme as ExactFacilitator
    from x402.mechanisms.evm.signers import EthAccountSigner
    from x402.schemas import PaymentPayload

    token, _, payer = fresh
    pay_to = Account.create().address
    req = _requirements_v2(net, token.address, pay_to, 10_000)
    inner = ExactClient(EthAccountSigner(payer)).create_payment_payload(req)
    assert len(bytes.fromhex(inner["signature"].removeprefix("0x"))) == 65
    payload = PaymentPayload(x402_version=2, payload=inner, accepted=req)
    facilitator = ExactFacilitator(_x402_facilitator(w3, net))

    verified = facilitator.verify(payload, req)
    assert verified.is_valid, verified
    assert verified.payer == payer.address

    settled = facilitator.settle(payload, req)
    assert settled.success, settled
    assert settled.network == req.network
    receipt = w3.eth.get_transaction_receipt(settled.transaction)
    assert receipt["status"] == 1 and receipt["to"] == token.address
    assert token.functions.balanceOf(pay_to).call() == 10_000
    nonce = bytes.fromhex(inner["authorization"]["nonce"].removeprefix("0x"))
    assert token.functions.authorizationState(payer.address, nonce).call() is True

    # replay: verify and settle both refuse, with the SDK's specific reason
    again = facilitator.verify(payload, req)
    assert not again.is_valid and again.invalid_reason == "invalid_exact_evm_nonce_already_used", again
    resettled = facilitator.settle(payload, req)
    assert not resettled.success
    assert token.functions.balanceOf(pay_to).call() == 10_000


def test_x402_sdk_rejections(net, w3, fresh):
    """The token's reverts map to the SDK's specific invalid reasons."""
    from x402.mechanisms.evm.exact.client import ExactEvmScheme as ExactClient
    from x402.mechanisms.evm.exact.facilitator import ExactEvmScheme as ExactFacilitator
    from x402.schemas import PaymentPayload

    token, _, payer = fresh
    facilitator = ExactFacilitator(_x402_facilitator(w3, net))
    pay_to = Account.create().address

    # more than the payer holds
    req = _requirements_v2(net, token.address, pay_to, token.functions.balanceOf(payer.address).call() + 1)
    payload = PaymentPayload(x402_version=2, payload=ExactClient(payer).create_payment_payload(req), accepted=req)
    res = facilitator.verify(payload, req)
    assert not res.is_valid and res.invalid_reason == "invalid_exact_evm_insufficient_balance", res

    # server advertises a different EIP-712 name than the token's: the signature
    # is consistent with the advertised domain but the token rejects it
    req = _requirements_v2(net, token.address, pay_to, 1, name="USDC")
    payload = PaymentPayload(x402_version=2, payload=ExactClient(payer).create_payment_payload(req), accepted=req)
    res = facilitator.verify(payload, req)
    assert not res.is_valid and res.invalid_reason == "invalid_exact_evm_payload_signature", res


def test_x402_sdk_exact_v1_verify_and_settle(net, w3, fresh):
    """v1 (network names like base-sepolia); its failure diagnosis goes through Multicall3."""
    from x402.mechanisms.evm.exact.v1.client import ExactEvmSchemeV1 as ExactClientV1
    from x402.mechanisms.evm.exact.v1.facilitator import ExactEvmSchemeV1 as ExactFacilitatorV1
    from x402.schemas.v1 import PaymentPayloadV1, PaymentRequirementsV1

    token, _, payer = fresh
    pay_to = Account.create().address
    req = PaymentRequirementsV1(
        scheme="exact",
        network=net["name"],
        max_amount_required="2500",
        resource="http://127.0.0.1/paid",
        pay_to=pay_to,
        max_timeout_seconds=300,
        asset=token.address,
        extra={"name": TOKEN_NAME, "version": TOKEN_VERSION},
    )
    inner = ExactClientV1(payer).create_payment_payload(req)
    payload = PaymentPayloadV1(scheme="exact", network=net["name"], payload=inner)
    facilitator = ExactFacilitatorV1(_x402_facilitator(w3, net))

    verified = facilitator.verify(payload, req)
    assert verified.is_valid, verified
    settled = facilitator.settle(payload, req)
    assert settled.success, settled
    assert token.functions.balanceOf(pay_to).call() == 2500

    again = facilitator.verify(payload, req)
    assert not again.is_valid and again.invalid_reason == "invalid_exact_evm_nonce_already_used", again


def test_x402_sdk_against_stack_token(net, w3, stack_deployment):
    """The token deploy.py put on the chain works with the SDK end to end."""
    from x402.mechanisms.evm.exact.client import ExactEvmScheme as ExactClient
    from x402.mechanisms.evm.exact.facilitator import ExactEvmScheme as ExactFacilitator
    from x402.schemas import PaymentPayload

    doc, _ = stack_deployment
    entry = doc["networks"][net["name"]]
    token = w3.eth.contract(address=entry["token"]["address"], abi=TOKEN_ABI)
    # fund a throwaway payer from the owner (the deployer, anvil account 0), so
    # the stack payer's balance is left alone
    deployer = deploy.derive_account(CONFIG["mnemonic"], CONFIG["accounts"]["deployer_index"])
    payer = Account.create()
    assert transact(w3, deployer, token.functions.mint(payer.address, 5_000))["status"] == 1

    pay_to = Account.create().address
    req = _requirements_v2(
        net, entry["token"]["address"], pay_to, 5_000, entry["token"]["name"], entry["token"]["version"]
    )
    payload = PaymentPayload(x402_version=2, payload=ExactClient(payer).create_payment_payload(req), accepted=req)
    facilitator = ExactFacilitator(_x402_facilitator(w3, net))
    assert facilitator.verify(payload, req).is_valid
    settled = facilitator.settle(payload, req)
    assert settled.success, settled
    assert token.functions.balanceOf(pay_to).call() == 5_000
    assert token.functions.balanceOf(payer.address).call() == 0


def test_x402_sdk_contract_wallet_payer(net, w3, fresh, wallet_artifact):
    """A deployed EIP-1271 wallet as x402 payer: the SDK verifies via isValidSignature and settles."""
    from x402.mechanisms.evm.exact.client import ExactEvmScheme as ExactClient
    from x402.mechanisms.evm.exact.facilitator import ExactEvmScheme as ExactFacilitator
    from x402.schemas import PaymentPayload

    token, owner, _ = fresh
    wallet_owner = Account.create()
    wallet = deploy_wallet(w3, wallet_artifact, wallet_owner.address)
    assert transact(w3, owner, token.functions.mint(wallet, 3_000))["status"] == 1
    pay_to = Account.create().address
    req = _requirements_v2(net, token.address, pay_to, 3_000)
    inner = ExactClient(_WalletSigner(wallet, wallet_owner)).create_payment_payload(req)
    payload = PaymentPayload(x402_version=2, payload=inner, accepted=req)
    facilitator = ExactFacilitator(_x402_facilitator(w3, net))
    verified = facilitator.verify(payload, req)
    assert verified.is_valid, verified
    settled = facilitator.settle(payload, req)
    assert settled.success, settled
    assert token.functions.balanceOf(pay_to).call() == 3_000
