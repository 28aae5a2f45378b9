# -*- coding: utf-8 -*-
"""The DNS cutover's lock and stage record, one DynamoDB item per record name.

Why DynamoDB: two operators on two laptops must see the same lock, and a
conditional write is atomic there (moto enforces ConditionExpression too). An
SSM parameter has no compare-and-swap, and S3 conditional writes are newer
than some of the tools around us.

The item (key ``lock_id``, the record name) carries
- the lock: ``owner``, ``token``, ``acquired_at``, ``expires_at`` (epoch seconds);
- the stage record, kept when the lock is released: ``last_stage``, ``last_result``,
  ``last_at``, ``last_owner``, ``clean_bake_stage`` (the stage whose bake finished
  without a breach; finalize needs it at the last stage).

Every write is conditional on the token, so a run never releases or renews a
lock it does not hold, and breaking a lock is a compare-and-swap on the old token.
"""
from __future__ import annotations

import datetime
import time
import uuid

from ansible.module_utils.facilitator_ops.common.aws import retry_kw

STATE_FIELDS = ("last_stage", "last_result", "last_at", "last_owner", "clean_bake_stage", "clean_bake_at")


class LockHeld(Exception):
    """The lock is held by someone else (message names the holder)."""


class LockLost(Exception):
    """Our token no longer holds the lock (it was broken)."""


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


def acquire(ddb, table, lock_id, owner, ttl_seconds, now=None, break_lock="no", aws_retry=False, token=None):
    """Take the lock. Returns {token, owner, expires_at, broke (previous holder or None), state}.

    break_lock: "no" (refuse while any lock is present, even expired), "yes" (replace an EXPIRED
    lock), "force" (replace any lock; for an emergency rollback, stage 0).
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
    if current.get("token"):
        expired = not held(current, now)
        allowed = break_lock == "force" or (break_lock == "yes" and expired)
        if not allowed:
            hint = (
                "re-run with -e break_lock=yes to break it (it has expired)"
                if expired
                else "wait for it, or (emergency rollback only) -e stage=0 -e break_lock=force"
            )
            raise LockHeld(f"cutover lock on {lock_id} {holder_text(current, now)}: {hint}")
        condition = "#token = :old"
        values[":old"] = {"S": current["token"]}
        broke = {k: current.get(k) for k in ("owner", "acquired_at", "expires_at")}
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
        raise LockHeld(f"cutover lock on {lock_id} {holder_text(read(ddb, table, lock_id, aws_retry=aws_retry), now)}")
    state = {k: current.get(k) for k in STATE_FIELDS if k in current}
    return {"token": token, "owner": owner, "expires_at": expires, "expires_at_iso": _iso(expires), "broke": broke, "state": state}


def renew(ddb, table, lock_id, token, ttl_seconds, now=None, aws_retry=False):
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
        raise LockLost(f"cutover lock on {lock_id} was taken over: {holder_text(read(ddb, table, lock_id, aws_retry=aws_retry), now)}")
    return {"token": token, "expires_at": expires, "expires_at_iso": _iso(expires)}


def release(ddb, table, lock_id, token, record=None, now=None, aws_retry=False):
    """Drop the lock and store the stage record. LockLost if our token no longer holds it."""
    now = time.time() if now is None else now
    record = dict(record or {})
    sets, values = [], {":token": {"S": token}}
    removes = ["#owner", "#token", "acquired_at", "expires_at"]
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
        raise LockLost(f"cutover lock on {lock_id} was no longer ours to release: {holder_text(read(ddb, table, lock_id, aws_retry=aws_retry), now)}")
    return {"released": True}
