"""Issue 18: rollback.yml is idempotent (the target is recorded on the service when the rollback starts) and
an explicit -e to_revision is checked before any change; the ECS writes check the lock's fence (8a).

module_utils/facilitator_ops/ecs/rollback.py on a small in-memory ECS (task definitions, their tags, the
service's tags: what ListTagsForResource / TagResource / UntagResource document), and ecs_service_rollout
itself on recorded responses (botocore Stubber) for the order of the writes and the fence.
"""
from __future__ import annotations

import json
from unittest import mock

import boto3
import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from botocore.stub import ANY
from botocore.stub import Stubber

import ecs_service_rollout
from ansible.module_utils.facilitator_ops.ecs import rollback as rb

FAMILY = CLUSTER = SERVICE = "facilitator-production"
SVC_ARN = f"arn:aws:ecs:us-east-2:123456789012:service/{CLUSTER}/{SERVICE}"
ARN = "arn:aws:ecs:us-east-2:123456789012:task-definition/{}:{}"


def td(rev, version, family=FAMILY, status="ACTIVE"):
    return {"taskDefinitionArn": ARN.format(family, rev), "family": family, "revision": rev, "status": status,
            "containerDefinitions": [{"name": "facilitator", "image": f"r/facilitator:{version}"}]}


class World:
    """Task definitions 1..n of the family (verified ones tagged), the service on one of them, its tags."""

    def __init__(self, defs, verified, running):
        self.defs = {d["taskDefinitionArn"]: d for d in defs}
        self.tags = {arn: ({"facilitator-ops:verified": "yes"} if int(arn.rsplit(":", 1)[1]) in verified else {})
                     for arn in self.defs}
        self.tags[SVC_ARN] = {}
        self.running = ARN.format(FAMILY, running)
        self.writes = []

    def svc(self):
        return {"serviceArn": SVC_ARN, "taskDefinition": self.running, "status": "ACTIVE"}

    def call(self, name, **kw):
        if name == "list_task_definitions":
            arns = sorted((a for a, d in self.defs.items() if d["family"] == kw["familyPrefix"]
                           and d["status"] == kw.get("status", "ACTIVE")),
                          key=lambda a: int(a.rsplit(":", 1)[1]), reverse=True)
            return {"taskDefinitionArns": arns}
        if name == "list_tags_for_resource":
            return {"tags": [{"key": k, "value": v} for k, v in self.tags[kw["resourceArn"]].items()]}
        if name == "tag_resource":
            self.writes.append(("tag_resource", kw["resourceArn"]))
            self.tags[kw["resourceArn"]].update({t["key"]: t["value"] for t in kw["tags"]})
            return {}
        if name == "untag_resource":
            self.writes.append(("untag_resource", kw["resourceArn"]))
            for k in kw["tagKeys"]:
                self.tags[kw["resourceArn"]].pop(k, None)
            return {}
        raise AssertionError(name)

    def current_td(self):
        return self.defs[self.running]

    def resolve(self, requested="previous"):
        return rb.resolve_target(self.call, self.svc(), self.current_td(), requested, rollback=True)

    def start(self, target, mark=None):
        """What ecs_service_rollout does for a rollback: record the target, then update-service."""
        rb.record_start(self.call, SERVICE, SVC_ARN, self.running, target, "ana@laptop", mark)
        self.running = target

    def done(self, target):
        return rb.record_verified(self.call, lambda: None, SERVICE, SVC_ARN, target, "1.0.0", True, "ana@laptop")


def five_revisions(running=5):
    """1..5, all verified; the service on 5."""
    return World([td(i, f"1.{i}.0") for i in range(1, 6)], verified={1, 2, 3, 4, 5}, running=running)


def test_6_rollback_rerun_after_a_kill_finishes_the_same_rollback():
    """Killed right after update-service (the service runs 4, not yet verified): the rerun goes to 4, not to 3."""
    w = five_revisions()
    target, mark, _ = w.resolve()
    assert target == ARN.format(FAMILY, 4) and mark is None
    w.start(target)                     # killed here: the service runs 4, the record says started 5 -> 4
    again, mark, note = w.resolve()
    assert again == ARN.format(FAMILY, 4), "the rerun computed a new previous: two revisions back"
    assert mark["state"] == "started" and note.startswith("finishing the rollback facilitator-production:5 -> ")


def test_6_rollback_killed_before_its_update_finishes_the_same_rollback():
    """Killed between the record and update-service (or the circuit breaker put 5 back): still 4."""
    w = five_revisions()
    target, _, _ = w.resolve()
    rb.record_start(w.call, SERVICE, SVC_ARN, w.running, target, "ana@laptop")
    assert w.resolve()[0] == ARN.format(FAMILY, 4)


def test_6_a_rerun_after_a_finished_rollback_changes_nothing():
    """A second operator (or a retry) after the rollback finished and verified: the service stays on 4."""
    w = five_revisions()
    target, _, _ = w.resolve()
    w.start(target)
    changed, line = w.done(target)
    assert changed and "rollback record: done" in line
    again, mark, note = w.resolve()
    assert again == w.running == ARN.format(FAMILY, 4) and mark["state"] == "done" and note.startswith("already done")
    assert w.done(target) == (False, f"{FAMILY}:4 recorded as verified")      # idempotent


def test_6_a_record_the_service_moved_away_from_is_ignored_and_a_verified_deploy_removes_it():
    w = five_revisions()
    target, _, _ = w.resolve()
    w.start(target)
    w.done(target)
    w.running = ARN.format(FAMILY, 5)           # a deploy since (revision 5 again)
    # done record, service not on its target: stale, a rollback computes its own previous (4)
    assert w.resolve() == (ARN.format(FAMILY, 4), None, "")
    changed, line = rb.record_verified(w.call, lambda: None, SERVICE, SVC_ARN, w.running, "1.5.0", False, "bob")
    assert changed and "stale rollback record removed" in line
    assert not any(k.startswith("facilitator-ops:rollback") for k in w.tags[SVC_ARN])


def test_6_an_explicit_to_revision_replaces_an_unfinished_record():
    w = five_revisions()
    target, _, _ = w.resolve()
    w.start(target)
    explicit, mark, note = w.resolve("2")
    assert explicit == f"{FAMILY}:2" and note.startswith("replacing the unfinished rollback")


def test_6_to_revision_checks_family_active_and_floor():
    current = td(5, "1.5.0")
    assert rb.check_target(current, td(2, "1.2.0")) is None
    assert "not of the service's family facilitator-production" in rb.check_target(current, td(2, "1.2.0", family="other"))
    assert "is INACTIVE, not ACTIVE" in rb.check_target(current, td(2, "1.2.0", status="INACTIVE"))
    below = rb.check_target(current, td(2, "1.2.0"), floor_version="1.3.0", target_version="1.2.0")
    assert "below the rollback floor 1.3.0" in below and "-e allow_downgrade=true" in below
    assert rb.check_target(current, td(2, "1.2.0"), floor_version="1.3.0", allow_downgrade=True,
                           target_version="1.2.0") is None
    assert "version unknown" in rb.check_target(current, td(2, "dev"), floor_version="1.0.0", target_version=None)
    assert rb.check_target(current, td(4, "1.4.0"), floor_version="1.3.0", target_version="1.4.0") is None


def test_6_previous_with_nothing_verified_below_is_refused():
    w = World([td(1, "1.0.0"), td(2, "1.1.0")], verified={2}, running=2)
    with pytest.raises(rb.RollbackRefused, match="no verified revision of facilitator-production below"):
        w.resolve()


# ---------------------------------------------------------------- the module, on recorded responses

def _clients():
    ecs = boto3.client("ecs", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="x")
    ddb = boto3.client("dynamodb", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="x")
    return ecs, ddb


def run_module(ecs, ddb, args):
    wrapped = {"ecs": RetryingBotoClientWrapper(ecs, AWSRetry.jittered_backoff()),
               "dynamodb": RetryingBotoClientWrapper(ddb, AWSRetry.jittered_backoff())}
    with patch_module_args({"cluster": CLUSTER, "service": SERVICE, "container_name": "facilitator",
                            "region": "us-east-2", **args}), \
            mock.patch.object(AnsibleAWSModule, "client", side_effect=lambda svc, **kw: wrapped[svc]), \
            mock.patch("sys.stdout.write") as out, pytest.raises(SystemExit):
        ecs_service_rollout.main()
    return json.loads("".join(c.args[0] for c in out.call_args_list))


def _reads(stub, running, target, service_tags=()):
    svc = {"services": [dict(serviceArn=SVC_ARN, serviceName=SERVICE, status="ACTIVE", taskDefinition=running,
                             deployments=[])], "failures": []}
    stub.add_response("describe_services", svc, {"cluster": CLUSTER, "services": [SERVICE]})
    stub.add_response("describe_task_definition", {"taskDefinition": td(int(running.rsplit(":", 1)[1]), "1.5.0")},
                      {"taskDefinition": running})
    stub.add_response("list_tags_for_resource", {"tags": list(service_tags)}, {"resourceArn": SVC_ARN})
    stub.add_response("describe_task_definition", {"taskDefinition": td(int(target.rsplit(":", 1)[1]), "1.4.0"),
                                                   "tags": []}, {"taskDefinition": target, "include": ["TAGS"]})


FENCE = {"lock_table": "facilitator-ops-locks", "lock_name": f"ecs_deploy/{CLUSTER}/{SERVICE}", "lock_token": "ours"}


def test_6_the_rollback_target_is_recorded_on_the_service_before_update_service_recorded_ecs_responses():
    ecs, ddb = _clients()
    running, target = ARN.format(FAMILY, 5), ARN.format(FAMILY, 4)
    with Stubber(ecs) as es, Stubber(ddb) as ds:
        _reads(es, running, target)
        ds.add_response("get_item", {"Item": {"lock_id": {"S": FENCE["lock_name"]}, "token": {"S": "ours"},
                                              "expires_at": {"N": "9999999999"}}},
                        {"TableName": FENCE["lock_table"], "Key": {"lock_id": {"S": FENCE["lock_name"]}},
                         "ConsistentRead": True})
        es.add_response("tag_resource", {}, {"resourceArn": SVC_ARN, "tags": ANY})
        es.add_response("update_service", {"service": {"serviceArn": SVC_ARN, "taskDefinition": target,
                                                       "deployments": [{"id": "d1", "status": "PRIMARY",
                                                                        "taskDefinition": target}]}},
                        {"cluster": CLUSTER, "service": SERVICE, "taskDefinition": target, "forceNewDeployment": False,
                         "deploymentConfiguration": ANY})
        out = run_module(ecs, ddb, dict(task_definition=target, rollback=True, wait=False, operator="ana@laptop",
                                        **FENCE))
        es.assert_no_pending_responses()
        ds.assert_no_pending_responses()
    assert out["changed"] and out["updated"] and not out.get("failed"), out


def test_8a_no_ecs_write_when_the_lock_is_lost_recorded_ecs_responses():
    """The lock was broken by another run while this one waited at its prompt: no tag, no update-service."""
    ecs, ddb = _clients()
    running, target = ARN.format(FAMILY, 5), ARN.format(FAMILY, 4)
    with Stubber(ecs) as es, Stubber(ddb) as ds:
        _reads(es, running, target)
        ds.add_response("get_item", {"Item": {"lock_id": {"S": FENCE["lock_name"]}, "token": {"S": "theirs"},
                                              "owner": {"S": "bob@desk"}, "expires_at": {"N": "9999999999"}}})
        out = run_module(ecs, ddb, dict(task_definition=target, rollback=True, wait=False, **FENCE))
        es.assert_no_pending_responses()      # and Stubber refuses any call not recorded: no write happened
    assert out["failed"] and out["msg"].startswith("lock lost:") and "bob@desk" in out["msg"], out


def test_6_to_revision_of_another_family_fails_in_one_line_before_any_change_recorded_ecs_responses():
    ecs, ddb = _clients()
    running, other = ARN.format(FAMILY, 5), ARN.format("other", 2)
    with Stubber(ecs) as es:
        svc = {"services": [dict(serviceArn=SVC_ARN, serviceName=SERVICE, status="ACTIVE", taskDefinition=running,
                                 deployments=[])], "failures": []}
        es.add_response("describe_services", svc, {"cluster": CLUSTER, "services": [SERVICE]})
        es.add_response("describe_task_definition", {"taskDefinition": td(5, "1.5.0")}, {"taskDefinition": running})
        es.add_response("list_tags_for_resource", {"tags": []}, {"resourceArn": SVC_ARN})
        es.add_response("describe_task_definition", {"taskDefinition": td(2, "1.2.0", family="other"), "tags": []},
                        {"taskDefinition": other, "include": ["TAGS"]})
        out = run_module(ecs, ddb, dict(task_definition=other, rollback=True, wait=False))
        es.assert_no_pending_responses()
    assert out["failed"] and "\n" not in out["msg"] and "not of the service's family" in out["msg"], out


def test_6_to_revision_that_does_not_exist_fails_in_one_line_recorded_ecs_responses():
    ecs, ddb = _clients()
    running = ARN.format(FAMILY, 5)
    with Stubber(ecs) as es:
        svc = {"services": [dict(serviceArn=SVC_ARN, serviceName=SERVICE, status="ACTIVE", taskDefinition=running,
                                 deployments=[])], "failures": []}
        es.add_response("describe_services", svc, {"cluster": CLUSTER, "services": [SERVICE]})
        es.add_response("describe_task_definition", {"taskDefinition": td(5, "1.5.0")}, {"taskDefinition": running})
        es.add_response("list_tags_for_resource", {"tags": []}, {"resourceArn": SVC_ARN})
        es.add_client_error("describe_task_definition", service_error_code="ClientException",
                            service_message="Unable to describe task definition.", http_status_code=400)
        out = run_module(ecs, ddb, dict(task_definition="99", rollback=True, wait=False))
    assert out["failed"] and out["msg"].startswith("to_revision facilitator-production:99 does not exist"), out


def test_8a_no_task_definition_is_registered_when_the_lock_expired_recorded_ecs_responses():
    """ecs_taskdef_derive: the deploy's lock expired (a prompt left open past its TTL): no RegisterTaskDefinition."""
    import ecs_taskdef_derive

    ecs, ddb = _clients()
    running = ARN.format(FAMILY, 5)
    current = dict(td(5, "1.5.0"), cpu="1024", memory="2048", networkMode="awsvpc",
                   requiresCompatibilities=["FARGATE"])
    wrapped = {"ecs": RetryingBotoClientWrapper(ecs, AWSRetry.jittered_backoff()),
               "dynamodb": RetryingBotoClientWrapper(ddb, AWSRetry.jittered_backoff())}
    with Stubber(ecs) as es, Stubber(ddb) as ds:
        es.add_response("describe_services", {"services": [dict(serviceArn=SVC_ARN, serviceName=SERVICE, status="ACTIVE",
                                                                taskDefinition=running)], "failures": []})
        es.add_response("describe_task_definition", {"taskDefinition": current, "tags": []},
                        {"taskDefinition": running, "include": ["TAGS"]})
        es.add_response("list_task_definitions", {"taskDefinitionArns": [running]})
        ds.add_response("get_item", {"Item": {"lock_id": {"S": FENCE["lock_name"]}, "token": {"S": "ours"},
                                              "expires_at": {"N": "1"}}})
        with patch_module_args({"cluster": CLUSTER, "service": SERVICE, "region": "us-east-2",
                                "image": "r/facilitator:1.6.0", **FENCE}), \
                mock.patch.object(AnsibleAWSModule, "client", side_effect=lambda svc, **kw: wrapped[svc]), \
                mock.patch("sys.stdout.write") as out, pytest.raises(SystemExit):
            ecs_taskdef_derive.main()
        es.assert_no_pending_responses()
        ds.assert_no_pending_responses()
    result = json.loads("".join(c.args[0] for c in out.call_args_list))
    assert result["failed"] and result["msg"].startswith("lock lost: our deploy lock") and "EXPIRED" in result["msg"]
