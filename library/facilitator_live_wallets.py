#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: facilitator_live_wallets
short_description: Public addresses of the hot wallets the running ECS service reads
description:
  - Follows the service's current task definition to the wallet secrets its facilitator container reads
    (C(EVM_PRIVATE_KEY*), C(SOLANA_PRIVATE_KEY*) by C(valueFrom), including C(:json-key:stage:version) selectors),
    reads them inside the module and derives each address from the key itself.
  - Exists so verification can prove the keys the service is configured with are the live signers, without an
    inventory list that goes stale after every wallet rotation, and without any key leaving the module.
  - Read-only, so it runs the same in check mode.
author:
  - facilitator-ops
options:
  expected_networks:
    description:
      - v1 names of the networks the environment serves. With O(network_catalog), only the key variables such
        networks read are counted (production reads C(*_MAINNET)/C(*_TESTNET) first, then the bare variable).
    type: list
    elements: str
  network_catalog:
    description: Map of v1 name to C(kind) (evm or svm) and C(tier) (mainnet or testnet).
    type: dict
extends_documentation_fragment:
  - facilitator_ecs
  - facilitator_ecs.container
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Which wallets does production run with?
  facilitator_live_wallets:
    cluster: facilitator-production
    service: facilitator-production
  register: live
"""

RETURN = r"""
task_definition:
  description: ARN of the service's current task definition.
  returned: always
  type: str
evm_signers:
  description: Checksummed addresses of every EVM key the container reads (for the served networks, when given).
  returned: always
  type: list
  elements: str
solana_fee_payers:
  description: Public keys of the Solana keypairs the container reads.
  returned: always
  type: list
  elements: str
by_variable:
  description: Addresses per environment variable.
  returned: always
  type: dict
plain_environment_keys:
  description: Wallet variables set in plain environment instead of secrets (should be empty).
  returned: always
  type: list
  elements: str
"""

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # AnsibleAWSModule reports the missing botocore

from ansible.module_utils.facilitator_ops.common.argspec import ECS_CONTAINER
from ansible.module_utils.facilitator_ops.common.argspec import ECS_SERVICE
from ansible.module_utils.facilitator_ops.common.aws import value_from_fetcher
from ansible.module_utils.facilitator_ops.ecs.secrets import ResolveError
from ansible.module_utils.facilitator_ops.verify.live_wallets import live_wallets
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            **ECS_SERVICE,
            **ECS_CONTAINER,
            expected_networks=dict(type="list", elements="str"),
            network_catalog=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    ecs = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())
    fetch = value_from_fetcher(module)

    try:
        services = ecs.describe_services(aws_retry=True, cluster=p["cluster"], services=[p["service"]])["services"]
        if not services:
            module.fail_json(msg=f"service {p['cluster']}/{p['service']} not found")
        td = ecs.describe_task_definition(aws_retry=True, taskDefinition=services[0]["taskDefinition"])["taskDefinition"]
        result = live_wallets(td, p["container_name"], fetch, p["expected_networks"], p["network_catalog"])
    except ResolveError as e:
        module.fail_json(msg=str(e))
    except is_boto3_error_code("ClusterNotFoundException"):
        module.fail_json(msg=f"cluster {p['cluster']} not found")
    except (BotoCoreError, ClientError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"cannot read the wallets of {p['cluster']}/{p['service']}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
