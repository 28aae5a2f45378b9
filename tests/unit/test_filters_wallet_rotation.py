"""The wallet_rotation role's filters (filter_plugins/wallet_rotation.py), as the role calls them."""
from __future__ import annotations

import pytest

import wallet_rotation as f

WALLETS = [{"name": "evm-testnet", "kind": "evm"}, {"name": "solana-testnet", "kind": "solana"}]
EVM = "0x" + "ab" * 20
SOL = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"


@pytest.mark.parametrize("select,selected", [("all", ["evm-testnet", "solana-testnet"]), (" EVM ", ["evm-testnet"]),
                                             ("solana", ["solana-testnet"])])
def test_selection(select, selected):
    out = f.wallet_rotation_input(select, WALLETS, {"evm": "", "solana": ""}, "no", "no", "local")
    assert out["error"] == "" and out["selected"] == selected and out["select"] == select.strip().lower()


def test_flags():
    out = f.wallet_rotation_input("all", WALLETS, {}, "yes", True)
    assert out["ack"] is True and out["again"] is True
    out = f.wallet_rotation_input("all", WALLETS, {}, "0", "false")
    assert out["ack"] is False and out["again"] is False


@pytest.mark.parametrize("select,wallets,treasury,msg", [
    ("bitcoin", WALLETS, {}, "rotate_wallet: -e wallet=bitcoin is not one of evm, solana, all"),
    ("evm", WALLETS, {"evm": "0x12"}, "rotate_wallet: -e treasury_evm must be a 0x address, -e treasury_solana a base58 public key"),
    ("evm", WALLETS, {"solana": "0OIl" * 10}, "rotate_wallet: -e treasury_evm must be a 0x address"),
    ("all", [], {}, "rotate_wallet: no wallet configured for production (wallet_rotation_wallets in "
                    "inventories/<env>/group_vars/facilitator/wallet_rotation.yml)"),
    ("solana", WALLETS[:1], {}, "rotate_wallet: no solana wallet configured for production"),
])
def test_bad_input_is_one_line(select, wallets, treasury, msg):
    out = f.wallet_rotation_input(select, wallets, treasury, "no", "no", "production")
    assert out["error"].startswith(msg) and "\n" not in out["error"]


def test_good_treasuries():
    assert f.wallet_rotation_input("all", WALLETS, {"evm": EVM, "solana": SOL})["error"] == ""
    assert "this environment" in f.wallet_rotation_input("all", [], {})["error"]


def test_awslogs_from_the_running_task_definition():
    pre = {"log_configuration": {"logDriver": "awslogs", "options": {
        "awslogs-group": "/ecs/facilitator-production", "awslogs-region": "us-east-2", "awslogs-stream-prefix": "ecs"}}}
    assert f.wallet_rotation_awslogs(pre, "facilitator") == dict(
        group="/ecs/facilitator-production", region="us-east-2", stream_prefix="ecs/facilitator")
    # before the pre-flight ran (the role's argument spec templates it at the start), or without awslogs
    assert f.wallet_rotation_awslogs({}, "facilitator") == dict(group="", region="", stream_prefix="")
    assert f.wallet_rotation_awslogs(None, "facilitator") == dict(group="", region="", stream_prefix="")


def test_filters_are_registered():
    assert set(f.FilterModule().filters()) == {n for n in dir(f) if n.startswith("wallet_rotation_")}
