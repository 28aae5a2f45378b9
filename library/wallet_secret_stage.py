#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: wallet_secret_stage
short_description: Promote, roll back or finish a wallet secret's rotation by moving version stages
description:
  - C(promote) moves C(AWSCURRENT) from the old version to the C(AWSPENDING) one (the old version becomes
    C(AWSPREVIOUS), the way back). C(AWSPENDING) stays on the new version until C(finish), so a rerun knows the
    rotation is promoted but not finished.
  - C(rollback) moves C(AWSCURRENT) back to the old version; the new version keeps C(AWSPENDING) (and its funds), so
    a later run retries without generating or funding again. Refused (nothing moved) once the sweep of the old
    wallet into the new version has started (the secret's C(facilitator-ops:sweep-started) tag), because the old key
    is then empty, maybe leaked, and the rotation only goes forward.
  - C(finish) tags the secret C(facilitator-ops:rotated) with the new version and the time (the recent-rotation guard,
    readable from any machine), then removes C(AWSPENDING) from the (current) new version, which ends the rotation.
  - Each action checks the versions are what the caller expects and does nothing when the state is already reached
    (idempotent). Exists because M(amazon.aws.secretsmanager_secret) cannot move staging labels. No value is read.
author:
  - facilitator-ops
options:
  action:
    description: What to do.
    type: str
    choices: [promote, rollback, finish]
    required: true
extends_documentation_fragment:
  - facilitator_lock
  - facilitator_wallet
  - facilitator_wallet.versions
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Promote AWSPENDING to AWSCURRENT
  wallet_secret_stage:
    secret_arn: "{{ w.secret_arn }}"
    action: promote
    old_version: "{{ w.versions.old }}"
    new_version: "{{ w.versions.new }}"
"""

RETURN = r"""
stages:
  description: Version id -> stages after the action.
  returned: always
  type: dict
phase:
  description: Rotation phase after the action (idle, pending, promoted).
  returned: always
  type: str
"""

import time

try:
    import botocore
except ImportError:
    pass

from ansible.module_utils.facilitator_ops.common import lock
from ansible.module_utils.facilitator_ops.common.argspec import LOCK_FENCE
from ansible.module_utils.facilitator_ops.common.argspec import WALLET_SECRET
from ansible.module_utils.facilitator_ops.common.argspec import WALLET_VERSIONS
from ansible.module_utils.facilitator_ops.wallet.aws import wallet_secret
from ansible.module_utils.facilitator_ops.wallet.secret import WalletSecretError
from ansible.module_utils.facilitator_ops.wallet.state import StateError
from ansible.module_utils.facilitator_ops.wallet.state import phase_of
from ansible.module_utils.facilitator_ops.wallet.state import stage_action
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            **WALLET_SECRET,
            **WALLET_VERSIONS,
            action=dict(type="str", required=True, choices=["promote", "rollback", "finish"]),
            **LOCK_FENCE,
        ),
        required_together=[["lock_table", "lock_name", "lock_token"]],
        supports_check_mode=True,
    )
    p = module.params
    ws = wallet_secret(module)
    label = ws.label
    try:
        st = ws.state()  # stages and the sweep-started mark (a swept rotation never rolls back)
        before = st["stages"]
        op, msg = stage_action(p["action"], st, p["old_version"], p["new_version"])
        if op is None or module.check_mode:
            module.exit_json(changed=op is not None, msg=f"{label}: {'would: ' if op and module.check_mode else ''}{msg}",
                             stages=before, phase=phase_of(before)["phase"])
        if op[0] == "move_current":
            ws.move_current(op[1], op[2])
        else:
            # the recent-rotation guard's record first, on the secret (a kill between the two leaves the
            # rotation promoted: a rerun finishes it)
            ws.mark_rotated(op[1], time.time())
            ws.remove_pending(op[1])
        after = ws.describe().get("VersionIdsToStages") or {}
    except lock.LockLost as e:
        module.fail_json(msg=f"{label}: {e}", lost=True)
    except StateError as e:
        module.fail_json(msg=f"{label}: {e}")
    except WalletSecretError as e:
        module.fail_json(msg=str(e))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"{label}: AWS call failed")
    module.exit_json(changed=True, msg=f"{label}: {msg}", stages=after, phase=phase_of(after)["phase"],
                     diff=dict(before={"stages": before}, after={"stages": after}))


if __name__ == "__main__":
    main()
