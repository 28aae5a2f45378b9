"""ecs_service_rollout as the role drives it, on recorded ECS responses (botocore Stubber).

The role waits for a rollout in calls of at most ecs_deploy_progress_seconds and
prints the state after each (roles/ecs_deploy/tasks/rollout.yml): the first call
updates the service and returns IN_PROGRESS with a `watch`; the next calls pass
the watch back, never update again, count the timeout from the first call, and
end COMPLETED (or fail). moto never moves a deployment, so the shapes are
recorded ECS answers (tests/unit/test_ecs_rollout.py) replayed through the module.
"""
from __future__ import annotations

import json
import time
from unittest import mock

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from botocore.stub import ANY

import ecs_service_rollout
from test_ecs_rollout import CLUSTER, NEW, OLD, SERVICE, Recording, dep, service

TD = {"taskDefinition": {"taskDefinitionArn": NEW, "family": "facilitator-production", "revision": 42,
                         "containerDefinitions": [{"name": "facilitator", "image": "r/facilitator:1.1.0"}]}}
TD_OLD = {"taskDefinition": dict(TD["taskDefinition"], taskDefinitionArn=OLD, revision=41,
                                 containerDefinitions=[{"name": "facilitator", "image": "r/facilitator:1.0.0"}])}
STUCK = service([dep("ecs-svc/new", NEW, "PRIMARY", "IN_PROGRESS", 1, pending=1, created=-1),
                 dep("ecs-svc/old", OLD, "ACTIVE", "COMPLETED", 1, created=-3600)])


def run_module(rec, args):
    """main() in this process with the stubbed client; returns the exit_json/fail_json result."""
    client = RetryingBotoClientWrapper(rec.client, AWSRetry.jittered_backoff())
    with patch_module_args({"cluster": CLUSTER, "service": SERVICE, "container_name": "facilitator",
                            "region": "us-east-2", **args}), \
            mock.patch.object(AnsibleAWSModule, "client", return_value=client), \
            mock.patch("sys.stdout.write") as out, pytest.raises(SystemExit):
        ecs_service_rollout.main()
    return json.loads("".join(c.args[0] for c in out.call_args_list))


def describe(rec, svc, current, target):
    """The module's reads: the service, its current task definition, the target's (with its tags)."""
    rec.stub.add_response("describe_services", svc, {"cluster": CLUSTER, "services": [SERVICE]})
    rec.stub.add_response("describe_task_definition", current, {"taskDefinition": ANY})
    rec.stub.add_response("describe_task_definition", target, {"taskDefinition": ANY, "include": ["TAGS"]})


def test_the_role_loop_prints_every_window_and_ends_completed_recorded_ecs_responses():
    rec = Recording()
    # call 1: the service runs OLD; update to NEW; one poll in the window: IN_PROGRESS
    describe(rec, service([dep("ecs-svc/old", OLD, "PRIMARY", "COMPLETED", 2, created=-3600)], td=OLD), TD_OLD, TD)
    rec.stub.add_response("update_service", {"service": STUCK["services"][0]}, {
        "cluster": CLUSTER, "service": SERVICE, "taskDefinition": NEW, "forceNewDeployment": False,
        "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}})
    rec.poll(STUCK).poll(STUCK)
    # call 2 (watch): no update; still in progress
    describe(rec, STUCK, TD, TD)
    rec.poll(STUCK).poll(STUCK)
    # call 3 (watch): completed
    done = service([dep("ecs-svc/new", NEW, "PRIMARY", "COMPLETED", 2, created=-1)])
    describe(rec, done, TD, TD)
    rec.poll(done)
    args = dict(task_definition=NEW, interval=1, poll_window=1, timeout=60)
    with rec.stub:
        t = time.monotonic()
        first = run_module(rec, args)
        second = run_module(rec, dict(args, update=False, watch=first["watch"]))
        third = run_module(rec, dict(args, update=False, watch=second["watch"]))
        rec.stub.assert_no_pending_responses()
    assert time.monotonic() - t < 10
    assert (first["state"], second["state"], third["state"]) == ("IN_PROGRESS", "IN_PROGRESS", "COMPLETED")
    assert first["changed"] and first["updated"] and not second["updated"] and not third["changed"]
    assert first["watch"]["deployment_id"] == "ecs-svc/new" and first["watch"]["new_deployment"] is True
    assert second["watch"] == first["watch"]       # the same rollout, the same clock
    assert first["waited"] <= second["waited"] <= third["waited"]
    assert "PRIMARY rollout IN_PROGRESS: running 1/2, pending 1" in first["progress"][0]
    assert "rolled out: 2/2 tasks running" in third["reason"]


def test_the_timeout_counts_from_the_first_call_recorded_ecs_responses():
    rec = Recording()
    describe(rec, STUCK, TD, TD)
    rec.poll(STUCK)
    watch = {"since": "2026-11-27T12:00:00+00:00", "started": time.time() - 100, "deployment_id": "ecs-svc/new",
             "new_deployment": True}
    with rec.stub:
        out = run_module(rec, dict(task_definition=NEW, update=False, watch=watch, interval=15, poll_window=20,
                                   timeout=90))
    assert out["failed"] and out["state"] == "TIMEOUT" and "timed out after 90s" in out["msg"]
