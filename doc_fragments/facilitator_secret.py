# -*- coding: utf-8 -*-
# GPL-3.0-or-later
# Options of the modules that write a Secrets Manager secret without the value passing through Ansible.
# The matching argument-spec pieces: module_utils/facilitator_ops/common/argspec.py (SECRET_*).


class ModuleDocFragment(object):
    # The secret written (argspec.SECRET_NAME)
    DOCUMENTATION = r"""
options:
  name:
    description: Name of the secret the module writes, in O(region).
    type: str
    required: true
"""

    # Keys a JSON secret must keep (argspec.SECRET_REQUIRED_KEYS)
    REQUIRED_KEYS = r"""
options:
  required_keys:
    description: JSON keys the secret must hold after the write (it is read back; the module fails naming a missing key).
    type: list
    elements: str
    default: []
"""
