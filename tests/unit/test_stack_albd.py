"""stack/alb/albd.py's logic: Route 53 records -> edge weights, HAProxy counters -> ALB metrics."""
from __future__ import annotations

import datetime

import pytest
import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("albd", REPO / "stack" / "alb" / "albd.py")
albd = importlib.util.module_from_spec(spec)
spec.loader.exec_module(albd)

NAME = "facilitator.ultravioletadao.xyz."
SIDES = {"karmacadabra-alb-1.us-east-1.elb.amazonaws.com": "old",
         "facilitator-production-alb-2.us-east-2.elb.amazonaws.com": "new"}


def alias(dns, **kw):
    return dict(Name=NAME, Type="A", AliasTarget={"HostedZoneId": "Z", "DNSName": dns, "EvaluateTargetHealth": True}, **kw)


def test_simple_alias_sends_everything_to_that_alb():
    rec = [alias("dualstack.Karmacadabra-ALB-1.us-east-1.elb.amazonaws.com.")]
    assert albd.route53_weights(rec, NAME, SIDES) == {"old": 1, "new": 0}


def test_weighted_pair_splits_by_weight_and_all_zero_is_equal():
    rec = [alias("karmacadabra-alb-1.us-east-1.elb.amazonaws.com.", SetIdentifier="facilitator-old", Weight=90),
           alias("facilitator-production-alb-2.us-east-2.elb.amazonaws.com.", SetIdentifier="facilitator-new", Weight=10)]
    assert albd.route53_weights(rec, NAME, SIDES) == {"old": 90, "new": 10}
    for r in rec:
        r["Weight"] = 0
    assert albd.route53_weights(rec, NAME, SIDES) == {"old": 1, "new": 1}


def test_no_record_or_another_name_answers_nothing():
    assert albd.route53_weights([], NAME, SIDES) == {"old": 0, "new": 0}
    other = [dict(alias("karmacadabra-alb-1.us-east-1.elb.amazonaws.com."), Name="other.ultravioletadao.xyz.")]
    assert albd.route53_weights(other, NAME, SIDES) == {"old": 0, "new": 0}


def rows(req, fe5, t5s, statuses, rtime=40):
    out = [{"pxname": "alb-new", "svname": "FRONTEND", "req_tot": str(req), "hrsp_5xx": str(fe5)},
           {"pxname": "tg-new", "svname": "BACKEND", "rtime": str(rtime), "hrsp_5xx": str(fe5)}]
    for i, (t5, st) in enumerate(zip(t5s, statuses)):
        out.append({"pxname": "tg-new", "svname": f"t{i + 1}", "hrsp_5xx": str(t5), "status": st})
    return out


def test_counters_become_alb_metrics_target_vs_elb_5xx():
    before = albd.side_readings(rows(100, 2, [1, 1], ["UP", "UP"]), "new")
    now = albd.side_readings(rows(160, 12, [4, 4], ["UP", "DOWN 1/2"]), "new")
    when = datetime.datetime.now(datetime.timezone.utc)
    data, summary = albd.metric_data(now, before, "app/a/1", "targetgroup/t/2", when)
    # 10 new 5XX at the frontend, 6 of them answered by a target: 4 are the ALB's own (no target, timeout)
    assert summary == {"requests": 60, "target_5xx": 6, "elb_5xx": 4}
    by = {(m["MetricName"], len(m["Dimensions"])): m.get("Value", m.get("StatisticValues")) for m in data}
    assert by[("RequestCount", 1)] == by[("RequestCount", 2)] == 60
    assert by[("HTTPCode_Target_5XX_Count", 1)] == 6 and by[("HTTPCode_ELB_5XX_Count", 1)] == 4
    assert by[("HealthyHostCount", 2)] == 1 and by[("UnHealthyHostCount", 2)] == 1
    assert by[("TargetResponseTime", 1)] == {"SampleCount": 60.0, "Sum": pytest.approx(2.4), "Minimum": 0.04, "Maximum": 0.04}


def test_issue18_target_response_time_has_one_sample_per_request_as_on_aws():
    """The gate reads TargetResponseTime's Sum / SampleCount and takes its probe's samples out: the
    stand-in publishes one sample per request, as an ALB does (not one per publish interval)."""
    before = albd.side_readings(rows(100, 0, [0, 0], ["UP", "UP"]), "new")
    now = albd.side_readings(rows(130, 0, [0, 0], ["UP", "UP"]), "new")
    data, _ = albd.metric_data(now, before, "app/a/1", "targetgroup/t/2", datetime.datetime.now(datetime.timezone.utc))
    rt = [m for m in data if m["MetricName"] == "TargetResponseTime"]
    assert len(rt) == 2 and all(m["StatisticValues"]["SampleCount"] == 30.0 for m in rt)
    dims = [m["Dimensions"] for m in data if m["MetricName"] == "UnHealthyHostCount"][0]
    assert [d["Name"] for d in dims] == ["LoadBalancer", "TargetGroup"]  # the gate queries in this order


def test_no_traffic_publishes_host_counts_only_and_a_restart_is_not_negative():
    r = albd.side_readings(rows(100, 0, [0, 0], ["UP", "UP"]), "new")
    data, _ = albd.metric_data(r, r, "app/a/1", "targetgroup/t/2", datetime.datetime.now(datetime.timezone.utc))
    assert sorted(m["MetricName"] for m in data) == ["HealthyHostCount", "UnHealthyHostCount"]
    restarted = albd.side_readings(rows(5, 0, [0, 0], ["UP", "UP"]), "new")
    _, summary = albd.metric_data(restarted, r, "app/a/1", "targetgroup/t/2", datetime.datetime.now(datetime.timezone.utc))
    assert summary["requests"] == 5
