# -*- coding: utf-8 -*-
# GPL-3.0-or-later
# The fence of a run's lock (roles/locked_run, module run_lock), checked by every changing module right
# before it writes. The matching argument-spec piece: module_utils/facilitator_ops/common/argspec.py (LOCK_FENCE).


class ModuleDocFragment(object):
    # argspec.LOCK_FENCE
    DOCUMENTATION = r"""
options:
  lock_table:
    description:
      - DynamoDB table of the run's lock (C(facilitator_lock_table)). With O(lock_name) and O(lock_token) the module
        reads the lock consistently right before each write and fails with C(lock lost) (writing nothing) unless
        that token still holds it unexpired. All three or none.
    type: str
  lock_name:
    description: The lock's id (C(lock_id) of M(run_lock), e.g. C(ecs_deploy/<cluster>/<service>)).
    type: str
  lock_token:
    description: The token M(run_lock) returned when the run took the lock (not a secret, it names the holding run).
    type: str
  lock_region:
    description: Region of O(lock_table) when it is not the module's own (the play's region, C(aws_region)).
    type: str
"""
