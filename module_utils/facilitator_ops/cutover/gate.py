# -*- coding: utf-8 -*-
"""The DNS cutover's AWS gates: target health and the new ALB's CloudWatch metrics.

Readings:
- target health of every target group behind the new ALB (healthy / unhealthy / other states);
- over a window: RequestCount, HTTPCode_Target_5XX_Count, HTTPCode_ELB_5XX_Count (Sum, LoadBalancer
  dimension) and UnHealthyHostCount (Maximum, LoadBalancer + TargetGroup dimensions, as AWS publishes it).

Verdicts (``evaluate``):
- ``healthy_targets``   >= min_healthy_targets
- ``unhealthy_targets`` <= max_unhealthy_targets
- ``5xx_rate``          (Target 5XX + ELB 5XX) / RequestCount <= max_5xx_rate, unless the 5XX count is
                        within the error budget (deploys cause a few 503s: FACTS, Deployment)
- ``target_response_time`` mean TargetResponseTime (Sum / SampleCount) <= max_target_response_time
- ``unhealthy_hosts``   max UnHealthyHostCount <= max_unhealthy_host_count
The gate's own HTTP probe goes through the ALB it judges: its requests (tallied per minute by
``cutover.probe``) are subtracted before any verdict (``subtract_probe``), so "no data" still means
no real traffic and a real 5XX rate is not diluted (issue 18).
"No data" for a metric gate is a verdict of its own (pass | warn | fail), never a silent pass.
"""
from __future__ import annotations

import datetime

from ansible.module_utils.facilitator_ops.common.aws import retry_kw

NO_DATA_VERDICTS = ("pass", "warn", "fail")
NAMESPACE = "AWS/ApplicationELB"


def lb_dimension(lb_arn):
    """arn:...:loadbalancer/app/<name>/<id> -> app/<name>/<id>"""
    return lb_arn.split(":loadbalancer/", 1)[1]


def tg_dimension(tg_arn):
    """arn:...:targetgroup/<name>/<id> -> targetgroup/<name>/<id>"""
    return tg_arn.rsplit(":", 1)[1]


def read_target_health(elbv2, lb_arn, target_group_names=None, aws_retry=False):
    """{tg_name: {"arn", "states": {state: n}, "unhealthy": [ids with reasons]}} for the ALB's target groups."""
    tgs = elbv2.describe_target_groups(LoadBalancerArn=lb_arn, **retry_kw(aws_retry)).get("TargetGroups", [])
    if target_group_names:
        wanted = set(target_group_names)
        missing = wanted - {t["TargetGroupName"] for t in tgs}
        if missing:
            raise ValueError(f"target group(s) {', '.join(sorted(missing))} not behind the load balancer")
        tgs = [t for t in tgs if t["TargetGroupName"] in wanted]
    out = {}
    for tg in tgs:
        desc = elbv2.describe_target_health(TargetGroupArn=tg["TargetGroupArn"], **retry_kw(aws_retry)).get("TargetHealthDescriptions", [])
        states, unhealthy = {}, []
        for d in desc:
            th = d.get("TargetHealth", {})
            state = th.get("State", "unknown")
            states[state] = states.get(state, 0) + 1
            if state == "unhealthy":
                unhealthy.append(f"{d['Target']['Id']}:{d['Target'].get('Port', '')} {th.get('Reason', '')}".strip())
        out[tg["TargetGroupName"]] = {"arn": tg["TargetGroupArn"], "states": states, "unhealthy": unhealthy}
    return out


def metric_queries(lb_dim, tg_dims, period):
    lb = [{"Name": "LoadBalancer", "Value": lb_dim}]

    def q(qid, metric, dims, stat):
        return {
            "Id": qid,
            "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dims}, "Period": period, "Stat": stat},
            "ReturnData": True,
        }

    queries = [
        q("requests", "RequestCount", lb, "Sum"),
        q("target5xx", "HTTPCode_Target_5XX_Count", lb, "Sum"),
        q("elb5xx", "HTTPCode_ELB_5XX_Count", lb, "Sum"),
        # one sample per request (AWS): Sum / SampleCount is the mean, and the probe's samples can be taken out
        q("rtsum", "TargetResponseTime", lb, "Sum"),
        q("rtn", "TargetResponseTime", lb, "SampleCount"),
    ]
    for i, tg in enumerate(tg_dims):
        queries.append(q(f"unhealthy{i}", "UnHealthyHostCount", lb + [{"Name": "TargetGroup", "Value": tg}], "Maximum"))
    return queries


def _epoch(ts):
    if isinstance(ts, (int, float)):
        return int(ts)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=datetime.timezone.utc)
    return int(ts.timestamp())


def subtract_probe(per_minute, probe_rows):
    """Take the gate's own probe out of the judged traffic, minute by minute.

    per_minute: {minute: {"requests", "target5xx", "elb5xx", "rtsum", "rtn"}} as CloudWatch returned them
    (a minute without datapoints is absent). probe_rows: [[minute, requests, 5xx, unanswered], ...] from
    cutover_probe. The probe's answered requests (and the 5XX among them) are subtracted from the minute
    they were sent in, never below 0; a minute CloudWatch has no data for yet has nothing to subtract from.
    Returns (judged per_minute, requests subtracted)."""
    probe = {}
    for row in probe_rows or []:
        m = int(row[0]) // 60 * 60
        p = probe.setdefault(m, [0, 0])
        p[0] += int(row[1])
        p[1] += int(row[2])
    out, taken = {}, 0
    for m, v in per_minute.items():
        v = dict(v)
        preq, p5 = probe.get(m, (0, 0))
        if preq and v.get("requests") is not None:
            take = min(preq, v["requests"])
            taken += take
            v["requests"] -= take
            if v.get("rtn") is not None:
                v["rtn"] = max(0.0, v["rtn"] - preq)
        if p5:
            left = p5
            for k in ("target5xx", "elb5xx"):
                if v.get(k) is not None and left:
                    d = min(left, v[k])
                    v[k] -= d
                    left -= d
        out[m] = v
    return out, taken


def read_metrics(cloudwatch, lb_dim, tg_dims, window_minutes, now=None, aws_retry=False, probe_rows=None):
    """Sums / maxima over the window of whole minutes ending with the current one, after taking the gate's
    own probe out (``subtract_probe``); a metric without datapoints reads None."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    window = max(1, int(window_minutes)) * 60
    # whole 1-minute periods (AWS rounds an unaligned start down, and datapoints are stamped with the
    # period's start): the probe's minutes line up with CloudWatch's
    end_epoch = _epoch(now) // 60 * 60 + 60
    end = datetime.datetime.fromtimestamp(end_epoch, datetime.timezone.utc)
    start = end - datetime.timedelta(seconds=window)
    series = {}
    kwargs = dict(MetricDataQueries=metric_queries(lb_dim, tg_dims, 60), StartTime=start, EndTime=end, ScanBy="TimestampDescending")
    while True:
        resp = cloudwatch.get_metric_data(**kwargs, **retry_kw(aws_retry))
        for r in resp.get("MetricDataResults", []):
            pts = series.setdefault(r["Id"], {})
            for ts, v in zip(r.get("Timestamps", []), r.get("Values", [])):
                m = _epoch(ts) // 60 * 60
                pts[m] = pts.get(m, 0.0) + float(v)
        if not resp.get("NextToken"):
            break
        kwargs["NextToken"] = resp["NextToken"]

    per_minute = {}
    for qid in ("requests", "target5xx", "elb5xx", "rtsum", "rtn"):
        for m, v in (series.get(qid) or {}).items():
            per_minute.setdefault(m, {})[qid] = v
    judged, taken = subtract_probe(per_minute, probe_rows)

    def total(qid):
        v = [x[qid] for x in judged.values() if x.get(qid) is not None]
        return float(sum(v)) if v else None

    rtn, rtsum = total("rtn"), total("rtsum")
    unhealthy = [max(v.values()) for k, v in series.items() if k.startswith("unhealthy") and v]
    return {
        "window_minutes": window // 60,
        "requests": total("requests"),
        "target_5xx": total("target5xx"),
        "elb_5xx": total("elb5xx"),
        "probe_requests_excluded": taken,
        # the mean over the real requests; the probe's own response times stay in the Sum, so this
        # errs high, never low
        "target_response_time": round(rtsum / rtn, 4) if rtn and rtsum is not None else None,
        "unhealthy_host_max": max(unhealthy) if unhealthy else None,
    }


def summarize_health(health):
    healthy = sum(tg["states"].get("healthy", 0) for tg in health.values())
    unhealthy = sum(tg["states"].get("unhealthy", 0) for tg in health.values())
    other = {}
    for tg in health.values():
        for state, n in tg["states"].items():
            if state not in ("healthy", "unhealthy"):
                other[state] = other.get(state, 0) + n
    details = [u for tg in health.values() for u in tg["unhealthy"]]
    return {"healthy_targets": healthy, "unhealthy_targets": unhealthy, "other_targets": other, "unhealthy_details": details[:5]}


def _num(x):
    return f"{x:g}" if isinstance(x, (int, float)) else str(x)


def new_weight(records, new_set_id, new_alias_dns):
    """The new side's share of traffic today, from the record sets of the name:
    a weighted pair -> its weight (0..100 of the total); a simple alias -> 100 if
    it points to the new ALB, else 0. None when there is no record."""
    from ansible.module_utils.facilitator_ops.cutover.route53 import normalize_dns

    if not records:
        return None
    weighted = [r for r in records if "SetIdentifier" in r]
    if not weighted:
        alias = records[0].get("AliasTarget", {}).get("DNSName", "")
        return 100 if normalize_dns(alias) == normalize_dns(new_alias_dns) else 0
    total = sum(int(r.get("Weight", 0)) for r in weighted)
    mine = sum(int(r.get("Weight", 0)) for r in weighted if r["SetIdentifier"] == new_set_id)
    return 0 if total == 0 else round(100.0 * mine / total, 2)


def _pct(x):
    return f"{x * 100:.2f}%"


def evaluate(readings, thresholds):
    """-> (breaches, warnings, rate). A breach: {gate, value, threshold, text}."""
    t = thresholds
    breaches, warnings = [], []

    def breach(gate, value, threshold, text):
        breaches.append({"gate": gate, "value": value, "threshold": threshold, "text": text})

    no_data = t.get("no_data", "warn")
    if readings.get("new_weight") == 0 and t.get("no_data_at_zero_weight"):
        # No traffic is sent to the new ALB yet: its metrics have no data by construction.
        no_data = t["no_data_at_zero_weight"]
    if no_data not in NO_DATA_VERDICTS:
        raise ValueError(f"no_data must be one of {', '.join(NO_DATA_VERDICTS)}, got {no_data!r}")

    if "healthy_targets" in readings:
        h, u = readings["healthy_targets"], readings["unhealthy_targets"]
        if h < t["min_healthy_targets"]:
            breach("healthy_targets", h, f">= {_num(t['min_healthy_targets'])}", f"healthy_targets={h} < {_num(t['min_healthy_targets'])}")
        if u > t["max_unhealthy_targets"]:
            extra = f" ({'; '.join(readings.get('unhealthy_details', []))})" if readings.get("unhealthy_details") else ""
            breach("unhealthy_targets", u, f"<= {_num(t['max_unhealthy_targets'])}", f"unhealthy_targets={u} > {_num(t['max_unhealthy_targets'])}{extra}")

    def no_data_verdict(gate, threshold):
        text = f"{gate}: no data in the last {readings.get('window_minutes')} min"
        if no_data == "fail":
            breach(gate, "no data", threshold, text + " (no_data=fail)")
        elif no_data == "warn":
            warnings.append(text + " (no_data=warn: not counted as a pass)")

    rate = None
    if "requests" in readings:
        requests = readings["requests"]
        errors = (readings["target_5xx"] or 0) + (readings["elb_5xx"] or 0)
        budget, max_rate = t["error_budget_5xx"], t["max_5xx_rate"]
        if not requests and not errors:
            no_data_verdict("5xx_rate", f"<= {_pct(max_rate)}")
        else:
            rate = errors / requests if requests else 1.0
            if rate > max_rate and errors > budget:
                breach(
                    "5xx_rate",
                    round(rate, 6),
                    f"<= {_pct(max_rate)} (budget {budget:g} errors)",
                    f"5xx_rate={_pct(rate)} ({errors:g} 5XX / {requests or 0:g} requests) > {_pct(max_rate)} beyond the budget of {budget:g} errors",
                )
        rt, rt_max = readings.get("target_response_time"), t.get("max_target_response_time")
        if rt_max is not None and "target_response_time" in readings:
            if rt is None:
                if requests:
                    no_data_verdict("target_response_time", f"<= {_num(rt_max)}s")
            elif rt > rt_max:
                breach("target_response_time", rt, f"<= {_num(rt_max)}s",
                       f"TargetResponseTime mean={rt:g}s > {_num(rt_max)}s")
        uh = readings.get("unhealthy_host_max")
        if uh is None:
            no_data_verdict("unhealthy_hosts", f"<= {_num(t['max_unhealthy_host_count'])}")
        elif uh > t["max_unhealthy_host_count"]:
            breach("unhealthy_hosts", uh, f"<= {_num(t['max_unhealthy_host_count'])}",
                   f"UnHealthyHostCount max={uh:g} > {_num(t['max_unhealthy_host_count'])}")
    return breaches, warnings, rate


def line(readings, rate, thresholds):
    """One progress line of readings."""
    parts = []
    if readings.get("new_weight") is not None:
        parts.append(f"new weight {_num(readings['new_weight'])}%")
    if "healthy_targets" in readings:
        parts.append(f"targets {readings['healthy_targets']} healthy/{readings['unhealthy_targets']} unhealthy")
    if "requests" in readings:
        if rate is None:
            parts.append(f"5xx no data ({readings['window_minutes']} min)")
        else:
            errors = (readings["target_5xx"] or 0) + (readings["elb_5xx"] or 0)
            parts.append(f"5xx {_pct(rate)} ({errors:g}/{readings['requests'] or 0:g}, max {_pct(thresholds['max_5xx_rate'])})")
        if readings.get("target_response_time") is not None:
            parts.append(f"TargetResponseTime {readings['target_response_time']:g}s")
        if readings.get("probe_requests_excluded"):
            parts.append(f"own probe excluded ({readings['probe_requests_excluded']} requests)")
        uh = readings.get("unhealthy_host_max")
        parts.append(f"UnHealthyHostCount {'no data' if uh is None else f'{uh:g}'}")
    return "; ".join(parts)
