#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: wallet_signer_proof
short_description: Prove which wallet the running facilitator signs with (/supported, start-up log lines, settlements)
description:
  - Polls until every expected wallet is proven live or the timeout passes. Evidence is public only, never a key.
  - C(/supported) EVM C(signers) and Solana C(extra.feePayer), where the image shows them.
  - The start-up line C(Initialized provider network=<name> signers=[...]) each network logs, from the local runtime's
    Docker container (O(log_source=docker)) or CloudWatch Logs (O(log_source=cloudwatch), the task definition's
    C(awslogs) group and stream prefix), only from tasks started after O(since).
  - Optionally the sender (C(from)) of settlement transactions, e.g. the payment smoke test's, which must be the new
    wallet.
  - A wallet is proven when a source shows the expected address on each of its networks and no source still shows
    the replaced one. Does not fail by default (O(fail_on_error=false)); the rotation role rolls back on C(proven=false).
  - Exists because M(facilitator_probe) compares against fixed inventory signers and cannot read start-up logs or
    wait for a rollout to reach them.
author:
  - facilitator-ops
options:
  expectations:
    description:
      - C(wallet), C(kind), C(expect) (address that must be live), C(replaced) (address that must not), C(networks),
        optional C(kept) (addresses of wallets this run leaves alone, which may keep C(replaced) in C(/supported)).
    type: list
    elements: dict
    required: true
  log_source:
    description: Where start-up lines are read.
    type: str
    choices: [none, docker, cloudwatch]
    default: none
  docker_container:
    description: Docker container of the local runtime (O(log_source=docker)).
    type: str
  docker_host:
    description: Docker engine URL (default from the environment).
    type: str
  log_group:
    description: CloudWatch Logs group (O(log_source=cloudwatch)).
    type: str
  log_stream_prefix:
    description: CloudWatch Logs stream prefix.
    type: str
  log_region:
    description: Region of the log group (default the module's region).
    type: str
  since:
    description:
      - Epoch seconds; only log lines after this count (the redeploy's start, or for a resumed run the start of the
        service's running deployment). Required (> 0) with O(log_source=cloudwatch), since a log group keeps lines
        of earlier tasks that can contradict the new key.
    type: float
    default: 0
  transactions:
    description: Settlement transactions to check, C(network), C(tx), C(expect_from).
    type: list
    elements: dict
    default: []
  networks:
    description: Network settings (for the RPC of O(transactions)).
    type: dict
    default: {}
  timeout:
    description: Seconds to keep trying.
    type: int
    default: 120
  interval:
    description: Seconds between tries.
    type: int
    default: 3
  fail_on_error:
    description: Fail the task when not proven.
    type: bool
    default: false
extends_documentation_fragment:
  - facilitator_url
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Prove the new signer
  wallet_signer_proof:
    base_url: https://127.0.0.1:18444
    ca_bundle: .stack/ca.pem
    expectations:
      - {wallet: evm-testnet, kind: evm, expect: "0xNew...", replaced: "0xOld...", networks: [base-sepolia]}
    log_source: docker
    docker_container: facilitator-local-runtime
  register: proof
"""

RETURN = r"""
proven:
  description: Whether every expectation (and every transaction sender) is proven.
  returned: always
  type: bool
lines:
  description: One OK/FAIL line per wallet and transaction.
  returned: always
  type: list
wallets:
  description: Per wallet, sources that proved it and what contradicted it.
  returned: always
  type: dict
attempts:
  description: How many times the sources were read.
  returned: when not in check mode
  type: int
"""

import json
import time

try:
    import botocore
except ImportError:
    pass

from ansible.module_utils.facilitator_ops.common.argspec import FACILITATOR_URL
from ansible.module_utils.facilitator_ops.verify.probe import http_get
from ansible.module_utils.facilitator_ops.wallet.aws import AwsContext
from ansible.module_utils.facilitator_ops.wallet.proof import cloudwatch_lines
from ansible.module_utils.facilitator_ops.wallet.proof import evaluate
from ansible.module_utils.facilitator_ops.wallet.proof import parse_log_lines
from ansible.module_utils.facilitator_ops.wallet.rotation import RotationError
from ansible.module_utils.facilitator_ops.wallet.rpc import RpcError
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def docker_lines(name, since, docker_host=None):
    import docker

    client = docker.DockerClient(base_url=docker_host) if docker_host else docker.from_env()
    try:
        c = client.containers.get(name)
    except docker.errors.NotFound:
        return [], f"container {name} not found"
    kw = {"since": int(since)} if since and since > 0 else {}
    raw = c.logs(stdout=True, stderr=True, **kw).decode("utf-8", "replace")
    return raw.splitlines(), None


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            **FACILITATOR_URL,
            expectations=dict(type="list", elements="dict", required=True),
            log_source=dict(type="str", default="none", choices=["none", "docker", "cloudwatch"]),
            docker_container=dict(type="str"),
            docker_host=dict(type="str"),
            log_group=dict(type="str"),
            log_stream_prefix=dict(type="str"),
            log_region=dict(type="str"),
            since=dict(type="float", default=0.0),
            transactions=dict(type="list", elements="dict", default=[]),
            networks=dict(type="dict", default={}),
            timeout=dict(type="int", default=120),
            interval=dict(type="int", default=3),
            fail_on_error=dict(type="bool", default=False),
        ),
        required_if=[("log_source", "docker", ["docker_container"]), ("log_source", "cloudwatch", ["log_group"])],
        supports_check_mode=True,
    )
    p = module.params
    if p["log_source"] == "cloudwatch" and p["since"] <= 0:
        module.fail_json(msg="wallet_signer_proof: log_source=cloudwatch needs since (the running deployment's start)")
    if module.check_mode:
        module.exit_json(changed=False, proven=None, lines=["check mode: proof not run"], wallets={})
    logs_client = None
    if p["log_source"] == "cloudwatch":
        logs_client = module.client("logs", retry_decorator=AWSRetry.jittered_backoff(),
                                    **({"region": p["log_region"]} if p["log_region"] else {}))
    deadline = time.monotonic() + p["timeout"]
    attempts = 0
    while True:
        attempts += 1
        notes = []
        res = http_get(p["base_url"], "/supported", 10, ca_bundle=p["ca_bundle"] or None)
        doc = None
        if res.status == 200:
            try:
                doc = json.loads(res.body)
            except ValueError:
                notes.append("/supported did not answer JSON")
        else:
            notes.append(f"/supported: {res.error or 'HTTP ' + str(res.status)}")
        lines_raw = []
        try:
            if p["log_source"] == "docker":
                lines_raw, note = docker_lines(p["docker_container"], p["since"], p["docker_host"])
                if note:
                    notes.append(note)
            elif p["log_source"] == "cloudwatch":
                lines_raw = cloudwatch_lines(logs_client, p["log_group"], p["log_stream_prefix"], p["since"])
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            notes.append(f"CloudWatch Logs: {e.__class__.__name__}")
        except Exception as e:  # docker engine errors: report, keep polling
            notes.append(f"logs: {e.__class__.__name__}")
        ok, lines, wallets = evaluate(p["expectations"], doc, parse_log_lines(lines_raw))
        if ok or time.monotonic() >= deadline:
            break
        time.sleep(p["interval"])

    tx_lines = []
    if ok and p["transactions"]:
        ctx = AwsContext(module)
        try:
            nets = ctx.networks(p["networks"])
            for t in p["transactions"]:
                chain = ctx.chain(nets[t["network"]])
                sender = chain.tx_sender(t["tx"])
                good = bool(sender) and sender.lower() == str(t["expect_from"]).lower()
                ok = ok and good
                tx_lines.append(f"{'OK  ' if good else 'FAIL'} settlement {t['tx']} on {t['network']} sent by "
                                f"{sender or '?'} (expected {t['expect_from']})")
        except (RotationError, RpcError, KeyError) as e:
            ok = False
            tx_lines.append(f"FAIL settlement check: {e}")
    out = dict(changed=False, proven=ok, lines=lines + tx_lines + [f"({n})" for n in notes if not ok],
               wallets=wallets, attempts=attempts)
    if not ok and p["fail_on_error"]:
        module.fail_json(msg="signer not proven: " + " | ".join(lines + tx_lines), **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
