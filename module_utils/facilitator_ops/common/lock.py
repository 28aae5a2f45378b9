# -*- coding: utf-8 -*-
"""One run at a time per resource, across laptops: a lease on one DynamoDB
item per locked thing (the cutover's record name, a deploy's ECS service, a
rotation's service, an environment's secrets migration).

Why DynamoDB: two operators on two laptops must see the same lock, and a
conditional write is atomic there (moto enforces ConditionExpression too). An
SSM parameter has no compare-and-swap, and S3 conditional writes are newer
than some of the tools around us.

The item (key ``lock_id``) carries
- the lock: ``owner``, ``token``, ``acquired_at``, ``expires_at`` (epoch seconds),
  and the holder's process: ``holder_host``, ``holder_pid``, ``holder_start``
  (the ansible-playbook process and its start time);
- the cutover's stage record, kept when the lock is released: ``last_stage``,
  ``last_result``, ``last_at``, ``last_owner``, ``clean_bake_stage`` (the stage
  whose bake finished without a breach; finalize needs it at the last stage).

Every write is conditional on the token, so a run never releases or renews a
lock it does not hold, and breaking a lock is a compare-and-swap on the old token.

A run killed with -9 (laptop died) cannot release its lock. On the same host,
a lock whose holder process is PROVABLY gone (same pid namespace and a /proc
that shows the holder's processes, and no such pid or a pid reused by another
process: the start time differs) is taken over by the next run, with a warning;
a holder this run cannot see (/proc unreadable or hidepid, another container's
pid namespace) is alive. From another host it stays until it expires, then
``break_lock=yes``.

A lease is not enough: a run whose lock expired or was broken must not go on
writing. Every changing module checks the fence (``check_fence``: a consistent
read proving its token still holds the lock, unexpired) right before it writes.
"""
from __future__ import annotations

import datetime
import os
import socket
import time
import uuid

from ansible.module_utils.facilitator_ops.common import crashpoint
from ansible.module_utils.facilitator_ops.common.aws import retry_kw

STATE_FIELDS = ("last_stage", "last_result", "last_at", "last_owner", "clean_bake_stage", "clean_bake_at")


class LockHeld(Exception):
    """The lock is held by someone else (message names the holder)."""


class LockLost(Exception):
    """Our token no longer holds the lock (it was broken)."""


def process_start(pid):
    """The start time of `pid` (clock ticks since boot, /proc) or None when there is no such process."""
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="utf-8") as fh:
            stat = fh.read()
    except (OSError, ValueError):
        return None
    # field 22 (starttime), counted after the ")" that ends the command name
    return int(stat.rsplit(")", 1)[1].split()[19])


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def run_process(pid=None):
    """(pid, start) of the ansible-playbook process this module runs under (the topmost
    ansible-playbook among its ancestors: the module's worker is a fork of it), or
    (None, None) where /proc cannot tell (another OS, a remote host)."""
    pid = pid or os.getpid()
    found = (None, None)
    for _ in range(16):
        if "ansible-playbook" in _cmdline(pid):
            found = (pid, process_start(pid))
        parent = _ppid(pid)
        if not parent or parent <= 1:
            break
        pid = parent
    return found


def pid_namespace():
    """This process's pid namespace (``pid:[4026531836]``), or None where /proc cannot tell."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def holder_identity(pid=None, start=None):
    """What a lock records about its holder besides host and pid: the pid namespace and the uid, so that
    another run can tell whether it could SEE the holder's process at all."""
    return {"ns": pid_namespace() or "", "uid": os.geteuid()}


def _proc_state(pid):
    """("running", start) / ("absent", None) / ("unknown", None): absent only when /proc answers that no such
    process exists; a /proc that cannot be read (hidepid, permissions, no procfs) is unknown."""
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="utf-8") as fh:
            stat = fh.read()
    except FileNotFoundError:
        return "absent", None
    except (OSError, ValueError):
        return "unknown", None
    return "running", int(stat.rsplit(")", 1)[1].split()[19])


def holder_gone(item, host=None):
    """True only when this run can PROVE the lock's holder is gone: it ran on this host, in this pid namespace
    (two EE containers on one host share the host name, not their processes), /proc here shows every process
    of that holder (hidepid hides other users' processes, as if absent), and its pid is absent or now another
    process (start time differs). Anything this run cannot see is a live holder: never stolen silently."""
    host = host or socket.gethostname()
    if item.get("holder_host") != host or not item.get("holder_pid"):
        return False
    ns = pid_namespace()
    if not ns or not item.get("holder_ns") or item.get("holder_ns") != ns:
        return False
    if str(item.get("holder_uid", "")) != str(os.geteuid()) and os.geteuid() != 0:
        return False
    # /proc must show this run itself, or it shows nothing we can trust
    if _proc_state(os.getpid())[0] != "running":
        return False
    state, start = _proc_state(item["holder_pid"])
    if state == "unknown":
        return False
    return state == "absent" or str(start) != str(item.get("holder_start"))


def _iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unwrap(item):
    out = {}
    for k, v in (item or {}).items():
        if "S" in v:
            out[k] = v["S"]
        elif "N" in v:
            n = float(v["N"])
            out[k] = int(n) if n.is_integer() else n
        elif "BOOL" in v:
            out[k] = v["BOOL"]
    return out


def _is_conditional_failure(e):
    return getattr(e, "response", {}).get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def ensure_table(ddb, table, create, check_mode=False, aws_retry=False, wait=True):
    """True if the table exists (or was created). ``create=False`` and missing: False."""
    try:
        ddb.describe_table(TableName=table, **retry_kw(aws_retry))
        return True
    except Exception as e:  # botocore ClientError; kept generic for the pure-python callers
        if getattr(e, "response", {}).get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    if not create or check_mode:
        return False
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        **retry_kw(aws_retry),
    )
    if wait:
        for _ in range(60):
            if ddb.describe_table(TableName=table, **retry_kw(aws_retry))["Table"]["TableStatus"] == "ACTIVE":
                break
            time.sleep(1)
    return True


def read(ddb, table, lock_id, aws_retry=False):
    resp = ddb.get_item(TableName=table, Key={"lock_id": {"S": lock_id}}, ConsistentRead=True, **retry_kw(aws_retry))
    return _unwrap(resp.get("Item"))


def held(item, now):
    return bool(item.get("token")) and float(item.get("expires_at", 0)) > now


def holder_text(item, now):
    left = float(item.get("expires_at", 0)) - now
    when = f"expires {_iso(float(item['expires_at']))} (in {int(left // 60)} min {int(left % 60)} s)" if left > 0 else f"EXPIRED at {_iso(float(item.get('expires_at', 0)))}"
    return f"held by {item.get('owner', '?')} since {item.get('acquired_at', '?')}, {when}"


def acquire(ddb, table, lock_id, owner, ttl_seconds, now=None, break_lock="no", aws_retry=False, token=None,
            purpose="cutover", holder=None, force_hint=None):
    """Take the lock. Returns {token, owner, expires_at, broke (previous holder or None), state}.

    break_lock: "no" (refuse while a live lock is present, and an expired one), "yes" (replace an
    EXPIRED lock), "force" (replace any lock; for an emergency, e.g. the cutover's stage 0).
    A lock whose holder process is gone from this host (holder_gone) is replaced without asking.
    holder: {host, pid, start} of this run's process (run_process()), written with the lock.
    purpose names the lock in messages ("cutover lock on ...", "deploy lock on ...").
    """
    now = time.time() if now is None else now
    token = token or uuid.uuid4().hex
    expires = int(now + ttl_seconds)
    current = read(ddb, table, lock_id, aws_retry=aws_retry)
    broke = None
    values = {
        ":owner": {"S": owner},
        ":token": {"S": token},
        ":acq": {"S": _iso(now)},
        ":exp": {"N": str(expires)},
    }
    update = "SET #owner = :owner, #token = :token, acquired_at = :acq, expires_at = :exp"
    names = {"#owner": "owner", "#token": "token"}
    holder = holder or {}
    if holder.get("host") and holder.get("pid"):
        update += (", holder_host = :hh, holder_pid = :hp, holder_start = :hs, holder_ns = :hn, "
                   "holder_uid = :hu")
        values.update({":hh": {"S": str(holder["host"])}, ":hp": {"N": str(int(holder["pid"]))},
                       ":hs": {"S": str(holder.get("start"))}, ":hn": {"S": str(holder.get("ns") or "")},
                       ":hu": {"S": str(holder.get("uid", ""))}})
    else:
        update += " REMOVE holder_host, holder_pid, holder_start, holder_ns, holder_uid"
    if current.get("token"):
        expired = not held(current, now)
        dead = holder_gone(current, (holder or {}).get("host"))
        allowed = dead or break_lock == "force" or (break_lock == "yes" and expired)
        if not allowed:
            hint = (
                "re-run with -e break_lock=yes to break it (it has expired)"
                if expired
                else "wait for it" + (f", or {force_hint}" if force_hint else "")
            )
            raise LockHeld(f"{purpose} lock on {lock_id} {holder_text(current, now)}: {hint}")
        condition = "#token = :old"
        values[":old"] = {"S": current["token"]}
        broke = {k: current.get(k) for k in ("owner", "acquired_at", "expires_at")}
        broke["why"] = ("its run is gone (pid {} on {})".format(current.get("holder_pid"), current.get("holder_host"))
                        if dead else "expired" if expired else "forced")
    else:
        condition = "attribute_not_exists(#token)"
    try:
        ddb.update_item(
            TableName=table,
            Key={"lock_id": {"S": lock_id}},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            **retry_kw(aws_retry),
        )
    except Exception as e:
        if not _is_conditional_failure(e):
            raise
        # Someone else won the race between our read and our write.
        raise LockHeld(f"{purpose} lock on {lock_id} {holder_text(read(ddb, table, lock_id, aws_retry=aws_retry), now)}")
    crashpoint.wrote(f"run_lock: {purpose} lock on {lock_id} taken")
    state = {k: current.get(k) for k in STATE_FIELDS if k in current}
    return {"token": token, "owner": owner, "expires_at": expires, "expires_at_iso": _iso(expires), "broke": broke, "state": state}


def renew(ddb, table, lock_id, token, ttl_seconds, now=None, aws_retry=False, purpose="cutover"):
    """Push the expiry out; LockLost if our token no longer holds it."""
    now = time.time() if now is None else now
    expires = int(now + ttl_seconds)
    try:
        ddb.update_item(
            TableName=table,
            Key={"lock_id": {"S": lock_id}},
            UpdateExpression="SET expires_at = :exp",
            ConditionExpression="#token = :token",
            ExpressionAttributeNames={"#token": "token"},
            ExpressionAttributeValues={":exp": {"N": str(expires)}, ":token": {"S": token}},
            **retry_kw(aws_retry),
        )
    except Exception as e:
        if not _is_conditional_failure(e):
            raise
        raise LockLost(f"{purpose} lock on {lock_id} was taken over: {holder_text(read(ddb, table, lock_id, aws_retry=aws_retry), now)}")
    return {"token": token, "expires_at": expires, "expires_at_iso": _iso(expires)}


def release(ddb, table, lock_id, token, record=None, now=None, aws_retry=False, purpose="cutover"):
    """Drop the lock and store the stage record. LockLost if our token no longer holds it."""
    now = time.time() if now is None else now
    record = dict(record or {})
    sets, values = [], {":token": {"S": token}}
    removes = ["#owner", "#token", "acquired_at", "expires_at", "holder_host", "holder_pid", "holder_start",
               "holder_ns", "holder_uid"]
    for k in ("last_stage", "last_result", "last_owner"):
        if record.get(k) is not None:
            sets.append(f"{k} = :{k}")
            values[f":{k}"] = {"S": str(record[k])}
    if record:
        sets.append("last_at = :last_at")
        values[":last_at"] = {"S": _iso(now)}
    if "clean_bake_stage" in record:
        if record["clean_bake_stage"] in (None, ""):
            removes += ["clean_bake_stage", "clean_bake_at"]
        else:
            sets += ["clean_bake_stage = :cbs", "clean_bake_at = :last_at"]
            values[":cbs"] = {"S": str(record["clean_bake_stage"])}
            values.setdefault(":last_at", {"S": _iso(now)})
    update = ("SET " + ", ".join(sets) + " " if sets else "") + "REMOVE " + ", ".join(removes)
    try:
        ddb.update_item(
            TableName=table,
            Key={"lock_id": {"S": lock_id}},
            UpdateExpression=update,
            ConditionExpression="#token = :token",
            ExpressionAttributeNames={"#owner": "owner", "#token": "token"},
            ExpressionAttributeValues=values,
            **retry_kw(aws_retry),
        )
    except Exception as e:
        if not _is_conditional_failure(e):
            raise
        raise LockLost(f"{purpose} lock on {lock_id} was no longer ours to release: {holder_text(read(ddb, table, lock_id, aws_retry=aws_retry), now)}")
    return {"released": True}


def check_fence(ddb, table, lock_id, token, now=None, aws_retry=False, purpose="run"):
    """The fence every changing module checks right before it writes: a consistent read proving that
    `token` still holds the lock `lock_id` and that it has not expired. Raises LockLost ("lock lost: ...")
    otherwise: a run whose lock expired (a prompt left open, a hung run) or was broken by another run must
    not go on writing what it planned before. Returns the item."""
    now = time.time() if now is None else now
    item = read(ddb, table, lock_id, aws_retry=aws_retry)
    if not item.get("token"):
        raise LockLost(f"lock lost: the {purpose} lock on {lock_id} is no longer held (released or broken); "
                       f"nothing written, re-run to start from what AWS says now")
    if item["token"] != token:
        raise LockLost(f"lock lost: the {purpose} lock on {lock_id} is now {holder_text(item, now)}; "
                       f"nothing written, re-run once it is free")
    if not held(item, now):
        raise LockLost(f"lock lost: our {purpose} lock on {lock_id} EXPIRED at {_iso(float(item.get('expires_at', 0)))} "
                       f"(anyone may break it now); nothing written, re-run to start from what AWS says now")
    return item


def fence_from_params(params):
    """(table, lock_id, token) of a module's LOCK_FENCE options, or None when the module runs unfenced;
    ValueError when only some are given."""
    got = [params.get(k) for k in ("lock_table", "lock_name", "lock_token")]
    if not any(got):
        return None
    if not all(got):
        raise ValueError("lock_table, lock_name and lock_token go together (the fence of the run's lock)")
    return tuple(got)


def fence_checker(params, dynamodb_client, purpose="run", aws_retry=True):
    """A callable a module calls right before each write: check_fence on its LOCK_FENCE options (LockLost
    when the lock is not ours any more), or a no-op when the module runs unfenced. `dynamodb_client` is a
    factory (called once, on the first check) so that an unfenced module never builds a DynamoDB client."""
    fence = fence_from_params(params)
    client = []

    def check():
        if fence is None:
            return None
        if not client:
            client.append(dynamodb_client())
        return check_fence(client[0], *fence, aws_retry=aws_retry, purpose=purpose)

    check.fenced = fence is not None
    return check


_READS = ("get_", "describe_", "list_", "batch_get_", "can_paginate", "validate_", "generate_presigned")


class FencedClient:
    """A boto3 client (or AnsibleAWSModule's retrying wrapper) whose every write (any operation that is not a
    get/describe/list) calls `check()` first: the fence right before each write, for code that writes through
    a client it was handed (secrets/, wallet/)."""

    def __init__(self, client, check):
        self._client = client
        self._check = check

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name.startswith("_") or not callable(attr) or name.startswith(_READS):
            return attr

        def write(*args, **kwargs):
            self._check()
            return attr(*args, **kwargs)

        return write


def fenced(client, check):
    """`client` with the fence `check` before every write, or `client` itself when `check` is unfenced."""
    return FencedClient(client, check) if getattr(check, "fenced", False) else client


def fence_for_module(module, purpose="run"):
    """fence_checker for an AnsibleAWSModule with the LOCK_FENCE options: the lock table is read in
    `lock_region` (the play's region, where facilitator_lock_table lives) or else the module's own region."""
    from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

    extra = {"region": module.params["lock_region"]} if module.params.get("lock_region") else {}
    return fence_checker(module.params,
                         lambda: module.client("dynamodb", retry_decorator=AWSRetry.jittered_backoff(), **extra),
                         purpose=purpose)
