# -*- coding: utf-8 -*-
# GPL-3.0-or-later
# How the modules that talk to an image registry reach it (ECR, or the local stack's ECR-like registry).
# The matching argument-spec piece: module_utils/facilitator_ops/common/argspec.py (REGISTRY_ACCESS).


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  registry_auth:
    description:
      - C(ecr) authenticates with a credential from C(ecr:GetAuthorizationToken), used inside the module and never
        returned; C(none) is for a registry that needs no credential.
    type: str
    choices: [ecr, none]
    default: ecr
  ecr_registry:
    description:
      - The ECR registry host (the host of C(proxyEndpoint) in C(GetAuthorizationToken)) whose credential is sent to
        the registry. Default the registry host itself, as in production. An ECR credential is only ever sent to that
        one registry host, never picked because it is "the only one".
      - The local stack sets it because its ECR-like registry answers on C(127.0.0.1:5001) while the AWS stand-in
        issues the credential for C(<account>.dkr.ecr.<region>.amazonaws.com).
    type: str
  ca_bundle:
    description:
      - PEM file of the certificate authorities to trust for the registry's HTTPS (e.g. the local stack's C(ca.pem)),
        added to the system trust store. TLS is always verified.
    type: path
"""
