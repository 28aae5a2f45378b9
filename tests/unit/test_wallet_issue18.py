"""Wallet rotation items of issue 18, each with the test named after it (the integration side is in
tests/integration/test_rotate_wallet.py, test_issue18_*):

- (2) once anything was swept, a rotation only goes forward: no AWSCURRENT move back onto the old key;
- (9) the sweep destination is shown, EIP-55 checked, a Solana treasury must be an existing system account,
  and production asks for it to be typed back.
"""
from __future__ import annotations

import json

import pytest

import wallet_rotation as filters
from fake_evm import FakeEvmNode
from ansible.module_utils.facilitator_ops.wallet.evm import EvmChain
from ansible.module_utils.facilitator_ops.wallet.rotation import network_config
from ansible.module_utils.facilitator_ops.wallet.rotation import preflight_wallet
from ansible.module_utils.facilitator_ops.wallet.rpc import JsonRpc
from ansible.module_utils.facilitator_ops.wallet.secret import WalletSecret
from ansible.module_utils.facilitator_ops.wallet.state import StateError
from ansible.module_utils.facilitator_ops.wallet.state import stage_action

ETH = 10**18


@pytest.fixture
def sm():
    moto = pytest.importorskip("moto")
    import boto3

    with moto.mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-2")


def _evm_secret(sm, name="facilitator-evm-testnet-private-key"):
    from eth_account import Account

    acct = Account.create()
    arn = sm.create_secret(Name=name, SecretString=json.dumps(
        {"private_key": "0x" + bytes(acct.key).hex(), "address": acct.address}))["ARN"]
    return acct, arn


def _promoted(sm):
    acct, arn = _evm_secret(sm)
    ws = WalletSecret(sm, arn, "evm", aws_retry=False)
    new, _ = ws.create_pending(batch="b1")
    st = ws.state()
    ws.move_current(st["new"], st["old"])
    return acct, new, arn, ws


# ---------------------------------------------------------------- (2) rollback onto a swept key


def test_issue18_2_rollback_onto_a_swept_key_is_refused_by_the_stage_module_logic(sm):
    _acct, _new, _arn, ws = _promoted(sm)
    st = ws.state()
    # promoted, nothing swept: a failed proof may still roll back
    assert stage_action("rollback", st, st["old"], st["new"])[0] == ("move_current", st["old"], st["new"])
    # the sweep marks the secret before its first transfer; from then on only forward
    assert ws.mark_sweep_started(st["new"], 1_000) is True
    assert ws.mark_sweep_started(st["new"], 2_000) is False  # idempotent: the first sweep's time is kept
    st = ws.state()
    assert st["sweep_started"] == {"version": st["new"], "epoch": 1_000}
    with pytest.raises(StateError, match="FORWARD ONLY, not rolling back"):
        stage_action("rollback", st, st["old"], st["new"])
    assert ws.state()["current"] == st["new"]  # nothing moved
    # a mark of an earlier rotation (another new version) does not block this one's rollback
    assert stage_action("rollback", dict(st, sweep_started={"version": "older", "epoch": 1}),
                        st["old"], st["new"])[0] is not None


def test_issue18_2_rollback_onto_a_swept_key_preflight_says_forward_only(sm):
    """The pre-flight of a promoted rotation: an old wallet already empty on a network (the chains), or the
    sweep mark (AWS), makes it forward only; the filter turns that into the run's one stop message."""
    acct, new, _arn, ws = _promoted(sm)
    node = FakeEvmNode(balances={acct.address: 0, new.address: 3 * ETH})
    net = network_config("base-sepolia", {"kind": "evm", "chain_id": 84532, "rpc_url": "http://fake",
                                          "target": "1", "floor": "0.1"})
    chain = EvmChain(JsonRpc("http://fake", "base-sepolia", transport=node.transport), "base-sepolia",
                     chain_id=84532, sleep=lambda s: None)
    w = dict(name="evm-testnet", kind="evm", env="EVM_PRIVATE_KEY_TESTNET", secret_arn=ws.arn, secret_name="s",
             region="us-east-2", networks=["base-sepolia"], unused_fallbacks=[])
    r = preflight_wallet(w, {"base-sepolia": net}, lambda region: sm, lambda n: chain, aws_retry=False)
    assert r["phase"] == "promoted"
    assert r["forward_only"] == [f"the old wallet {acct.address} holds nothing (or only dust) on base-sepolia"]
    msg = filters.wallet_rotation_forward_only([r], "proof failed")
    assert msg.startswith("ROTATION NOT ROLLED BACK (forward only)") and "\n" not in msg
    assert "Do NOT move AWSCURRENT back by hand" in msg and "rerun the same command" in msg
    assert new.address in msg and acct.address in msg
    # funds still on the old wallet, no sweep mark: a rollback is allowed (the filter says nothing)
    node.balances[acct.address.lower()] = 2 * ETH
    r = preflight_wallet(w, {"base-sepolia": net}, lambda region: sm, lambda n: chain, aws_retry=False)
    assert r["forward_only"] == [] and filters.wallet_rotation_forward_only([r], "x") == ""
    # the sweep mark alone (a transfer sent, not yet visible on the chain) is enough
    ws.mark_sweep_started(ws.state()["new"], 5)
    r = preflight_wallet(w, {"base-sepolia": net}, lambda region: sm, lambda n: chain, aws_retry=False)
    assert len(r["forward_only"]) == 1 and "sweep of the old wallet" in r["forward_only"][0]


def test_issue18_2_rollback_onto_a_swept_key_only_for_promoted_wallets():
    from ansible.module_utils.facilitator_ops.wallet.rotation import forward_only_reasons

    assert forward_only_reasons({"phase": "pending", "networks": {"x": {"status": "swept"}}}) == []


# ---------------------------------------------------------------- (9) the sweep destination


WALLETS = [{"name": "evm-testnet", "kind": "evm"}, {"name": "solana-testnet", "kind": "solana"}]
CHECKSUMMED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"       # EIP-55's own test vector
TYPO = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"              # one letter's case flipped
SOL_TREASURY = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
SYSTEM = "11111111111111111111111111111111"


def test_issue18_9_sweep_destination_eip55_checked_in_the_input_filter():
    out = filters.wallet_rotation_input("evm", WALLETS, {"evm": TYPO}, "no", "no", "production")
    assert out["error"].startswith(f"rotate_wallet: -e treasury_evm {TYPO} is not a valid EIP-55 checksum address")
    assert "\n" not in out["error"] and out["selected"] == []
    for ok in (CHECKSUMMED, CHECKSUMMED.lower(), "0x" + CHECKSUMMED[2:].upper()):
        assert filters.wallet_rotation_input("evm", WALLETS, {"evm": ok})["error"] == "", ok
    assert filters.eip55_valid(CHECKSUMMED) and not filters.eip55_valid(TYPO)


def test_issue18_9_sweep_destination_typed_back_in_production():
    # production, a treasury in use, nothing typed back: the role must ask for it
    out = filters.wallet_rotation_input("all", WALLETS, {"evm": CHECKSUMMED, "solana": SOL_TREASURY}, "no", "no",
                                        "production", "", True)
    assert out["error"] == "" and out["destinations"] == {"evm": CHECKSUMMED, "solana": SOL_TREASURY}
    assert out["confirm_missing"] == [CHECKSUMMED, SOL_TREASURY]
    # both typed back (EVM in any case: its checksum was checked; Solana exactly)
    out = filters.wallet_rotation_input("all", WALLETS, {"evm": CHECKSUMMED, "solana": SOL_TREASURY}, "no", "no",
                                        "production", f"{CHECKSUMMED.lower()}, {SOL_TREASURY}", True)
    assert out["error"] == "" and out["confirm_missing"] == []
    # a wrong one is a one-line refusal before anything is read
    out = filters.wallet_rotation_input("solana", WALLETS, {"solana": SOL_TREASURY}, "no", "no", "production",
                                        SOL_TREASURY.lower(), True)
    assert out["error"].startswith(f"rotate_wallet: -e sweep_destination_confirm={SOL_TREASURY.lower()} is not the "
                                   f"sweep destination ({SOL_TREASURY})") and "\n" not in out["error"]
    # only the selected kinds' treasuries count; -e confirm=yes environments (not protected) are not asked
    out = filters.wallet_rotation_input("evm", WALLETS, {"evm": CHECKSUMMED, "solana": SOL_TREASURY}, "no", "no",
                                        "production", "", True)
    assert out["destinations"] == {"evm": CHECKSUMMED} and out["confirm_missing"] == [CHECKSUMMED]
    assert filters.wallet_rotation_input("evm", WALLETS, {"evm": CHECKSUMMED}, "no", "no", "dev", "",
                                         False)["confirm_missing"] == []
    # the new wallet (generated by the tool, no typing) needs nothing typed back
    assert filters.wallet_rotation_input("all", WALLETS, {}, "no", "no", "production", "", True)["confirm_missing"] == []
    # the prompt's answers (pause results, in order)
    assert filters.wallet_rotation_destination_typed([CHECKSUMMED], [{"user_input": CHECKSUMMED}]) == ""
    assert filters.wallet_rotation_destination_typed([], []) == ""
    msg = filters.wallet_rotation_destination_typed([CHECKSUMMED, SOL_TREASURY],
                                                    [{"user_input": CHECKSUMMED}, {"user_input": "yes"}])
    assert msg.startswith(f"rotate_wallet: the sweep destination {SOL_TREASURY} was not typed back")
    assert "-e sweep_destination_confirm=" in msg and "\n" not in msg
    # no answer at all (a non-interactive run)
    assert filters.wallet_rotation_destination_typed([SOL_TREASURY], [{"user_input": ""}]).startswith("rotate_wallet")


def test_issue18_9_sweep_destination_shown_in_the_plan():
    pre = [{"name": "evm-testnet", "kind": "evm", "old_address": "0xOLD", "new_address": "0xNEW"},
           {"name": "solana-testnet", "kind": "solana", "old_address": "OldSol", "new_address": None}]
    lines = filters.wallet_rotation_sweep_destinations(pre, {"solana": SOL_TREASURY})
    assert lines == [
        "SWEEP evm-testnet: the whole balance of the old wallet 0xOLD goes to 0xNEW (the new wallet)",
        f"SWEEP solana-testnet: the whole balance of the old wallet OldSol goes to {SOL_TREASURY} (TREASURY, "
        f"-e treasury_solana / wallet_rotation_treasury)",
    ]


class _Solana:
    """Solana JSON-RPC answers by method (response shapes of the Solana API); records what was called."""

    def __init__(self, accounts, balances=None):
        self.accounts, self.balances, self.seen = accounts, balances or {}, []

    def transport(self, url, payload, timeout):
        m, params = payload["method"], payload["params"]
        self.seen.append(m)
        ctx = {"context": {"apiVersion": "2.2.7", "slot": 381240001}}
        if m == "getGenesisHash":
            result = "EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG"
        elif m == "getAccountInfo":
            assert params[1] == {"encoding": "base64", "commitment": "confirmed"}
            result = dict(ctx, value=self.accounts.get(params[0]))
        elif m == "getBalance":
            result = dict(ctx, value=self.balances.get(params[0], 0))
        else:
            raise AssertionError(f"unexpected call {m}")
        return {"jsonrpc": "2.0", "id": payload["id"], "result": result}

    def chain(self):
        from ansible.module_utils.facilitator_ops.wallet.solana import SolanaChain

        return SolanaChain(JsonRpc("https://api.devnet.solana.com", "solana-devnet", transport=self.transport),
                           "solana-devnet", genesis_hash="EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG",
                           sleep=lambda s: None)


def _account(owner, executable=False):
    return {"data": ["", "base64"], "executable": executable, "lamports": 10**9, "owner": owner, "rentEpoch": 0,
            "space": 0}


def test_issue18_9_solana_treasury_must_be_an_existing_system_account():
    from solders.keypair import Keypair

    from ansible.module_utils.facilitator_ops.wallet.fees import TransferRefused

    old = Keypair()
    token = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
    rpc = _Solana({SOL_TREASURY: _account(SYSTEM), "Mint1111111111111111111111111111111111111": _account(token)},
                  {str(old.pubkey()): 3 * 10**9})
    assert rpc.chain().check_system_account(SOL_TREASURY) is True
    # a mistyped key: no account there -> refused before anything is built or sent
    typo = SOL_TREASURY[:-1] + "N"
    with pytest.raises(TransferRefused, match="does not exist"):
        rpc.chain().sweep(old, typo, require_system_account=True)
    assert "sendTransaction" not in rpc.seen and "getLatestBlockhash" not in rpc.seen
    with pytest.raises(TransferRefused, match="is not a system account"):
        rpc.chain().check_system_account("Mint1111111111111111111111111111111111111")


def test_issue18_9_solana_treasury_refused_by_the_preflight(sm):
    from solders.keypair import Keypair

    kp = Keypair()
    arn = sm.create_secret(Name="facilitator-solana-testnet-keypair", SecretString=json.dumps(
        {"private_key": str(kp), "address": str(kp.pubkey())}))["ARN"]
    rpc = _Solana({}, {str(kp.pubkey()): 5 * 10**9})
    net = network_config("solana-devnet", {"kind": "solana", "rpc_url": "http://fake", "target": "1",
                                           "floor": "0.1", "genesis_hash": "EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG"})
    w = dict(name="solana-testnet", kind="solana", env="SOLANA_PRIVATE_KEY_TESTNET", secret_arn=arn,
             secret_name="s", region="us-east-2", networks=["solana-devnet"], unused_fallbacks=[])
    r = preflight_wallet(w, {"solana-devnet": net}, lambda region: sm, lambda n: rpc.chain(), aws_retry=False,
                         sweep_to={"solana": SOL_TREASURY})
    assert r["sweep_destination"] == SOL_TREASURY
    assert any(x.startswith(f"solana-devnet: solana-devnet: the sweep destination {SOL_TREASURY} does not exist")
               for x in r["refusals"]), r["refusals"]
    rpc.accounts[SOL_TREASURY] = _account(SYSTEM)
    r = preflight_wallet(w, {"solana-devnet": net}, lambda region: sm, lambda n: rpc.chain(), aws_retry=False,
                         sweep_to={"solana": SOL_TREASURY})
    assert r["refusals"] == [] and r["networks"]["solana-devnet"]["status"] == "to_fund"


# ---------------------------------------------------------------- (1) other live signers (the old stack)


OLD_STACK = {"name": "monorepo facilitator", "cluster": "karmacadabra-prod", "service": "karmacadabra-prod-facilitator",
             "region": "us-east-1", "container": "facilitator"}
CONFIGURED = [{"name": "evm-testnet", "kind": "evm", "env": ["EVM_PRIVATE_KEY_TESTNET", "EVM_PRIVATE_KEY"]},
              {"name": "solana-testnet", "kind": "solana", "env": ["SOLANA_PRIVATE_KEY_TESTNET", "SOLANA_PRIVATE_KEY"]}]


@pytest.fixture
def aws():
    moto = pytest.importorskip("moto")
    import boto3

    with moto.mock_aws():
        yield lambda svc, region: boto3.client(svc, region_name=region)


def _old_stack(aws, secret_arn, desired=2, env="EVM_PRIVATE_KEY_TESTNET"):
    ecs = aws("ecs", "us-east-1")
    ecs.create_cluster(clusterName="karmacadabra-prod")
    td = ecs.register_task_definition(family="karmacadabra-prod-facilitator", containerDefinitions=[
        {"name": "otel-collector", "image": "otel", "essential": False, "memory": 256},
        {"name": "facilitator", "image": "facilitator:1.68.0", "essential": True, "memory": 2048,
         "secrets": [{"name": env, "valueFrom": f"{secret_arn}:private_key::"}]}])["taskDefinition"]
    ecs.create_service(cluster="karmacadabra-prod", serviceName="karmacadabra-prod-facilitator",
                       taskDefinition=td["taskDefinitionArn"], desiredCount=desired)
    return ecs


def _others(aws, configs=(OLD_STACK,)):
    from ansible.module_utils.facilitator_ops.ecs.taskdef import container_named
    from ansible.module_utils.facilitator_ops.wallet.rotation import read_other_signers

    return read_other_signers(list(configs), lambda r: aws("ecs", r), lambda r: aws("secretsmanager", r), CONFIGURED,
                              container_named, aws_retry=False)


def _rotating(address, arn="arn:aws:secretsmanager:us-east-2:123456789012:secret:facilitator-evm-testnet-private-key-AbC123"):
    return {"name": "evm-testnet", "kind": "evm", "old_address": address, "secret_arn": arn}


def test_issue18_1_rotation_during_the_cutover_drains_the_old_stack(aws):
    """After the secrets migration the monorepo service (us-east-1) reads its own copy of the same key: the
    rotation of the new service's secret would sweep the address the old side still settles with. Refused,
    naming the old service and what to do."""
    from eth_account import Account

    from ansible.module_utils.facilitator_ops.wallet.rotation import other_signer_lines
    from ansible.module_utils.facilitator_ops.wallet.rotation import other_signer_refusals

    acct = Account.create()
    doc = json.dumps({"private_key": "0x" + bytes(acct.key).hex(), "address": acct.address})
    old_copy = aws("secretsmanager", "us-east-1").create_secret(Name="karmacadabra-facilitator-testnet",
                                                                SecretString=doc)["ARN"]
    _old_stack(aws, old_copy)
    others = _others(aws)
    assert others[0]["live"] is True and others[0]["signers"][0]["address"] == acct.address
    assert "private_key" not in json.dumps(others) and acct.key.hex() not in json.dumps(others)
    (refusal,) = other_signer_refusals([_rotating(acct.address)], others)
    assert refusal.startswith(f"evm-testnet: monorepo facilitator (karmacadabra-prod/karmacadabra-prod-facilitator in "
                              f"us-east-1: ACTIVE, desired 2") and f"still signs with {acct.address}" in refusal
    assert "Finish the cutover and decommission monorepo facilitator first" in refusal
    assert "EVM_PRIVATE_KEY_TESTNET <- karmacadabra-facilitator-testnet" in refusal
    assert other_signer_lines(others)[0].startswith("OTHER SIGNER monorepo facilitator (karmacadabra-prod/"
                                                    "karmacadabra-prod-facilitator in us-east-1): LIVE")
    # another wallet (other address, other secret): no refusal
    assert other_signer_refusals([_rotating("0x" + "12" * 20)], others) == []
    # the same secret ARN (before the migration both sides read the monorepo secret): refused whatever it holds now
    assert other_signer_refusals([_rotating("0x" + "12" * 20, arn=old_copy)], others)
    # scaled to 0 (decommissioned): no longer a live user
    aws("ecs", "us-east-1").update_service(cluster="karmacadabra-prod", service="karmacadabra-prod-facilitator",
                                           desiredCount=0)
    others = _others(aws)
    assert others[0]["live"] is False and other_signer_refusals([_rotating(acct.address)], others) == []


def test_issue18_1_rotation_during_the_cutover_old_stack_gone_or_unreadable(aws):
    from ansible.module_utils.facilitator_ops.wallet.rotation import other_signer_refusals

    # no such cluster (Phase 7 done): reported, not refused
    (gone,) = _others(aws)
    assert gone["live"] is False and gone["state"].startswith("not found") and gone["signers"] == []
    # a live old side whose key cannot be read (another account's secret): cannot tell -> refused
    _old_stack(aws, "arn:aws:secretsmanager:us-east-1:999999999999:secret:karmacadabra-facilitator-testnet-XyZ789")
    others = _others(aws)
    assert others[0]["live"] and others[0]["signers"][0].get("problem")
    (refusal,) = other_signer_refusals([_rotating("0x" + "34" * 20)], others)
    assert "cannot tell which evm key monorepo facilitator" in refusal


def test_issue18_1_rotation_during_the_cutover_dependency_that_signs():
    from ansible.module_utils.facilitator_ops.wallet.rotation import other_signer_refusals

    addr = "0x" + "56" * 20
    deps = [{"name": "settlement-relayer", "kind": "signer", "bound_address": addr, "note": "relays with the hot key"},
            {"name": "router", "bound_address": addr}]  # a contract: -e ack_dependencies=yes as before
    (refusal,) = other_signer_refusals([_rotating(addr)], [], deps)
    assert refusal.startswith(f"evm-testnet: dependency settlement-relayer signs with {addr}")
    assert "-e ack_dependencies=yes does not cover a live signer" in refusal


# ---------------------------------------------------------------- (10) funding from the live signer


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.t += s


def test_issue18_10_funding_from_the_live_signer_waits_until_it_is_idle():
    """Without a funding wallet the old wallet funds; the running facilitator allocates its nonces: a funding
    transfer is sent only once it has nothing in flight, and a busy signer is reported as waiting (for the role's
    progress rounds), never sent over."""
    from eth_account import Account

    old, new = Account.create(), Account.create()
    node = FakeEvmNode(balances={old.address: 5 * ETH})
    node.pending_extra[old.address] = 2  # two settlements of the facilitator in flight
    clock = _Clock()
    chain = EvmChain(JsonRpc("http://fake", "base-sepolia", transport=node.transport), "base-sepolia",
                     chain_id=84532, sleep=clock.sleep, clock=clock)
    res = chain.fund(old, new.address, ETH, timeout=180, reserve=ETH // 10, idle_window=15)
    assert res["action"] == "waiting" and res["in_flight"] == 2 and node.mined == []
    assert "2 transaction(s) in flight" in res["reason"] and 15 <= clock.t < 20
    node.pending_extra[old.address] = 0  # the facilitator's transactions were mined
    res = chain.fund(old, new.address, ETH, timeout=180, reserve=ETH // 10, idle_window=15)
    assert res["action"] == "funded" and node.balance(new.address) == ETH


def test_issue18_10_funding_from_the_live_signer_uses_the_funding_wallet(sm):
    """A configured funding wallet funds the new one (the plan says so); the old wallet, the live signer, is not
    needed for funding: its balance no longer limits it, the funding wallet's does."""
    acct, arn = _evm_secret(sm)
    funder = Account_create()
    node = FakeEvmNode(balances={acct.address: ETH // 10, funder.address: 10 * ETH})
    net = network_config("base-sepolia", {"kind": "evm", "chain_id": 84532, "rpc_url": "http://fake",
                                          "target": "1", "floor": "0.1"})
    chain = EvmChain(JsonRpc("http://fake", "base-sepolia", transport=node.transport), "base-sepolia",
                     chain_id=84532, sleep=lambda s: None)
    w = dict(name="evm-testnet", kind="evm", env="EVM_PRIVATE_KEY_TESTNET", secret_arn=arn, secret_name="s",
             region="us-east-2", networks=["base-sepolia"], unused_fallbacks=[])
    # without it: the old wallet (0.1 ETH) cannot fund 1 ETH
    r = preflight_wallet(w, {"base-sepolia": net}, lambda region: sm, lambda n: chain, aws_retry=False)
    assert r["networks"]["base-sepolia"]["status"] == "cannot_fund"
    assert r["fund_from"]["source"] == "old wallet (the live signer)"
    assert filters.wallet_rotation_fund_sources([r], 180, 15)[0].startswith(
        f"FUND evm-testnet: from the old wallet {acct.address}, the live signer (no funding wallet configured): "
        f"each EVM transfer first waits until it has nothing in flight")
    f = {"address": funder.address, "label": "facilitator-ops-funding-evm"}
    r = preflight_wallet(w, {"base-sepolia": net}, lambda region: sm, lambda n: chain, aws_retry=False, funder=f)
    assert r["refusals"] == [] and r["networks"]["base-sepolia"]["status"] == "to_fund"
    assert filters.wallet_rotation_fund_sources([r]) == [
        f"FUND evm-testnet: from the funding wallet facilitator-ops-funding-evm {funder.address}"]
    # a funding wallet that cannot pay is refused, naming it and the network
    node.balances[funder.address.lower()] = ETH // 2
    r = preflight_wallet(w, {"base-sepolia": net}, lambda region: sm, lambda n: chain, aws_retry=False, funder=f)
    assert any(x.startswith("base-sepolia: the funding wallet facilitator-ops-funding-evm") for x in r["refusals"])
    # the transfer itself: signed by the funding wallet, the old wallet untouched
    node.balances[funder.address.lower()] = 10 * ETH
    WalletSecret(sm, arn, "evm", aws_retry=False).create_pending()
    new = WalletSecret(sm, arn, "evm", aws_retry=False)
    new_addr = new.read(new.state()["pending"]).address
    res = chain.fund(funder, new_addr, ETH, reserve=0)
    assert res["action"] == "funded" and res["sender"] == funder.address
    assert node.balance(acct.address) == ETH // 10 and node.balance(new_addr) == ETH


def Account_create():  # noqa: N802
    from eth_account import Account

    return Account.create()


def test_issue18_10_funding_from_the_live_signer_rounds_merge_in_the_summary():
    from ansible.module_utils.facilitator_ops.wallet.summary import _by_wallet

    item = {"name": "evm-testnet"}
    rounds = [{"item": item, "transfers": {"a": {"action": "funded", "tx": "0x1", "amount": 1},
                                           "b": {"action": "waiting"}}},
              {"item": item, "transfers": {"a": {"action": "skipped"}, "b": {"action": "funded", "tx": "0x2"}}}]
    assert _by_wallet(rounds) == {"evm-testnet": {"a": {"action": "funded", "tx": "0x1", "amount": 1},
                                                  "b": {"action": "funded", "tx": "0x2"}}}
