"""verify.yml against real reference facilitators started as processes:
a healthy one passes; one started without a network's RPC URL, or with its
branding removed, fails naming the network or the branding; one with another key
than the service's fails naming the signer.

The expected signers come, as in every environment, from the ECS service's wallet
secrets: a private moto seeded by playbooks/local_stack_seed.yml (anvil account 2,
the monorepo Solana keypair), so the test never depends on the shared stack's world."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ansible.module_utils.facilitator_ops.local_stack.seed import evm_wallet
from ansible.module_utils.facilitator_ops.local_stack.seed import solana_wallet
from helpers.moto import MotoServer
from helpers.playbook import run_playbook

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "facilitator" / "app" / "x402_reference_facilitator"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(port):
    return {
        "PATH": os.environ["PATH"],
        "SIGNER_TYPE": "private-key",
        "EVM_PRIVATE_KEY_TESTNET": evm_wallet(2)["private_key"],
        "SOLANA_PRIVATE_KEY_TESTNET": solana_wallet("monorepo-testnet")["private_key"],
        "RPC_URL_BASE_SEPOLIA": "http://127.0.0.1:8545",
        "RPC_URL_AVALANCHE_FUJI": "http://127.0.0.1:8546",
        "RPC_URL_SOLANA_DEVNET": "http://127.0.0.1:8899",
        "FACILITATOR_VERSION": "3.1.4",
        "PORT": str(port),
        "BIND_HOST": "127.0.0.1",
    }


@pytest.fixture
def start_facilitator(tmp_path):
    procs = []

    def start(env_changes=None, drop=(), package_dir=None):
        port = free_port()
        env = base_env(port)
        for k in drop:
            env.pop(k, None)
        env.update(env_changes or {})
        if package_dir:
            env["PYTHONPATH"] = str(package_dir)
        log = open(tmp_path / f"fac-{port}.log", "w")
        p = subprocess.Popen([sys.executable, "-m", "x402_reference_facilitator"], env=env, stdout=log,
                             stderr=subprocess.STDOUT, cwd=tmp_path)
        procs.append(p)
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/health", timeout=1)
                return url
            except OSError:
                if p.poll() is not None:
                    raise RuntimeError((tmp_path / f"fac-{port}.log").read_text())
                time.sleep(0.1)
        raise RuntimeError("facilitator did not start")

    yield start
    for p in procs:
        p.terminate()
        p.wait(10)


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    tmp = tmp_path_factory.mktemp("seed")
    seed = run_playbook("playbooks/local_stack_seed.yml", tmp, extra_vars={"aws_endpoint_url": server.endpoint},
                        verbosity=None, env={"FACILITATOR_OPS_STATE": str(tmp)})
    assert seed.rc == 0, seed.tail()
    global MOTO_ENDPOINT
    MOTO_ENDPOINT = server.endpoint
    yield server
    server.stop()


MOTO_ENDPOINT = None


@pytest.fixture(autouse=True)
def _world(moto):
    return moto


def verify(url, *extra):
    cmd = [str(REPO / ".venv" / "bin" / "ansible-playbook") if (REPO / ".venv").exists() else "ansible-playbook",
           "verify.yml", "-e", f"facilitator_verify_base_url={url}", "-e", "facilitator_verify_expected_version=3.1.4",
           "-e", f"aws_endpoint_url={MOTO_ENDPOINT}", *extra]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_healthy_facilitator_passes_every_check(start_facilitator):
    url = start_facilitator()
    r = verify(url, "-e", "facilitator_verify_load_enabled=true")
    assert r.returncode == 0, r.stdout[-3000:]
    assert "OK   networks: /supported serves the 3 expected networks" in r.stdout
    assert "OK   load:" in r.stdout


def test_missing_rpc_url_fails_naming_the_network(start_facilitator):
    url = start_facilitator(drop=["RPC_URL_AVALANCHE_FUJI"])
    # /health stays 200 (production behaviour): only the /supported diff catches it.
    assert urllib.request.urlopen(url + "/health").status == 200
    r = verify(url)
    assert r.returncode != 0
    assert "/supported networks differ: missing: avalanche-fuji" in r.stdout


def test_lost_branding_fails_naming_the_branding(start_facilitator, tmp_path):
    pkg = tmp_path / "pkg"
    shutil.copytree(PKG, pkg / PKG.name, ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / PKG.name / "static" / "index.html").write_text("Hello, world!\n")
    url = start_facilitator(package_dir=pkg)
    r = verify(url)
    assert r.returncode != 0
    assert "branding lost: / does not contain 'Ultravioleta DAO'" in r.stdout


def test_dev_version_fails(start_facilitator):
    url = start_facilitator(env_changes={"FACILITATOR_VERSION": "dev"})
    r = verify(url, "-e", "facilitator_verify_expected_version=")
    assert r.returncode != 0
    assert "built without the version argument" in r.stdout


def test_wrong_signer_fails(start_facilitator):
    url = start_facilitator(env_changes={"EVM_PRIVATE_KEY_TESTNET": evm_wallet(5)["private_key"]})
    r = verify(url)
    assert r.returncode != 0
    assert "EVM signer 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC not live" in r.stdout


def test_check_mode_runs_read_only_checks(start_facilitator):
    url = start_facilitator()
    r = verify(url, "--check")
    assert r.returncode == 0, r.stdout[-2000:]
    assert "OK   health" in r.stdout


def test_signers_come_from_the_running_service(start_facilitator, moto):
    """No pinned list: the service's wallet secrets say which keys must be live. Rotating
    the service's testnet wallet (a new AWSCURRENT) makes the old facilitator stale."""
    import json

    ok = verify(start_facilitator())
    assert ok.returncode == 0, ok.stdout[-3000:]
    sm = moto.client("secretsmanager", "us-east-1")
    name = "karmacadabra-facilitator-testnet"
    before = sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"]
    try:
        sm.put_secret_value(SecretId=name, SecretString=json.dumps({"private_key": evm_wallet(6)["private_key"]}))
        r = verify(start_facilitator())
        assert r.returncode != 0
        assert f"EVM signer {evm_wallet(6)['address']} not live" in r.stdout
        rotated = verify(start_facilitator(env_changes={"EVM_PRIVATE_KEY_TESTNET": evm_wallet(6)["private_key"]}))
        assert rotated.returncode == 0, rotated.stdout[-3000:]
    finally:
        sm.put_secret_value(SecretId=name, SecretString=before)
