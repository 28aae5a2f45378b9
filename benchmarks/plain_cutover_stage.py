#!/usr/bin/env python3
"""The plain baseline of bench_cutover.py: one DNS cutover stage in plain boto3
and HTTP, the way someone would script it by hand.

Independent on purpose: it imports boto3 and the standard library only, nothing
of this project, so the figure it gives is what the playbook is compared with,
not a copy of the playbook's own code. It makes the same API calls as one
`cutover.yml -e stage=N` run with bake 0 (lock, gate: target health + record
weight + CloudWatch, the same HTTP probe with a signed payment POSTed to
/verify (never settled), one change batch waited to INSYNC, lock release with
the stage record, an audit line) and exits non-zero when the gate or the probe
fails. It signs the payment with the x402 SDK's client signer (a third-party
package, as any client would), never with the project's code.

    python benchmarks/plain_cutover_stage.py CONFIG.json
CONFIG: endpoint, new_url, ca, stage, zone, record, old/new {alb_name, region,
set_identifier}, table, expected_networks, evm_signers, fee_payer, branding,
verify {payer_key_file, chain_state_file, network, pay_to, amount}, audit_file.
"""
from __future__ import annotations

import datetime
import json
import ssl
import sys
import time
import urllib.request
import uuid

import boto3
from botocore.exceptions import ClientError


def clients(cfg):
    kw = dict(endpoint_url=cfg.get("endpoint"))
    if cfg.get("endpoint"):
        kw.update(aws_access_key_id="testing", aws_secret_access_key="testing")
    new_region, old_region = cfg["new"]["region"], cfg["old"]["region"]
    return dict(ddb=boto3.client("dynamodb", region_name=new_region, **kw),
                route53=boto3.client("route53", region_name=new_region, **kw),
                elb_new=boto3.client("elbv2", region_name=new_region, **kw),
                elb_old=boto3.client("elbv2", region_name=old_region, **kw),
                cw=boto3.client("cloudwatch", region_name=new_region, **kw))


# ------------------------------------------------------------------ lock (DynamoDB conditional writes)

def take_lock(ddb, table, lock_id, owner, ttl):
    try:
        ddb.describe_table(TableName=table)
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        ddb.create_table(TableName=table, AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
        while ddb.describe_table(TableName=table)["Table"]["TableStatus"] != "ACTIVE":
            time.sleep(0.5)
    ddb.get_item(TableName=table, Key={"lock_id": {"S": lock_id}}, ConsistentRead=True)
    now, token = int(time.time()), uuid.uuid4().hex
    ddb.update_item(TableName=table, Key={"lock_id": {"S": lock_id}},
                    UpdateExpression="SET #o = :o, #t = :t, expires_at = :e",
                    ConditionExpression="attribute_not_exists(#t) OR expires_at < :now",
                    ExpressionAttributeNames={"#o": "owner", "#t": "token"},
                    ExpressionAttributeValues={":o": {"S": owner}, ":t": {"S": token}, ":e": {"N": str(now + ttl)},
                                               ":now": {"N": str(now)}})
    return token


def release_lock(ddb, table, lock_id, token, stage, result):
    ddb.update_item(TableName=table, Key={"lock_id": {"S": lock_id}},
                    UpdateExpression="REMOVE #t, expires_at SET last_stage = :s, last_result = :r",
                    ConditionExpression="#t = :t", ExpressionAttributeNames={"#t": "token"},
                    ExpressionAttributeValues={":t": {"S": token}, ":s": {"S": str(stage)}, ":r": {"S": result}})


# ------------------------------------------------------------------ gate

def alb(elb, name):
    return elb.describe_load_balancers(Names=[name])["LoadBalancers"][0]


def zone_id(route53, zone):
    zones = route53.list_hosted_zones_by_name(DNSName=zone.rstrip(".") + ".")["HostedZones"]
    return next(z["Id"].split("/")[-1] for z in zones if z["Name"] == zone.rstrip(".") + ".")


def records(route53, zid, name):
    rr = route53.list_resource_record_sets(HostedZoneId=zid, StartRecordName=name, StartRecordType="A")
    return [r for r in rr["ResourceRecordSets"] if r["Name"] == name and r["Type"] == "A"]


def gate(c, cfg, lb_new, zid, name):
    breaches = []
    healthy = unhealthy = 0
    tg_dims = []
    for tg in c["elb_new"].describe_target_groups(LoadBalancerArn=lb_new["LoadBalancerArn"])["TargetGroups"]:
        tg_dims.append("targetgroup/" + tg["TargetGroupArn"].split(":targetgroup/")[1])
        for d in c["elb_new"].describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]:
            state = d["TargetHealth"]["State"]
            healthy += state == "healthy"
            unhealthy += state == "unhealthy"
    if healthy < 1:
        breaches.append(f"healthy targets {healthy} < 1")
    if unhealthy > 0:
        breaches.append(f"unhealthy targets {unhealthy} > 0")
    weights = {r.get("SetIdentifier"): r.get("Weight") for r in records(c["route53"], zid, name)}
    lb_dim = "app/" + lb_new["LoadBalancerArn"].split(":loadbalancer/app/")[1]
    queries = [{"Id": qid, "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": metric,
                                                     "Dimensions": [{"Name": "LoadBalancer", "Value": lb_dim}]},
                                          "Period": 60, "Stat": "Sum"}}
               for qid, metric in (("requests", "RequestCount"), ("target5xx", "HTTPCode_Target_5XX_Count"),
                                   ("elb5xx", "HTTPCode_ELB_5XX_Count"), ("rtsum", "TargetResponseTime"))]
    queries.append({"Id": "rtn", "MetricStat": {"Metric": {
        "Namespace": "AWS/ApplicationELB", "MetricName": "TargetResponseTime",
        "Dimensions": [{"Name": "LoadBalancer", "Value": lb_dim}]}, "Period": 60, "Stat": "SampleCount"}})
    queries += [{"Id": f"unhealthy{i}", "MetricStat": {"Metric": {
        "Namespace": "AWS/ApplicationELB", "MetricName": "UnHealthyHostCount",
        "Dimensions": [{"Name": "LoadBalancer", "Value": lb_dim}, {"Name": "TargetGroup", "Value": tg}]},
        "Period": 60, "Stat": "Maximum"}} for i, tg in enumerate(tg_dims)]
    now = datetime.datetime.now(datetime.timezone.utc)
    values = {}
    for r in c["cw"].get_metric_data(MetricDataQueries=queries, StartTime=now - datetime.timedelta(minutes=5),
                                     EndTime=now, ScanBy="TimestampDescending")["MetricDataResults"]:
        values[r["Id"]] = r.get("Values") or []
    requests = sum(values.get("requests") or [])
    errors = sum(values.get("target5xx") or []) + sum(values.get("elb5xx") or [])
    if requests and errors > 5 and errors / requests > 0.01:
        breaches.append(f"5xx rate {errors / requests:.3f} > 0.01")
    return breaches, dict(healthy=healthy, unhealthy=unhealthy, weight_new=weights.get(cfg["new"]["set_identifier"]),
                          requests=requests, errors=errors)


# ------------------------------------------------------------------ the HTTP probe

def get(url, ctx, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout, context=ctx) as r:
        return r.status, r.read().decode("utf-8", "replace")


def verify(base, ctx, v):
    """POST /verify with an EIP-3009 payment signed by the x402 SDK's client signer (never /settle)."""
    from eth_account import Account
    from x402.mechanisms.evm.exact.client import ExactEvmScheme
    from x402.mechanisms.evm.signers import EthAccountSigner
    from x402.schemas import PaymentPayload
    from x402.schemas import PaymentRequirements

    net = json.loads(open(v["chain_state_file"]).read())["networks"][v["network"]]
    payer = Account.from_key(open(v["payer_key_file"]).read().strip())
    req = PaymentRequirements(scheme="exact", network=net["caip2"], asset=net["token"]["address"], amount=str(v["amount"]),
                              pay_to=v["pay_to"], max_timeout_seconds=300,
                              extra={"name": net["token"]["name"], "version": net["token"]["version"]})
    payload = PaymentPayload(x402_version=2, payload=ExactEvmScheme(EthAccountSigner(payer)).create_payment_payload(req),
                             accepted=req)
    dump = dict(by_alias=True, exclude_none=True, mode="json")
    body = json.dumps({"x402Version": 2, "paymentPayload": payload.model_dump(**dump),
                       "paymentRequirements": req.model_dump(**dump)}).encode()
    r = urllib.request.Request(base + "/verify", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=30, context=ctx) as resp:
        doc = json.loads(resp.read() or b"{}")
    return [] if doc.get("isValid") else [f"/verify invalid: {doc.get('invalidReason') or doc}"]


def probe(cfg):
    base, problems = cfg["new_url"].rstrip("/"), []
    ctx = ssl.create_default_context(cafile=cfg.get("ca") or None)
    status, body = get(base + "/health", ctx)
    if status != 200 or json.loads(body).get("status") != "healthy":
        problems.append(f"health {status} {body[:80]}")
    version = json.loads(get(base + "/version", ctx)[1]).get("version")
    if not version or version == "dev":
        problems.append(f"version {version!r}")
    if cfg["branding"] not in get(base + "/", ctx)[1]:
        problems.append("branding missing")
    supported = json.loads(get(base + "/supported", ctx)[1])
    served = {k["network"] for k in supported.get("kinds", []) if k.get("x402Version") == 1}
    if served != set(cfg["expected_networks"]):
        problems.append(f"networks {sorted(served)} != {sorted(cfg['expected_networks'])}")
    live = {s.lower() for signers in (supported.get("signers") or {}).values() for s in signers}
    for s in cfg.get("evm_signers") or []:
        if s.lower() not in live:
            problems.append(f"EVM signer {s} not live")
    payers = {(k.get("extra") or {}).get("feePayer") for k in supported.get("kinds", [])}
    if cfg.get("fee_payer") and cfg["fee_payer"] not in payers:
        problems.append(f"fee payer {cfg['fee_payer']} not live")
    problems += verify(base, ctx, cfg["verify"])
    return problems


# ------------------------------------------------------------------ the change

def alias(lb):
    return {"HostedZoneId": lb["CanonicalHostedZoneId"], "DNSName": lb["DNSName"].lower() + ".",
            "EvaluateTargetHealth": True}


def change(c, cfg, zid, name, lb_new):
    lb_old = alb(c["elb_old"], cfg["old"]["alb_name"])
    new_w = int(cfg["stage"])
    want = {cfg["old"]["set_identifier"]: (100 - new_w, lb_old), cfg["new"]["set_identifier"]: (new_w, lb_new)}
    current = records(c["route53"], zid, name)
    weighted = {r["SetIdentifier"]: r for r in current if "SetIdentifier" in r}
    # a simple record cannot stay beside weighted ones: DELETE it in the same batch
    changes = [{"Action": "DELETE", "ResourceRecordSet": r} for r in current if "SetIdentifier" not in r]
    for sid, (weight, lb) in want.items():
        have = weighted.get(sid)
        if have is not None and have.get("Weight") == weight:
            continue
        changes.append({"Action": "CREATE" if have is None else "UPSERT", "ResourceRecordSet": {
            "Name": name, "Type": "A", "SetIdentifier": sid, "Weight": weight, "AliasTarget": alias(lb)}})
    if not changes:
        return None
    info = c["route53"].change_resource_record_sets(HostedZoneId=zid, ChangeBatch={
        "Comment": "plain baseline", "Changes": changes})["ChangeInfo"]
    while info["Status"] != "INSYNC":
        time.sleep(1)
        info = c["route53"].get_change(Id=info["Id"])["ChangeInfo"]
    return [ch["Action"] for ch in changes]


def main(path):
    cfg = json.loads(open(path).read())
    c = clients(cfg)
    name = cfg["record"].rstrip(".") + "."
    lock_id = cfg["record"].strip().lower().rstrip(".") + "."  # as the role keys it: normalised
    token = take_lock(c["ddb"], cfg["table"], lock_id, "plain@baseline", 1500)
    result = "refused"
    try:
        lb_new = alb(c["elb_new"], cfg["new"]["alb_name"])
        zid = zone_id(c["route53"], cfg["zone"])
        breaches, readings = gate(c, cfg, lb_new, zid, name)
        breaches += probe(cfg)
        if breaches:
            print("gate refused: " + "; ".join(breaches))
            return 1
        actions = change(c, cfg, zid, name, lb_new)
        result = "changed" if actions else "no change"
    finally:
        release_lock(c["ddb"], cfg["table"], lock_id, token, cfg["stage"], result)
    with open(cfg["audit_file"], "a") as fh:
        fh.write(json.dumps({"ts": datetime.datetime.now(datetime.timezone.utc).isoformat(), "stage": cfg["stage"],
                             "result": result, "changes": actions, "readings": readings}) + "\n")
    print(f"stage {cfg['stage']}: {result} {actions or ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
