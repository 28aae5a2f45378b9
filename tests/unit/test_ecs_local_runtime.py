"""The local runtime's decisions with a fake Docker engine (no network)."""
from __future__ import annotations

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
        if name not in self.by_name or self.by_name[name].removed:
            raise docker.errors.NotFound("no")
        return self.by_name[name]

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
