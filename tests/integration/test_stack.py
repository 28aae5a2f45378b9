"""The production-shaped local stack, end to end, on a stack of the test's own
(`stack/isolated`: its own network namespace, Docker daemon and state; the shared
stack is never touched, and this one is brought down at the end).

- The whole rehearsal with TLS verification on (every facilitator URL https,
  the stack's CA), ending with the table whose shares of the public name's
  traffic answered by the new side are measured: about 0/10/50/100/100 %.
- Then (stage 0 back to the old ALB) a 5XX fault switched on during a bake rolls
  the cutover back through REAL metrics: the new ALB stand-in's targets answer 503
  to real user traffic through the public name, HAProxy counts them, albd
  publishes them to CloudWatch as HTTPCode_Target_5XX_Count, the cutover gate
  reads them. The test never calls put_metric_data. (In this order: after a
  breach the gate's 5-minute window still holds the errors and, as in production,
  refuses the next stage until it clears.)

Runs are `-vvv` and leak-scanned (the ECR credential and the seeded keys are canaries).
Needs root (network namespaces), the Docker engine packages and the facilitator
wheels (`stack/stackctl up` on the host builds them; the namespace has no network).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers.leakscan import LeakScanner
from helpers.playbook import run_playbook

REPO = Path(__file__).resolve().parents[2]
NAME = f"it{os.getpid() % 1000000}"
PREFIX = ("stack/isolated", NAME)
PY = sys.executable


def inside(*argv, timeout=120, check=True):
    """Run a command in the test's stack (its namespace, state dir and Docker daemon)."""
    p = subprocess.run([*PREFIX, *argv], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} -> rc {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return p


def inside_py(code, timeout=120):
    """Python in the stack's namespace; returns its stdout parsed as JSON."""
    return json.loads(inside(PY, "-c", code, timeout=timeout).stdout)


AWS = """
import boto3, json, datetime, os
kw = dict(endpoint_url="http://127.0.0.1:5000", aws_access_key_id="testing", aws_secret_access_key="testing")
def weights():
    r53 = boto3.client("route53", region_name="us-east-1", **kw)
    zid = r53.list_hosted_zones_by_name(DNSName="ultravioletadao.xyz")["HostedZones"][0]["Id"]
    rs = r53.list_resource_record_sets(HostedZoneId=zid, StartRecordName="facilitator.ultravioletadao.xyz.",
                                       StartRecordType="A")["ResourceRecordSets"]
    rs = [r for r in rs if r["Name"] == "facilitator.ultravioletadao.xyz." and r["Type"] == "A"]
    if not any("SetIdentifier" in r for r in rs):
        return {"simple": rs[0]["AliasTarget"]["DNSName"] if rs else None}
    return {r["SetIdentifier"]: r["Weight"] for r in rs}
def target_5xx(minutes=10):
    elb = boto3.client("elbv2", region_name="us-east-2", **kw)
    cw = boto3.client("cloudwatch", region_name="us-east-2", **kw)
    lb = elb.describe_load_balancers(Names=["facilitator-production-alb"])["LoadBalancers"][0]
    dim = lb["LoadBalancerArn"].split(":loadbalancer/", 1)[1]
    now = datetime.datetime.now(datetime.timezone.utc)
    r = cw.get_metric_data(StartTime=now - datetime.timedelta(minutes=minutes), EndTime=now, MetricDataQueries=[
        {"Id": "t5", "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "HTTPCode_Target_5XX_Count",
         "Dimensions": [{"Name": "LoadBalancer", "Value": dim}]}, "Period": 60, "Stat": "Sum"}}])
    return sum(r["MetricDataResults"][0]["Values"])
"""


@pytest.fixture(scope="module")
def stack():
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nsenter"):
        pytest.fail("a stack of the test's own needs root, ip and nsenter (stack/isolated)")
    try:
        up = subprocess.run([*PREFIX, "stack/stackctl", "up"], cwd=REPO, capture_output=True, text=True, timeout=1800)
        assert up.returncode == 0, f"stack/stackctl up failed:\n{up.stdout[-3000:]}\n{up.stderr[-3000:]}"
        yield NAME
    finally:
        subprocess.run([*PREFIX, "--down"], cwd=REPO, capture_output=True, timeout=600)


@pytest.fixture(scope="module")
def scanner():
    import ansible.module_utils  # noqa: F401 (tests/conftest.py wires module_utils)
    from ansible.module_utils.facilitator_ops.local_stack.seed import evm_wallet
    from ansible.module_utils.facilitator_ops.local_stack.seed import solana_wallet

    s = LeakScanner()
    s.add("moto ECR token password", "123456789012-auth-token")
    for i in (2, 3):
        s.add(f"seeded EVM key {i}", evm_wallet(i)["private_key"].removeprefix("0x"))
    s.add("seeded Solana key", solana_wallet("monorepo-testnet")["private_key"])
    return s


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    """One operator's audit/state dirs for every run of the module (as on one laptop)."""
    base = tmp_path_factory.mktemp("operator")
    d = {k: base / k for k in ("local_temp", "remote_temp", "tmpdir", "audit", "state")}
    for v in d.values():
        v.mkdir()
    return d


def play(playbook, tmp_path, scanner, dirs, extra=None, timeout=1800):
    return run_playbook(playbook, tmp_path, extra_vars=extra, scanner=scanner, dirs=dirs, prefix=PREFIX,
                        timeout=timeout)


def test_whole_rehearsal_with_tls_verified_and_measured_shares(stack, tmp_path, scanner, dirs):
    run = play("rehearsal.yml", tmp_path, scanner, dirs, timeout=2400)
    assert run.rc == 0, run.tail(120)
    # Every facilitator check went through an ALB stand-in's own HTTPS name, certificates verified.
    assert "https://127.0.0.1:18443: all 4 checks passed" in run.stdout
    assert "https://127.0.0.1:18444: all 5 checks passed" in run.stdout
    # No facilitator client was pointed at a plain-HTTP port (the runtime's own container
    # health URL is the container's, not a client's).
    assert re.search(r"base_url: '?https://127\.0\.0\.1:18444", run.stdout)
    assert not re.search(r"base_url: '?http://127\.0\.0\.1:(1808[01]|1844[345])", run.stdout)
    shares = {m.group(1): float(m.group(2))
              for m in re.finditer(r"- '?(verify the new ALB with a payment|cutover 10|cutover 50|cutover 100|"
                                   r"cutover finalize)\s+[0-9.]+\s+([0-9.]+)% new", run.stdout)}
    assert set(shares) == {"verify the new ALB with a payment", "cutover 10", "cutover 50", "cutover 100",
                           "cutover finalize"}, run.tail(40)
    assert shares["verify the new ALB with a payment"] == 0.0
    assert 5.0 <= shares["cutover 10"] <= 15.0, shares
    assert 40.0 <= shares["cutover 50"] <= 60.0, shares
    assert shares["cutover 100"] == 100.0 and shares["cutover finalize"] == 100.0, shares
    assert inside_py(AWS + "print(json.dumps(weights()))")["simple"].startswith("facilitator-production-alb")


def test_5xx_fault_during_a_bake_rolls_back_through_real_metrics(stack, tmp_path, scanner, dirs):
    # After the rehearsal the name is the new ALB's: back to the old one first (stage 0, no gate).
    back = play("cutover.yml", tmp_path, scanner, dirs, extra={"stage": "0"})
    assert back.rc == 0, back.tail(60)
    assert inside_py(AWS + "print(json.dumps(weights()))") == {"facilitator-old": 100, "facilitator-new": 0}
    result = {}

    def cutover():
        result["run"] = play("cutover.yml", tmp_path, scanner, dirs,
                             extra={"stage": "10", "dns_cutover_bake_minutes": 1, "dns_cutover_bake_interval_seconds": 15})

    t = threading.Thread(target=cutover)
    t.start()
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and t.is_alive():
            if inside_py(AWS + "print(json.dumps(weights()))").get("facilitator-new") == 10:
                break
            time.sleep(1)
        else:
            pytest.fail("the cutover never reached old 90 / new 10")
        # The bake has started: the new side's targets fail, and users keep coming through the public name.
        inside("stack/fault", "new", "5xx", "150")
        users = inside_py("""
import httpx, json, os, ssl
ctx = ssl.create_default_context(cafile=os.environ["FACILITATOR_OPS_STATE"] + "/ca.pem")
sides = {}
with httpx.Client(verify=ctx, timeout=10) as c:
    for _ in range(300):
        r = c.get("https://127.0.0.1:18445/supported")
        k = f"{r.headers.get('x-facilitator-side')} {r.status_code}"
        sides[k] = sides.get(k, 0) + 1
print(json.dumps(sides))
""")
        t.join(timeout=600)
    finally:
        inside("stack/fault", "new", "off", check=False)
    run = result["run"]
    assert users.get("new 503", 0) >= 10, users  # ~10 % of the users met the fault
    assert run.rc != 0, run.tail(80)
    assert "BREACH during the bake of stage 10" in run.stdout, run.tail(80)
    assert re.search(r"gate 5xx_rate = [0-9.]+ \(threshold <= 1\.00% \(budget 5 errors\)\)", run.stdout), run.tail(80)
    assert "Rolled back to old 100 / new 0" in run.stdout
    assert inside_py(AWS + "print(json.dumps(weights()))") == {"facilitator-old": 100, "facilitator-new": 0}
    # The breach came from what the ALB stand-in counted and albd published (this test puts no metric).
    assert inside_py(AWS + "print(json.dumps(target_5xx()))") >= 10
    audit = [a for a in run.audit_records("dns_cutover.jsonl") if a.get("stage") == "10"]
    assert audit and audit[-1]["result"] == "rolled back"
