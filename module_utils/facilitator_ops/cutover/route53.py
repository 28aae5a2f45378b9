# -*- coding: utf-8 -*-
"""Plan and apply the DNS cutover's Route 53 change batches.

The record moves between three shapes:

- ``simple``:   one alias A record (no SetIdentifier), today's shape (to the old ALB),
                and the shape after ``finalize`` (to the new ALB);
- ``weighted``: two weighted alias records, ``facilitator-old`` and ``facilitator-new``;
- ``absent``:   nothing (refused: the cutover never creates the name from scratch).

Route 53 refuses a weighted record beside a simple one of the same name and
type, so every move between shapes is ONE change batch (DELETE + CREATE +
CREATE, or DELETE + DELETE + CREATE), and every weight change UPSERTs both
weighted records in one batch: no state in between is ever visible.

Pure functions here; the only AWS calls are in ``read_records``, ``lookup_alb``
and ``apply_changes``, which take a boto3-style client (unit-tested with
botocore's Stubber).
"""
from __future__ import annotations

import copy
import time

from ansible.module_utils.facilitator_ops.common import crashpoint
from ansible.module_utils.facilitator_ops.common.aws import retry_kw

OLD = "old"
NEW = "new"
SIDES = (OLD, NEW)


class CutoverError(Exception):
    """A refusal with a one-line reason; nothing was changed."""


def fqdn(name):
    name = (name or "").strip().lower()
    return name if name.endswith(".") else name + "."


def normalize_dns(name):
    """Alias DNS names compare lowercase, with a trailing dot, without dualstack."""
    name = fqdn(name)
    return name[len("dualstack."):] if name.startswith("dualstack.") else name


def alias_from_alb(lb, evaluate_target_health=True):
    """AliasTarget for an ALB from describe-load-balancers (never hard-coded)."""
    return {
        "HostedZoneId": lb["CanonicalHostedZoneId"],
        "DNSName": fqdn(lb["DNSName"]),
        "EvaluateTargetHealth": bool(evaluate_target_health),
    }


def lookup_alb(elbv2, name, aws_retry=False):
    """describe_load_balancers by name -> the load balancer dict."""
    resp = elbv2.describe_load_balancers(Names=[name], **retry_kw(aws_retry))
    lbs = resp.get("LoadBalancers") or []
    if len(lbs) != 1:
        raise CutoverError(f"load balancer {name!r}: expected 1, found {len(lbs)}")
    return lbs[0]


def find_zone_id(route53, zone, aws_retry=False):
    zone_fqdn = fqdn(zone)
    resp = route53.list_hosted_zones_by_name(DNSName=zone_fqdn, **retry_kw(aws_retry))
    matches = [z for z in resp.get("HostedZones", []) if fqdn(z["Name"]) == zone_fqdn and not z.get("Config", {}).get("PrivateZone")]
    if len(matches) != 1:
        raise CutoverError(f"public hosted zone {zone_fqdn}: expected 1, found {len(matches)}")
    return matches[0]["Id"].split("/")[-1]


def read_records(route53, zone_id, name, rtype="A", aws_retry=False):
    """Every record set of exactly this name and type (all set identifiers)."""
    name = fqdn(name)
    out = []
    kwargs = dict(HostedZoneId=zone_id, StartRecordName=name, StartRecordType=rtype)
    while True:
        resp = route53.list_resource_record_sets(**kwargs, **retry_kw(aws_retry))
        for rrset in resp.get("ResourceRecordSets", []):
            if fqdn(rrset["Name"]) != name or rrset["Type"] != rtype:
                return out
            out.append(rrset)
        if not resp.get("IsTruncated"):
            return out
        kwargs = dict(HostedZoneId=zone_id, StartRecordName=resp["NextRecordName"], StartRecordType=resp["NextRecordType"])
        if resp.get("NextRecordIdentifier"):
            kwargs["StartRecordIdentifier"] = resp["NextRecordIdentifier"]


def _points_to(rrset, targets):
    alias = rrset.get("AliasTarget")
    if not alias:
        return None
    for side in SIDES:
        t = targets[side]
        if normalize_dns(alias["DNSName"]) == normalize_dns(t["DNSName"]) and alias["HostedZoneId"] == t["HostedZoneId"]:
            return side
    return None


def classify(records, targets, set_ids):
    """Describe the record as it stands.

    Returns a dict: kind (absent|simple|weighted|mixed), points_to (simple only),
    weights ({old, new}; a simple record to the old ALB counts as old 100 / new 0),
    by_side (the weighted records by side), problems (one-line strings).
    """
    simple = [r for r in records if "SetIdentifier" not in r]
    weighted = [r for r in records if "SetIdentifier" in r]
    state = {"kind": "absent", "points_to": None, "weights": None, "by_side": {}, "problems": [], "records": records}
    if simple and weighted:
        state["kind"] = "mixed"
        state["problems"].append(
            f"a simple record sits beside {len(weighted)} weighted record(s) of the same name: Route 53 refuses this shape; fix by hand"
        )
        return state
    if simple:
        state["kind"] = "simple"
        side = _points_to(simple[0], targets)
        state["points_to"] = side
        if side is None:
            alias = simple[0].get("AliasTarget", {}).get("DNSName") or "non-alias values"
            state["problems"].append(f"the simple record points to {alias}, neither the old nor the new ALB")
        else:
            state["weights"] = {OLD: 100, NEW: 0} if side == OLD else {OLD: 0, NEW: 100}
        return state
    if weighted:
        state["kind"] = "weighted"
        ids = {set_ids[s]: s for s in SIDES}
        unknown = sorted(r["SetIdentifier"] for r in weighted if r["SetIdentifier"] not in ids)
        if unknown:
            state["problems"].append(f"unexpected weighted record(s) {', '.join(unknown)} beside {set_ids[OLD]}/{set_ids[NEW]}")
        for r in weighted:
            side = ids.get(r["SetIdentifier"])
            if side:
                state["by_side"][side] = r
        state["weights"] = {s: int(state["by_side"][s]["Weight"]) if s in state["by_side"] else None for s in SIDES}
    return state


def weighted_record(name, rtype, set_id, weight, alias):
    return {
        "Name": fqdn(name),
        "Type": rtype,
        "SetIdentifier": set_id,
        "Weight": int(weight),
        "AliasTarget": copy.deepcopy(alias),
    }


def simple_record(name, rtype, alias):
    return {"Name": fqdn(name), "Type": rtype, "AliasTarget": copy.deepcopy(alias)}


def _same_record(a, b):
    if a is None or b is None:
        return False
    aa, ba = a.get("AliasTarget") or {}, b.get("AliasTarget") or {}
    return (
        a.get("SetIdentifier") == b.get("SetIdentifier")
        and int(a.get("Weight", -1)) == int(b.get("Weight", -1))
        and normalize_dns(aa.get("DNSName", "")) == normalize_dns(ba.get("DNSName", ""))
        and aa.get("HostedZoneId") == ba.get("HostedZoneId")
        and bool(aa.get("EvaluateTargetHealth")) == bool(ba.get("EvaluateTargetHealth"))
    )


def validate_weights(weights):
    for side in SIDES:
        w = weights.get(side)
        if not isinstance(w, int) or isinstance(w, bool) or not 0 <= w <= 255:
            raise CutoverError(f"weight {side}={w!r}: must be an integer 0..255")
    if weights[OLD] + weights[NEW] == 0:
        raise CutoverError("weights old 0 / new 0 would send no traffic anywhere")


def share(weights):
    """The new side's share of traffic (0..1) of {old, new} weights, None when unknown.
    Route 53 sends nothing to a weight-0 record unless all are 0 (then equally)."""
    if not weights or weights.get(OLD) is None or weights.get(NEW) is None:
        return None
    total = weights[OLD] + weights[NEW]
    return 0.5 if total == 0 else weights[NEW] / total


def plan_changes(state, desired, name, rtype, targets, set_ids):
    """The change batch (list of Changes) that moves ``state`` to ``desired``.

    ``desired`` is {"weights": {"old": int, "new": int}} or {"simple": "new"}.
    Raises CutoverError (nothing sent) for shapes it must not touch.
    """
    if state["problems"]:
        raise CutoverError("; ".join(state["problems"]))
    if state["kind"] == "absent":
        raise CutoverError(f"no {rtype} record {fqdn(name)} found: the cutover moves an existing record, it does not create one")

    if "simple" in desired:
        side = desired["simple"]
        want = simple_record(name, rtype, targets[side])
        if state["kind"] == "simple":
            if state["points_to"] == side and _same_record(state["records"][0], want):
                return []
            if state["points_to"] == side:
                return [{"Action": "UPSERT", "ResourceRecordSet": want}]
            raise CutoverError(f"the record is a simple alias to the {state['points_to']} ALB; finalize only replaces the weighted pair")
        w = state["weights"]
        other = OLD if side == NEW else NEW
        if w.get(other) not in (0, None) or not w.get(side):
            raise CutoverError(
                f"finalize needs {other} 0 / {side} > 0, found {weights_text(w)}: run the last stage (and its bake) first"
            )
        changes = [{"Action": "DELETE", "ResourceRecordSet": copy.deepcopy(r)} for r in state["records"]]
        changes.append({"Action": "CREATE", "ResourceRecordSet": want})
        return changes

    weights = desired["weights"]
    validate_weights(weights)
    want = {s: weighted_record(name, rtype, set_ids[s], weights[s], targets[s]) for s in SIDES}
    if state["kind"] == "simple":
        if share(state["weights"]) == share(weights):
            # Already where asked: a simple record to the old ALB is old 100 / new 0,
            # one to the new ALB (finalized) is old 0 / new 100.
            return []
        # Any other weights (also after finalize: stage 10 there means old 90 / new 10,
        # issue 21) replace the simple record by the weighted pair in ONE batch.
        changes = [{"Action": "DELETE", "ResourceRecordSet": copy.deepcopy(state["records"][0])}]
        changes += [{"Action": "CREATE", "ResourceRecordSet": want[s]} for s in SIDES]
        return changes
    if all(_same_record(state["by_side"].get(s), want[s]) for s in SIDES):
        return []
    # Both records in one batch, always: the pair moves together or not at all.
    return [{"Action": "UPSERT", "ResourceRecordSet": want[s]} for s in SIDES]


def desired_state(state, changes, desired):
    """What classify() will say after the batch."""
    if not changes:
        return {"kind": state["kind"], "points_to": state["points_to"], "weights": state["weights"]}
    if "simple" in desired:
        side = desired["simple"]
        return {"kind": "simple", "points_to": side, "weights": {OLD: 100, NEW: 0} if side == OLD else {OLD: 0, NEW: 100}}
    return {"kind": "weighted", "points_to": None, "weights": dict(desired["weights"])}


def weights_text(weights, kind="weighted", points_to=None):
    if kind == "simple":
        return f"simple alias to {points_to}"
    if not weights:
        return "none"
    return f"old {weights.get(OLD)} / new {weights.get(NEW)}"


def describe_changes(changes):
    """One short line per change, for logs and check mode."""
    lines = []
    for c in changes:
        r = c["ResourceRecordSet"]
        what = f"{r['SetIdentifier']} weight {r['Weight']}" if "SetIdentifier" in r else "simple"
        lines.append(f"{c['Action']} {r['Name']} {r['Type']} {what} -> {r['AliasTarget']['DNSName']}")
    return lines


def apply_changes(route53, zone_id, changes, comment="", wait=True, timeout=300, poll=2.0,
                  clock=time.monotonic, sleep=time.sleep, aws_retry=False):
    """Send ONE change batch; wait for INSYNC. Returns {id, status, seconds}."""
    batch = {"Changes": changes}
    if comment:
        batch["Comment"] = comment[:256]
    start = clock()
    resp = route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch=batch, **retry_kw(aws_retry))
    crashpoint.wrote("route53_weighted_alias: change batch sent")
    info = resp["ChangeInfo"]
    change_id, status = info["Id"].split("/")[-1], info["Status"]
    while wait and status != "INSYNC":
        if clock() - start > timeout:
            raise CutoverError(f"change {change_id} still {status} after {timeout}s (it was sent; re-run to check)")
        sleep(poll)
        status = route53.get_change(Id=change_id, **retry_kw(aws_retry))["ChangeInfo"]["Status"]
    return {"id": change_id, "status": status, "seconds": round(clock() - start, 3)}
