"""The rollout state machine on recorded ECS responses (botocore Stubber).

moto never moves an ECS deployment (no rolloutState transitions, no circuit
breaker, no stopped tasks), so these shapes are recorded from real ECS answers
(trimmed to the fields the waiter reads) and replayed through a real botocore
client: completed, failed, circuit-breaker rollback, stuck then timeout, two
deployments draining, tasks stopping with errors.
"""
from __future__ import annotations

import datetime

import boto3
import pytest
from botocore.stub import ANY
from botocore.stub import Stubber

from ansible.module_utils.facilitator_ops.ecs import rollout as r

CLUSTER = SERVICE = "facilitator-production"
ARN = "arn:aws:ecs:us-east-2:123456789012:task-definition/facilitator-production:{}"
OLD, NEW = ARN.format(41), ARN.format(42)
T0 = datetime.datetime(2026, 11, 27, 12, 0, 0, tzinfo=datetime.timezone.utc)


def at(seconds):
    return T0 + datetime.timedelta(seconds=seconds)


def dep(id_, td, status, rollout, running, desired=2, pending=0, failed=0, created=5, reason=None):
    d = {"id": id_, "status": status, "taskDefinition": td, "desiredCount": desired, "pendingCount": pending,
         "runningCount": running, "failedTasks": failed, "createdAt": at(created), "updatedAt": at(created),
         "launchType": "FARGATE", "rolloutState": rollout}
    if reason:
        d["rolloutStateReason"] = reason
    return d


def service(deployments, events=(), td=NEW):
    return {"services": [{
        "serviceArn": f"arn:aws:ecs:us-east-2:123456789012:service/{CLUSTER}/{SERVICE}",
        "serviceName": SERVICE, "status": "ACTIVE", "desiredCount": 2, "runningCount": 2, "pendingCount": 0,
        "taskDefinition": td, "deployments": list(deployments),
        "events": [{"id": f"e{i}", "createdAt": at(t), "message": m} for i, (t, m) in enumerate(events)],
    }], "failures": []}


def stopped_task(task_id, td, exit_code, reason, stopped=30, stop_code="EssentialContainerExited"):
    return {"taskArn": f"arn:aws:ecs:us-east-2:123456789012:task/{CLUSTER}/{task_id}", "taskDefinitionArn": td,
            "lastStatus": "STOPPED", "desiredStatus": "STOPPED", "stopCode": stop_code, "stoppedReason": reason,
            "stoppedAt": at(stopped),
            "containers": [{"name": "facilitator", "exitCode": exit_code, "lastStatus": "STOPPED"},
                           {"name": "otel-collector", "exitCode": 0, "lastStatus": "STOPPED"}]}


class Recording:
    """Stubbed ECS client plus a fake clock: each poll is describe_services +
    list_tasks(STOPPED) (+ describe_tasks when there are some)."""

    def __init__(self):
        self.client = boto3.client("ecs", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="x")
        self.stub = Stubber(self.client)
        self.now = 0.0

    def poll(self, svc, stopped=()):
        self.stub.add_response("describe_services", svc, {"cluster": CLUSTER, "services": [SERVICE]})
        self.stub.add_response("list_tasks", {"taskArns": [t["taskArn"] for t in stopped]},
                               {"cluster": CLUSTER, "serviceName": SERVICE, "desiredStatus": "STOPPED"})
        if stopped:
            self.stub.add_response("describe_tasks", {"tasks": list(stopped), "failures": []},
                                   {"cluster": CLUSTER, "tasks": ANY})
        return self

    def call(self, name, **kwargs):
        return getattr(self.client, name)(**kwargs)

    def clock(self):
        return self.now

    def sleep(self, s):
        self.now += s

    def wait(self, **kw):
        args = dict(deployment_id="ecs-svc/new", timeout=60, interval=15, clock=self.clock, sleep=self.sleep,
                    container_name="facilitator")
        args.update(kw)
        with self.stub:
            out = r.wait_for_rollout(self.call, CLUSTER, SERVICE, NEW, at(0), **args)
            self.stub.assert_no_pending_responses()
        return out


def test_completed_recorded_ecs_responses():
    rec = Recording()
    rec.poll(service([dep("ecs-svc/new", NEW, "PRIMARY", "IN_PROGRESS", 0, pending=2),
                      dep("ecs-svc/old", OLD, "ACTIVE", "COMPLETED", 2, created=-3600)]))
    rec.poll(service([dep("ecs-svc/new", NEW, "PRIMARY", "IN_PROGRESS", 2),
                      dep("ecs-svc/old", OLD, "ACTIVE", "COMPLETED", 0, created=-3600)]))
    rec.poll(service([dep("ecs-svc/new", NEW, "PRIMARY", "COMPLETED", 2)],
                     events=[(50, "(service facilitator-production) has reached a steady state.")]))
    out = rec.wait()
    assert out["state"] == "COMPLETED", out
    assert out["polls"] == 3
    assert "facilitator-production:42 rolled out: 2/2" in out["reason"]
    assert any("draining facilitator-production:41" in line for line in out["progress"])


def test_failed_rollout_recorded_ecs_responses():
    rec = Recording()
    rec.poll(service([dep("ecs-svc/new", NEW, "PRIMARY", "IN_PROGRESS", 0, pending=2),
                      dep("ecs-svc/old", OLD, "ACTIVE", "COMPLETED", 2, created=-3600)]))
    rec.poll(service([dep("ecs-svc/new", NEW, "PRIMARY", "FAILED", 0, failed=3,
                          reason="ECS deployment circuit breaker: tasks failed to start."),
                      dep("ecs-svc/old", OLD, "ACTIVE", "COMPLETED", 2, created=-3600)]))
    out = rec.wait(stopped_threshold=99)
    assert out["state"] == "FAILED"
    assert "FAILED: ECS deployment circuit breaker: tasks failed to start." in out["reason"]


def test_circuit_breaker_rollback_recorded_ecs_responses():
    # After the breaker trips ECS starts a new PRIMARY deployment of the OLD
    # revision and says so in the events; services-stable would report success.
    rec = Recording()
    rec.poll(service([dep("ecs-svc/new", NEW, "PRIMARY", "IN_PROGRESS", 0, pending=2, failed=2),
                      dep("ecs-svc/old", OLD, "ACTIVE", "COMPLETED", 2, created=-3600)]))
    rec.poll(service([dep("ecs-svc/rb", OLD, "PRIMARY", "COMPLETED", 2, created=90)],
                     events=[(95, "(service facilitator-production) has reached a steady state."),
                             (90, "(service facilitator-production) (deployment ecs-svc/new) deployment failed: "
                                  "tasks failed to start. Rolling back to deployment ecs-svc/old.")],
                     td=OLD))
    out = rec.wait(stopped_threshold=99)
    assert out["state"] == "ROLLED_BACK"
    assert "circuit breaker" in out["reason"] and "Rolling back" in out["reason"]


def test_events_before_the_update_are_ignored_recorded_ecs_responses():
    rec = Recording()
    rec.poll(service([dep("ecs-svc/new", NEW, "PRIMARY", "COMPLETED", 2)],
                     events=[(-600, "(deployment ecs-svc/older) deployment failed. Rolling back to deployment x.")]))
    assert rec.wait()["state"] == "COMPLETED"


def test_stuck_then_timeout_recorded_ecs_responses():
    rec = Recording()
    stuck = service([dep("ecs-svc/new", NEW, "PRIMARY", "IN_PROGRESS", 1, pending=1),
                     dep("ecs-svc/old", OLD, "ACTIVE", "COMPLETED", 1, created=-3600)])
    for _ in range(5):  # t=0, 15, 30, 45, 60; the next sleep would pass the 60 s timeout
        rec.poll(stuck)
    out = rec.wait(timeout=60, interval=15)
    assert out["state"] == "TIMEOUT"
    assert "timed out after 60s" in out["reason"] and "running 1/2" in out["reason"]
    assert len(out["progress"]) == 1  # an unchanged line is printed once


def test_two_deployments_draining_recorded_ecs_responses():
    # The new deployment is COMPLETED with running == desired, but the old one
    # still has tasks: not done until it is gone.
    rec = Recording()
    draining = service([dep("ecs-svc/new", NEW, "PRIMARY", "COMPLETED", 2),
                        dep("ecs-svc/old", OLD, "ACTIVE", "COMPLETED", 1, created=-3600)])
    rec.poll(draining).poll(draining)
    rec.poll(service([dep("ecs-svc/new", NEW, "PRIMARY", "COMPLETED", 2)]))
    out = rec.wait()
    assert out["state"] == "COMPLETED" and out["polls"] == 3
    assert "draining facilitator-production:41 (ACTIVE, running 1)" in out["progress"][0]


def test_tasks_stopped_with_errors_recorded_ecs_responses():
    rec = Recording()
    rec.poll(service([dep("ecs-svc/new", NEW, "PRIMARY", "IN_PROGRESS", 0, pending=2, failed=1),
                      dep("ecs-svc/old", OLD, "ACTIVE", "COMPLETED", 2, created=-3600)]),
             stopped=[stopped_task("abc123", NEW, 1, "Essential container in task exited")])
    out = rec.wait()
    assert out["state"] == "FAILED"
    assert "task abc123 stopped: Essential container in task exited; container facilitator exit code 1" in out["reason"]


def test_benign_stops_and_old_revision_stops_are_not_errors_recorded_ecs_responses():
    rec = Recording()
    rec.poll(service([dep("ecs-svc/new", NEW, "PRIMARY", "COMPLETED", 2)]),
             stopped=[stopped_task("old1", OLD, 137, "Essential container in task exited"),
                      stopped_task("new1", NEW, 0, "Scaling activity initiated by (deployment ecs-svc/new)",
                               stop_code="ServiceSchedulerInitiated"),
                      stopped_task("new0", NEW, 1, "Essential container in task exited", stopped=-60)])
    assert rec.wait()["state"] == "COMPLETED"


def test_deployment_gone_means_someone_else_moved_the_service():
    svc = service([dep("ecs-svc/other", OLD, "PRIMARY", "COMPLETED", 2, created=20)], td=OLD)["services"][0]
    obs = r.evaluate(svc, NEW, at(0), deployment_id="ecs-svc/new")
    assert obs["state"] == "ROLLED_BACK" and "PRIMARY deployment is facilitator-production:41" in obs["reason"]


def test_no_update_watches_the_existing_deployment():
    svc = service([dep("ecs-svc/new", NEW, "PRIMARY", "COMPLETED", 2, created=-3600)])["services"][0]
    assert r.evaluate(svc, NEW, at(0), new_deployment=False)["state"] == "COMPLETED"
    assert r.evaluate(svc, NEW, at(0), new_deployment=True)["state"] != "COMPLETED"


def test_update_service_sets_circuit_breaker_with_rollback():
    rec = Recording()
    rec.stub.add_response(
        "update_service",
        {"service": service([dep("ecs-svc/new", NEW, "PRIMARY", "IN_PROGRESS", 0, pending=2)])["services"][0]},
        {"cluster": CLUSTER, "service": SERVICE, "taskDefinition": NEW, "forceNewDeployment": False,
         "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}})
    with rec.stub:
        _, dep_id = r.update_service(rec.call, CLUSTER, SERVICE, NEW)
    assert dep_id == "ecs-svc/new"


@pytest.mark.parametrize("runtime,state", [
    ({"health_status": "HEALTHY", "task_definition": NEW}, "COMPLETED"),
    ({"health_status": "STOPPED", "task_definition": NEW, "stopped_reason": "Essential container in task exited"}, "FAILED"),
    ({"health_status": "UNHEALTHY", "task_definition": NEW}, "FAILED"),
    ({"health_status": "HEALTHY", "task_definition": OLD}, "FAILED"),
])
def test_local_runtime_result_is_the_rollout_result(runtime, state):
    assert r.from_runtime(runtime, NEW)["state"] == state


# ---------------------------------------------------------------- progress while waiting


def _stuck(rec, polls):
    for _ in range(polls):
        rec.poll(service([dep("ecs-svc/new", NEW, "PRIMARY", "IN_PROGRESS", 1, pending=1),
                          dep("ecs-svc/old", OLD, "ACTIVE", "COMPLETED", 1, created=-3600)]))


def test_window_returns_in_progress_within_the_window_recorded_ecs_responses():
    """With a window the waiter hands back IN_PROGRESS (the role prints it) after at most the window."""
    rec = Recording()
    _stuck(rec, 2)
    out = rec.wait(timeout=900, interval=15, window=20)
    assert out["state"] == "IN_PROGRESS" and out["polls"] == 2 and rec.now <= 20
    assert "rollout IN_PROGRESS: running 1/2, pending 1" in out["reason"]
    assert out["progress"] == [f"[    0s] {out['reason']}"]


@pytest.mark.parametrize("interval,window", [(15, 20), (60, 20), (2, 20), (5, 25), (1, 1)])
def test_a_call_never_waits_longer_than_its_window(interval, window):
    rec = Recording()
    _stuck(rec, 40)
    with rec.stub:
        out = r.wait_for_rollout(rec.call, CLUSTER, SERVICE, NEW, at(0), deployment_id="ecs-svc/new", timeout=900,
                                 interval=interval, clock=rec.clock, sleep=rec.sleep, window=window)
    assert out["state"] == "IN_PROGRESS" and 0 < rec.now <= window


def test_calls_chained_through_the_window_show_the_state_every_window_and_time_out_on_the_total_recorded_ecs_responses():
    """What the role does: call, print, call again with the time already waited,
    until TIMEOUT on the TOTAL, never more than the window between two prints."""
    rec = Recording()
    _stuck(rec, 200)
    prints, waited = [], 0.0
    with rec.stub:
        while True:
            before = rec.now
            out = r.wait_for_rollout(rec.call, CLUSTER, SERVICE, NEW, at(0), deployment_id="ecs-svc/new",
                                     timeout=120, interval=15, clock=rec.clock, sleep=rec.sleep, window=20,
                                     waited=waited)
            assert rec.now - before <= 20
            prints.append((rec.now, out["state"], out["progress"]))
            waited = rec.now
            if out["state"] != "IN_PROGRESS":
                break
    assert out["state"] == "TIMEOUT" and "timed out after 120s" in out["reason"]
    assert len(prints) >= 120 // 20
    gaps = [b[0] - a[0] for a, b in zip(prints, prints[1:])]
    assert max(gaps) <= 20
    # the progress lines count from the rollout's start, not from each call
    assert prints[-2][2][0].startswith(f"[{prints[-3][0]:5.0f}s]")


def test_completion_inside_a_later_window_recorded_ecs_responses():
    rec = Recording()
    _stuck(rec, 2)
    rec.poll(service([dep("ecs-svc/new", NEW, "PRIMARY", "COMPLETED", 2)]))
    with rec.stub:
        first = r.wait_for_rollout(rec.call, CLUSTER, SERVICE, NEW, at(0), deployment_id="ecs-svc/new", timeout=900,
                                   interval=15, clock=rec.clock, sleep=rec.sleep, window=20)
        second = r.wait_for_rollout(rec.call, CLUSTER, SERVICE, NEW, at(0), deployment_id="ecs-svc/new", timeout=900,
                                    interval=15, clock=rec.clock, sleep=rec.sleep, window=20, waited=rec.now)
        rec.stub.assert_no_pending_responses()
    assert (first["state"], second["state"]) == ("IN_PROGRESS", "COMPLETED")


# ---- issue 11: the PRIMARY deployment must run the revision this deploy registered

def test_watched_deployment_of_the_old_revision_never_reads_completed():
    """update-service answered with a PRIMARY deployment of the OLD revision (another update won the race, or
    ECS rolled back): its COMPLETED rollout is not this deploy's."""
    svc = service([dep("ecs-svc/x", OLD, "PRIMARY", "COMPLETED", 2, created=10)], td=OLD)["services"][0]
    obs = r.evaluate(svc, NEW, at(0), deployment_id="ecs-svc/x")
    assert obs["state"] == "FAILED" and "runs facilitator-production:41, not facilitator-production:42" in obs["reason"]


def test_completed_needs_the_primary_to_run_the_target():
    # our deployment COMPLETED but another one (old revision) is PRIMARY: not done
    svc = service([dep("ecs-svc/new", NEW, "ACTIVE", "COMPLETED", 2, created=5),
                   dep("ecs-svc/old", OLD, "PRIMARY", "COMPLETED", 2, created=20)], td=OLD)["services"][0]
    assert r.evaluate(svc, NEW, at(0), deployment_id="ecs-svc/new")["state"] != "COMPLETED"


def test_update_service_ignores_a_primary_of_another_revision():
    rec = Recording()
    rec.stub.add_response(
        "update_service",
        {"service": service([dep("ecs-svc/old", OLD, "PRIMARY", "COMPLETED", 2)], td=OLD)["services"][0]}, None)
    with rec.stub:
        _, dep_id = r.update_service(rec.call, CLUSTER, SERVICE, NEW)
    assert dep_id is None


def test_rollback_goes_to_the_last_verified_revision_not_the_last_failed_one():
    arns = [ARN.format(n) for n in (44, 43, 42, 41, 40)]
    tags = {ARN.format(41): {r.VERIFIED_TAG: "yes"}, ARN.format(40): {r.VERIFIED_TAG: "yes"}}
    # 43 and 42 were deployed, failed and rolled back: never verified
    assert r.previous_verified(arns, 44, lambda a: tags.get(a, {})) == ARN.format(41)
    assert r.previous_verified(arns, 41, lambda a: tags.get(a, {})) == ARN.format(40)
    assert r.previous_verified(arns, 40, lambda a: tags.get(a, {})) is None
