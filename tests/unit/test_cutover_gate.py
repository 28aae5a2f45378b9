"""The cutover gate's verdicts and its AWS readings (recorded-response tests)."""
from __future__ import annotations

import datetime

import boto3
import pytest
from botocore.stub import ANY
from botocore.stub import Stubber

from ansible.module_utils.facilitator_ops.cutover import gate as gate

LB_ARN = "arn:aws:elasticloadbalancing:us-east-2:123456789012:loadbalancer/app/facilitator-production-alb/0fa2149a2346fab2"
TG_ARN = "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/facilitator-production-tg/766379233eaa93ad"
T = dict(min_healthy_targets=1, max_unhealthy_targets=0, max_5xx_rate=0.01, error_budget_5xx=5,
         max_unhealthy_host_count=0, no_data="warn", no_data_at_zero_weight="warn")


def readings(**kw):
    base = dict(healthy_targets=2, unhealthy_targets=0, window_minutes=5, requests=1000.0, target_5xx=0.0,
                elb_5xx=0.0, unhealthy_host_max=0.0, new_weight=10)
    base.update(kw)
    return base


def test_dimensions():
    assert gate.lb_dimension(LB_ARN) == "app/facilitator-production-alb/0fa2149a2346fab2"
    assert gate.tg_dimension(TG_ARN) == "targetgroup/facilitator-production-tg/766379233eaa93ad"


def test_clean_reading_passes():
    breaches, warnings, rate = gate.evaluate(readings(), T)
    assert breaches == [] and warnings == [] and rate == 0


def test_5xx_rate_counts_target_and_elb_errors_over_requests():
    breaches, _, rate = gate.evaluate(readings(requests=100.0, target_5xx=4.0, elb_5xx=3.0), T)
    assert rate == pytest.approx(0.07)
    assert breaches[0]["gate"] == "5xx_rate" and breaches[0]["value"] == pytest.approx(0.07)
    assert "7.00%" in breaches[0]["text"] and "1.00%" in breaches[0]["text"]


def test_a_few_503s_stay_within_the_error_budget():
    # 5 errors out of 50 requests is 10% but within the budget of 5: a deploy's 503s, not a breach
    assert gate.evaluate(readings(requests=50.0, elb_5xx=5.0), T)[0] == []
    assert gate.evaluate(readings(requests=50.0, elb_5xx=6.0), T)[0][0]["gate"] == "5xx_rate"


def test_target_health_gates_name_value_and_threshold():
    breaches, _, _ = gate.evaluate(readings(healthy_targets=0, unhealthy_targets=1, unhealthy_details=["10.0.0.1:8080 Target.FailedHealthChecks"]), T)
    by = {b["gate"]: b for b in breaches}
    assert by["healthy_targets"]["value"] == 0 and by["healthy_targets"]["threshold"] == ">= 1"
    assert "Target.FailedHealthChecks" in by["unhealthy_targets"]["text"]


def test_unhealthy_host_count():
    breaches, _, _ = gate.evaluate(readings(unhealthy_host_max=1.0), T)
    assert [b["gate"] for b in breaches] == ["unhealthy_hosts"]
    assert breaches[0]["text"] == "UnHealthyHostCount max=1 > 0"


@pytest.mark.parametrize("verdict, n_breaches, n_warnings", [("pass", 0, 0), ("warn", 0, 2), ("fail", 2, 0)])
def test_no_data_is_a_verdict(verdict, n_breaches, n_warnings):
    t = dict(T, no_data=verdict, no_data_at_zero_weight=None)
    breaches, warnings, rate = gate.evaluate(readings(requests=None, target_5xx=None, elb_5xx=None, unhealthy_host_max=None), t)
    assert (len(breaches), len(warnings), rate) == (n_breaches, n_warnings, None)
    if verdict == "fail":
        assert breaches[0]["value"] == "no data"


def test_no_data_at_zero_weight_has_its_own_verdict():
    t = dict(T, no_data="fail", no_data_at_zero_weight="warn")
    empty = dict(requests=None, target_5xx=None, elb_5xx=None, unhealthy_host_max=None)
    assert gate.evaluate(readings(new_weight=0, **empty), t)[0] == []
    assert len(gate.evaluate(readings(new_weight=10, **empty), t)[0]) == 2


def test_new_weight_from_the_record():
    alias = {"HostedZoneId": "Z", "DNSName": "facilitator-production-alb-1.us-east-2.elb.amazonaws.com.", "EvaluateTargetHealth": True}
    old = {"HostedZoneId": "Z", "DNSName": "karmacadabra-alb-1.us-east-1.elb.amazonaws.com.", "EvaluateTargetHealth": True}
    lb_dns = "facilitator-production-alb-1.us-east-2.elb.amazonaws.com"
    assert gate.new_weight([{"Name": "f.", "Type": "A", "AliasTarget": old}], "facilitator-new", lb_dns) == 0
    assert gate.new_weight([{"Name": "f.", "Type": "A", "AliasTarget": alias}], "facilitator-new", lb_dns) == 100
    pair = [{"SetIdentifier": "facilitator-old", "Weight": 90, "AliasTarget": old},
            {"SetIdentifier": "facilitator-new", "Weight": 10, "AliasTarget": alias}]
    assert gate.new_weight(pair, "facilitator-new", lb_dns) == 10
    assert gate.new_weight([], "facilitator-new", lb_dns) is None


def test_recorded_target_health_counts_states():
    elbv2 = boto3.client("elbv2", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(elbv2) as stub:
        stub.add_response("describe_target_groups", {"TargetGroups": [{"TargetGroupArn": TG_ARN, "TargetGroupName": "facilitator-production-tg"}]},
                          {"LoadBalancerArn": LB_ARN})
        stub.add_response("describe_target_health", {"TargetHealthDescriptions": [
            {"Target": {"Id": "10.42.1.20", "Port": 8080}, "TargetHealth": {"State": "healthy"}},
            {"Target": {"Id": "10.42.2.20", "Port": 8080}, "TargetHealth": {"State": "unhealthy", "Reason": "Target.Timeout"}},
            {"Target": {"Id": "10.42.2.21", "Port": 8080}, "TargetHealth": {"State": "initial", "Reason": "Elb.RegistrationInProgress"}},
        ]}, {"TargetGroupArn": TG_ARN})
        summary = gate.summarize_health(gate.read_target_health(elbv2, LB_ARN))
    assert summary["healthy_targets"] == 1 and summary["unhealthy_targets"] == 1
    assert summary["other_targets"] == {"initial": 1}
    assert summary["unhealthy_details"] == ["10.42.2.20:8080 Target.Timeout"]


def _ts(minute):
    return datetime.datetime(2026, 11, 27, 20, minute, tzinfo=datetime.timezone.utc)


def test_recorded_metrics_query_and_sums():
    cw = boto3.client("cloudwatch", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="x")
    now = datetime.datetime(2026, 11, 27, 20, 59, 30, tzinfo=datetime.timezone.utc)
    lb_dim, tg_dim = gate.lb_dimension(LB_ARN), gate.tg_dimension(TG_ARN)
    with Stubber(cw) as stub:
        stub.add_response("get_metric_data", {"MetricDataResults": [
            {"Id": "requests", "Timestamps": [_ts(58), _ts(57)], "Values": [60.0, 40.0], "StatusCode": "Complete"},
            {"Id": "target5xx", "Timestamps": [_ts(58), _ts(57)], "Values": [2.0, 1.0], "StatusCode": "Complete"},
            {"Id": "elb5xx", "Timestamps": [], "Values": [], "StatusCode": "Complete"},
            {"Id": "rtsum", "Timestamps": [_ts(58), _ts(57)], "Values": [6.0, 4.0], "StatusCode": "Complete"},
            {"Id": "rtn", "Timestamps": [_ts(58), _ts(57)], "Values": [60.0, 40.0], "StatusCode": "Complete"},
            {"Id": "unhealthy0", "Timestamps": [_ts(58), _ts(57)], "Values": [0.0, 1.0], "StatusCode": "Complete"},
        ]}, {"MetricDataQueries": gate.metric_queries(lb_dim, [tg_dim], 60),
             # whole minutes, ending with the current one
             "StartTime": _ts(55), "EndTime": datetime.datetime(2026, 11, 27, 21, 0, tzinfo=datetime.timezone.utc),
             "ScanBy": ANY})
        out = gate.read_metrics(cw, lb_dim, [tg_dim], 5, now=now)
    assert out == {"window_minutes": 5, "requests": 100.0, "target_5xx": 3.0, "elb_5xx": None, "unhealthy_host_max": 1.0,
                   "target_response_time": 0.1, "probe_requests_excluded": 0}
    q = {m["Id"]: m["MetricStat"] for m in gate.metric_queries(lb_dim, [tg_dim], 60)}
    assert q["unhealthy0"]["Metric"]["Dimensions"] == [{"Name": "LoadBalancer", "Value": lb_dim}, {"Name": "TargetGroup", "Value": tg_dim}]
    assert q["requests"]["Stat"] == "Sum" and q["unhealthy0"]["Stat"] == "Maximum"
    assert q["rtsum"]["Metric"]["MetricName"] == "TargetResponseTime" and q["rtn"]["Stat"] == "SampleCount"


def _metrics_with_probe(cw_minutes, probe_rows, now=datetime.datetime(2026, 11, 27, 20, 59, 30, tzinfo=datetime.timezone.utc)):
    """read_metrics over recorded per-minute datapoints {minute: (requests, target5xx, rtsum)}."""
    cw = boto3.client("cloudwatch", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="x")
    lb_dim, tg_dim = gate.lb_dimension(LB_ARN), gate.tg_dimension(TG_ARN)
    ts = [_ts(m) for m in cw_minutes]
    col = lambda i: [float(v[i]) for v in cw_minutes.values()]
    with Stubber(cw) as stub:
        stub.add_response("get_metric_data", {"MetricDataResults": [
            {"Id": "requests", "Timestamps": ts, "Values": col(0), "StatusCode": "Complete"},
            {"Id": "target5xx", "Timestamps": ts, "Values": col(1), "StatusCode": "Complete"},
            {"Id": "elb5xx", "Timestamps": [], "Values": [], "StatusCode": "Complete"},
            {"Id": "rtsum", "Timestamps": ts, "Values": col(2), "StatusCode": "Complete"},
            {"Id": "rtn", "Timestamps": ts, "Values": col(0), "StatusCode": "Complete"},
            {"Id": "unhealthy0", "Timestamps": ts, "Values": [0.0] * len(ts), "StatusCode": "Complete"},
        ]}, {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY, "ScanBy": ANY})
        return gate.read_metrics(cw, lb_dim, [tg_dim], 5, now=now, probe_rows=probe_rows)


def _probe(minute, requests, errors=0):
    return [int(_ts(minute).timestamp()), requests, errors, 0]


def test_issue18_gate_does_not_count_its_own_probe_5xx_rate_not_diluted():
    """100 real requests with 6 real 5XX in the window, plus 100 probe requests in each of 5 readings:
    CloudWatch says 6 / 600 = 1% (passes at max 1%); the real rate is 6%: a breach."""
    cw = {m: (20 + 100, 2 if m < 58 else 0, 60.0) for m in (55, 56, 57, 58, 59)}
    out = _metrics_with_probe(cw, [_probe(m, 100) for m in (55, 56, 57, 58, 59)])
    assert out["requests"] == 100.0 and out["target_5xx"] == 6.0 and out["probe_requests_excluded"] == 500
    breaches, _, rate = gate.evaluate(dict(out, healthy_targets=2, unhealthy_targets=0, new_weight=10), T)
    assert rate == pytest.approx(0.06) and [b["gate"] for b in breaches] == ["5xx_rate"]


def test_issue18_gate_does_not_count_its_own_probe_no_data_still_fires():
    """No real traffic, only the probe's: that is "no data", not a clean pass."""
    cw = {m: (6, 0, 0.06) for m in (57, 58, 59)}
    out = _metrics_with_probe(cw, [_probe(m, 6) for m in (57, 58, 59)] + [_probe(54, 6)])  # 54: outside the window
    assert out["requests"] == 0.0 and out["probe_requests_excluded"] == 18
    breaches, _, rate = gate.evaluate(dict(out, new_weight=10), dict(T, no_data="fail"))
    assert rate is None and "5xx_rate" in [b["gate"] for b in breaches]


def test_issue18_probe_minutes_without_datapoints_subtract_nothing():
    # the probe's last minute is not in CloudWatch yet: nothing is taken from the other minutes
    judged, taken = gate.subtract_probe({60: {"requests": 10.0, "target5xx": 1.0, "rtn": 10.0, "rtsum": 1.0}},
                                        [[60, 4, 1, 0], [120, 5, 0, 0]])
    assert taken == 4 and judged[60]["requests"] == 6.0 and judged[60]["target5xx"] == 0.0 and judged[60]["rtn"] == 6.0
    # never below zero
    judged, taken = gate.subtract_probe({60: {"requests": 2.0}}, [[75, 5, 0, 0]])
    assert taken == 2 and judged[60]["requests"] == 0.0


def test_issue18_target_response_time_is_judged():
    cw = {m: (100, 0, 150.0) for m in (57, 58, 59)}  # 1.5 s mean
    out = _metrics_with_probe(cw, [])
    assert out["target_response_time"] == 1.5
    t = dict(T, max_target_response_time=1.0)
    breaches, _, _ = gate.evaluate(dict(out, new_weight=10), t)
    assert [b["gate"] for b in breaches] == ["target_response_time"]
    assert breaches[0]["text"] == "TargetResponseTime mean=1.5s > 1s"
    assert gate.evaluate(dict(out, new_weight=10), dict(T, max_target_response_time=2.0))[0] == []
