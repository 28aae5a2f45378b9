#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: route53_weighted_alias
short_description: Move a name between two ALBs with weighted alias records, one atomic change batch per move
description:
  - Sets the weights of a pair of weighted alias records (C(facilitator-old) / C(facilitator-new)) pointing to two ALBs,
    or replaces the pair with a simple alias record (O(simple)).
  - Exists because M(amazon.aws.route53) changes one record set per call, so a 90/10 to 50/50 move passes through a state
    that is neither, and the first move from a simple record (which Route 53 refuses beside weighted records of the same
    name and type) cannot be done at all. This module sends every move as ONE change batch
    (simple to weighted is DELETE + CREATE + CREATE; a weight change UPSERTs both records; finalize is DELETE + DELETE + CREATE)
    and waits for INSYNC.
  - Alias targets are looked up from ELBv2 by load balancer name in each ALB's own region
    (C(CanonicalHostedZoneId), lowercase C(DNSName) with a trailing dot), never hard-coded.
  - Refuses (nothing sent) a missing record, a simple record to an unknown target, unknown set identifiers,
    a simple record beside weighted ones, and a finalize that is not at old 0.
  - Check mode returns the change batch it would send.
author:
  - facilitator-ops
options:
  zone:
    description: Public hosted zone name.
    type: str
    required: true
  record:
    description: Record name.
    type: str
    required: true
  type:
    description: Record type.
    type: str
    default: A
    choices: [A, AAAA]
  old:
    description: The old ALB (its weighted record's set identifier defaults to C(facilitator-old)).
    type: dict
    required: true
    suboptions: &alb_side  # both sides take the same keys (SIDE_SPEC)
      alb_name:
        description: Load balancer name.
        type: str
        required: true
      region:
        description: Region of the load balancer's API; default O(region).
        type: str
      set_identifier:
        description: Set identifier of its weighted record; default C(facilitator-old) or C(facilitator-new).
        type: str
  new:
    description: The new ALB (its weighted record's set identifier defaults to C(facilitator-new)).
    type: dict
    required: true
    suboptions: *alb_side
  weights:
    description: Desired weights, C(old) and C(new) (integers 0..255). Mutually exclusive with O(simple).
    type: dict
  simple:
    description: Replace the weighted pair with a simple alias to this side (finalize uses C(new)).
    type: str
    choices: [old, new]
  evaluate_target_health:
    description: EvaluateTargetHealth of the alias targets.
    type: bool
    default: true
  wait:
    description: Wait until the change is INSYNC.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for INSYNC.
    type: int
    default: 300
  comment:
    description: Change batch comment (who and why).
    type: str
    default: ""
  fence:
    description:
      - The run lock (M(run_lock)) this write is fenced with. Right before the change batch is sent, the lock is renewed
        with a write conditional on O(fence.token); when that fails (the lock was broken, or expired and taken) nothing
        is sent and the task fails naming the holder. Route 53 has no conditional writes, so this is the fence.
    type: dict
    suboptions:
      table:
        description: The lock table.
        type: str
        required: true
      lock_id:
        description: The locked record name.
        type: str
        required: true
      token:
        description: This run's lock token.
        type: str
        required: true
        no_log: false
      ttl_seconds:
        description: The lock's new lifetime from now.
        type: int
        default: 3600
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: 10% of traffic to the new ALB
  route53_weighted_alias:
    zone: ultravioletadao.xyz
    record: facilitator.ultravioletadao.xyz
    old: {alb_name: karmacadabra-alb, region: us-east-1}
    new: {alb_name: facilitator-production-alb, region: us-east-2}
    weights: {old: 90, new: 10}
    fence: {table: facilitator-ops-locks, lock_id: facilitator.ultravioletadao.xyz, token: "{{ lock.token }}"}
"""

RETURN = r"""
change_batch:
  description: The Changes sent (or, in check mode, that would be sent); empty when nothing changes.
  returned: always
  type: list
  elements: dict
change_lines:
  description: One line per change.
  returned: always
  type: list
  elements: str
before:
  description: kind (simple|weighted), points_to, weights before.
  returned: always
  type: dict
after:
  description: kind, points_to, weights after.
  returned: always
  type: dict
change:
  description: Change id, status (INSYNC), seconds from send to INSYNC, insync_at (epoch).
  returned: when changed and not in check mode
  type: dict
zone_id:
  description: Hosted zone id.
  returned: always
  type: str
targets:
  description: C(old) and C(new), the DNS name of each side's ALB.
  returned: always
  type: dict
"""

import time

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports it

from ansible.module_utils.facilitator_ops.common import lock as lock
from ansible.module_utils.facilitator_ops.cutover import route53 as r53
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

SIDE_SPEC = dict(alb_name=dict(type="str", required=True), region=dict(type="str"), set_identifier=dict(type="str"))
FENCE_SPEC = dict(table=dict(type="str", required=True), lock_id=dict(type="str", required=True),
                  token=dict(type="str", required=True, no_log=False), ttl_seconds=dict(type="int", default=3600))


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            zone=dict(type="str", required=True),
            record=dict(type="str", required=True),
            type=dict(type="str", default="A", choices=["A", "AAAA"]),
            old=dict(type="dict", required=True, options=SIDE_SPEC),
            new=dict(type="dict", required=True, options=SIDE_SPEC),
            weights=dict(type="dict"),
            simple=dict(type="str", choices=["old", "new"]),
            evaluate_target_health=dict(type="bool", default=True),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=300),
            comment=dict(type="str", default=""),
            fence=dict(type="dict", options=FENCE_SPEC),
        ),
        mutually_exclusive=[["weights", "simple"]],
        required_one_of=[["weights", "simple"]],
        supports_check_mode=True,
    )
    p = module.params
    retry = AWSRetry.jittered_backoff()
    set_ids = {
        "old": p["old"].get("set_identifier") or "facilitator-old",
        "new": p["new"].get("set_identifier") or "facilitator-new",
    }
    if p["weights"] is not None:
        try:
            desired = {"weights": {s: int(p["weights"][s]) for s in r53.SIDES}}
        except (KeyError, TypeError, ValueError):
            module.fail_json(msg=f"weights must be {{old: int, new: int}}, got {p['weights']!r}")
    else:
        desired = {"simple": p["simple"]}

    try:
        targets = {}
        for side in r53.SIDES:
            region = p[side].get("region") or module.region
            elbv2 = module.client("elbv2", retry_decorator=retry, region=region)
            lb = r53.lookup_alb(elbv2, p[side]["alb_name"], aws_retry=True)
            targets[side] = r53.alias_from_alb(lb, p["evaluate_target_health"])
        route53 = module.client("route53", retry_decorator=retry)
        zone_id = r53.find_zone_id(route53, p["zone"], aws_retry=True)
        records = r53.read_records(route53, zone_id, p["record"], p["type"], aws_retry=True)
        state = r53.classify(records, targets, set_ids)
        changes = r53.plan_changes(state, desired, p["record"], p["type"], targets, set_ids)
    except r53.CutoverError as e:
        module.fail_json(msg=f"{p['record']}: {e} (nothing changed)")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"{p['record']}: reading DNS and load balancers failed (nothing changed)")

    before = {"kind": state["kind"], "points_to": state["points_to"], "weights": state["weights"]}
    after = r53.desired_state(state, changes, desired)
    result = dict(
        changed=bool(changes),
        zone_id=zone_id,
        before=before,
        after=after,
        change_batch=changes,
        change_lines=r53.describe_changes(changes),
        targets={s: targets[s]["DNSName"] for s in r53.SIDES},
    )
    if changes:
        result["diff"] = dict(
            before=r53.weights_text(before["weights"], before["kind"], before["points_to"]) + "\n",
            after=r53.weights_text(after["weights"], after["kind"], after["points_to"]) + "\n",
        )
    if not changes or module.check_mode:
        module.exit_json(**result)
    if p["fence"]:
        # Only the lock's holder writes: renewed (conditional on our token) right before the batch goes.
        f = p["fence"]
        ddb = module.client("dynamodb", retry_decorator=retry)
        try:
            lock.renew(ddb, f["table"], f["lock_id"], f["token"], f["ttl_seconds"], aws_retry=True, purpose="cutover")
        except lock.LockLost as e:
            module.fail_json(msg=f"{p['record']}: NOT SENT, this run no longer holds the lock: {e}", lost=True, **result)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"{p['record']}: cannot check the cutover lock (nothing sent)")
    try:
        result["change"] = r53.apply_changes(
            route53, zone_id, changes, comment=p["comment"], wait=p["wait"], timeout=p["wait_timeout"], aws_retry=True
        )
        result["change"]["insync_at"] = time.time()
    except r53.CutoverError as e:
        module.fail_json(msg=f"{p['record']}: {e}", **result)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"{p['record']}: Route 53 refused the change batch (nothing changed)", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
