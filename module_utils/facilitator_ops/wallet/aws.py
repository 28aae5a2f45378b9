# -*- coding: utf-8 -*-
"""AWS plumbing shared by the wallet_* modules: a Secrets Manager client per
region (wallet secrets live where the task definition's valueFrom says, e.g.
the monorepo's us-east-1 before the migration), RPC URLs read from Secrets
Manager inside the module, chains built from the validated network config.
"""
from __future__ import annotations

from ansible.module_utils.facilitator_ops.common import lock
from ansible.module_utils.facilitator_ops.common.aws import secretsmanager_client
from ansible.module_utils.facilitator_ops.wallet.rotation import RotationError
from ansible.module_utils.facilitator_ops.wallet.rotation import chain_for
from ansible.module_utils.facilitator_ops.wallet.rotation import network_config
from ansible.module_utils.facilitator_ops.wallet.rotation import resolve_rpc_url
from ansible.module_utils.facilitator_ops.wallet.secret import WalletSecret
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def wallet_secret(module, kind=None):
    """The WalletSecret named by the module's `secret_arn`, through a client in the ARN's own region (the wallet
    secret may live in another region than the module's). Fails the module on an ARN that is not a Secrets Manager
    secret's. The secret's name (ws.label) prefixes the module's messages."""
    arn = module.params["secret_arn"]
    parts = arn.split(":")
    if len(parts) < 7 or parts[2] != "secretsmanager":
        module.fail_json(msg=f"secret_arn is not a Secrets Manager ARN: {arn}")
    # a module with the LOCK_FENCE options checks the run's lock right before every write to the secret
    client = lock.fenced(secretsmanager_client(module, parts[3]), lock.fence_for_module(module, purpose="rotation"))
    return WalletSecret(client, arn, kind, label=parts[6])


class AwsContext:
    def __init__(self, module):
        self.module = module
        self._clients = {}

    def secrets(self, region=None):
        region = region or self.module.region
        if region not in self._clients:
            self._clients[region] = secretsmanager_client(self.module, region)
        return self._clients[region]

    def ecs(self, region=None):
        """A retrying ECS client for `region` (another stack's service may live in another region)."""
        region = region or self.module.region
        key = ("ecs", region)
        if key not in self._clients:
            self._clients[key] = self.module.client("ecs", retry_decorator=AWSRetry.jittered_backoff(), region=region)
        return self._clients[key]

    def wallet_secret(self, secret_id, kind):
        """A wallet secret by name (in the module's region) or ARN (in its own region)."""
        parts = str(secret_id).split(":")
        region = parts[3] if len(parts) >= 7 and parts[2] == "secretsmanager" else None
        return WalletSecret(self.secrets(region), secret_id, kind, label=parts[-1] if region else str(secret_id))

    def read_secret_string(self, region, secret_id):
        # AWSCURRENT named explicitly (what AWS answers without a stage; the stand-in may not).
        resp = self.secrets(region).get_secret_value(aws_retry=True, SecretId=secret_id, VersionStage="AWSCURRENT")
        if resp.get("SecretString") is None:
            raise RotationError(f"{secret_id}: binary secret, expected an RPC URL map")
        return resp["SecretString"]

    def networks(self, raw):
        return {name: network_config(name, cfg) for name, cfg in (raw or {}).items()}

    def chain(self, net, timeout=20.0):
        url = resolve_rpc_url(net, self.read_secret_string)
        return chain_for(net, url, timeout=timeout)
