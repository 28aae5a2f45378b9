"""The local stack's AWS-side life of the ALB stand-ins (one process, three loops).

1. Route 53 -> edge: every 0.5 s reads the public name's A records in the AWS
   stand-in and sets the edge's server weights (HAProxy runtime API, no reload):
   a simple alias sends everything to that ALB, a weighted pair splits by weight
   (all weights 0 = equal, as Route 53 does). A change is followed within ~1 s.
2. ALB metrics -> CloudWatch: every few seconds reads HAProxy's own counters
   (`show stat`) and publishes what an ALB publishes, under AWS/ApplicationELB with
   the seeded load balancers' and target groups' real dimensions (read from the
   AWS stand-in): RequestCount, HTTPCode_Target_5XX_Count, HTTPCode_ELB_5XX_Count,
   TargetResponseTime (LoadBalancer, and LoadBalancer+TargetGroup; one sample per request, as an
   ALB counts it: SampleCount = requests, Sum = their seconds, HAProxy's mean response time) and
   HealthyHostCount / UnHealthyHostCount (LoadBalancer+TargetGroup). As on AWS,
   no request metric is published for an interval without traffic.
3. Users: a steady trickle of GET requests through the public name, so the
   metrics have data the way production's do (the gate fails on "no data").

Configuration: $FACILITATOR_OPS_STATE/world.json (written by
playbooks/local_stack_seed.yml: ALB names/regions, zone, record), MOTO_URL,
FO_EDGE_URL, FO_TRICKLE_INTERVAL (s, 0 = off), FO_METRICS_INTERVAL (s).
Status of the last cycle: $FACILITATOR_OPS_STATE/albd.json.
"""
from __future__ import annotations

import datetime
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "haproxy"))

import hactl  # noqa: E402

SIDES = ("old", "new")
NAMESPACE = "AWS/ApplicationELB"


# ------------------------------------------------------------------ pure logic (unit-tested)
def normalize_dns(name):
    """Route 53 returns alias names lower case with a trailing dot; ALBs add dualstack."""
    name = (name or "").lower().rstrip(".")
    return name[len("dualstack."):] if name.startswith("dualstack.") else name


def route53_weights(records, record_name, dns_to_side):
    """{side: weight} for the edge from the name's record sets (A, alias only).

    A simple alias -> that side 1, the other 0; a weighted set -> Route 53's
    weights, all zero meaning equal; no usable record -> all 0 (the edge answers 503)."""
    want = normalize_dns(record_name)
    mine = [r for r in records if normalize_dns(r.get("Name")) == want and r.get("Type") == "A" and r.get("AliasTarget")]
    weights = {s: 0 for s in SIDES}
    if not mine:
        return weights
    weighted = [r for r in mine if "SetIdentifier" in r]
    if not weighted:
        side = dns_to_side.get(normalize_dns(mine[0]["AliasTarget"]["DNSName"]))
        if side:
            weights[side] = 1
        return weights
    for r in weighted:
        side = dns_to_side.get(normalize_dns(r["AliasTarget"]["DNSName"]))
        if side:
            weights[side] += int(r.get("Weight", 0))
    sides = [dns_to_side.get(normalize_dns(r["AliasTarget"]["DNSName"])) for r in weighted]
    if sum(weights.values()) == 0:
        for side in sides:
            if side:
                weights[side] = 1
    return {s: min(int(w), 256) for s, w in weights.items()}


def delta(now, before):
    """Counter delta, a counter reset (HAProxy restarted) counting from zero."""
    if before is None:
        return 0
    return now if now < before else now - before


def side_readings(rows, side):
    """What one ALB stand-in's counters say now: frontend requests and 5XX, per-target 5XX and state."""
    fe = next((r for r in rows if r["pxname"] == f"alb-{side}" and r["svname"] == "FRONTEND"), None)
    be = next((r for r in rows if r["pxname"] == f"tg-{side}" and r["svname"] == "BACKEND"), None)
    servers = [r for r in rows if r["pxname"] == f"tg-{side}" and r["svname"] not in ("FRONTEND", "BACKEND")]
    if fe is None or be is None:
        raise KeyError(f"no alb-{side}/tg-{side} in haproxy's stats")

    def n(row, col):
        try:
            return int(row.get(col) or 0)
        except ValueError:
            return 0

    return {
        "req_tot": n(fe, "req_tot"),
        "fe_5xx": n(fe, "hrsp_5xx"),
        "target_5xx": sum(n(s, "hrsp_5xx") for s in servers),
        "rtime_ms": n(be, "rtime"),
        "healthy": sum(1 for s in servers if s.get("status", "").startswith("UP")),
        "unhealthy": sum(1 for s in servers if s.get("status", "").startswith("DOWN")),
    }


def metric_data(now, before, lb_dim, tg_dim, when):
    """The MetricData of one publish interval. HAProxy-made 5XX (no target answered:
    503 NOSRV, 504 timeout) are ELB 5XX; what a target sent is Target 5XX."""
    requests = delta(now["req_tot"], (before or {}).get("req_tot"))
    t5 = delta(now["target_5xx"], (before or {}).get("target_5xx"))
    fe5 = delta(now["fe_5xx"], (before or {}).get("fe_5xx"))
    elb5 = max(0, fe5 - t5)
    lb = [{"Name": "LoadBalancer", "Value": lb_dim}]
    lbtg = lb + [{"Name": "TargetGroup", "Value": tg_dim}]

    def m(name, dims, value, unit="Count"):
        return {"MetricName": name, "Dimensions": dims, "Timestamp": when, "Value": float(value), "Unit": unit}

    out = [m("HealthyHostCount", lbtg, now["healthy"]), m("UnHealthyHostCount", lbtg, now["unhealthy"])]
    if before is not None and requests:
        for dims in (lb, lbtg):
            out.append(m("RequestCount", dims, requests))
            out.append(m("HTTPCode_Target_5XX_Count", dims, t5))
            # As an ALB does: one sample per request (SampleCount = requests, Sum = their seconds),
            # so Sum / SampleCount is the mean and a client's own samples can be taken out.
            rt = now["rtime_ms"] / 1000.0
            out.append({"MetricName": "TargetResponseTime", "Dimensions": dims, "Timestamp": when, "Unit": "Seconds",
                        "StatisticValues": {"SampleCount": float(requests), "Sum": rt * requests,
                                            "Minimum": rt, "Maximum": rt}})
        out.append(m("HTTPCode_ELB_5XX_Count", lb, elb5))
    return out, {"requests": requests, "target_5xx": t5, "elb_5xx": elb5}


# ------------------------------------------------------------------ the daemon
class Albd:
    def __init__(self, state, moto_url, edge_url, trickle_interval=0.5, metrics_interval=5.0):
        self.state = state
        self.moto_url = moto_url
        self.edge_url = edge_url
        self.trickle_interval = trickle_interval
        self.metrics_interval = metrics_interval
        self.sock = hactl.socket_path(state)
        self.stop = threading.Event()
        self.status = {"started_at": time.time(), "weights": None, "metrics": {}, "trickle": {"ok": 0, "errors": 0},
                       "errors": []}
        self._clients = {}
        self._applied = {}
        self._applied_at = 0.0
        self._lbs = {}
        self._lbs_at = 0.0

    def world(self):
        with open(os.path.join(self.state, "world.json")) as f:
            return json.load(f)

    def client(self, service, region):
        import boto3

        key = (service, region)
        if key not in self._clients:
            self._clients[key] = boto3.client(service, endpoint_url=self.moto_url, region_name=region,
                                              aws_access_key_id="testing", aws_secret_access_key="testing")
        return self._clients[key]

    def error(self, where, e):
        self.status["errors"] = (self.status["errors"] + [f"{time.strftime('%H:%M:%S')} {where}: {e}"])[-10:]

    def load_balancers(self, world, max_age=30.0):
        """{side: {dns, lb_dim, tg_dim, region}} from the AWS stand-in (refreshed: a reset makes new ids)."""
        if self._lbs and time.monotonic() - self._lbs_at < max_age:
            return self._lbs
        out = {}
        for side in SIDES:
            alb = world["albs"][side]
            elbv2 = self.client("elbv2", alb["region"])
            lb = elbv2.describe_load_balancers(Names=[alb["name"]])["LoadBalancers"][0]
            tgs = elbv2.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]
            out[side] = {
                "dns": normalize_dns(lb["DNSName"]),
                "lb_dim": lb["LoadBalancerArn"].split(":loadbalancer/", 1)[1],
                "tg_dim": tgs[0]["TargetGroupArn"].rsplit(":", 1)[1],
                "region": alb["region"],
            }
        self._lbs, self._lbs_at = out, time.monotonic()
        return out

    # -- 1. Route 53 -> edge weights
    def route53_cycle(self):
        world = self.world()
        lbs = self.load_balancers(world)
        r53 = self.client("route53", "us-east-1")
        zones = r53.list_hosted_zones_by_name(DNSName=world["zone"])["HostedZones"]
        zone = next((z for z in zones if normalize_dns(z["Name"]) == normalize_dns(world["zone"])), None)
        records = []
        if zone:
            records = r53.list_resource_record_sets(HostedZoneId=zone["Id"], StartRecordName=world["record"],
                                                    StartRecordType="A", MaxItems="10")["ResourceRecordSets"]
        dns_to_side = {v["dns"]: side for side, v in lbs.items()}
        if any(r.get("AliasTarget") and normalize_dns(r["AliasTarget"]["DNSName"]) not in dns_to_side
               for r in records if normalize_dns(r.get("Name")) == normalize_dns(world["record"])):
            self._lbs_at = 0.0  # an unknown ALB name: re-read the load balancers next time
        weights = route53_weights(records, world["record"], dns_to_side)
        # Re-applied every few seconds too: a haproxy reload resets runtime weights.
        if weights != self._applied or time.monotonic() - self._applied_at > 5:
            for side, w in weights.items():
                answer = hactl.command(f"set weight route53/{side} {w}", self.sock).strip()
                if answer:
                    raise RuntimeError(f"set weight route53/{side} {w}: {answer}")
            if weights != self._applied:
                self.status["weights_changed_at"] = time.time()
            self._applied, self._applied_at = weights, time.monotonic()
            self.status["weights"] = weights

    # -- 2. HAProxy counters -> CloudWatch
    def metrics_cycle(self, before):
        world = self.world()
        lbs = self.load_balancers(world)
        rows = hactl.show_stat(self.sock)
        when = datetime.datetime.now(datetime.timezone.utc)
        now = {}
        for side in SIDES:
            now[side] = side_readings(rows, side)
            data, summary = metric_data(now[side], before.get(side), lbs[side]["lb_dim"], lbs[side]["tg_dim"], when)
            self.client("cloudwatch", lbs[side]["region"]).put_metric_data(Namespace=NAMESPACE, MetricData=data)
            self.status["metrics"][side] = dict(summary, healthy=now[side]["healthy"],
                                                unhealthy=now[side]["unhealthy"], at=when.isoformat())
        return now

    # -- 3. users
    def trickle_loop(self):
        import httpx

        ca = os.path.join(self.state, "ca.pem")
        with httpx.Client(verify=ca, timeout=10.0, headers={"User-Agent": "facilitator-ops-stack-users"}) as c:
            while not self.stop.wait(self.trickle_interval):
                if not self._applied:  # the edge has no weights before the first Route 53 read
                    continue
                try:
                    r = c.get(self.edge_url + "/supported")
                    key = "ok" if r.status_code < 500 else "errors"
                except httpx.HTTPError:
                    key = "errors"
                self.status["trickle"][key] += 1

    def loop(self, name, interval, fn):
        state = {}
        while not self.stop.is_set():
            try:
                result = fn(state.get("before", {})) if name == "metrics" else fn()
                if name == "metrics":
                    state["before"] = result
            except FileNotFoundError as e:
                self.error(name, f"waiting for {e.filename}")
            except Exception as e:  # noqa: BLE001 (a daemon: report and keep going)
                self.error(name, f"{e.__class__.__name__}: {e}")
                self._lbs_at = 0.0
            self.stop.wait(interval)

    def write_status(self):
        while not self.stop.wait(1.0):
            tmp = os.path.join(self.state, ".albd.json.tmp")
            with open(tmp, "w") as f:
                json.dump(dict(self.status, pid=os.getpid(), at=time.time()), f)
            os.replace(tmp, os.path.join(self.state, "albd.json"))

    def run(self):
        threads = [
            threading.Thread(target=self.loop, args=("route53", 0.5, self.route53_cycle), daemon=True),
            threading.Thread(target=self.loop, args=("metrics", self.metrics_interval, self.metrics_cycle), daemon=True),
            threading.Thread(target=self.write_status, daemon=True),
        ]
        if self.trickle_interval > 0:
            threads.append(threading.Thread(target=self.trickle_loop, daemon=True))
        for t in threads:
            t.start()
        self.stop.wait()


def main():
    state = os.environ.get("FACILITATOR_OPS_STATE") or os.path.join(os.path.dirname(__file__), "..", "..", ".stack")
    d = Albd(state, os.environ.get("MOTO_URL", "http://127.0.0.1:5000"),
             os.environ.get("FO_EDGE_URL", "https://127.0.0.1:18445"),
             trickle_interval=float(os.environ.get("FO_TRICKLE_INTERVAL", "0.5")),
             metrics_interval=float(os.environ.get("FO_METRICS_INTERVAL", "5")))
    signal.signal(signal.SIGTERM, lambda *_: d.stop.set())
    signal.signal(signal.SIGINT, lambda *_: d.stop.set())
    d.run()


if __name__ == "__main__":
    main()
