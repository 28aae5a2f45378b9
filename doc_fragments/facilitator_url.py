# -*- coding: utf-8 -*-
# GPL-3.0-or-later
# The running facilitator the probes talk to over HTTP.
# The matching argument-spec piece: module_utils/facilitator_ops/common/argspec.py (FACILITATOR_URL).


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  base_url:
    description: Base URL of the facilitator (local container, ALB or public DNS), e.g. C(http://127.0.0.1:18081).
    type: str
    required: true
"""
