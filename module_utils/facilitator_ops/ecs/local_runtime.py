# -*- coding: utf-8 -*-
"""The local stack's stand-in for the ECS agent.

moto registers task definitions and updates services but never starts a task,
so on the local inventory a deploy would prove nothing. `run_task()` takes a
registered task definition and does what the agent does for the container
NAMED `container_name`: resolves `secrets[].valueFrom` from Secrets Manager
(ecs_secrets, incl. `:key::` selectors), pulls the image if absent, replaces
the runtime-managed container (host network, the inventory's port) and
reports health the way ECS would:

  HEALTHY    GET http://<bind_host>:<port>/health answered 200
  STOPPED    the container exited (reason, exit code, last log lines), or it
             never started (secret not resolvable, image not pullable: the
             previous container is then left running, as ECS leaves old tasks)
  UNHEALTHY  no healthy answer within `health_timeout` (container stopped)
  STARTING   with `wait`: started (or watched) but not healthy yet after `wait`
             seconds; call again with `watch=<container_id>` to go on waiting
             for the same container (not restarted), so the caller can print
             progress at least every `wait` seconds

`docker_client` is a docker SDK DockerClient; `fetch_secret(region, arn,
stage, version_id)` returns a SecretString. Secret values exist only in this
process and in the container's environment; results carry names and digests.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import time
import urllib.error
import urllib.request

from ansible.module_utils.facilitator_ops.common import crashpoint
from ansible.module_utils.facilitator_ops.ecs.secrets import ResolveError
from ansible.module_utils.facilitator_ops.ecs.taskdef import DeriveError
from ansible.module_utils.facilitator_ops.ecs.taskdef import container_named
from ansible.module_utils.facilitator_ops.ecs.taskdef import revision_of
from ansible.module_utils.facilitator_ops.ecs.secrets import resolve_secrets

LABEL_MANAGED = "facilitator-ops.runtime"
LABEL_MANAGED_VALUE = "ecs-local"
LABEL_TASKDEF = "facilitator-ops.task-definition"
LABEL_CONFIG = "facilitator-ops.config-digest"
LABEL_IMAGE = "facilitator-ops.image"


def config_digest(taskdef_arn, image_id, environment, port):
    blob = json.dumps({"td": taskdef_arn, "image": image_id, "env": environment, "port": port}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def scrub(lines, secret_values):
    values = sorted({v for v in secret_values if v and len(v) >= 6}, key=len, reverse=True)
    out = []
    for line in lines:
        for v in values:
            line = line.replace(v, "***")
        out.append(line)
    return out


def started_epoch(container):
    """Epoch seconds the container started (Docker's State.StartedAt), or None."""
    raw = ((container.attrs or {}).get("State") or {}).get("StartedAt") or ""
    if not raw or raw.startswith("0001-"):
        return None
    head, _, frac = raw.rstrip("Z").partition(".")
    try:
        ts = datetime.datetime.fromisoformat(head).replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    return ts.timestamp() + (float("0." + frac[:6]) if frac[:6].isdigit() else 0.0)


def http_health(url, timeout=2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (local URL from inventory)
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


class Runtime:
    def __init__(self, docker_client, fetch_secret, container_name="facilitator", docker_name="facilitator-local-runtime",
                 port=18081, bind_host="127.0.0.1", extra_environment=None, replace_containers=(),
                 health_timeout=90, stop_timeout=15, log_lines=20, clock=time.monotonic, sleep=time.sleep,
                 health_check=http_health, wall=time.time, pull_auth=None):
        self.docker = docker_client
        self.fetch_secret = fetch_secret
        self.container_name = container_name
        self.docker_name = docker_name
        self.port = int(port)
        self.bind_host = bind_host
        self.extra_environment = {k: str(v) for k, v in (extra_environment or {}).items()}
        self.replace_containers = list(replace_containers or [])
        self.health_timeout = health_timeout
        self.stop_timeout = stop_timeout
        self.log_lines = log_lines
        self.clock = clock
        self.sleep = sleep
        self.health_check = health_check
        self.wall = wall
        # (registry host, callable -> (username, password)): the credential for pulls from
        # that host, fetched only when a pull is needed (as the ECS agent does with ECR).
        self.pull_auth = pull_auth
        self.progress = []
        self._t0 = clock()

    def say(self, line):
        self.progress.append(f"[{self.clock() - self._t0:5.1f}s] {line}")

    def _find(self, name):
        import docker.errors

        try:
            return self.docker.containers.get(name)
        except docker.errors.NotFound:
            return None

    def _result(self, taskdef_arn, status, changed, **extra):
        out = dict(changed=changed, task_definition=taskdef_arn, revision=revision_of(taskdef_arn),
                   health_status=status, container=self.docker_name, port=self.port,
                   url=f"http://{self.bind_host}:{self.port}", progress=self.progress,
                   seconds=round(self.clock() - self._t0, 1))
        out.update(extra)
        return out

    def current(self):
        """What the runtime runs now: dict(task_definition, image, status) or None."""
        c = self._find(self.docker_name)
        if c is None:
            return None
        labels = c.labels or {}
        return dict(task_definition=labels.get(LABEL_TASKDEF), image=labels.get(LABEL_IMAGE), status=c.status,
                    managed=labels.get(LABEL_MANAGED) == LABEL_MANAGED_VALUE)

    def remove(self, check_mode=False):
        removed = []
        for name in [self.docker_name] + self.replace_containers:
            c = self._find(name)
            if c is None:
                continue
            removed.append(name)
            if not check_mode:
                c.remove(force=True)
        return removed

    def run_task(self, taskdef, check_mode=False, wait=None, watch=None):
        """Run the task definition's container and wait for its health: at most
        `wait` seconds in this call (STARTING when still not healthy), or until
        health_timeout. With `watch` (the container_id of a STARTING result)
        nothing is started: the same container is waited for."""
        import docker.errors

        arn = taskdef.get("taskDefinitionArn")
        rev = revision_of(arn)
        try:
            cdef = container_named(taskdef, self.container_name)
            image = cdef.get("image")
            env = {e["name"]: e.get("value", "") for e in cdef.get("environment") or []}
            self.say(f"{rev}: resolving {len(cdef.get('secrets') or [])} secret(s) from Secrets Manager")
            secret_env = resolve_secrets(cdef.get("secrets") or [], self.fetch_secret)
        except (ResolveError, DeriveError) as e:
            reason = f"ResourceInitializationError: unable to pull secrets: {e}"
            self.say(f"{rev}: STOPPED before start ({reason}); the running container is left as it is")
            return self._result(arn, "STOPPED", False, stopped_reason=reason, exit_code=None, logs=[])
        env.update(secret_env)
        env.update(self.extra_environment)
        env["PORT"] = str(self.port)
        secret_values = list(secret_env.values())

        # The image, pulled from its registry when absent (as the agent does).
        try:
            img = self.docker.images.get(image)
            self.say(f"{rev}: image {image} present ({img.id[7:19]})")
        except docker.errors.ImageNotFound:
            if check_mode:
                self.say(f"{rev}: would pull {image}")
                img = None
            else:
                self.say(f"{rev}: pulling {image}")
                try:
                    kwargs = {}
                    if self.pull_auth and image.split("/", 1)[0] == self.pull_auth[0]:
                        user, password = self.pull_auth[1]()
                        kwargs["auth_config"] = {"username": user, "password": password}
                    img = self.docker.images.pull(image, **kwargs)
                except docker.errors.APIError as e:
                    reason = f"CannotPullContainerError: {image}: {e.explanation or e}"
                    self.say(f"{rev}: STOPPED before start ({reason}); the running container is left as it is")
                    return self._result(arn, "STOPPED", False, stopped_reason=reason, exit_code=None, logs=[],
                                        image=image)
        image_id = img.id if img is not None else None
        digest = config_digest(arn, image_id, env, self.port)
        url = f"http://{self.bind_host}:{self.port}/health"

        if watch and not check_mode:
            c = self._find(watch)
            if c is None or (c.labels or {}).get(LABEL_CONFIG) != digest:
                reason = f"the container {watch} started for {rev} is gone or runs another configuration"
                self.say(f"{rev}: STOPPED: {reason}")
                return self._result(arn, "STOPPED", False, stopped_reason=reason, exit_code=None, logs=[],
                                    image=image)
            started = started_epoch(c)
            left = self.health_timeout - (self.wall() - started if started else 0)
            self.say(f"{rev}: waiting for {self.docker_name} ({c.short_id}) to answer {url}, {max(0, left):.0f}s left")
            return self._await_health(c, arn, rev, image, image_id, digest, secret_values, url,
                                      deadline=self.clock() + left, wait=wait, changed=False)

        existing = self._find(self.docker_name)
        if existing is not None:
            labels = existing.labels or {}
            if (labels.get(LABEL_CONFIG) == digest and existing.status == "running"
                    and self.health_check(f"http://{self.bind_host}:{self.port}/health")):
                self.say(f"{rev}: already running and healthy in {self.docker_name}")
                return self._result(arn, "HEALTHY", False, image=image, image_id=image_id[7:19],
                                    config_digest=digest, container_id=existing.short_id, logs=[])
        others = [n for n in self.replace_containers if self._find(n) is not None]
        if check_mode:
            self.say(f"{rev}: would (re)start {self.docker_name} with {image} on port {self.port}"
                     + (f", replacing {', '.join(others)}" if others else ""))
            return self._result(arn, "PLANNED", True, image=image, config_digest=digest, logs=[])

        removed = self.remove()
        if removed:
            self.say(f"removed {', '.join(removed)}")
        kwargs = dict(
            image=image_id, name=self.docker_name, detach=True, network_mode="host", environment=env,
            labels={LABEL_MANAGED: LABEL_MANAGED_VALUE, LABEL_TASKDEF: arn, LABEL_CONFIG: digest, LABEL_IMAGE: image},
            restart_policy={"Name": "no"},
        )
        if cdef.get("entryPoint"):
            kwargs["entrypoint"] = cdef["entryPoint"]
        if cdef.get("command"):
            kwargs["command"] = cdef["command"]
        if cdef.get("user"):
            kwargs["user"] = cdef["user"]
        if cdef.get("workingDirectory"):
            kwargs["working_dir"] = cdef["workingDirectory"]
        try:
            c = self.docker.containers.run(**kwargs)
        except docker.errors.APIError as e:
            reason = f"CannotStartContainerError: {e.explanation or e}"
            self.say(f"{rev}: STOPPED ({reason})")
            return self._result(arn, "STOPPED", True, stopped_reason=reason, exit_code=None, logs=[], image=image)
        crashpoint.wrote(f"ecs_local_runtime: started {self.docker_name}")
        self.say(f"{rev}: started {self.docker_name} ({c.short_id}) from {image}")
        return self._await_health(c, arn, rev, image, image_id, digest, secret_values, url,
                                  deadline=self.clock() + self.health_timeout, wait=wait, changed=True)

    def _await_health(self, c, arn, rev, image, image_id, digest, secret_values, url, deadline, wait, changed):
        """HEALTHY, STOPPED (exited) or UNHEALTHY (deadline passed: stopped), or
        STARTING when `wait` seconds passed first."""
        until = self.clock() + wait if wait else None
        while True:
            c.reload()
            if c.status in ("exited", "dead"):
                state = c.attrs.get("State") or {}
                code = state.get("ExitCode")
                logs = self._logs(c, secret_values)
                reason = f"Essential container in task exited (container {self.container_name} exit code {code})"
                self.say(f"{rev}: STOPPED: {reason}")
                return self._result(arn, "STOPPED", changed, stopped_reason=reason, exit_code=code, logs=logs,
                                    image=image, image_id=image_id[7:19], container_id=c.short_id)
            if self.health_check(url):
                self.say(f"{rev}: HEALTHY ({url} answered 200)")
                return self._result(arn, "HEALTHY", changed, image=image, image_id=image_id[7:19],
                                    config_digest=digest, container_id=c.short_id, logs=[])
            if self.clock() >= deadline:
                logs = self._logs(c, secret_values)
                reason = f"Task failed container health checks: no healthy {url} within {self.health_timeout}s"
                c.stop(timeout=self.stop_timeout)
                self.say(f"{rev}: UNHEALTHY, stopped: {reason}")
                return self._result(arn, "UNHEALTHY", changed, stopped_reason=reason, exit_code=None, logs=logs,
                                    image=image, image_id=image_id[7:19], container_id=c.short_id)
            if until is not None and self.clock() >= until:
                self.say(f"{rev}: STARTING, {self.docker_name} ({c.short_id}) {c.status}, no healthy {url} yet "
                         f"({max(0.0, deadline - self.clock()):.0f}s left)")
                return self._result(arn, "STARTING", changed, image=image, image_id=image_id[7:19],
                                    config_digest=digest, container_id=c.short_id, logs=[])
            self.sleep(1)

    def _logs(self, c, secret_values):
        try:
            raw = c.logs(tail=self.log_lines).decode("utf-8", "replace")
        except Exception:  # logs are best effort
            return []
        return scrub(raw.splitlines()[-self.log_lines:], secret_values)
