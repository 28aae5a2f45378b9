"""rotate_wallet.yml end to end on the local stack, in a private world.

- A private moto (seeded by playbooks/local_stack_seed.yml) whose live wallet
  secrets (the ones the seeded task definition reads by valueFrom) are replaced
  by fresh random keys: the canaries of the leak scan.
- Two private anvil chains (chain ids 84532 / 43113, free ports) with the
  project token deployed by stack/chain/deploy.py: the shared chains are left
  alone, and every wei on these chains can be accounted for.
- The deploy role's local runtime runs the facilitator from the registered task
  definition under its own container name on a free port.

Every run is -vvv; after every run the captured output, the audit and state
dirs and every temp file are scanned for the old keys AND the new keys (read
from moto after the run).
"""
from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

import docker
import pytest

from helpers.leakscan import LeakScanner
from helpers.moto import MotoServer
from helpers.moto import free_port
from helpers.playbook import REPO
from helpers.playbook import run_playbook


REGISTRY = "127.0.0.1:5001"
IMAGE = f"{REGISTRY}/facilitator:1.0.0"
FAMILY = "facilitator-production"
EVM_SECRET = "karmacadabra-facilitator-testnet"
SOL_SECRET = "karmacadabra-solana-keypair"
CHAINS = {"base-sepolia": 84532, "avalanche-fuji": 43113}
ANVIL = REPO / "stack" / "chain" / "node_modules" / ".bin" / "anvil"
START_ETH = 50


# ---------------------------------------------------------------- world


def _rpc(url, method, *params):
    req = urllib.request.Request(url, data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                                                       "params": list(params)}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        out = json.load(r)
    if "error" in out:
        raise RuntimeError(out["error"])
    return out["result"]


def _docker():
    try:
        client = docker.from_env()
        client.ping()
        return client
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"Docker engine not reachable: {e}")


def _image(client):
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        if not list((REPO / "facilitator" / ".wheels").glob("*.whl")):
            pytest.skip(f"{IMAGE} absent and facilitator/.wheels empty: run facilitator/build-wheels.sh")
        subprocess.run(["docker", "build", "-q", "--network", "host", "--build-arg", "FACILITATOR_VERSION=1.0.0",
                        "-t", IMAGE, str(REPO / "facilitator")], check=True, capture_output=True)


class Anvils:
    def __init__(self, tmp):
        self.tmp = tmp
        self.procs, self.urls = [], {}

    def start(self):
        if not ANVIL.exists():
            pytest.skip("anvil not installed (stack/chain/chains.sh install)")
        for name, cid in CHAINS.items():
            port = free_port()
            log = open(self.tmp / f"anvil-{name}.log", "wb")
            self.procs.append(subprocess.Popen([str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--chain-id",
                                                str(cid), "--silent"], stdout=log, stderr=subprocess.STDOUT))
            self.urls[name] = f"http://127.0.0.1:{port}"
        for name, url in self.urls.items():
            deadline = time.time() + 30
            while True:
                try:
                    assert int(_rpc(url, "eth_chainId"), 16) == CHAINS[name]
                    break
                except Exception:  # noqa: BLE001
                    if time.time() > deadline:
                        self.stop()
                        log = (self.tmp / f"anvil-{name}.log").read_text()[-1000:]
                        pytest.fail(f"private anvil for {name} did not start within 30 s (anvil is installed):\n{log}")
                    time.sleep(0.3)
        return self

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=10)


def _evm_wallet():
    from eth_account import Account

    acct = Account.create()
    return {"private_key": "0x" + bytes(acct.key).hex(), "address": acct.address}


def _sol_wallet():
    from solders.keypair import Keypair

    kp = Keypair()
    return {"private_key": str(kp), "address": str(kp.pubkey())}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    client = _docker()
    _image(client)
    tmp = tmp_path_factory.mktemp("rotate-world")
    anvils = Anvils(tmp).start()
    moto = MotoServer(tmp / "moto.log").start()
    name = None
    try:
        # the project token on the private chains (chain.json + payer key for the payment smoke test)
        cfg = json.loads((REPO / "stack/chain/chains.json").read_text())
        for n in cfg["networks"]:
            n["port"] = int(anvils.urls[n["name"]].rsplit(":", 1)[1])
        (tmp / "chains.json").write_text(json.dumps(cfg))
        dep = subprocess.run([str(REPO / ".venv/bin/python"), str(REPO / "stack/chain/deploy.py"), "--config",
                              str(tmp / "chains.json"), "--output", str(tmp / "chain.json"), "--payer-key-file",
                              str(tmp / "payer.key"), "--no-compile"], capture_output=True, text=True)
        if dep.returncode != 0:
            # A failed deploy is a failure of the rotation tests, never a skip.
            pytest.fail(f"token deploy on the private chains failed:\n{dep.stdout[-1000:]}\n{dep.stderr[-2000:]}")
        seed = run_playbook("playbooks/local_stack_seed.yml", tmp, extra_vars={"aws_endpoint_url": moto.endpoint},
                            verbosity=None)
        if seed.rc != 0:
            pytest.fail("seeding the private moto failed:\n" + seed.tail())
        # Fresh live wallets (canaries) in the secrets the seeded task definition reads.
        scanner = LeakScanner()
        src = moto.client("secretsmanager", "us-east-1")
        evm, sol = _evm_wallet(), _sol_wallet()
        scanner.add("old evm key", evm["private_key"])
        scanner.add("old evm key (no 0x)", evm["private_key"][2:])
        scanner.add("old solana key", sol["private_key"])
        src.put_secret_value(SecretId=EVM_SECRET, SecretString=json.dumps(evm))
        src.put_secret_value(SecretId=SOL_SECRET, SecretString=json.dumps(sol))
        dst = moto.client("secretsmanager", "us-east-2")
        dst.put_secret_value(SecretId="facilitator-rpc-testnet", SecretString=json.dumps(
            {**anvils.urls, "solana-devnet": "http://127.0.0.1:8899"}))
        for url in anvils.urls.values():
            _rpc(url, "anvil_setBalance", evm["address"], hex(START_ETH * 10**18))
        port = free_port()
        name = f"facilitator-rotate-test-{port}"
        base = f"http://127.0.0.1:{port}"
        networks = {
            "base-sepolia": {"kind": "evm", "chain_id": 84532, "rpc_url": anvils.urls["base-sepolia"],
                             "symbol": "ETH", "target": "1", "floor": "0.1"},
            "avalanche-fuji": {"kind": "evm", "chain_id": 43113, "rpc_url": anvils.urls["avalanche-fuji"],
                               "symbol": "AVAX", "target": "5", "floor": "1"},
            "solana-devnet": {"kind": "solana", "symbol": "SOL", "target": "2", "floor": "0.5", "transfers": False,
                              "transfers_skip_reason": "no Solana chain on the local stack"},
        }
        w = dict(moto=moto, anvils=anvils, src=src, scanner=scanner, tmp=tmp, name=name, url=base,
                 evm_old=evm["address"], sol_old=sol["address"], docker=client,
                 vars={"aws_endpoint_url": moto.endpoint, "ecs_deploy_local_runtime_name": name,
                       "ecs_deploy_local_runtime_port": port, "ecs_deploy_base_url": base,
                       "facilitator_base_url": base, "ecs_deploy_local_runtime_replace": [],
                       "ecs_deploy_local_runtime_health_timeout": 45, "wallet_rotation_networks": networks,
                       "wallet_rotation_payment_smoke": False,
                       "facilitator_verify_chain_state_file": str(tmp / "chain.json"),
                       "facilitator_verify_payer_key_file": str(tmp / "payer.key")})
        # The facilitator runs with the old wallet before the rotation (as in production).
        up = run_playbook("deploy.yml", tmp, extra_vars={**w["vars"], "image": IMAGE, "force": True,
                                                          "facilitator_verify_checks": ["health"]},
                          scanner=scanner)
        if up.rc != 0:
            pytest.fail("starting the facilitator in the private world failed:\n" + up.tail())
        assert evm["address"] in _supported_signers(base)
        yield w
    finally:
        if name:
            try:
                client.containers.get(name).remove(force=True)
            except docker.errors.NotFound:
                pass
        moto.stop()
        anvils.stop()


# ---------------------------------------------------------------- helpers


def _supported_signers(base):
    with urllib.request.urlopen(base + "/supported", timeout=5) as r:
        doc = json.load(r)
    out = set()
    for k, v in (doc.get("signers") or {}).items():
        out.update(v if isinstance(v, list) else [v])
    for kind in doc.get("kinds") or []:
        fp = (kind.get("extra") or {}).get("feePayer")
        if fp:
            out.add(fp)
    return out


def versions(world, secret):
    return world["src"].describe_secret(SecretId=secret)["VersionIdsToStages"]


def wallet_at(world, secret, stage):
    return json.loads(world["src"].get_secret_value(SecretId=secret, VersionStage=stage)["SecretString"])


def all_wallet_keys(world):
    keys = []
    for secret in (EVM_SECRET, SOL_SECRET):
        for vid in versions(world, secret):
            doc = json.loads(world["src"].get_secret_value(SecretId=secret, VersionId=vid)["SecretString"])
            keys.append((f"{secret} {vid[:8]}", doc["private_key"]))
            if doc["private_key"].startswith("0x"):
                keys.append((f"{secret} {vid[:8]} (no 0x)", doc["private_key"][2:]))
    return keys


def scan_everything(world, run):
    """Old AND new keys (read from moto now) must appear nowhere the run wrote."""
    scanner = LeakScanner()
    for label, key in all_wallet_keys(world):
        scanner.add(label, key)
    scanner.assert_clean(texts={"stdout": run.stdout, "stderr": run.stderr},
                         trees=[Path(d) for d in run.dirs.values()])


def balance(world, net, addr):
    return int(_rpc(world["anvils"].urls[net], "eth_getBalance", addr, "latest"), 16)


def gas_spent_by(world, net, addresses):
    """Fees paid by `addresses` on a private chain, from every block's receipts."""
    url = world["anvils"].urls[net]
    addrs = {a.lower() for a in addresses}
    total, count = 0, {}
    head = int(_rpc(url, "eth_blockNumber"), 16)
    for n in range(head + 1):
        blk = _rpc(url, "eth_getBlockByNumber", hex(n), True)
        for tx in blk["transactions"]:
            if tx["from"].lower() in addrs:
                rec = _rpc(url, "eth_getTransactionReceipt", tx["hash"])
                total += int(rec["gasUsed"], 16) * int(rec["effectiveGasPrice"], 16)
                key = (tx["from"].lower(), (tx.get("to") or "").lower())
                count[key] = count.get(key, 0) + 1
    return total, count


def rotate(world, tmp_path, dirs=None, args=(), **extra):
    run = run_playbook("rotate_wallet.yml", tmp_path, extra_vars={**world["vars"], **extra}, args=args,
                       scanner=world["scanner"], dirs=dirs)
    scan_everything(world, run)
    # for a human reading a failure (already leak-scanned, outside the scanned dirs)
    (Path(tmp_path) / f"rotate-{len(list(Path(tmp_path).glob('rotate-*.log')))}.log").write_text(run.output)
    return run


def flat(text):
    return " ".join(text.split())


def stages_of(world, secret):
    out = {}
    for vid, st in versions(world, secret).items():
        for s in st:
            out[s] = vid
    return out


# ---------------------------------------------------------------- tests


def test_check_mode_is_preflight_and_plan(world, tmp_path):
    before = versions(world, EVM_SECRET)
    run = rotate(world, tmp_path, args=["--check"])
    assert run.rc == 0, run.tail()
    out = flat(run.stdout)
    assert "check mode: nothing was changed" in out
    assert f"old {world['evm_old']}" in out and "phase idle" in out
    assert "base-sepolia: to_fund" in out and "fund 1 ETH" in out
    assert versions(world, EVM_SECRET) == before
    assert run.audit_records("wallet_rotation.jsonl") == []


def test_bad_input_fails_in_one_line(world, tmp_path):
    run = rotate(world, tmp_path, wallet="bitcoin")
    assert run.rc != 0 and run.recap["changed"] == 0
    assert "rotate_wallet: -e wallet=bitcoin is not one of evm, solana, all" in flat(run.output)


def test_dependency_needs_ack(world, tmp_path):
    dep = [{"name": "settlement-router", "network": "base-sepolia", "bound_address": world["evm_old"],
            "note": "operator role"}]
    run = rotate(world, tmp_path, wallet_rotation_dependencies=dep)
    assert run.rc != 0
    assert "settlement-router" in flat(run.output) and "-e ack_dependencies=yes" in flat(run.output)
    assert "AWSPENDING" not in json.dumps(versions(world, EVM_SECRET))


def test_refuses_naming_the_network_when_old_cannot_fund(world, tmp_path):
    nets = json.loads(json.dumps(world["vars"]["wallet_rotation_networks"]))
    nets["avalanche-fuji"]["target"] = str(START_ETH * 10)
    run = rotate(world, tmp_path, wallet_rotation_networks=nets)
    assert run.rc != 0
    out = flat(run.output)
    assert "REFUSED" in out and "avalanche-fuji: the old wallet" in out and "cannot fund the new one" in out
    assert "AWSPENDING" not in json.dumps(versions(world, EVM_SECRET))


def test_failed_proof_rolls_back_to_the_old_key(world, tmp_path):
    """The facilitator the proof looks at keeps showing the old signer (an ALB
    still routing to old tasks): roll back, redeploy, prove the old signer."""
    old_evm = world["evm_old"]

    class Stale(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps({"kinds": [], "extensions": [], "signers": {"eip155:*": [old_evm]}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Stale)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        run = rotate(world, tmp_path, wallet="evm", wallet_rotation_log_source="none",
                     wallet_rotation_base_url=f"http://127.0.0.1:{srv.server_port}", wallet_rotation_prove_timeout=6)
    finally:
        srv.shutdown()
    assert run.rc != 0
    out = flat(run.output)
    assert "ROTATION ROLLED BACK" in out and "The old wallet is live again" in out, run.tail(80)
    st = stages_of(world, EVM_SECRET)
    assert wallet_at(world, EVM_SECRET, "AWSCURRENT")["address"] == old_evm
    pending = wallet_at(world, EVM_SECRET, "AWSPENDING")["address"]
    assert st["AWSPENDING"] != st["AWSCURRENT"]
    # the real facilitator serves the old key again, nothing was swept
    live = _supported_signers(world["url"])
    assert old_evm in live and pending not in live
    for net in CHAINS:
        assert balance(world, net, pending) > 0
        assert balance(world, net, old_evm) > 10**18
    steps = [r["step"] for r in run.audit_records("wallet_rotation.jsonl")]
    assert "rollback" in steps and "sweep" not in steps
    world["pending_after_rollback"] = pending


def test_full_rotation_evm_and_solana_then_a_payment_settles(world, tmp_path):
    evm_old = wallet_at(world, EVM_SECRET, "AWSCURRENT")["address"]
    sol_old = wallet_at(world, SOL_SECRET, "AWSCURRENT")["address"]
    run = rotate(world, tmp_path, wallet="all", wallet_rotation_payment_smoke=True)
    assert run.rc == 0, run.tail()
    out = flat(run.stdout)
    evm_new = wallet_at(world, EVM_SECRET, "AWSCURRENT")["address"]
    sol_new = wallet_at(world, SOL_SECRET, "AWSCURRENT")["address"]
    assert evm_new != evm_old and sol_new != sol_old
    assert wallet_at(world, EVM_SECRET, "AWSPREVIOUS")["address"] == evm_old
    assert wallet_at(world, SOL_SECRET, "AWSPREVIOUS")["address"] == sol_old
    live = _supported_signers(world["url"])
    assert evm_new in live and sol_new in live and evm_old not in live and sol_old not in live
    assert f"OK evm-testnet: {evm_new} is the live signer" in out
    assert f"OK solana-testnet: {sol_new} is the live feePayer" in out
    assert "settlement" in out and f"sent by {evm_new}" in out
    for net in CHAINS:
        assert balance(world, net, evm_old) == 0
    assert "solana-devnet: no transfers (no Solana chain on the local stack)" in out
    recs = run.audit_records("wallet_rotation.jsonl")
    assert [r["step"] for r in recs] == ["start", "create", "fund", "promote", "redeploy", "prove", "sweep", "summary",
                                         "end"]
    assert recs[-1]["data"]["result"] == "SUCCEEDED"
    # a rerun right after refuses to rotate a second time, also from another laptop (empty state dir): the
    # guard is a tag on the secret
    again = rotate(world, tmp_path, wallet="all")
    assert again.rc != 0 and "-e rotate_again=yes" in flat(again.output)
    assert wallet_at(world, EVM_SECRET, "AWSCURRENT")["address"] == evm_new


# ---------------------------------------------------------------- issue 18


# The issue-18 tests redeploy several times in a row; on a loaded machine (2 cores shared by several test
# runs) a container can need more than the fixture's 45 s to answer /health.
SLOW_MACHINE = {"ecs_deploy_local_runtime_health_timeout": 150}


class _StaleSupported:
    """A /supported that keeps showing `signer` (an ALB still routing to old tasks): the proof fails."""

    def __init__(self, signer):
        body = json.dumps({"kinds": [], "extensions": [], "signers": {"eip155:*": [signer]}}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.srv.server_port}"

    def __enter__(self):
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.srv.shutdown()


def test_issue18_2_rollback_onto_a_swept_key(world, tmp_path):
    """(2) A rotation killed during its sweep, resumed, whose proof then fails: before issue 18 it moved
    AWSCURRENT back onto the old key it had already (partly) emptied. Now: forward only, a clear message, no
    AWSCURRENT move back; the same command afterwards finishes the rotation forward."""
    from helpers.crash import run_crashing

    old_evm = wallet_at(world, EVM_SECRET, "AWSCURRENT")["address"]
    label = world["src"].describe_secret(SecretId=EVM_SECRET)["ARN"].split(":")[6]
    ev = {**world["vars"], "wallet": "evm", "rotate_again": "yes", **SLOW_MACHINE}
    killed = run_crashing("rotate_wallet.yml", tmp_path, extra_vars=ev, at_label=f"wallet_transfer sweep {label}")
    scan_everything(world, killed)
    assert killed.killed, killed.tail(60)
    new_evm = wallet_at(world, EVM_SECRET, "AWSCURRENT")["address"]
    assert new_evm != old_evm and wallet_at(world, EVM_SECRET, "AWSPREVIOUS")["address"] == old_evm
    swept = [n for n in CHAINS if balance(world, n, old_evm) == 0]
    assert swept, "the killed run swept no network"

    with _StaleSupported(old_evm) as stale:
        run = rotate(world, tmp_path, wallet="evm", rotate_again="yes", wallet_rotation_log_source="none",
                     wallet_rotation_base_url=stale.url, wallet_rotation_prove_timeout=6, **SLOW_MACHINE)
    assert run.rc != 0
    out = flat(run.output)
    assert "ROTATION NOT ROLLED BACK (forward only)" in out, run.tail(80)
    assert "ROTATION ROLLED BACK:" not in out
    assert f"holds nothing (or only dust) on {', '.join(sorted(swept))}" in out or "sweep of the old wallet" in out
    assert "Do NOT move AWSCURRENT back by hand" in out and "rerun the same command" in out
    # no AWSCURRENT move back: the new key stays live
    assert wallet_at(world, EVM_SECRET, "AWSCURRENT")["address"] == new_evm
    assert new_evm in _supported_signers(world["url"])
    steps = [r["step"] for r in run.audit_records("wallet_rotation.jsonl")]
    assert "rollback_refused" in steps and "rollback" not in steps

    # the same command, the cause gone: forward to the end
    done = rotate(world, tmp_path, wallet="evm", rotate_again="yes", **SLOW_MACHINE)
    assert done.rc == 0, done.tail(80)
    assert wallet_at(world, EVM_SECRET, "AWSCURRENT")["address"] == new_evm
    for net in CHAINS:
        assert balance(world, net, old_evm) == 0


def test_issue18_9_sweep_destination_shown_checked_typed_back(world, tmp_path):
    """(9) The plan shows where the whole balance goes; a mixed-case EVM treasury with a wrong EIP-55 checksum is
    a one-line refusal; production needs the treasury typed back (-e confirm=yes is not enough). Nothing changes
    before that."""
    treasury = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    before = versions(world, EVM_SECRET)
    old = wallet_at(world, EVM_SECRET, "AWSCURRENT")["address"]
    run = rotate(world, tmp_path, args=["--check"], wallet="evm", treasury_evm=treasury, rotate_again="yes")
    assert run.rc == 0, run.tail(60)
    assert (f"SWEEP evm-testnet: the whole balance of the old wallet {old} goes to {treasury} (TREASURY"
            in flat(run.stdout)), run.tail(60)

    typo = treasury[:-1] + "D"
    run = rotate(world, tmp_path, wallet="evm", treasury_evm=typo, rotate_again="yes")
    assert run.rc != 0 and run.recap["changed"] == 0
    assert f"rotate_wallet: -e treasury_evm {typo} is not a valid EIP-55 checksum address" in flat(run.output)

    prod = dict(wallet="evm", treasury_evm=treasury, rotate_again="yes", confirm="yes",
                facilitator_require_confirmation=True)
    run = rotate(world, tmp_path, **prod)
    assert run.rc != 0 and run.recap["changed"] == 0
    assert f"rotate_wallet: the sweep destination {treasury} was not typed back" in flat(run.output), run.tail(40)
    run = rotate(world, tmp_path, sweep_destination_confirm="0x" + "11" * 20, **prod)
    assert run.rc != 0 and "is not the sweep destination" in flat(run.output)
    assert versions(world, EVM_SECRET) == before
    assert run.audit_records("wallet_rotation.jsonl") == []
    # typed back: the confirmation passes (--check: nothing changes, the plan still shows the treasury)
    run = rotate(world, tmp_path, args=["--check"], sweep_destination_confirm=treasury.lower(), **prod)
    assert run.rc == 0 and f"goes to {treasury} (TREASURY" in flat(run.stdout), run.tail(40)


def test_issue18_1_rotation_during_the_cutover_drains_the_old_stack(world, tmp_path):
    """(1) The monorepo service (us-east-1; locally compose's facilitator-old, configured from the same task
    definition) still signs with the key being rotated: the sweep would drain the old side. The rotation reads the
    old service's running task definition through ECS (the inventory's wallet_rotation_other_signers) and refuses,
    naming it; once the old service is scaled to 0 it is no longer a live user."""
    ecs = world["moto"].client("ecs", "us-east-1")
    arn = world["src"].describe_secret(SecretId=EVM_SECRET)["ARN"]
    sol_arn = world["src"].describe_secret(SecretId=SOL_SECRET)["ARN"]
    ecs.create_cluster(clusterName="karmacadabra-prod")
    td = ecs.register_task_definition(family="karmacadabra-prod-facilitator", containerDefinitions=[
        {"name": "facilitator", "image": "facilitator:1.68.0", "essential": True, "memory": 2048,
         "secrets": [{"name": "EVM_PRIVATE_KEY_TESTNET", "valueFrom": f"{arn}:private_key::"},
                     {"name": "SOLANA_PRIVATE_KEY", "valueFrom": f"{sol_arn}:private_key::"}]}])["taskDefinition"]
    ecs.create_service(cluster="karmacadabra-prod", serviceName="karmacadabra-prod-facilitator",
                       taskDefinition=td["taskDefinitionArn"], desiredCount=2)
    try:
        before = versions(world, EVM_SECRET)
        old = wallet_at(world, EVM_SECRET, "AWSCURRENT")["address"]
        run = rotate(world, tmp_path, wallet="evm", rotate_again="yes")
        assert run.rc != 0 and run.recap["changed"] == 0
        out = flat(run.output)
        assert ("REFUSED evm-testnet: monorepo facilitator (karmacadabra-prod/karmacadabra-prod-facilitator in "
                "us-east-1: ACTIVE, desired 2") in out, run.tail(60)
        assert f"still signs with {old}" in out and "Finish the cutover and decommission monorepo facilitator" in out
        assert versions(world, EVM_SECRET) == before
        assert run.audit_records("wallet_rotation.jsonl") == []

        ecs.update_service(cluster="karmacadabra-prod", service="karmacadabra-prod-facilitator", desiredCount=0)
        run = rotate(world, tmp_path, args=["--check"], wallet="evm", rotate_again="yes")
        assert run.rc == 0, run.tail(60)
        assert "OTHER SIGNER monorepo facilitator (karmacadabra-prod/karmacadabra-prod-facilitator in us-east-1): not live" \
            in flat(run.stdout)
    finally:
        ecs.delete_service(cluster="karmacadabra-prod", service="karmacadabra-prod-facilitator", force=True)


def test_issue18_10_funding_from_the_live_signer(world, tmp_path):
    """(10) With a funding wallet configured (a Secrets Manager secret), the new wallet is funded from it, never
    from the old wallet the running facilitator signs with; the plan says which."""
    from eth_account import Account

    funder = Account.create()
    doc = {"private_key": "0x" + bytes(funder.key).hex(), "address": funder.address}
    world["scanner"].add("funding evm key", doc["private_key"])
    dst = world["moto"].client("secretsmanager", "us-east-2")
    try:
        dst.create_secret(Name="facilitator-ops-funding-evm", SecretString=json.dumps(doc))
    except dst.exceptions.ResourceExistsException:
        dst.put_secret_value(SecretId="facilitator-ops-funding-evm", SecretString=json.dumps(doc))
    for url in world["anvils"].urls.values():
        _rpc(url, "anvil_setBalance", funder.address, hex(100 * 10**18))
    # a fresh rotation: an AWSPENDING an earlier failed test left (already funded) is dropped first
    st = stages_of(world, EVM_SECRET)
    if st.get("AWSPENDING") and st["AWSPENDING"] != st["AWSCURRENT"]:
        world["src"].update_secret_version_stage(SecretId=EVM_SECRET, VersionStage="AWSPENDING",
                                                 RemoveFromVersionId=st["AWSPENDING"])
    old = wallet_at(world, EVM_SECRET, "AWSCURRENT")["address"]
    heads = {n: int(_rpc(world["anvils"].urls[n], "eth_blockNumber"), 16) for n in CHAINS}
    funding = {"evm": "facilitator-ops-funding-evm", "solana": ""}
    run = rotate(world, tmp_path, wallet="evm", rotate_again="yes", wallet_rotation_funding_wallets=funding,
                 **SLOW_MACHINE)
    scanner = LeakScanner()
    scanner.add("funding evm key", doc["private_key"])
    scanner.add("funding evm key (no 0x)", doc["private_key"][2:])
    scanner.assert_clean(texts={"stdout": run.stdout, "stderr": run.stderr}, trees=[Path(d) for d in run.dirs.values()])
    assert run.rc == 0, run.tail(80)
    out = flat(run.stdout)
    assert f"FUND evm-testnet: from the funding wallet facilitator-ops-funding-evm {funder.address}" in out
    new = wallet_at(world, EVM_SECRET, "AWSCURRENT")["address"]
    assert new != old
    for net in CHAINS:
        url = world["anvils"].urls[net]
        senders_to_new = []
        for n in range(heads[net] + 1, int(_rpc(url, "eth_blockNumber"), 16) + 1):
            for tx in _rpc(url, "eth_getBlockByNumber", hex(n), True)["transactions"]:
                if (tx.get("to") or "").lower() == new.lower():
                    senders_to_new.append(tx["from"].lower())
        # funded by the funding wallet; the only transfer from the old wallet to the new one is the sweep
        assert senders_to_new.count(funder.address.lower()) == 1, (net, senders_to_new)
        assert senders_to_new.count(old.lower()) == 1, (net, senders_to_new)
        assert balance(world, net, old) == 0
