# -*- coding: utf-8 -*-
"""AWS helpers every capability shares: the retry keyword for calls made
through an AWSRetry-decorated client, and Secrets Manager clients for another
region / profile / assumed role.

AnsibleAWSModule.client() builds a client for the module's own region and
credentials; a cross-region copy needs a second one for the source (the
monorepo account or region), optionally with its own profile or role.
"""
from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def retry_kw(aws_retry):
    """`aws_retry=True` for clients built with AWSRetry.jittered_backoff (the
    modules), nothing for plain boto3 clients (unit tests, benchmarks)."""
    return {"aws_retry": True} if aws_retry else {}


def secretsmanager_client(module, region, profile=None, role_arn=None, session_name="facilitator-ops-secrets"):
    """A retrying Secrets Manager client for `region`, using the module's
    credentials, or `profile`, or credentials of `role_arn` assumed with them."""
    extra = {"region": region}
    if profile:
        extra.update(profile_name=profile, aws_access_key_id=None, aws_secret_access_key=None, aws_session_token=None)
    if role_arn:
        sts = module.client("sts", retry_decorator=AWSRetry.jittered_backoff(), **extra)
        creds = sts.assume_role(aws_retry=True, RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        extra = {
            "region": region,
            "profile_name": None,
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
    return module.client("secretsmanager", retry_decorator=AWSRetry.jittered_backoff(), **extra)


def value_from_fetcher(module):
    """The `get_secret_value(region, arn, stage, version_id)` callable that
    ecs_secrets.resolve_secrets needs: one retrying client per region (a task
    definition may read secrets from several), SecretString only."""
    clients = {}

    def fetch(region, arn, stage, version_id):
        if region not in clients:
            clients[region] = secretsmanager_client(module, region)
        kwargs = {"SecretId": arn}
        if stage:
            kwargs["VersionStage"] = stage
        if version_id:
            kwargs["VersionId"] = version_id
        return clients[region].get_secret_value(aws_retry=True, **kwargs)["SecretString"]

    return fetch
