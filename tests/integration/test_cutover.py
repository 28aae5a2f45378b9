"""cutover.yml on a local stack of its own: a moto server on a free port (seeded by
playbooks/local_stack_seed.yml) and two reference facilitators started as
processes (old and new endpoints).

moto is INSYNC at once and accepts a simple record beside weighted ones, so the
shape of the change batches is asserted in tests/unit/test_cutover_route53.py;
here the record sets are read back after every run.

CloudWatch data cannot be deleted from moto: the tests that inject metrics run
last in this file.
"""
from __future__ import annotations

import datetime
import http.client
import http.server
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest

from ansible.module_utils.facilitator_ops.local_stack.seed import evm_wallet
from ansible.module_utils.facilitator_ops.local_stack.seed import solana_wallet
from helpers.playbook import REPO
from helpers.playbook import run_playbook

NAME = "facilitator.ultravioletadao.xyz."
TABLE = "facilitator-ops-locks"
ALLOWED = "0, 10, 50, 100, finalize"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, proc, log, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{url} exited: {Path(log).read_text()[-2000:]}")
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


class Facilitator:
    def __init__(self, tmp):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            "PATH": os.environ["PATH"], "SIGNER_TYPE": "private-key",
            "EVM_PRIVATE_KEY_TESTNET": evm_wallet(2)["private_key"],
            "SOLANA_PRIVATE_KEY_TESTNET": solana_wallet("monorepo-testnet")["private_key"],
            "RPC_URL_BASE_SEPOLIA": "http://127.0.0.1:8545", "RPC_URL_AVALANCHE_FUJI": "http://127.0.0.1:8546",
            "RPC_URL_SOLANA_DEVNET": "http://127.0.0.1:8899", "FACILITATOR_VERSION": "1.92.0",
            "PORT": str(self.port), "BIND_HOST": "127.0.0.1",
        }
        self.log = Path(tmp) / f"facilitator-{self.port}.log"
        with open(self.log, "w") as fh:
            self.proc = subprocess.Popen([sys.executable, "-m", "x402_reference_facilitator"], env=env,
                                         stdout=fh, stderr=subprocess.STDOUT, cwd=tmp)
        wait_http(self.url + "/health", self.proc, self.log)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


class External:
    """A facilitator somebody else runs (benchmarks/bench_cutover.py --new-url): never stopped here."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def stop(self):
        pass


class Stack:
    """A moto on a free port (or `endpoint`, an AWS stand-in of your own: it is
    seeded, and its DNS and lock are reset by the tests) and two facilitator
    processes (or `new_url` as the new one)."""

    def __init__(self, tmp, endpoint=None, new_url=None):
        self.tmp = Path(tmp)
        self.moto = None
        if endpoint:
            self.endpoint = endpoint.rstrip("/")
        else:
            self.port = free_port()
            self.endpoint = f"http://127.0.0.1:{self.port}"
            moto = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
            if not moto:
                pytest.skip("moto_server is not installed")
            self.moto_log = self.tmp / "moto.log"
            with open(self.moto_log, "w") as fh:
                self.moto = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(self.port)], stdout=fh,
                                             stderr=subprocess.STDOUT)
            wait_http(self.endpoint + "/moto-api/", self.moto, self.moto_log)
        seed = subprocess.run(
            [str(Path(sys.executable).parent / "ansible-playbook"), "playbooks/local_stack_seed.yml",
             "-e", f"aws_endpoint_url={self.endpoint}"],
            cwd=REPO, capture_output=True, text=True, timeout=900,
            env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")),
        )
        if seed.returncode != 0:
            self.close()
            pytest.fail("seeding the test's moto failed:\n" + seed.stdout[-3000:])
        kw = dict(endpoint_url=self.endpoint, aws_access_key_id="testing", aws_secret_access_key="testing")
        self.r53 = boto3.client("route53", region_name="us-east-1", **kw)
        self.ddb = boto3.client("dynamodb", region_name="us-east-2", **kw)
        self.cw = boto3.client("cloudwatch", region_name="us-east-2", **kw)
        self.elb_new = boto3.client("elbv2", region_name="us-east-2", **kw)
        self.elb_old = boto3.client("elbv2", region_name="us-east-1", **kw)
        self.zone_id = self.r53.list_hosted_zones_by_name(DNSName="ultravioletadao.xyz.")["HostedZones"][0]["Id"].split("/")[-1]
        self.new_lb = self.elb_new.describe_load_balancers(Names=["facilitator-production-alb"])["LoadBalancers"][0]
        self.old_lb = self.elb_old.describe_load_balancers(Names=["karmacadabra-alb"])["LoadBalancers"][0]
        # The new ALB's target group needs healthy targets (moto reports registered targets healthy).
        tg = self.elb_new.describe_target_groups(LoadBalancerArn=self.new_lb["LoadBalancerArn"])["TargetGroups"][0]
        self.elb_new.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": "10.42.1.20", "Port": 8080}])
        self.old = Facilitator(self.tmp)
        self.new = External(new_url) if new_url else Facilitator(self.tmp)

    def close(self):
        for f in ("old", "new"):
            if hasattr(self, f):
                getattr(self, f).stop()
        if self.moto is not None:
            self.moto.terminate()
            self.moto.wait(15)

    # --- reading and resetting the world ---------------------------------------
    def records(self):
        rr = self.r53.list_resource_record_sets(HostedZoneId=self.zone_id, StartRecordName=NAME, StartRecordType="A")
        return [r for r in rr["ResourceRecordSets"] if r["Name"] == NAME and r["Type"] == "A"]

    def shape(self):
        """'simple:old', 'simple:new' or {'old': w, 'new': w}."""
        recs = self.records()
        if len(recs) == 1 and "SetIdentifier" not in recs[0]:
            dns = recs[0]["AliasTarget"]["DNSName"].lower()
            return "simple:new" if dns.startswith(self.new_lb["DNSName"].lower()) else "simple:old"
        return {r["SetIdentifier"].split("-")[1]: r["Weight"] for r in recs}

    def reset_dns(self):
        """Back to the "before" world: a fresh hosted zone with the simple alias to the old ALB.

        A fresh zone each time because moto keeps a journal of every change per zone and refuses
        a CREATE identical to an earlier one while any record of that name exists, even when the
        same batch DELETEs it first (real Route 53 accepts DELETE + CREATE in one batch)."""
        for zone in self.r53.list_hosted_zones_by_name(DNSName="ultravioletadao.xyz.")["HostedZones"]:
            zid = zone["Id"].split("/")[-1]
            rr = self.r53.list_resource_record_sets(HostedZoneId=zid)["ResourceRecordSets"]
            doomed = [r for r in rr if r["Type"] not in ("NS", "SOA")]
            if doomed:
                self.r53.change_resource_record_sets(HostedZoneId=zid, ChangeBatch={
                    "Changes": [{"Action": "DELETE", "ResourceRecordSet": r} for r in doomed]})
            self.r53.delete_hosted_zone(Id=zid)
        zone = self.r53.create_hosted_zone(Name="ultravioletadao.xyz", CallerReference=uuid.uuid4().hex)
        self.zone_id = zone["HostedZone"]["Id"].split("/")[-1]
        self.r53.change_resource_record_sets(HostedZoneId=self.zone_id, ChangeBatch={"Changes": [{
            "Action": "CREATE", "ResourceRecordSet": {
                "Name": NAME, "Type": "A", "AliasTarget": {"HostedZoneId": self.old_lb["CanonicalHostedZoneId"],
                                                         "DNSName": self.old_lb["DNSName"].lower() + ".", "EvaluateTargetHealth": True}}}]})

    def set_simple_new(self):
        """The world after finalize: a fresh zone whose simple alias points to the new ALB."""
        self.reset_dns()
        old_rec = self.records()[0]
        self.r53.change_resource_record_sets(HostedZoneId=self.zone_id, ChangeBatch={"Changes": [
            {"Action": "DELETE", "ResourceRecordSet": old_rec},
            {"Action": "CREATE", "ResourceRecordSet": {"Name": NAME, "Type": "A", "AliasTarget": {
                "HostedZoneId": self.new_lb["CanonicalHostedZoneId"], "DNSName": self.new_lb["DNSName"].lower() + ".",
                "EvaluateTargetHealth": True}}}]})

    def set_weights(self, old, new):
        self.reset_dns()
        old_rec = self.records()[0]
        mk = lambda sid, w, lb: {"Name": NAME, "Type": "A", "SetIdentifier": sid, "Weight": w, "AliasTarget": {
            "HostedZoneId": lb["CanonicalHostedZoneId"], "DNSName": lb["DNSName"].lower() + ".", "EvaluateTargetHealth": True}}
        self.r53.change_resource_record_sets(HostedZoneId=self.zone_id, ChangeBatch={"Changes": [
            {"Action": "DELETE", "ResourceRecordSet": old_rec},
            {"Action": "CREATE", "ResourceRecordSet": mk("facilitator-old", old, self.old_lb)},
            {"Action": "CREATE", "ResourceRecordSet": mk("facilitator-new", new, self.new_lb)}]})

    def lock_item(self):
        try:
            return self.ddb.get_item(TableName=TABLE, Key={"lock_id": {"S": NAME}}, ConsistentRead=True).get("Item", {})
        except self.ddb.exceptions.ResourceNotFoundException:
            return {}

    def clear_lock(self):
        try:
            self.ddb.delete_item(TableName=TABLE, Key={"lock_id": {"S": NAME}})
        except self.ddb.exceptions.ResourceNotFoundException:
            pass

    def put_5xx(self, requests, target_5xx, elb_5xx=0):
        dim = [{"Name": "LoadBalancer", "Value": self.new_lb["LoadBalancerArn"].split(":loadbalancer/")[1]}]
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cw.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[
            {"MetricName": "RequestCount", "Dimensions": dim, "Timestamp": now, "Value": requests, "Unit": "Count"},
            {"MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": dim, "Timestamp": now, "Value": target_5xx, "Unit": "Count"},
            {"MetricName": "HTTPCode_ELB_5XX_Count", "Dimensions": dim, "Timestamp": now, "Value": elb_5xx, "Unit": "Count"},
        ])

    # --- running the playbook ----------------------------------------------------
    def extra(self, stage, new_url=None, **kw):
        # This world has no users (no traffic, no metrics unless a test puts them): unlike the
        # stack (stack/alb/albd.py), so "no data" is reported here rather than failed.
        ev = {"aws_endpoint_url": self.endpoint,
              "facilitator_endpoints": {"old": self.old.url, "new": new_url or self.new.url},
              "dns_cutover_bake_seconds": 0, "dns_cutover_bake_interval_seconds": 1,
              "dns_cutover_gate_no_data": "warn"}
        if stage is not None:
            ev["stage"] = stage
        ev.update(kw)
        return ev

    def cutover(self, tmp_path, stage, args=(), new_url=None, **kw):
        return run_playbook("cutover.yml", tmp_path, extra_vars=self.extra(stage, new_url, **kw), args=args, verbosity="")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("cutover-stack"))
    yield s
    s.close()


@pytest.fixture
def world(stack):
    stack.reset_dns()
    stack.clear_lock()
    return stack


def flat(text):
    """The output with the callback's line wrapping undone."""
    return " ".join(text.split())


def one_line_error(run):
    lines = [ln for ln in run.output.splitlines() if ln.startswith("[ERROR]: Task failed: Action failed: ")]
    assert lines, run.tail()
    return lines[-1].split("Action failed: ", 1)[1]


# --- input validation ---------------------------------------------------------------

@pytest.mark.parametrize("stage", ["37", "abc", "-1", "101", "", " 10x"])
def test_bad_stage_is_refused_before_any_aws_call(world, tmp_path, stage):
    run = world.cutover(tmp_path, stage)
    assert run.rc != 0
    msg = one_line_error(run)
    assert msg.startswith(f"stage '{stage.strip().lower()}' is not allowed") and ALLOWED in msg, msg
    assert "Take the cutover lock" not in run.stdout and "route53_weighted_alias" not in run.stdout
    assert world.shape() == "simple:old" and world.lock_item() == {}


def test_missing_stage_is_refused(world, tmp_path):
    run = world.cutover(tmp_path, None)
    assert run.rc != 0 and ALLOWED in one_line_error(run)


# --- check mode -------------------------------------------------------------------------

def test_check_mode_prints_the_batch_and_sends_nothing(world, tmp_path):
    run = world.cutover(tmp_path, "10", args=["--check"])
    assert run.rc == 0, run.tail()
    out = flat(run.stdout)
    assert "DELETE facilitator.ultravioletadao.xyz. A simple -> karmacadabra-alb" in out
    assert "CREATE facilitator.ultravioletadao.xyz. A facilitator-old weight 90" in out
    assert "CREATE facilitator.ultravioletadao.xyz. A facilitator-new weight 10 -> facilitator-production-alb" in out
    assert "WOULD CHANGE (check mode)" in out
    assert world.shape() == "simple:old"
    assert "token" not in world.lock_item()
    assert run.audit_records("dns_cutover.jsonl") == []


def test_confirmation_is_asked_when_required(world, tmp_path):
    # production's setting; stdin is not a terminal here, so the answer is "no"
    run = world.cutover(tmp_path, "10", facilitator_require_confirmation=True)
    assert run.rc != 0
    flat_out = flat(run.stdout)
    assert "CREATE facilitator.ultravioletadao.xyz. A facilitator-new weight 10" in flat_out  # the prompt shows the batch
    assert one_line_error(run).startswith("Not confirmed: nothing was changed")
    assert world.shape() == "simple:old" and world.lock_item() == {}
    run = world.cutover(tmp_path, "10", facilitator_require_confirmation=True, confirm="yes")
    assert run.rc == 0, run.tail()
    assert world.shape() == {"old": 90, "new": 10}


# --- the whole cutover ---------------------------------------------------------------------

def test_simple_to_10_50_100_finalize_idempotent_at_each_stage(world, tmp_path):
    expected = {"10": {"old": 90, "new": 10}, "50": {"old": 50, "new": 50}, "100": {"old": 0, "new": 100}}
    for stage, weights in expected.items():
        run = world.cutover(tmp_path, stage, dns_cutover_bake_seconds=1)
        assert run.rc == 0, run.tail()
        assert run.recap["changed"] == 1, run.tail()
        assert world.shape() == weights
        assert "bake 1/1" in flat(run.stdout) and "-> OK" in flat(run.stdout)
        again = world.cutover(tmp_path, stage, dns_cutover_bake_seconds=1)
        assert again.rc == 0 and again.recap["changed"] == 0, again.tail()
        assert f"stage {stage}: NO CHANGE" in flat(again.stdout)
        assert "bake 1/1" not in flat(again.stdout)  # a clean bake of this stage is on record
        assert world.shape() == weights
    run = world.cutover(tmp_path, "finalize")
    assert run.rc == 0 and run.recap["changed"] == 1, run.tail()
    assert world.shape() == "simple:new"
    again = world.cutover(tmp_path, "finalize")
    assert again.rc == 0 and again.recap["changed"] == 0, again.tail()
    assert world.shape() == "simple:new"
    item = world.lock_item()
    assert "token" not in item and item["last_stage"]["S"] == "finalize"
    records = run.audit_records("dns_cutover.jsonl")
    assert records[-1]["result"] == "changed" and records[-1]["from"] == "old 0 / new 100"
    assert records[-1]["to"] == "simple alias to new" and records[-1]["who"]
    assert records[-1]["gate_before"]["readings"]["healthy_targets"] >= 1


def test_finalize_refused_without_a_clean_bake_at_100(world, tmp_path):
    world.set_weights(0, 100)  # moved by hand: no stage record
    run = world.cutover(tmp_path, "finalize")
    assert run.rc != 0
    assert "finalize needs a clean bake at stage 100 first" in one_line_error(run)
    assert world.shape() == {"old": 0, "new": 100}
    world.set_weights(50, 50)
    world.ddb.put_item(TableName=TABLE, Item={"lock_id": {"S": NAME}, "clean_bake_stage": {"S": "100"}})
    run = world.cutover(tmp_path, "finalize")
    assert run.rc != 0 and "finalize needs old 0 / new > 0, found old 50 / new 50" in one_line_error(run)
    assert world.shape() == {"old": 50, "new": 50}


def test_issue21_stage_10_after_finalize_moves_to_90_10_never_a_green_no_op(world, tmp_path):
    world.set_simple_new()
    check = world.cutover(tmp_path, "10", args=["--check"])
    assert check.rc == 0, check.tail()
    out = flat(check.stdout)
    assert "DELETE facilitator.ultravioletadao.xyz. A simple -> facilitator-production-alb" in out
    assert "CREATE facilitator.ultravioletadao.xyz. A facilitator-old weight 90 -> karmacadabra-alb" in out
    assert "CREATE facilitator.ultravioletadao.xyz. A facilitator-new weight 10" in out
    assert "WOULD CHANGE (check mode)" in out and world.shape() == "simple:new"
    run = world.cutover(tmp_path, "10")
    assert run.rc == 0 and run.recap["changed"] == 1, run.tail()
    assert "stage 10: CHANGED" in flat(run.stdout) and "NO CHANGE" not in flat(run.stdout)
    assert world.shape() == {"old": 90, "new": 10}
    rec = run.audit_records("dns_cutover.jsonl")[-1]
    assert rec["from"] == "simple alias to new" and rec["to"] == "old 90 / new 10"
    # stage 100 after finalize asks for what Route 53 already does (all traffic new): an honest no change
    world.set_simple_new()
    again = world.cutover(tmp_path, "100")
    assert again.rc == 0 and again.recap["changed"] == 0 and world.shape() == "simple:new", again.tail()


def test_stage_zero_rolls_back_without_a_gate(world, tmp_path):
    world.set_weights(50, 50)
    run = world.cutover(tmp_path, "0", new_url="http://127.0.0.1:9")  # new endpoint down: no gate for a rollback
    assert run.rc == 0, run.tail()
    assert world.shape() == {"old": 100, "new": 0}
    assert "Probe health" not in run.stdout
    again = world.cutover(tmp_path, "0")
    assert again.rc == 0 and again.recap["changed"] == 0


def test_a_bake_prints_a_line_at_least_every_30s(world, tmp_path):
    """One round reading every 45 s: while it waits, a line with the last reading at
    least every dns_cutover_progress_seconds (20 s), then the round's own line."""
    run = run_playbook("cutover.yml", tmp_path, verbosity="", stamped=True, extra_vars=world.extra(
        "10", dns_cutover_bake_seconds=45, dns_cutover_bake_interval_seconds=45))
    assert run.rc == 0, run.tail()
    start = run.stamped(r"TASK \[dns_cutover : Wait for the reading of bake round 1\]")
    waits = run.stamped(r"bake 1/1 at old 90 / new 10: next gate reading in \d+s; last reading: new weight 0%")
    done = run.stamped(r"bake 1/1 t\+\d+s of 45s at old 90 / new 10: ")
    assert start and len(waits) == 3 and done, run.tail()   # 20 + 20 + 5 s
    times = [start[0]] + waits + [done[0]]
    gaps = [round(b - a, 1) for a, b in zip(times, times[1:])]
    assert max(gaps) <= 30, gaps
    assert "next gate reading in 25s" in run.stdout and "next gate reading in 0s" in run.stdout
    assert "-> OK" in flat(run.stdout)
    assert world.shape() == {"old": 90, "new": 10}


def test_breach_during_bake_rolls_back_by_itself(world, tmp_path):
    new = Facilitator(tmp_path)
    try:
        world.set_weights(90, 10)
        stopped = {}

        def stop_new_once_at_50():
            deadline = time.time() + 240
            while time.time() < deadline:
                if world.shape() == {"old": 50, "new": 50}:
                    new.stop()
                    stopped["at"] = time.time()
                    return
                time.sleep(0.2)

        watcher = threading.Thread(target=stop_new_once_at_50, daemon=True)
        watcher.start()
        run = world.cutover(tmp_path, "50", new_url=new.url, dns_cutover_bake_seconds=60, dns_cutover_bake_interval_seconds=2)
        watcher.join(5)
    finally:
        new.stop()
    assert stopped, "the weights never reached 50/50"
    assert run.rc != 0
    msg = one_line_error(run)
    assert msg.startswith("BREACH during the bake of stage 50"), msg
    assert "gate http_probe = " in msg and "(threshold every probe check passes)" in msg
    assert "Rolled back to old 90 / new 10" in msg and "INSYNC" in msg
    assert world.shape() == {"old": 90, "new": 10}
    assert "-> BREACH: http_probe" in flat(run.stdout)
    rec = run.audit_records("dns_cutover.jsonl")[-1]
    assert rec["result"] == "rolled back" and rec["rollback"]["to"] == {"old": 90, "new": 10}
    item = world.lock_item()
    assert "token" not in item and item["last_result"]["S"] == "rolled back" and "clean_bake_stage" not in item


def token_balance(chain, owner):
    """The payer's token balance on the stack's base-sepolia chain (eth_call balanceOf)."""
    import json as _json
    net = chain["networks"]["base-sepolia"]
    data = "0x70a08231" + owner.lower().removeprefix("0x").rjust(64, "0")
    req = urllib.request.Request(net["rpc_url"], data=_json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_call",
                                 "params": [{"to": net["token"]["address"], "data": data}, "latest"]}).encode(),
                                 headers={"Content-Type": "application/json"})
    return int(_json.loads(urllib.request.urlopen(req, timeout=10).read())["result"], 16)


def test_issue18_gate_probe_verifies_a_real_signed_payment_and_never_settles(world, tmp_path):
    """The gate's probe POSTs a payment signed with the smoke test's payer to the new facilitator's /verify at
    every reading: it must be valid; it is never settled (the payer's balance does not move); the key never
    leaves the module (not in the output, the audit or the lock item)."""
    import json as _json
    state = Path(os.environ.get("FACILITATOR_OPS_STATE") or REPO / ".stack")
    if not (state / "chain.json").exists():
        pytest.skip(f"no {state}/chain.json: the stack's chains are not up")
    chain = _json.loads((state / "chain.json").read_text())
    payer = chain["networks"]["base-sepolia"]["payer"]["address"]
    key = (state / "payer.key").read_text().strip().removeprefix("0x")
    before = token_balance(chain, payer)
    run = world.cutover(tmp_path, "10", dns_cutover_bake_seconds=2, dns_cutover_bake_interval_seconds=1)
    assert run.rc == 0, run.tail()
    out = flat(run.stdout)
    assert "Probe health, version, branding, networks, signers and a signed /verify" in out
    assert "probe ok" in out and "-> OK" in out
    assert token_balance(chain, payer) == before  # verified, not settled
    rec = run.audit_records("dns_cutover.jsonl")[-1]
    assert rec["gate_before"]["probe"] == "ok"
    assert key.lower() not in run.output.lower() and key.lower() not in _json.dumps(rec).lower()
    assert key.lower() not in _json.dumps(world.lock_item()).lower()
    # a payment the facilitator must call invalid (more than the payer holds) refuses the next stage
    bad = world.cutover(tmp_path, "50", dns_cutover_probe_verify={
        "network": "base-sepolia", "amount": str(before + 1), "x402_version": 2,
        "pay_to": "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
        "payer_key_file": str(state / "payer.key"), "chain_state_file": str(state / "chain.json")})
    assert bad.rc != 0 and world.shape() == {"old": 90, "new": 10}, bad.tail()
    assert "gate refused stage 50 before any change: http_probe" in one_line_error(bad) and "/verify" in one_line_error(bad)


class FailingProxy:
    """Forwards every AWS call to the test's moto; once armed, refuses the calls of one service (by the
    SigV4 credential scope, e.g. `monitoring` = CloudWatch) with HTTP 403, as AWS does when a policy
    starts denying them mid-run."""

    def __init__(self, upstream, service):
        self.upstream, self.scope, self.armed, self.refused = upstream, f"/{service}/aws4_request", False, 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.armed and proxy.scope in (self.headers.get("Authorization") or ""):
                    proxy.refused += 1
                    self.send_response(403)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                host, port = proxy.upstream.split("//", 1)[1].split(":")
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def test_issue18_gate_read_error_during_the_bake_rolls_back(world, tmp_path):
    """CloudWatch refuses the gate's reads once the bake of stage 50 runs: that is a breach (gate_read),
    rolled back like any other, never a green end nor a crash that leaves 50/50 standing."""
    world.set_weights(90, 10)
    proxy = FailingProxy(world.endpoint, "monitoring")
    try:
        def arm_at_50():
            deadline = time.time() + 240
            while time.time() < deadline:
                if world.shape() == {"old": 50, "new": 50}:
                    proxy.armed = True
                    return
                time.sleep(0.2)

        watcher = threading.Thread(target=arm_at_50, daemon=True)
        watcher.start()
        run = world.cutover(tmp_path, "50", aws_endpoint_url=proxy.url, dns_cutover_bake_seconds=60,
                            dns_cutover_bake_interval_seconds=2)
        watcher.join(5)
    finally:
        proxy.close()
    assert proxy.armed and proxy.refused, "CloudWatch was never refused"
    assert run.rc != 0
    msg = one_line_error(run)
    assert msg.startswith("BREACH during the bake of stage 50"), msg
    assert "gate gate_read = " in msg and "Rolled back to old 90 / new 10" in msg, msg
    assert world.shape() == {"old": 90, "new": 10}
    rec = run.audit_records("dns_cutover.jsonl")[-1]
    assert rec["result"] == "rolled back"
    assert world.lock_item()["last_result"]["S"] == "rolled back"


def test_issue18_the_lock_is_keyed_by_the_normalised_record_name(world, tmp_path):
    """`Facilitator.UltravioletaDAO.xyz` and `facilitator.ultravioletadao.xyz.` are one name: one lock."""
    world.cutover(tmp_path, "0")  # creates the table if the tests run alone
    world.ddb.put_item(TableName=TABLE, Item={
        "lock_id": {"S": NAME}, "owner": {"S": "erin@laptop-e"}, "token": {"S": "erin"},
        "acquired_at": {"S": "2026-01-01T00:00:00Z"}, "expires_at": {"N": str(int(time.time()) + 600)}})
    try:
        run = world.cutover(tmp_path, "10", dns_cutover_record="Facilitator.UltravioletaDAO.xyz")
        assert run.rc != 0
        assert "cutover lock on facilitator.ultravioletadao.xyz. held by erin@laptop-e" in one_line_error(run), run.tail()
        assert world.shape() == "simple:old"
    finally:
        world.clear_lock()
    run = world.cutover(tmp_path, "10", dns_cutover_record="facilitator.ultravioletadao.xyz.")
    assert run.rc == 0, run.tail()
    assert world.lock_item()["last_stage"]["S"] == "10" and world.shape() == {"old": 90, "new": 10}


# --- the lock --------------------------------------------------------------------------

def test_concurrent_run_is_refused_naming_the_holder(world, tmp_path):
    results = {}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = threading.Thread(target=lambda: results.setdefault("a", world.cutover(
        tmp_path / "a", "10", dns_cutover_bake_seconds=20, dns_cutover_bake_interval_seconds=2, dns_cutover_owner="alice@laptop-a")))
    first.start()
    deadline = time.time() + 120
    while time.time() < deadline and "token" not in world.lock_item():
        time.sleep(0.2)
    assert "token" in world.lock_item(), "the first run never took the lock"
    second = world.cutover(tmp_path / "b", "50", dns_cutover_owner="bob@laptop-b")
    first.join(300)
    assert second.rc != 0
    msg = one_line_error(second)
    assert "cutover lock on facilitator.ultravioletadao.xyz. held by alice@laptop-a" in msg, msg
    assert results["a"].rc == 0, results["a"].tail()
    assert world.shape() == {"old": 90, "new": 10}  # the refused run changed nothing


def test_a_run_whose_lock_was_broken_never_writes(world, tmp_path):
    """Someone breaks the lock (break_lock=force from another laptop) while this run reads its gate: the change
    batch after the gate is fenced with the lock token, so nothing is sent."""
    broken = {}

    def break_it():
        deadline = time.time() + 120
        while time.time() < deadline:
            item = world.lock_item()
            if "token" in item:
                world.ddb.put_item(TableName=TABLE, Item=dict(item, owner={"S": "dave@laptop-d"}, token={"S": "dave"},
                                                              expires_at={"N": str(int(time.time()) + 600)}))
                broken["at"] = time.time()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=break_it, daemon=True)
    watcher.start()
    run = world.cutover(tmp_path, "10", dns_cutover_owner="alice@laptop-a")
    watcher.join(5)
    assert broken, "the run never took the lock"
    assert run.rc != 0
    msg = one_line_error(run)
    assert "NOT SENT, this run no longer holds the lock" in msg and "dave@laptop-d" in msg, msg
    assert world.shape() == "simple:old"  # nothing written
    assert world.lock_item()["owner"]["S"] == "dave@laptop-d"  # and the holder's lock is left alone


def test_stale_lock_is_broken_only_when_asked(world, tmp_path):
    world.cutover(tmp_path, "0")  # creates the table if the tests run alone
    world.ddb.put_item(TableName=TABLE, Item={
        "lock_id": {"S": NAME}, "owner": {"S": "carol@gone"}, "token": {"S": "dead"},
        "acquired_at": {"S": "2026-01-01T00:00:00Z"}, "expires_at": {"N": str(int(time.time()) - 60)}})
    run = world.cutover(tmp_path, "10")
    assert run.rc != 0 and "carol@gone" in one_line_error(run) and "break_lock=yes" in one_line_error(run)
    assert world.shape() == "simple:old"
    run = world.cutover(tmp_path, "10", break_lock="yes")
    assert run.rc == 0, run.tail()
    assert "broke the cutover lock of carol@gone" in flat(run.output)
    assert world.shape() == {"old": 90, "new": 10}


# --- metrics (last: moto keeps CloudWatch data) -----------------------------------------

def test_zy_metric_breach_during_bake_rolls_back_to_zero_when_configured(world, tmp_path):
    world.set_weights(90, 10)
    injected = {}

    def inject_at_50():  # 5XX show up only once the new weights are live
        deadline = time.time() + 240
        while time.time() < deadline:
            if world.shape() == {"old": 50, "new": 50}:
                world.put_5xx(requests=100, target_5xx=30)
                injected["at"] = time.time()
                return
            time.sleep(0.2)

    watcher = threading.Thread(target=inject_at_50, daemon=True)
    watcher.start()
    run = world.cutover(tmp_path, "50", dns_cutover_bake_seconds=60, dns_cutover_bake_interval_seconds=2,
                        dns_cutover_rollback_to="zero")
    watcher.join(5)
    assert injected, "the weights never reached 50/50"
    assert run.rc != 0
    msg = one_line_error(run)
    # 30 of the 100 injected requests, less the gate's own probe requests in that minute (issue 18 #7)
    rate = re.search(r"gate 5xx_rate = (0\.\d+) \(threshold <= 1\.00% \(budget 5 errors\)\)", msg)
    assert rate and 0.3 <= float(rate.group(1)) < 0.4, msg
    assert "Rolled back to old 100 / new 0" in msg
    assert world.shape() == {"old": 100, "new": 0}


def test_zz_injected_5xx_fail_the_gate_before_any_change(world, tmp_path):
    world.put_5xx(requests=200, target_5xx=12, elb_5xx=8)
    run = world.cutover(tmp_path, "10")
    assert run.rc != 0
    msg = one_line_error(run)
    # (the 5XX of the test before are still in the window: moto keeps metric data)
    assert re.match(r"gate refused stage 10 before any change: 5xx_rate=\d+\.\d\d% \(\d+ 5XX / \d+ requests\) > 1\.00%", msg), msg
    assert msg.endswith("(nothing was changed)")
    assert world.shape() == "simple:old"
    rec = run.audit_records("dns_cutover.jsonl")[-1]
    assert rec["result"] == "refused" and rec["gate_before"]["readings"]["rate_5xx"] > 0.01
    assert "token" not in world.lock_item()
