# -*- coding: utf-8 -*-
# GPL-3.0-or-later
# Options of the modules that read an ECS service and its task definition.
# The matching argument-spec pieces: module_utils/facilitator_ops/common/argspec.py (ECS_*).


class ModuleDocFragment(object):
    # The ECS service (argspec.ECS_SERVICE)
    DOCUMENTATION = r"""
options:
  cluster:
    description: ECS cluster name or ARN.
    type: str
    required: true
  service:
    description: ECS service name.
    type: str
    required: true
"""

    # The facilitator's container in a task definition (argspec.ECS_CONTAINER)
    CONTAINER = r"""
options:
  container_name:
    description:
      - Name of the facilitator container in the task definition. Selected by name, never by index (a sidecar may
        sit beside it).
    type: str
    default: facilitator
"""

    # Plain variables on top of the container's own (argspec.ECS_ENVIRONMENT)
    ENVIRONMENT = r"""
options:
  extra_environment:
    description: Plain (not secret) variables set on top of the container definition's C(environment).
    type: dict
    default: {}
"""
