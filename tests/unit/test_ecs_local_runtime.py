"""The local runtime's decisions with a fake Docker engine (no network)."""
from __future__ import annotations

import datetime

import docker
import pytest

from ansible.module_utils.facilitator_ops.ecs import local_runtime as lr  # noqa: E402

TD = {
    "taskDefinitionArn": "arn:aws:ecs:us-east-2:123456789012:task-definition/facilitator-production:3",
    "family": "facilitator-production", "revision": 3,
    "containerDefinitions": [
        {"name": "otel-collector", "image": "otel:latest"},
        {"name": "facilitator", "image": "127.0.0.1:5001/facilitator:1.1.0",
         "environment": [{"name": "SIGNER_TYPE", "value": "private-key"}],
         "secrets": [{"name": "EVM_PRIVATE_KEY_TESTNET",
                      "valueFrom": "arn:aws:secretsmanager:us-east-2:1:secret:k-AAAAAA:private_key::"}]},
    ],
}
SECRET = "0x" + "ab" * 32


class FakeContainer:
    def __init__(self, name, labels, status="running", exit_code=0, logs=b""):
        self.name, self.labels, self.status = name, labels, status
        self.attrs = {"State": {"ExitCode": exit_code}}
        self.short_id = "c0ffee"
        self._logs = logs
        self.removed = False

    def reload(self):
        pass

    def logs(self, tail=20):
        return self._logs

    def remove(self, force=False):
        self.removed = True

    def stop(self, timeout=10):
        self.status = "exited"


class FakeImages:
    def __init__(self, present=True, pull_error=None):
        self.present, self.pull_error, self.pulled = present, pull_error, []

    def get(self, ref):
        if not self.present:
            raise docker.errors.ImageNotFound("absent")
        return type("Img", (), {"id": "sha256:" + "1" * 64})()

    def pull(self, ref):
        if self.pull_error:
            raise docker.errors.APIError(self.pull_error)
        self.pulled.append(ref)
        return type("Img", (), {"id": "sha256:" + "2" * 64})()


class FakeContainers:
    def __init__(self, existing=None, run_status="running", exit_code=0, logs=b""):
        self.by_name = dict(existing or {})
        self.run_status, self.exit_code, self.logs = run_status, exit_code, logs
        self.run_kwargs = None

    def get(self, name):
        # by name or by id, as the engine does
        hit = self.by_name.get(name) or next((c for c in self.by_name.values() if c.short_id == name), None)
        if hit is None or hit.removed:
            raise docker.errors.NotFound("no")
        return hit

    def run(self, **kwargs):
        self.run_kwargs = kwargs
        c = FakeContainer(kwargs["name"], kwargs["labels"], self.run_status, self.exit_code, self.logs)
        self.by_name[kwargs["name"]] = c
        return c


class FakeDocker:
    def __init__(self, images=None, containers=None):
        self.images = images or FakeImages()
        self.containers = containers or FakeContainers()


def fetch_ok(region, arn, stage, vid):
    return '{"private_key": "%s", "address": "0x1"}' % SECRET


def runtime(client, fetch=fetch_ok, healthy=True, **kw):
    clock = {"t": 0.0}
    return lr.Runtime(client, fetch, port=18199, replace_containers=["facilitator-new"], health_timeout=5,
                      clock=lambda: clock["t"], sleep=lambda s: clock.__setitem__("t", clock["t"] + s),
                      health_check=lambda url: healthy, **kw)


def test_healthy_start_replaces_the_compose_container_and_labels_its_own():
    compose = FakeContainer("facilitator-new", {"com.docker.compose.project": "facilitator-ops"})
    client = FakeDocker(containers=FakeContainers({"facilitator-new": compose}))
    out = runtime(client).run_task(TD)
    assert out["health_status"] == "HEALTHY" and out["changed"]
    assert compose.removed
    kw = client.containers.run_kwargs
    assert kw["network_mode"] == "host" and kw["name"] == "facilitator-local-runtime"
    assert kw["environment"]["PORT"] == "18199" and kw["environment"]["EVM_PRIVATE_KEY_TESTNET"] == SECRET
    assert kw["labels"][lr.LABEL_MANAGED] == "ecs-local" and kw["labels"][lr.LABEL_TASKDEF] == TD["taskDefinitionArn"]
    assert SECRET not in repr(out)


def test_same_revision_already_healthy_is_no_change():
    client = FakeDocker()
    first = runtime(client).run_task(TD)
    second = runtime(client).run_task(TD)
    assert first["changed"] and not second["changed"] and second["health_status"] == "HEALTHY"


def test_exit_at_start_is_stopped_with_exit_code_and_scrubbed_logs():
    logs = f"loading key {SECRET}\nfatal: broken image\n".encode()
    client = FakeDocker(containers=FakeContainers(run_status="exited", exit_code=1, logs=logs))
    out = runtime(client, healthy=False).run_task(TD)
    assert out["health_status"] == "STOPPED" and out["exit_code"] == 1
    assert "exit code 1" in out["stopped_reason"]
    assert out["logs"] == ["loading key ***", "fatal: broken image"]


def test_missing_secret_never_touches_the_running_container():
    old = FakeContainer("facilitator-local-runtime", {lr.LABEL_MANAGED: "ecs-local"})
    client = FakeDocker(containers=FakeContainers({"facilitator-local-runtime": old}))

    def fetch_missing(region, arn, stage, vid):
        raise type("E", (Exception,), {"response": {"Error": {"Code": "ResourceNotFoundException"}}})()

    out = runtime(client, fetch=fetch_missing).run_task(TD)
    assert out["health_status"] == "STOPPED" and not out["changed"]
    assert "ResourceInitializationError" in out["stopped_reason"] and "ResourceNotFoundException" in out["stopped_reason"]
    assert not old.removed and client.containers.run_kwargs is None


def test_image_absent_is_pulled_and_pull_failure_is_cannot_pull():
    client = FakeDocker(images=FakeImages(present=False))
    assert runtime(client).run_task(TD)["health_status"] == "HEALTHY"
    assert client.images.pulled == ["127.0.0.1:5001/facilitator:1.1.0"]
    client = FakeDocker(images=FakeImages(present=False, pull_error="manifest unknown"))
    out = runtime(client).run_task(TD)
    assert out["health_status"] == "STOPPED" and "CannotPullContainerError" in out["stopped_reason"]


def test_never_healthy_is_unhealthy_and_stopped():
    client = FakeDocker()
    out = runtime(client, healthy=False).run_task(TD)
    assert out["health_status"] == "UNHEALTHY" and "health checks" in out["stopped_reason"]
    assert client.containers.by_name["facilitator-local-runtime"].status == "exited"


def test_check_mode_plans_and_changes_nothing():
    compose = FakeContainer("facilitator-new", {})
    client = FakeDocker(containers=FakeContainers({"facilitator-new": compose}))
    out = runtime(client).run_task(TD, check_mode=True)
    assert out["health_status"] == "PLANNED" and not compose.removed and client.containers.run_kwargs is None


# ---------------------------------------------------------------- progress while waiting for health


def _runtime_at(client, clock, healthy, **kw):
    return lr.Runtime(client, fetch_ok, port=18199, health_timeout=50, clock=lambda: clock["t"],
                      sleep=lambda s: clock.__setitem__("t", clock["t"] + s), health_check=healthy,
                      wall=lambda: 1000.0 + clock["t"], **kw)


def test_a_slow_container_is_starting_after_the_wait_then_watched_not_restarted():
    """The role's loop: run with wait=20 -> STARTING; watch the same container -> HEALTHY."""
    clock = {"t": 0.0}
    client = FakeDocker()
    healthy_from = {"t": 30.0}
    check = lambda url: clock["t"] >= healthy_from["t"]  # noqa: E731
    first = _runtime_at(client, clock, check).run_task(TD, wait=20)
    assert first["health_status"] == "STARTING" and first["changed"] and clock["t"] <= 21
    assert "no healthy http://127.0.0.1:18199/health yet" in first["progress"][-1]
    c = client.containers.by_name["facilitator-local-runtime"]
    c.attrs["State"]["StartedAt"] = "1970-01-01T00:16:40.000000000Z"   # wall 1000.0: started at t=0
    client.containers.run_kwargs = None
    second = _runtime_at(client, clock, check).run_task(TD, wait=20, watch=first["container_id"])
    assert second["health_status"] == "HEALTHY" and not second["changed"]
    assert client.containers.run_kwargs is None            # nothing started the second time
    assert not c.removed


def test_watching_never_waits_past_the_health_timeout_counted_from_the_start():
    clock = {"t": 0.0}
    client = FakeDocker()
    first = _runtime_at(client, clock, lambda url: False).run_task(TD, wait=20)
    c = client.containers.by_name["facilitator-local-runtime"]
    c.attrs["State"]["StartedAt"] = "1970-01-01T00:16:40Z"
    second = _runtime_at(client, clock, lambda url: False).run_task(TD, wait=20, watch=first["container_id"])
    assert second["health_status"] == "STARTING" and 39 <= clock["t"] <= 42
    third = _runtime_at(client, clock, lambda url: False).run_task(TD, wait=20, watch=first["container_id"])
    assert third["health_status"] == "UNHEALTHY" and clock["t"] <= 52   # 50 s from the start, not from this call
    assert "within 50s" in third["stopped_reason"] and c.status == "exited"


def test_a_watched_container_that_exited_is_stopped_not_restarted():
    clock = {"t": 0.0}
    client = FakeDocker(containers=FakeContainers(logs=f"key {SECRET}\nboom\n".encode()))
    first = _runtime_at(client, clock, lambda url: False).run_task(TD, wait=5)
    c = client.containers.by_name["facilitator-local-runtime"]
    c.status, c.attrs["State"]["ExitCode"] = "exited", 3
    client.containers.run_kwargs = None
    out = _runtime_at(client, clock, lambda url: False).run_task(TD, wait=5, watch=first["container_id"])
    assert out["health_status"] == "STOPPED" and out["exit_code"] == 3 and client.containers.run_kwargs is None
    assert SECRET not in repr(out) and "boom" in " ".join(out["logs"])


def test_a_watched_container_that_is_gone_is_stopped():
    clock = {"t": 0.0}
    client = FakeDocker()
    out = _runtime_at(client, clock, lambda url: True).run_task(TD, wait=5, watch="deadbeef")
    assert out["health_status"] == "STOPPED" and "is gone" in out["stopped_reason"]


def test_started_epoch():
    c = FakeContainer("x", {})
    c.attrs["State"]["StartedAt"] = "2026-11-28T16:00:00.250000123Z"
    want = datetime.datetime(2026, 11, 28, 16, 0, 0, 250000, tzinfo=datetime.timezone.utc).timestamp()
    assert abs(lr.started_epoch(c) - want) < 1e-3
    c.attrs["State"]["StartedAt"] = "0001-01-01T00:00:00Z"
    assert lr.started_epoch(c) is None
