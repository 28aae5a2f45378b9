#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: cutover_gate
short_description: Health gate of the DNS cutover, read from ELBv2 target health and the ALB's CloudWatch metrics
description:
  - Reads the target health of the target groups behind an ALB and, over a window, the ALB's
    C(RequestCount), C(HTTPCode_Target_5XX_Count), C(HTTPCode_ELB_5XX_Count) and C(UnHealthyHostCount),
    and judges them against thresholds with an error budget.
  - Exists because the bundled collections only return raw readings
    (M(community.aws.elb_target_group_info), M(amazon.aws.cloudwatch_metric_alarm) needs an alarm to exist);
    the cutover needs one verdict naming the gate, the value and the threshold, in one module call per bake round.
  - Read-only; runs the same in check mode.
  - A metric gate without datapoints ("no data") gets a verdict of its own (O(no_data)), never a silent pass.
  - The gate's own probe traffic (O(probe_sent)) is taken out of the metrics before they are judged.
  - The HTTP probe of the facilitator is not part of this module (M(cutover_probe) runs it).
author:
  - facilitator-ops
options:
  alb_name:
    description: The load balancer under watch (the new ALB).
    type: str
    required: true
  target_groups:
    description: Target group names to check; default every target group behind the ALB.
    type: list
    elements: str
    default: []
  check_targets:
    description: Check target health.
    type: bool
    default: true
  check_metrics:
    description: Check the CloudWatch metrics.
    type: bool
    default: true
  min_healthy_targets:
    description: Fewest healthy targets (all target groups together).
    type: int
    default: 1
  max_unhealthy_targets:
    description: Most targets in state C(unhealthy).
    type: int
    default: 0
  metrics_window_minutes:
    description: Window of the metric readings, ending now.
    type: int
    default: 5
  max_5xx_rate:
    description: Highest (Target 5XX + ELB 5XX) / RequestCount, a fraction (0.01 is 1%).
    type: float
    default: 0.01
  error_budget_5xx:
    description: 5XX responses in the window that never breach, whatever the rate (deploys cause a few 503s).
    type: float
    default: 5
  max_unhealthy_host_count:
    description: Highest UnHealthyHostCount (Maximum) in the window.
    type: float
    default: 0
  max_target_response_time:
    description:
      - Highest mean C(TargetResponseTime) (Sum / SampleCount, seconds) of the real requests in the window.
        Unset, not judged.
    type: float
  probe_sent:
    description:
      - What the gate's own HTTP probe (M(cutover_probe)) sent through this ALB, as the C(sent) rows it returns,
        C([minute, requests, 5xx, unanswered]). Subtracted, minute by minute, from C(RequestCount), the 5XX counts and
        C(TargetResponseTime)'s samples before any verdict, so "no data" still means no real traffic and a real 5XX
        rate is not diluted by the probe.
    type: list
    elements: raw
    default: []
  no_data:
    description: Verdict for a metric gate without datapoints. C(warn) passes but says so in RV(warnings_list) and RV(line).
    type: str
    default: warn
    choices: [pass, warn, fail]
  no_data_at_zero_weight:
    description:
      - Verdict for "no data" while the new ALB gets no traffic (its weight in O(traffic_record) is 0); before the first
        move its metrics have no data by construction. Default O(no_data).
    type: str
    choices: [pass, warn, fail]
  traffic_record:
    description:
      - Where to read the new ALB's share of traffic, C(zone), C(record), C(type) (default C(A)), C(set_identifier)
        (default C(facilitator-new)). Reported as C(new_weight) and used for O(no_data_at_zero_weight).
    type: dict
  delay_seconds:
    description: Sleep this long before reading (one bake interval), so a bake round is one module call.
    type: float
    default: 0
  fail_on_breach:
    description: Fail the task (one-line message) on a breach instead of returning RV(passed=false).
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Gate the new ALB
  cutover_gate:
    alb_name: facilitator-production-alb
    region: us-east-2
    max_5xx_rate: 0.01
    error_budget_5xx: 5
    no_data: warn
  register: gate
"""

RETURN = r"""
passed:
  description: No breach.
  returned: always
  type: bool
breaches:
  description: One dict per breached gate, C(gate), C(value), C(threshold), C(text).
  returned: always
  type: list
  elements: dict
warnings_list:
  description: Gates without data under O(no_data=warn).
  returned: always
  type: list
  elements: str
readings:
  description:
    - healthy_targets, unhealthy_targets, other_targets, requests, target_5xx, elb_5xx, rate_5xx, unhealthy_host_max,
      target_response_time, probe_requests_excluded, window_minutes (the request counts without the probe's).
  returned: always
  type: dict
line:
  description: The readings in one line.
  returned: always
  type: str
checked_at:
  description: Epoch seconds of the reading.
  returned: always
  type: float
target_groups:
  description: Names of the target groups whose health was read.
  returned: always
  type: list
  elements: str
"""

import time

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports it

from ansible.module_utils.facilitator_ops.cutover import gate as gate
from ansible.module_utils.facilitator_ops.cutover import route53 as r53
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            alb_name=dict(type="str", required=True),
            target_groups=dict(type="list", elements="str", default=[]),
            check_targets=dict(type="bool", default=True),
            check_metrics=dict(type="bool", default=True),
            min_healthy_targets=dict(type="int", default=1),
            max_unhealthy_targets=dict(type="int", default=0),
            metrics_window_minutes=dict(type="int", default=5),
            max_5xx_rate=dict(type="float", default=0.01),
            error_budget_5xx=dict(type="float", default=5),
            max_unhealthy_host_count=dict(type="float", default=0),
            max_target_response_time=dict(type="float"),
            probe_sent=dict(type="list", elements="raw", default=[]),
            no_data=dict(type="str", default="warn", choices=list(gate.NO_DATA_VERDICTS)),
            no_data_at_zero_weight=dict(type="str", choices=list(gate.NO_DATA_VERDICTS)),
            traffic_record=dict(type="dict"),
            delay_seconds=dict(type="float", default=0),
            fail_on_breach=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["delay_seconds"] > 0:
        time.sleep(p["delay_seconds"])
    retry = AWSRetry.jittered_backoff()
    readings = {}
    try:
        elbv2 = module.client("elbv2", retry_decorator=retry)
        lb = r53.lookup_alb(elbv2, p["alb_name"], aws_retry=True)
        tr = p["traffic_record"]
        if tr:
            route53 = module.client("route53", retry_decorator=retry)
            zone_id = r53.find_zone_id(route53, tr["zone"], aws_retry=True)
            records = r53.read_records(route53, zone_id, tr["record"], tr.get("type") or "A", aws_retry=True)
            readings["new_weight"] = gate.new_weight(records, tr.get("set_identifier") or "facilitator-new", lb["DNSName"])
        health = gate.read_target_health(elbv2, lb["LoadBalancerArn"], p["target_groups"], aws_retry=True)
        if p["check_targets"]:
            readings.update(gate.summarize_health(health))
        if p["check_metrics"]:
            cloudwatch = module.client("cloudwatch", retry_decorator=retry)
            readings.update(
                gate.read_metrics(
                    cloudwatch,
                    gate.lb_dimension(lb["LoadBalancerArn"]),
                    [gate.tg_dimension(tg["arn"]) for tg in health.values()],
                    p["metrics_window_minutes"],
                    aws_retry=True,
                    probe_rows=p["probe_sent"],
                )
            )
    except (ValueError, TypeError, IndexError, r53.CutoverError) as e:
        module.fail_json(msg=f"gate {p['alb_name']}: {e}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"gate {p['alb_name']}: reading target health / metrics failed")

    thresholds = {k: p[k] for k in ("min_healthy_targets", "max_unhealthy_targets", "max_5xx_rate", "error_budget_5xx", "max_unhealthy_host_count", "max_target_response_time", "no_data", "no_data_at_zero_weight")}
    breaches, warnings, rate = gate.evaluate(readings, thresholds)
    readings["rate_5xx"] = None if rate is None else round(rate, 6)
    line = gate.line(readings, rate, thresholds)
    if warnings:
        line += f" [no data ({p['metrics_window_minutes']} min): {', '.join(w.split(':')[0] for w in warnings)}: reported, not a pass]"
    result = dict(
        changed=False,
        passed=not breaches,
        breaches=breaches,
        warnings_list=warnings,
        readings=readings,
        line=line,
        checked_at=time.time(),
        target_groups=sorted(health),
    )
    if breaches and p["fail_on_breach"]:
        module.fail_json(msg=f"gate failed on {p['alb_name']}: " + "; ".join(b["text"] for b in breaches), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
