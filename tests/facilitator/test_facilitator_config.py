"""Unit tests: configuration parsing mirrors production's environment contract."""

from __future__ import annotations

import pytest
from facilitator_helpers import ANVIL_ADDR_2, ANVIL_ADDR_3, ANVIL_KEY_2, ANVIL_KEY_3, SOLANA_KEYPAIR, SOLANA_PUBKEY

from x402_reference_facilitator import config as cfgmod
from x402_reference_facilitator import networks as nets

BASE = {"SIGNER_TYPE": "private-key"}


def names(cfg):
    return [n.spec.name for n in cfg.networks]


def test_signer_type_required():
    with pytest.raises(cfgmod.ConfigError, match="SIGNER_TYPE not set"):
        cfgmod.load({})


def test_signer_type_must_be_private_key():
    with pytest.raises(cfgmod.ConfigError, match="Unknown signer type"):
        cfgmod.load({"SIGNER_TYPE": "aws-kms"})


def test_no_rpc_urls_means_no_networks_and_no_key_needed():
    cfg = cfgmod.load(BASE)
    assert cfg.networks == ()
    assert "base" in cfg.skipped and "solana-devnet" in cfg.skipped


def test_missing_rpc_silently_skips_network():
    cfg = cfgmod.load({**BASE, "EVM_PRIVATE_KEY": ANVIL_KEY_2, "RPC_URL_BASE_SEPOLIA": "http://127.0.0.1:1"})
    assert names(cfg) == ["base-sepolia"]
    assert "avalanche-fuji" in cfg.skipped


def test_empty_rpc_counts_as_missing():
    cfg = cfgmod.load({**BASE, "EVM_PRIVATE_KEY": ANVIL_KEY_2, "RPC_URL_BASE": "  "})
    assert cfg.networks == ()


def test_testnet_uses_testnet_key_and_mainnet_uses_mainnet_key():
    cfg = cfgmod.load(
        {
            **BASE,
            "EVM_PRIVATE_KEY_TESTNET": ANVIL_KEY_2,
            "EVM_PRIVATE_KEY_MAINNET": ANVIL_KEY_3,
            "EVM_PRIVATE_KEY": "0x" + "11" * 32,  # legacy: ignored when both specific keys exist
            "RPC_URL_BASE_SEPOLIA": "http://t",
            "RPC_URL_BASE": "http://m",
        }
    )
    by = {n.spec.name: n for n in cfg.networks}
    assert by["base-sepolia"].signer_addresses == [ANVIL_ADDR_2]
    assert by["base-sepolia"].key_source == "EVM_PRIVATE_KEY_TESTNET"
    assert by["base"].signer_addresses == [ANVIL_ADDR_3]
    assert by["base"].key_source == "EVM_PRIVATE_KEY_MAINNET"


def test_fallback_to_legacy_key_when_specific_unset():
    cfg = cfgmod.load(
        {**BASE, "EVM_PRIVATE_KEY": ANVIL_KEY_3, "EVM_PRIVATE_KEY_MAINNET": ANVIL_KEY_2,
         "RPC_URL_AVALANCHE_FUJI": "http://t", "RPC_URL_AVALANCHE": "http://m"}
    )
    by = {n.spec.name: n for n in cfg.networks}
    assert by["avalanche-fuji"].key_source == "EVM_PRIVATE_KEY"
    assert by["avalanche-fuji"].signer_addresses == [ANVIL_ADDR_3]
    assert by["avalanche"].signer_addresses == [ANVIL_ADDR_2]


def test_set_but_empty_specific_key_does_not_fall_back():
    # Production: env::var(SPECIFIC).or_else(|_| env::var(LEGACY)) only falls back when unset.
    with pytest.raises(cfgmod.ConfigError, match="EVM_PRIVATE_KEY_TESTNET did not contain any private keys"):
        cfgmod.load({**BASE, "EVM_PRIVATE_KEY_TESTNET": "", "EVM_PRIVATE_KEY": ANVIL_KEY_2,
                     "RPC_URL_BASE_SEPOLIA": "http://t"})


def test_comma_separated_keys_give_several_signers():
    cfg = cfgmod.load({**BASE, "EVM_PRIVATE_KEY_TESTNET": f" {ANVIL_KEY_2} ,{ANVIL_KEY_3[2:]},",
                       "RPC_URL_BASE_SEPOLIA": "http://t"})
    assert cfg.networks[0].signer_addresses == [ANVIL_ADDR_2, ANVIL_ADDR_3]


def test_duplicate_keys_collapse():
    cfg = cfgmod.load({**BASE, "EVM_PRIVATE_KEY": f"{ANVIL_KEY_2},{ANVIL_KEY_2}", "RPC_URL_BASE": "http://m"})
    assert cfg.networks[0].signer_addresses == [ANVIL_ADDR_2]


def test_missing_key_for_configured_network_is_fatal():
    with pytest.raises(cfgmod.ConfigError, match="EVM_PRIVATE_KEY_TESTNET nor EVM_PRIVATE_KEY"):
        cfgmod.load({**BASE, "RPC_URL_BASE_SEPOLIA": "http://t"})


def test_invalid_evm_key_message_never_contains_the_key():
    bad = "0x" + "zz" * 32
    with pytest.raises(cfgmod.ConfigError) as exc:
        cfgmod.load({**BASE, "EVM_PRIVATE_KEY": f"{ANVIL_KEY_2},{bad}", "RPC_URL_BASE": "http://m"})
    assert "entry #2" in str(exc.value)
    assert bad not in str(exc.value) and ANVIL_KEY_2 not in str(exc.value)


def test_private_keys_and_rpc_urls_not_in_repr():
    cfg = cfgmod.load({**BASE, "EVM_PRIVATE_KEY": ANVIL_KEY_2, "RPC_URL_BASE": "http://secret-api-key@m",
                       "SOLANA_PRIVATE_KEY": SOLANA_KEYPAIR, "RPC_URL_SOLANA": "http://s"})
    text = repr(cfg)
    assert ANVIL_KEY_2[2:] not in text
    assert SOLANA_KEYPAIR not in text
    assert "secret-api-key" not in text


def test_solana_base58_keypair_gives_fee_payer():
    cfg = cfgmod.load({**BASE, "SOLANA_PRIVATE_KEY_TESTNET": SOLANA_KEYPAIR, "RPC_URL_SOLANA_DEVNET": "http://d"})
    (net,) = cfg.networks
    assert net.spec.caip2 == nets.SOLANA_DEVNET_CAIP2
    assert net.solana_key.pubkey == SOLANA_PUBKEY
    assert net.signer_addresses == [SOLANA_PUBKEY]


def test_solana_fallback_and_mainnet_variable():
    cfg = cfgmod.load({**BASE, "SOLANA_PRIVATE_KEY": SOLANA_KEYPAIR, "RPC_URL_SOLANA": "http://m",
                       "RPC_URL_SOLANA_DEVNET": "http://d"})
    assert {n.key_source for n in cfg.networks} == {"SOLANA_PRIVATE_KEY"}
    with pytest.raises(cfgmod.ConfigError, match="SOLANA_PRIVATE_KEY_MAINNET"):
        cfgmod.load({**BASE, "SOLANA_PRIVATE_KEY_MAINNET": "", "RPC_URL_SOLANA": "http://m"})


@pytest.mark.parametrize(
    "value, message",
    [
        ("not-base58-0OIl", "not valid base58"),
        ("3yZe7d", "decodes to"),  # too short
        (SOLANA_KEYPAIR[:-1] + ("2" if SOLANA_KEYPAIR[-1] != "2" else "3"), "does not match|not a valid|decodes to"),
    ],
)
def test_solana_bad_keys(value, message):
    with pytest.raises(cfgmod.ConfigError, match=message):
        cfgmod.load({**BASE, "SOLANA_PRIVATE_KEY": value, "RPC_URL_SOLANA_DEVNET": "http://d"})


def test_b58decode_roundtrip_with_leading_zeros():
    assert cfgmod.b58decode("1112") == b"\x00\x00\x00\x01"
    assert cfgmod.b58decode("") == b""


def test_defaults_port_host_version_loglevel(monkeypatch, tmp_path):
    cfg = cfgmod.load({**BASE, "FACILITATOR_VERSION_FILE": str(tmp_path / "none")})
    assert (cfg.host, cfg.port, cfg.version, cfg.log_level) == ("127.0.0.1", 8080, "dev", "INFO")


def test_version_file_wins_over_env(tmp_path):
    vf = tmp_path / "VERSION"
    vf.write_text("1.92.0\n")
    cfg = cfgmod.load({**BASE, "FACILITATOR_VERSION_FILE": str(vf), "FACILITATOR_VERSION": "9.9.9"})
    assert cfg.version == "1.92.0"
    cfg = cfgmod.load({**BASE, "FACILITATOR_VERSION_FILE": str(tmp_path / "x"), "FACILITATOR_VERSION": "1.93.0"})
    assert cfg.version == "1.93.0"


@pytest.mark.parametrize(
    "env, level",
    [
        ({"RUST_LOG": "info"}, "INFO"),
        ({"RUST_LOG": "x402_rs=debug,warn"}, "WARNING"),
        ({"RUST_LOG": "debug"}, "DEBUG"),
        ({"LOG_LEVEL": "error", "RUST_LOG": "debug"}, "ERROR"),
    ],
)
def test_log_level(env, level):
    assert cfgmod.load({**BASE, **env}).log_level == level


def test_bad_port_is_fatal():
    with pytest.raises(cfgmod.ConfigError, match="PORT"):
        cfgmod.load({**BASE, "PORT": "http"})


def test_network_table_covers_required_networks():
    expected = {
        "base": 8453, "base-sepolia": 84532, "avalanche": 43114, "avalanche-fuji": 43113,
        "polygon": 137, "polygon-amoy": 80002, "optimism": 10, "optimism-sepolia": 11155420,
        "celo": 42220, "celo-sepolia": 11142220, "hyperevm": 999, "hyperevm-testnet": 998,
    }
    for name, chain_id in expected.items():
        spec = nets.BY_NAME[name]
        assert spec.chain_id == chain_id and spec.caip2 == f"eip155:{chain_id}"
        assert spec.testnet == (name not in ("base", "avalanche", "polygon", "optimism", "celo", "hyperevm"))
        suffix = name.upper().replace("-", "_")
        assert spec.rpc_env == f"RPC_URL_{suffix}"
    assert nets.BY_NAME["solana"].caip2 == "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"
    assert nets.BY_NAME["solana-devnet"].rpc_env == "RPC_URL_SOLANA_DEVNET"
    assert nets.BY_NAME["solana-devnet"].testnet


def test_solana_caip2_ids_match_the_sdk():
    from x402.mechanisms.svm import constants as svm

    assert nets.SOLANA_MAINNET_CAIP2 == svm.SOLANA_MAINNET_CAIP2
    assert nets.SOLANA_DEVNET_CAIP2 == svm.SOLANA_DEVNET_CAIP2
