#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: run_lock
short_description: Take, renew or release a run's lock (a DynamoDB item with conditional writes)
description:
  - One run at a time per locked thing, across laptops (the DNS cutover of a record, a deploy or a wallet rotation of an
    ECS service, a secrets migration of an environment). The lock is a DynamoDB item written with a condition,
    carrying the owner (user@host), the holder's ansible-playbook process (host, pid, start time) and an expiry. A
    second run fails naming the holder.
  - A lock whose holder process is provably gone from this host (a run killed with -9, in the same pid namespace, /proc
    shows it absent or reused) is taken over by the next run, with a warning. A holder whose process this run cannot
    see (/proc unreadable, hidepid, another container's pid namespace) is alive and never taken over silently. A lock from another host stays until it expires; an expired lock is only replaced when asked
    (O(break_lock=yes)); O(break_lock=force) replaces a live one (emergency only).
  - The same item keeps the cutover's stage record (last stage, result, and the stage whose bake finished clean),
    which C(finalize) checks, whoever runs it.
  - Exists because no bundled module offers a compare-and-swap lock (M(amazon.aws.dynamodb_table) manages tables,
    not items).
  - Check mode reads only; it reports a holder as a warning instead of failing.
author:
  - facilitator-ops
options:
  table:
    description: DynamoDB table (key C(lock_id), string).
    type: str
    required: true
  lock_id:
    description: What is locked (the cutover's record name, C(ecs_deploy/<cluster>/<service>), ...).
    type: str
    required: true
  purpose:
    description: Names the lock in messages (C(<purpose> lock on <lock_id> held by ...)).
    type: str
    default: run
  force_hint:
    description: What a refusal of a live lock suggests besides waiting (e.g. the emergency O(break_lock=force) command).
    type: str
  state:
    description: C(present) takes the lock (or, with O(token), renews it); C(absent) releases it; C(query) reads it.
    type: str
    default: present
    choices: [present, absent, query]
  token:
    description: The token returned when the lock was taken (renew, release).
    type: str
  owner:
    description: Who holds it; default C(user@host) of the control node.
    type: str
  ttl_seconds:
    description: Lifetime from now (take, renew).
    type: int
    default: 3600
  break_lock:
    description: C(no), C(yes) (replace an expired lock) or C(force) (replace any lock).
    type: str
    default: "no"
    choices: ["no", "yes", "force"]
  create_table:
    description: Create the table (on-demand billing) when it does not exist.
    type: bool
    default: true
  record:
    description: On release, the stage record to keep (C(last_stage), C(last_result), C(last_owner), C(clean_bake_stage); empty clean_bake_stage removes it).
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Take the cutover lock
  run_lock:
    purpose: cutover
    table: facilitator-ops-locks
    lock_id: facilitator.ultravioletadao.xyz
    ttl_seconds: 2700
  register: lock

- name: Release it, keeping the stage record
  run_lock:
    table: facilitator-ops-locks
    lock_id: facilitator.ultravioletadao.xyz
    state: absent
    token: "{{ lock.token }}"
    record: {last_stage: "10", last_result: ok, clean_bake_stage: "10"}
"""

RETURN = r"""
acquired:
  description: The lock is ours (false in check mode).
  returned: state=present
  type: bool
token:
  description: The lock's token (not a secret; it only proves which run holds the lock).
  returned: when acquired
  type: str
owner:
  description: The owner written.
  returned: state=present
  type: str
expires_at_iso:
  description: Expiry (UTC).
  returned: when acquired or renewed
  type: str
broke:
  description: The holder that was replaced (O(break_lock), or its run is gone) and why.
  returned: when a lock was broken
  type: dict
state:
  description: The stage record (last_stage, last_result, last_at, last_owner, clean_bake_stage, clean_bake_at).
  returned: state=present, state=query
  type: dict
released:
  description: The lock was released.
  returned: state=absent, not in check mode
  type: bool
holder:
  description: The current holder's line.
  returned: state=query, and check mode when held
  type: str
"""

import getpass
import socket
import time

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports it

from ansible.module_utils.facilitator_ops.common import lock as lock
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            table=dict(type="str", required=True),
            lock_id=dict(type="str", required=True),
            purpose=dict(type="str", default="run"),
            force_hint=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent", "query"]),
            token=dict(type="str", no_log=False),
            owner=dict(type="str"),
            ttl_seconds=dict(type="int", default=3600),
            break_lock=dict(type="str", default="no", choices=["no", "yes", "force"]),
            create_table=dict(type="bool", default=True),
            record=dict(type="dict", default={}),
        ),
        required_if=[["state", "absent", ["token"]]],
        supports_check_mode=True,
    )
    p = module.params
    owner = p["owner"] or f"{getpass.getuser()}@{socket.gethostname()}"
    purpose = p["purpose"]
    ddb = module.client("dynamodb", retry_decorator=AWSRetry.jittered_backoff())
    table, lock_id, now = p["table"], p["lock_id"], time.time()
    try:
        exists = lock.ensure_table(ddb, table, p["create_table"] and p["state"] == "present", module.check_mode, aws_retry=True)
        if not exists:
            if p["state"] == "present" and module.check_mode:
                module.exit_json(changed=False, acquired=False, owner=owner, state={}, holder="", msg=f"table {table} does not exist yet (a real run creates it)")
            if p["state"] == "query":
                module.exit_json(changed=False, state={}, holder="")
            module.fail_json(msg=f"lock table {table} does not exist (create_table=false)")
        current = lock.read(ddb, table, lock_id, aws_retry=True)
        state = {k: current[k] for k in lock.STATE_FIELDS if k in current}
        holder = lock.holder_text(current, now) if current.get("token") else ""

        if p["state"] == "query":
            module.exit_json(changed=False, state=state, holder=holder)

        if p["state"] == "absent":
            if module.check_mode:
                module.exit_json(changed=False)
            lock.release(ddb, table, lock_id, p["token"], p["record"], now=now, aws_retry=True, purpose=purpose)
            module.exit_json(changed=True, released=True)

        if p["token"]:
            if module.check_mode:
                module.exit_json(changed=False, acquired=False, owner=owner, state=state)
            renewed = lock.renew(ddb, table, lock_id, p["token"], p["ttl_seconds"], now=now, aws_retry=True,
                                 purpose=purpose)
            module.exit_json(changed=True, acquired=True, owner=owner, state=state, **renewed)

        if module.check_mode:
            if holder:
                module.warn(f"{purpose} lock on {lock_id} {holder}: a real run would be refused")
            module.exit_json(changed=False, acquired=False, owner=owner, state=state, holder=holder)
        pid, start = lock.run_process()
        taken = lock.acquire(ddb, table, lock_id, owner, p["ttl_seconds"], now=now, break_lock=p["break_lock"],
                             aws_retry=True, purpose=purpose, force_hint=p["force_hint"],
                             holder=dict(host=socket.gethostname(), pid=pid, start=start, **lock.holder_identity()))
        if taken["broke"]:
            module.warn(f"broke the {purpose} lock of {taken['broke']['owner']} (acquired {taken['broke']['acquired_at']}; "
                        f"{taken['broke']['why']})")
        module.exit_json(changed=True, acquired=True, **taken)
    except lock.LockHeld as e:
        module.fail_json(msg=str(e), holder=str(e))
    except lock.LockLost as e:
        module.fail_json(msg=str(e), lost=True)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"{purpose} lock {table}/{lock_id}")


if __name__ == "__main__":
    main()
