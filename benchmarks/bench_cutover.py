#!/usr/bin/env python3
"""Benchmark of one DNS cutover stage (issue 6, Performance).

Times `ansible-playbook cutover.yml -e stage=10` with bake 0 against a plain
boto3 script doing the same API calls and the same HTTP probe, run in this
same process, and prints both figures and their ratio (target: <= 3). Then
measures the time from a breach (the new facilitator stopped during a bake) to
the rollback being INSYNC.

Runs on a stack of its own: a moto server on a free port seeded with
playbooks/local_stack_seed.yml, and a reference facilitator process as the new
endpoint (or --new-url, e.g. the docker facilitator on 18081).

    .venv/bin/python benchmarks/bench_cutover.py [--runs 3] [--endpoint URL] [--new-url URL]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import ansible.module_utils  # noqa: E402

ansible.module_utils.__path__.append(str(REPO / "module_utils"))

import boto3  # noqa: E402
import yaml  # noqa: E402

from ansible.module_utils.facilitator_ops.cutover import gate as gate  # noqa: E402
from ansible.module_utils.facilitator_ops.common import lock as lock  # noqa: E402
from ansible.module_utils.facilitator_ops.cutover import route53 as r53  # noqa: E402
from ansible.module_utils.facilitator_ops.verify import probe as probe  # noqa: E402
from integration.test_cutover import NAME, TABLE, Facilitator, Stack  # noqa: E402

LOCAL = yaml.safe_load((REPO / "inventories/local/group_vars/facilitator/main.yml").read_text())
CUTOVER = yaml.safe_load((REPO / "inventories/local/group_vars/facilitator/dns_cutover.yml").read_text())
CATALOG = yaml.safe_load((REPO / "group_vars/all/networks.yml").read_text())["facilitator_network_catalog"]


def plain_stage(endpoint, new_url, stage, audit_file):
    """The same calls one stage of cutover.yml makes, in plain boto3 (fresh clients)."""
    kw = dict(endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing")
    ddb = boto3.client("dynamodb", region_name="us-east-2", **kw)
    route53 = boto3.client("route53", region_name="us-east-2", **kw)
    elb_old = boto3.client("elbv2", region_name="us-east-1", **kw)
    elb_new = boto3.client("elbv2", region_name="us-east-2", **kw)
    cw = boto3.client("cloudwatch", region_name="us-east-2", **kw)
    lock_id = NAME.rstrip(".")
    # lock
    lock.ensure_table(ddb, TABLE, create=True)
    taken = lock.acquire(ddb, TABLE, lock_id, "bench@plain", 900)
    # gate: target health, record weight, metrics
    lb_new = r53.lookup_alb(elb_new, "facilitator-production-alb")
    health = gate.read_target_health(elb_new, lb_new["LoadBalancerArn"])
    zone_id = r53.find_zone_id(route53, "ultravioletadao.xyz")
    records = r53.read_records(route53, zone_id, NAME)
    readings = dict(gate.summarize_health(health), new_weight=gate.new_weight(records, "facilitator-new", lb_new["DNSName"]))
    readings.update(gate.read_metrics(cw, gate.lb_dimension(lb_new["LoadBalancerArn"]),
                                      [gate.tg_dimension(t["arn"]) for t in health.values()], 5))
    breaches, _, _ = gate.evaluate(readings, dict(min_healthy_targets=1, max_unhealthy_targets=0, max_5xx_rate=0.01,
                                                  error_budget_5xx=5, max_unhealthy_host_count=0, no_data="warn"))
    # the same probe as the facilitator_verify role
    results = probe.run_checks(new_url, ["health", "version", "branding", "networks", "signers", "load"],
                               branding_text="Ultravioleta DAO", expected_networks=LOCAL["facilitator_expected_networks"],
                               network_catalog=CATALOG, expected_evm_signers=LOCAL["facilitator_expected_evm_signers"],
                               expected_fee_payer=LOCAL["facilitator_expected_solana_fee_payer"],
                               load=CUTOVER["dns_cutover_probe_load"])
    assert not breaches and all(c.ok for c in results), (breaches, [c for c in results if not c.ok])
    # one change batch, INSYNC
    targets = {"old": r53.alias_from_alb(r53.lookup_alb(elb_old, "karmacadabra-alb")), "new": r53.alias_from_alb(lb_new)}
    set_ids = {"old": "facilitator-old", "new": "facilitator-new"}
    records = r53.read_records(route53, zone_id, NAME)
    state = r53.classify(records, targets, set_ids)
    changes = r53.plan_changes(state, {"weights": {"old": 100 - stage, "new": stage}}, NAME, "A", targets, set_ids)
    change = r53.apply_changes(route53, zone_id, changes, comment="bench") if changes else None
    lock.release(ddb, TABLE, lock_id, taken["token"], {"last_stage": str(stage), "last_result": "changed"})
    with open(audit_file, "a") as fh:
        fh.write(json.dumps({"ts": datetime.datetime.now(datetime.timezone.utc).isoformat(), "stage": stage,
                             "change": change, "readings": readings}) + "\n")
    return changes


def playbook_stage(stack, stage, tmp):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), FACILITATOR_OPS_AUDIT_DIR=str(tmp))
    ev = stack.extra(str(stage), dns_cutover_bake_seconds=0)
    t = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "cutover.yml", "-e", json.dumps(ev)],
                          cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit("playbook run failed:\n" + proc.stdout[-3000:])
    return elapsed


def breach_to_rollback(stack, tmp):
    """stage 10 -> 50 with a bake; stop the new facilitator when 50/50 is live;
    time until the record is back at 90/10 (moto is INSYNC at once)."""
    new = Facilitator(tmp)
    stack.set_weights(90, 10)
    stack.clear_lock()
    marks = {}

    def watch():
        deadline = time.time() + 300
        while time.time() < deadline:
            if "stopped" not in marks and stack.shape() == {"old": 50, "new": 50}:
                new.stop()
                marks["stopped"] = time.perf_counter()
            if "stopped" in marks and stack.shape() == {"old": 90, "new": 10}:
                marks["back"] = time.perf_counter()
                return
            time.sleep(0.05)

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), FACILITATOR_OPS_AUDIT_DIR=str(tmp))
    ev = stack.extra("50", new_url=new.url, dns_cutover_bake_seconds=120, dns_cutover_bake_interval_seconds=2)
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "cutover.yml", "-e", json.dumps(ev)],
                          cwd=REPO, env=env, capture_output=True, text=True)
    th.join(10)
    new.stop()
    audit = [json.loads(line) for line in (Path(tmp) / "dns_cutover.jsonl").read_text().splitlines()][-1]
    return proc.returncode, marks, audit


def plain_as_script(stack, tmp):
    """The same plain script, started as its own process (interpreter and boto3 import included)."""
    t = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--plain-once", stack.endpoint, stack.new.url, str(tmp / "plain-audit.jsonl")],
                   check=True, cwd=REPO)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--plain-once", nargs=3, metavar=("ENDPOINT", "NEW_URL", "AUDIT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.plain_once:
        plain_stage(args.plain_once[0], args.plain_once[1], 10, args.plain_once[2])
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench-cutover-"))
    print(f"setting up a local stack of its own in {tmp} (moto + seed + facilitators) ...", flush=True)
    stack = Stack(tmp)
    try:
        pb, plain, script = [], [], []
        for i in range(args.runs):
            stack.reset_dns()
            stack.clear_lock()
            pb.append(playbook_stage(stack, 10, tmp))
            assert stack.shape() == {"old": 90, "new": 10}
            stack.reset_dns()
            stack.clear_lock()
            t = time.perf_counter()
            changes = plain_stage(stack.endpoint, stack.new.url, 10, tmp / "plain-audit.jsonl")
            plain.append(time.perf_counter() - t)
            assert [c["Action"] for c in changes] == ["DELETE", "CREATE", "CREATE"]
            assert stack.shape() == {"old": 90, "new": 10}
            stack.reset_dns()
            stack.clear_lock()
            script.append(plain_as_script(stack, tmp))
            print(f"run {i + 1}: playbook {pb[-1]:.2f}s, plain boto3 in-process {plain[-1]:.2f}s, "
                  f"as a script {script[-1]:.2f}s", flush=True)
        pm, bm = statistics.median(pb), statistics.median(plain)
        ratio = pm / bm
        print(f"one stage (simple -> 90/10, bake 0), median of {args.runs}:")
        print(f"  cutover.yml            {pm:6.2f} s")
        print(f"  plain boto3 + probe    {bm:6.2f} s   (same process, fresh clients, same API calls and probe)")
        print(f"  ratio                  {ratio:6.2f} x   (target <= 3.00: {'OK' if ratio <= 3 else 'OVER'})")
        sm = statistics.median(script)
        print(f"  plain script, own process {sm:6.2f} s -> ratio {pm / sm:.2f} x (interpreter + boto3 import included)")
        rc, marks, audit = breach_to_rollback(stack, tmp)
        if "back" not in marks:
            print(f"breach -> rollback: the record did not come back to 90/10 (rc={rc}, result {audit.get('result')})")
            return 1
        print("breach during a bake (new facilitator stopped at 50/50, interval 2 s):")
        print(f"  breach -> rollback INSYNC          {marks['back'] - marks['stopped']:6.2f} s  (observed from outside)")
        print(f"  detection -> rollback INSYNC       {float(audit['rollback']['seconds_to_insync']):6.2f} s  (audit record)")
        print(f"  playbook rc={rc}, result: {audit['result']}")
        return 0
    finally:
        stack.close()


if __name__ == "__main__":
    sys.exit(main())
