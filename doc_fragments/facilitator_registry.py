# -*- coding: utf-8 -*-
# GPL-3.0-or-later
# How the modules that talk to an image registry reach it (ECR, or the local stack's auth-less OCI registry).
# The matching argument-spec piece: module_utils/facilitator_ops/common/argspec.py (REGISTRY_ACCESS).


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  registry_scheme:
    description: Scheme of the registry's HTTP API.
    type: str
    choices: [https, http]
    default: https
  registry_auth:
    description:
      - C(ecr) authenticates with a token from C(ecr:GetAuthorizationToken), used inside the module and never
        returned; C(none) is for an auth-less registry (the local stack's, standing in for ECR).
    type: str
    choices: [ecr, none]
    default: ecr
"""
