# -*- coding: utf-8 -*-
# GPL-3.0-or-later
# The running facilitator the probes talk to over HTTP(S).
# The matching argument-spec piece: module_utils/facilitator_ops/common/argspec.py (FACILITATOR_URL).


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  base_url:
    description:
      - Base URL of the facilitator, e.g. C(https://facilitator-new.example.com) (an ALB's own name) or, for a
        container's own port, C(http://127.0.0.1:18099).
      - HTTPS certificates are always verified (there is no switch to turn that off).
    type: str
    required: true
  ca_bundle:
    description:
      - PEM file of the certificate authorities to trust for HTTPS, e.g. the local stack's C(ca.pem).
      - Unset or empty, the system trust store is used (production).
    type: path
"""
