"""Route 53 change batches of the DNS cutover, as recorded-response tests.

moto accepts a simple record beside weighted ones (real Route 53 refuses it)
and is INSYNC at once, so the shape of every change batch is asserted here,
against botocore's Stubber with responses recorded from the Route 53 API.
"""
from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from ansible.module_utils.facilitator_ops.cutover import route53 as r53

ZONE_ID = "Z0123456789ABCDEFGHIJ"
NAME = "facilitator.ultravioletadao.xyz."
OLD_LB = {"LoadBalancerName": "karmacadabra-alb", "CanonicalHostedZoneId": "Z35SXDOTRQ7X7K",
          "DNSName": "Karmacadabra-ALB-123.us-east-1.elb.amazonaws.com",
          "LoadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/karmacadabra-alb/abc"}
NEW_LB = {"LoadBalancerName": "facilitator-production-alb", "CanonicalHostedZoneId": "Z3AADJGX6KTTL2",
          "DNSName": "facilitator-production-alb-456.us-east-2.elb.amazonaws.com",
          "LoadBalancerArn": "arn:aws:elasticloadbalancing:us-east-2:1:loadbalancer/app/facilitator-production-alb/def"}
SET_IDS = {"old": "facilitator-old", "new": "facilitator-new"}
TARGETS = {"old": r53.alias_from_alb(OLD_LB), "new": r53.alias_from_alb(NEW_LB)}


def simple_to(side):
    return {"Name": NAME, "Type": "A", "AliasTarget": dict(TARGETS[side])}


def weighted(old, new):
    return [r53.weighted_record(NAME, "A", SET_IDS["old"], old, TARGETS["old"]),
            r53.weighted_record(NAME, "A", SET_IDS["new"], new, TARGETS["new"])]


def plan(records, desired):
    state = r53.classify(records, TARGETS, SET_IDS)
    return state, r53.plan_changes(state, desired, NAME, "A", TARGETS, SET_IDS)


def test_alias_target_comes_from_the_load_balancer_lowercase_with_trailing_dot():
    assert TARGETS["old"] == {"HostedZoneId": "Z35SXDOTRQ7X7K",
                              "DNSName": "karmacadabra-alb-123.us-east-1.elb.amazonaws.com.",
                              "EvaluateTargetHealth": True}
    assert TARGETS["new"]["HostedZoneId"] == "Z3AADJGX6KTTL2"  # us-east-2's, not us-east-1's


def test_first_move_from_simple_is_one_batch_delete_create_create():
    current = {"Name": NAME, "Type": "A", "AliasTarget": {"HostedZoneId": "Z35SXDOTRQ7X7K",
               "DNSName": "dualstack.KARMACADABRA-alb-123.us-east-1.elb.amazonaws.com.", "EvaluateTargetHealth": False}}
    state, changes = plan([current], {"weights": {"old": 90, "new": 10}})
    assert state["kind"] == "simple" and state["points_to"] == "old"
    assert [c["Action"] for c in changes] == ["DELETE", "CREATE", "CREATE"]
    assert changes[0]["ResourceRecordSet"] == current  # exactly what stands, or Route 53 refuses the DELETE
    created = {c["ResourceRecordSet"]["SetIdentifier"]: c["ResourceRecordSet"] for c in changes[1:]}
    assert created["facilitator-old"]["Weight"] == 90 and created["facilitator-new"]["Weight"] == 10
    assert created["facilitator-new"]["AliasTarget"]["DNSName"] == "facilitator-production-alb-456.us-east-2.elb.amazonaws.com."
    # nothing simple survives the batch: no simple-beside-weighted state ever exists
    assert not any(c["Action"] in ("CREATE", "UPSERT") and "SetIdentifier" not in c["ResourceRecordSet"] for c in changes)


def test_weight_change_upserts_both_records_in_one_batch():
    _, changes = plan(weighted(90, 10), {"weights": {"old": 50, "new": 50}})
    assert [(c["Action"], c["ResourceRecordSet"]["SetIdentifier"], c["ResourceRecordSet"]["Weight"]) for c in changes] == [
        ("UPSERT", "facilitator-old", 50), ("UPSERT", "facilitator-new", 50)]


def test_already_at_weights_is_no_change_even_with_case_and_dot_differences():
    records = weighted(50, 50)
    records[1]["AliasTarget"]["DNSName"] = records[1]["AliasTarget"]["DNSName"].upper().rstrip(".")
    assert plan(records, {"weights": {"old": 50, "new": 50}})[1] == []


def test_stage_zero_on_the_untouched_simple_record_is_no_change():
    assert plan([simple_to("old")], {"weights": {"old": 100, "new": 0}})[1] == []


def test_finalize_is_delete_delete_create_simple_to_new():
    _, changes = plan(weighted(0, 100), {"simple": "new"})
    assert [c["Action"] for c in changes] == ["DELETE", "DELETE", "CREATE"]
    assert "SetIdentifier" not in changes[2]["ResourceRecordSet"]
    assert changes[2]["ResourceRecordSet"]["AliasTarget"]["HostedZoneId"] == "Z3AADJGX6KTTL2"
    assert plan([simple_to("new")], {"simple": "new"})[1] == []


def test_finalize_refused_unless_old_is_zero():
    with pytest.raises(r53.CutoverError, match="finalize needs old 0"):
        plan(weighted(50, 50), {"simple": "new"})
    with pytest.raises(r53.CutoverError, match="simple alias to the old ALB"):
        plan([simple_to("old")], {"simple": "new"})


def test_rollback_after_finalize_is_one_batch_back_to_weighted():
    _, changes = plan([simple_to("new")], {"weights": {"old": 100, "new": 0}})
    assert [c["Action"] for c in changes] == ["DELETE", "CREATE", "CREATE"]


@pytest.mark.parametrize("new_weight", [10, 50])
def test_issue21_stage_after_finalize_is_one_batch_to_the_asked_weights(new_weight):
    """After finalize (simple alias to the new ALB) -e stage=10 means old 90 / new 10: DELETE the simple
    record and CREATE the two weighted records in ONE batch, never a silent "no change"."""
    current = simple_to("new")
    state, changes = plan([current], {"weights": {"old": 100 - new_weight, "new": new_weight}})
    assert state["weights"] == {"old": 0, "new": 100}
    assert [c["Action"] for c in changes] == ["DELETE", "CREATE", "CREATE"]
    assert changes[0]["ResourceRecordSet"] == current
    created = {c["ResourceRecordSet"]["SetIdentifier"]: c["ResourceRecordSet"]["Weight"] for c in changes[1:]}
    assert created == {"facilitator-old": 100 - new_weight, "facilitator-new": new_weight}
    assert r53.desired_state(state, changes, {"weights": {"old": 100 - new_weight, "new": new_weight}})["weights"] == {
        "old": 100 - new_weight, "new": new_weight}


def test_issue21_stage_whose_weights_route53_already_has_is_no_change():
    # simple to new IS old 0 / new 100; simple to old IS old 100 / new 0: nothing to send
    assert plan([simple_to("new")], {"weights": {"old": 0, "new": 100}})[1] == []
    assert plan([simple_to("old")], {"weights": {"old": 100, "new": 0}})[1] == []
    # any other weights are sent
    assert [c["Action"] for c in plan([simple_to("old")], {"weights": {"old": 0, "new": 100}})[1]] == [
        "DELETE", "CREATE", "CREATE"]


@pytest.mark.parametrize("records, match", [
    ([], "no A record"),
    ([simple_to("old")] + weighted(90, 10), "Route 53 refuses this shape"),
    ([{"Name": NAME, "Type": "A", "AliasTarget": {"HostedZoneId": "ZX", "DNSName": "elsewhere.example.", "EvaluateTargetHealth": False}}],
     "neither the old nor the new ALB"),
    (weighted(90, 10) + [dict(weighted(1, 1)[0], SetIdentifier="stray")], "unexpected weighted record"),
])
def test_refusals(records, match):
    with pytest.raises(r53.CutoverError, match=match):
        plan(records, {"weights": {"old": 50, "new": 50}})


@pytest.mark.parametrize("weights", [{"old": 0, "new": 0}, {"old": -1, "new": 10}, {"old": 256, "new": 1}])
def test_bad_weights(weights):
    with pytest.raises(r53.CutoverError):
        plan(weighted(90, 10), {"weights": weights})


# --- recorded responses -------------------------------------------------------

@pytest.fixture
def route53():
    client = boto3.client("route53", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_recorded_read_records_stops_at_the_next_name(route53):
    client, stub = route53
    stub.add_response(
        "list_resource_record_sets",
        {"ResourceRecordSets": weighted(90, 10) + [{"Name": "other.ultravioletadao.xyz.", "Type": "A", "TTL": 60,
                                                    "ResourceRecords": [{"Value": "1.2.3.4"}]}],
         "IsTruncated": False, "MaxItems": "100"},
        {"HostedZoneId": ZONE_ID, "StartRecordName": NAME, "StartRecordType": "A"},
    )
    records = r53.read_records(client, ZONE_ID, "Facilitator.ultravioletadao.xyz")
    assert [r["SetIdentifier"] for r in records] == ["facilitator-old", "facilitator-new"]


def test_recorded_apply_sends_one_batch_and_waits_for_insync(route53):
    client, stub = route53
    _, changes = plan([simple_to("old")], {"weights": {"old": 90, "new": 10}})
    stub.add_response(
        "change_resource_record_sets",
        {"ChangeInfo": {"Id": "/change/C1", "Status": "PENDING", "SubmittedAt": "2026-11-27T20:00:00Z"}},
        {"HostedZoneId": ZONE_ID, "ChangeBatch": {"Comment": "stage 10", "Changes": changes}},
    )
    stub.add_response("get_change", {"ChangeInfo": {"Id": "/change/C1", "Status": "PENDING", "SubmittedAt": "2026-11-27T20:00:00Z"}}, {"Id": "C1"})
    stub.add_response("get_change", {"ChangeInfo": {"Id": "/change/C1", "Status": "INSYNC", "SubmittedAt": "2026-11-27T20:00:00Z"}}, {"Id": "C1"})
    sleeps = []
    out = r53.apply_changes(client, ZONE_ID, changes, comment="stage 10", sleep=sleeps.append, poll=1.5)
    assert out["id"] == "C1" and out["status"] == "INSYNC"
    assert sleeps == [1.5, 1.5]


def test_recorded_insync_timeout_says_the_change_was_sent(route53):
    client, stub = route53
    _, changes = plan(weighted(90, 10), {"weights": {"old": 50, "new": 50}})
    stub.add_response("change_resource_record_sets",
                      {"ChangeInfo": {"Id": "/change/C2", "Status": "PENDING", "SubmittedAt": "2026-11-27T20:00:00Z"}})
    stub.add_response("get_change", {"ChangeInfo": {"Id": "/change/C2", "Status": "PENDING", "SubmittedAt": "2026-11-27T20:00:00Z"}})
    ticks = iter([0, 10, 400])
    with pytest.raises(r53.CutoverError, match="still PENDING after 300s"):
        r53.apply_changes(client, ZONE_ID, changes, clock=lambda: next(ticks), sleep=lambda s: None)


def test_recorded_zone_lookup_ignores_private_zones():
    client = boto3.client("route53", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response("list_hosted_zones_by_name", {
            "HostedZones": [
                {"Id": "/hostedzone/ZPRIV", "Name": "ultravioletadao.xyz.", "CallerReference": "a", "Config": {"PrivateZone": True}},
                {"Id": "/hostedzone/ZPUB", "Name": "ultravioletadao.xyz.", "CallerReference": "b", "Config": {"PrivateZone": False}},
            ], "IsTruncated": False, "MaxItems": "100"}, {"DNSName": "ultravioletadao.xyz."})
        assert r53.find_zone_id(client, "ultravioletadao.xyz") == "ZPUB"
