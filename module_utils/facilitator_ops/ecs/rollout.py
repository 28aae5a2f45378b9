# -*- coding: utf-8 -*-
"""Wait for the truth of an ECS rolling deployment.

`aws ecs wait services-stable` reports success after a circuit-breaker rollback
and returns early after --force-new-deployment; community.aws.ecs_service does
not wait at all. `evaluate()` is the state machine over one
describe-services answer (plus the service's recently stopped tasks):

  COMPLETED    the tracked deployment runs the target task definition, is PRIMARY,
               rolloutState COMPLETED, runningCount == desiredCount, and it is the
               only deployment left (a COMPLETED deployment of another revision,
               e.g. the old one the service went back to, never counts)
  FAILED       rolloutState FAILED, or tasks of the new revision stopped with an
               error (>= threshold), or the deployment vanished
  ROLLED_BACK  the deployment circuit breaker rolled the service back
               (service event), or another revision became PRIMARY
  IN_PROGRESS  anything else (progress line says what is pending / draining)

`wait_for_rollout()` polls it until a terminal state or the timeout (TIMEOUT),
or, with a window, returns IN_PROGRESS after about that long so that the role
prints the state and calls again (progress at least every window seconds).
`call(name, **kwargs)` performs one ECS API call (the module adds retries).
"""
from __future__ import annotations

import datetime
import time

from ansible.module_utils.facilitator_ops.common import crashpoint
from ansible.module_utils.facilitator_ops.ecs.taskdef import revision_of

TERMINAL = ("COMPLETED", "FAILED", "ROLLED_BACK", "TIMEOUT")
# Set on a task-definition revision once deploy.yml / rollback.yml verified the facilitator it runs:
# what rollback.yml goes back to (readable by every operator, unlike a local file).
VERIFIED_TAG = "facilitator-ops:verified"
VERSION_TAG = "facilitator-ops:version"
CIRCUIT_BREAKER_MARKERS = ("circuit breaker", "rolling back", "rolled back")
# Stops that are not errors (scale-in, replaced by a newer deployment, operator).
BENIGN_STOP_MARKERS = ("scaling activity initiated", "deployment", "user initiated", "service scheduler")


def _aware(ts):
    if ts is None:
        return None
    if isinstance(ts, (int, float)):
        return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    if isinstance(ts, str):
        ts = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=datetime.timezone.utc)
    return ts


def task_error(task, container_name=None):
    """A stopped task's error line, or None when it stopped for a benign reason."""
    reason = task.get("stoppedReason") or ""
    code = task.get("stopCode") or ""
    exits = []
    for c in task.get("containers") or []:
        if container_name and c.get("name") != container_name:
            continue
        if c.get("exitCode") not in (None, 0):
            exits.append(f"container {c.get('name')} exit code {c['exitCode']}"
                         + (f" ({c['reason']})" if c.get("reason") else ""))
        elif c.get("reason"):
            exits.append(f"container {c.get('name')}: {c['reason']}")
    low = reason.lower()
    benign = code in ("ServiceSchedulerInitiated", "UserInitiated", "SpotInterruption") and not exits
    if benign or (not exits and any(m in low for m in BENIGN_STOP_MARKERS) and code != "TaskFailedToStart"):
        return None
    if not exits and not reason:
        return None
    tid = (task.get("taskArn") or "").rsplit("/", 1)[-1]
    return f"task {tid} stopped: {reason or code}" + (f"; {'; '.join(exits)}" if exits else "")


def evaluate(service, target_taskdef, since, deployment_id=None, stopped_tasks=(), stopped_threshold=1,
             container_name=None, new_deployment=True):
    """One observation -> dict(state, reason, line, deployment). `since`: only events and
    stopped tasks after it count; with new_deployment, only deployments created after it
    (without: the service was not updated, the existing deployment of the revision is watched)."""
    since = _aware(since)
    deps = service.get("deployments") or []
    events = [e for e in service.get("events") or [] if since is None or _aware(e.get("createdAt")) >= since]
    dep = None
    if deployment_id:
        dep = next((d for d in deps if d.get("id") == deployment_id), None)
    if dep is not None and dep.get("taskDefinition") != target_taskdef:
        return dict(state="FAILED", reason=(f"the deployment being watched ({dep.get('id')}) runs "
                                            f"{revision_of(dep.get('taskDefinition'))}, not {revision_of(target_taskdef)}"),
                    line=f"deployment {dep.get('id')} runs {revision_of(dep.get('taskDefinition'))}", deployment=dep)
    if dep is None:
        cands = [d for d in deps if d.get("taskDefinition") == target_taskdef
                 and (not new_deployment or since is None or _aware(d.get("createdAt")) is None
                      or _aware(d["createdAt"]) >= since)]
        dep = max(cands, key=lambda d: _aware(d.get("createdAt")) or since, default=None)
    rev = revision_of(target_taskdef)

    # Circuit breaker: ECS says so in the service events (newest first).
    for e in events:
        msg = (e.get("message") or "")
        if any(m in msg.lower() for m in CIRCUIT_BREAKER_MARKERS):
            return dict(state="ROLLED_BACK", reason=f"deployment circuit breaker: {msg}", line=msg, deployment=dep)

    primary = next((d for d in deps if d.get("status") == "PRIMARY"), None)
    if dep is None:
        now_on = revision_of(primary.get("taskDefinition")) if primary else "nothing"
        return dict(state="ROLLED_BACK" if primary else "FAILED",
                    reason=f"the deployment of {rev} is gone; the service's PRIMARY deployment is {now_on}",
                    line=f"no deployment of {rev}; PRIMARY is {now_on}", deployment=None)

    if dep.get("rolloutState") == "FAILED":
        return dict(state="FAILED", reason=f"rollout of {rev} FAILED: {dep.get('rolloutStateReason') or 'no reason given'}",
                    line=f"{rev} rolloutState FAILED", deployment=dep)

    errors = []
    for t in stopped_tasks or []:
        if t.get("taskDefinitionArn") != target_taskdef:
            continue
        stopped_at = _aware(t.get("stoppedAt") or t.get("stoppingAt"))
        if since is not None and stopped_at is not None and stopped_at < since:
            continue
        err = task_error(t, container_name)
        if err:
            errors.append(err)
    if errors and len(errors) >= stopped_threshold:
        return dict(state="FAILED", reason=f"{len(errors)} task(s) of {rev} stopped with errors: {errors[0]}",
                    line=errors[0], deployment=dep)

    others = [d for d in deps if d is not dep]
    running, desired, pending = dep.get("runningCount", 0), dep.get("desiredCount", 0), dep.get("pendingCount", 0)
    line = (f"{rev} {dep.get('status')} rollout {dep.get('rolloutState') or '?'}: "
            f"running {running}/{desired}, pending {pending}, failed tasks {dep.get('failedTasks', 0)}")
    if others:
        line += "; draining " + ", ".join(
            f"{revision_of(d.get('taskDefinition'))} ({d.get('status')}, running {d.get('runningCount', 0)})" for d in others)
    if (dep.get("status") == "PRIMARY" and primary is dep and primary.get("taskDefinition") == target_taskdef
            and dep.get("rolloutState") == "COMPLETED" and running == desired and not others):
        return dict(state="COMPLETED", reason=f"{rev} rolled out: {running}/{desired} tasks running", line=line,
                    deployment=dep)
    return dict(state="IN_PROGRESS", reason=line, line=line, deployment=dep)


def describe_service(call, cluster, service):
    out = call("describe_services", cluster=cluster, services=[service])
    if not out.get("services"):
        failures = out.get("failures") or [{}]
        raise LookupError(f"service {service} not found in cluster {cluster}: {failures[0].get('reason', 'MISSING')}")
    svc = out["services"][0]
    if svc.get("status") != "ACTIVE":
        raise LookupError(f"service {service} is {svc.get('status')}")
    return svc


def stopped_tasks(call, cluster, service):
    arns = call("list_tasks", cluster=cluster, serviceName=service, desiredStatus="STOPPED").get("taskArns") or []
    if not arns:
        return []
    return call("describe_tasks", cluster=cluster, tasks=arns[:100]).get("tasks") or []


def update_service(call, cluster, service, taskdef, force_new_deployment=False, circuit_breaker=True):
    """update-service to `taskdef` with the deployment circuit breaker (rollback on).
    Returns (service, deployment_id of the new PRIMARY)."""
    kwargs = dict(cluster=cluster, service=service, taskDefinition=taskdef,
                  forceNewDeployment=bool(force_new_deployment))
    if circuit_breaker:
        kwargs["deploymentConfiguration"] = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    svc = call("update_service", **kwargs)["service"]
    crashpoint.wrote(f"ecs_service_rollout {service}: update-service")
    # The deployment to watch is the PRIMARY one running `taskdef`; any other (the old revision's) is not ours.
    primary = next((d for d in svc.get("deployments") or []
                    if d.get("status") == "PRIMARY" and d.get("taskDefinition") == taskdef), {})
    return svc, primary.get("id")


def tags_dict(tags):
    """ECS tag list ({key, value}) -> dict."""
    return {t.get("key"): t.get("value") for t in tags or []}


def previous_verified(revision_arns, current_revision, tags_of):
    """The highest revision below `current_revision` whose tags carry VERIFIED_TAG (rollback.yml's target).
    revision_arns: ACTIVE revisions of the family; tags_of(arn) -> tag dict. None when there is none."""
    below = sorted((a for a in revision_arns if int(a.rsplit(":", 1)[1]) < int(current_revision)),
                   key=lambda a: int(a.rsplit(":", 1)[1]), reverse=True)
    for arn in below:
        if tags_of(arn).get(VERIFIED_TAG):
            return arn
    return None


def wait_for_rollout(call, cluster, service, target_taskdef, since, deployment_id=None, timeout=900, interval=15,
                     stopped_threshold=1, container_name=None, new_deployment=True, clock=time.monotonic,
                     sleep=time.sleep, window=None, waited=0.0):
    """Poll until a terminal state or the timeout (TIMEOUT). Returns dict(state,
    reason, progress=[lines], polls, seconds).

    `waited`: seconds an earlier call already waited for this rollout (they
    count against the timeout and in the progress lines). With `window`, this
    call returns IN_PROGRESS once it has waited about that long (polling at
    most every `window` seconds): the caller prints the state and calls again,
    so an operator sees the rollout at least every `window` seconds.
    """
    call_start = clock()
    start = call_start - float(waited)
    if window:
        interval = min(interval, window)
    progress, last_line, polls = [], None, 0
    while True:
        polls += 1
        svc = describe_service(call, cluster, service)
        tasks = stopped_tasks(call, cluster, service)
        obs = evaluate(svc, target_taskdef, since, deployment_id, tasks, stopped_threshold, container_name,
                       new_deployment)
        elapsed = clock() - start
        if obs["line"] != last_line:
            progress.append(f"[{elapsed:5.0f}s] {obs['line']}")
            last_line = obs["line"]
        if obs["state"] in TERMINAL:
            return dict(state=obs["state"], reason=obs["reason"], progress=progress, polls=polls,
                        seconds=round(elapsed, 1))
        if elapsed + interval > timeout:
            return dict(state="TIMEOUT",
                        reason=f"timed out after {timeout}s waiting for {revision_of(target_taskdef)}: {obs['line']}",
                        progress=progress, polls=polls, seconds=round(elapsed, 1))
        if window and polls > 1 and clock() - call_start + interval > window:
            return dict(state="IN_PROGRESS", reason=obs["line"], progress=progress, polls=polls,
                        seconds=round(elapsed, 1))
        sleep(interval)


def from_runtime(runtime, target_taskdef):
    """Local stack: the local runtime's result stands in for the ECS rollout (moto
    never moves deployments). healthy -> COMPLETED; anything else -> FAILED."""
    rev = revision_of(target_taskdef)
    progress = [f"[local runtime] {line}" for line in runtime.get("progress") or []]
    if runtime.get("task_definition") and runtime["task_definition"] != target_taskdef:
        return dict(state="FAILED", reason=f"local runtime ran {revision_of(runtime['task_definition'])}, not {rev}",
                    progress=progress, polls=0, seconds=runtime.get("seconds", 0))
    if runtime.get("health_status") == "HEALTHY":
        return dict(state="COMPLETED", reason=f"{rev} rolled out (local runtime: container healthy)",
                    progress=progress, polls=0, seconds=runtime.get("seconds", 0))
    reason = runtime.get("stopped_reason") or runtime.get("health_status") or "unknown"
    return dict(state="FAILED", reason=f"{rev} did not become healthy (local runtime): {reason}",
                progress=progress, polls=0, seconds=runtime.get("seconds", 0))
