#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: facilitator_probe
short_description: Check a running x402 facilitator the way an on-call engineer would
description:
  - Runs the post-deploy checks against any base URL (local container, new ALB, public DNS) and fails with one line
    naming what differs.
  - Exists because C(/health) checks nothing (a facilitator with half its networks missing is still "healthy") and
    M(ansible.builtin.uri) can neither diff the C(/supported) network set nor run a bounded load probe.
  - Speaks HTTP or HTTPS with httpx; HTTPS certificates are always verified (O(ca_bundle) or the system trust store).
  - Read-only, it never changes anything, so it runs the same in check mode.
author:
  - facilitator-ops
options:
  checks:
    description: Which checks to run.
    type: list
    elements: str
    choices: [health, version, branding, networks, signers, load, sides]
    default: [health, version, branding, networks]
  expected_version:
    description: Version C(/version) must report (a leading C(v) is ignored). Unset accepts any version except C(dev).
    type: str
  branding_text:
    description: Text the landing page C(/) must contain.
    type: str
    default: Ultravioleta DAO
  expected_networks:
    description: v1 network names C(/supported) must list, exactly (missing and unexpected both fail).
    type: list
    elements: str
    default: []
  network_catalog:
    description: Map of v1 name to the CAIP-2 id; when given, each expected network must also appear under its CAIP-2 id.
    type: dict
  expected_evm_signers:
    description: EVM addresses that must be among C(/supported)'s signers.
    type: list
    elements: str
  expected_solana_fee_payers:
    description: Solana public keys that must each be the C(feePayer) of a Solana kind (every Solana wallet the service reads).
    type: list
    elements: str
    aliases: [expected_solana_fee_payer]
  load:
    description:
      - Bounded load probe, used when C(load) is in O(checks). Keys C(path) (default C(/health)), C(requests)
        (default 200), C(concurrency) (default 10), C(max_seconds) (default 30), C(p99_max_ms) (default 2000),
        C(error_rate_max) (default 0.01), C(min_requests) (default C(requests)).
      - Fewer than C(min_requests) requests completed within C(max_seconds) fails the check (a slow endpoint must
        not pass on a handful of requests).
    type: dict
  sides:
    description:
      - Share of requests answered by each side, used when C(sides) is in O(checks) (e.g. through the public name
        during a DNS cutover, where the local stack's load balancers say which side answered). Keys C(requests)
        (default 200), C(header) (default C(X-Facilitator-Side)), C(path) (default C(/health)), C(side) (default C(new)).
    type: dict
  timeout:
    description: Per-request timeout in seconds.
    type: float
    default: 10
  fail_on_error:
    description: Fail the task when a check fails (otherwise report only, e.g. for a gate that decides itself).
    type: bool
    default: true
extends_documentation_fragment:
  - facilitator_url
"""

EXAMPLES = r"""
- name: Verify the new ALB serves what production needs
  facilitator_probe:
    base_url: https://facilitator-new.example.internal
    expected_version: "1.92.0"
    expected_networks: [base, base-sepolia, avalanche]
    checks: [health, version, branding, networks, signers, load]
    load: {requests: 500, concurrency: 20}

- name: Share of the public name's traffic answered by the new side (local stack)
  facilitator_probe:
    base_url: https://127.0.0.1:18445
    ca_bundle: .stack/ca.pem
    checks: [sides]
    sides: {requests: 200}
"""

RETURN = r"""
passed:
  description: Whether every check passed.
  returned: always
  type: bool
checks:
  description: One entry per check with C(name), C(ok), C(detail) and C(data).
  returned: always
  type: list
  elements: dict
report:
  description: One human line per check (OK/FAIL name detail).
  returned: always
  type: list
  elements: str
networks:
  description: Live, missing and unexpected networks when the networks check ran.
  returned: when networks ran
  type: dict
load:
  description: Load statistics (requests, rps, p50/p95/p99 ms, error rate) when the load check ran.
  returned: when load ran
  type: dict
sides:
  description: Requests per answering side (C(by_side)), C(share_percent) of O(sides.side), errors, when the sides check ran.
  returned: when sides ran
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.facilitator_ops.common.argspec import FACILITATOR_URL
from ansible.module_utils.facilitator_ops.verify.probe import run_checks
from ansible.module_utils.facilitator_ops.verify.probe import summarize


def main():
    module = AnsibleModule(
        argument_spec=dict(
            **FACILITATOR_URL,
            checks=dict(
                type="list",
                elements="str",
                default=["health", "version", "branding", "networks"],
                choices=["health", "version", "branding", "networks", "signers", "load", "sides"],
            ),
            expected_version=dict(type="str"),
            branding_text=dict(type="str", default="Ultravioleta DAO"),
            expected_networks=dict(type="list", elements="str", default=[]),
            network_catalog=dict(type="dict"),
            expected_evm_signers=dict(type="list", elements="str"),
            expected_solana_fee_payers=dict(type="list", elements="str", aliases=["expected_solana_fee_payer"]),
            load=dict(type="dict"),
            sides=dict(type="dict"),
            timeout=dict(type="float", default=10.0),
            fail_on_error=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    results = run_checks(
        p["base_url"],
        set(p["checks"]),
        expected_version=p["expected_version"],
        branding_text=p["branding_text"],
        expected_networks=p["expected_networks"],
        network_catalog=p["network_catalog"],
        expected_evm_signers=p["expected_evm_signers"],
        expected_fee_payers=p["expected_solana_fee_payers"],
        load=p["load"] if "load" in p["checks"] else None,
        timeout=p["timeout"],
        ca_bundle=p["ca_bundle"] or None,
        sides=p["sides"],
    )
    msg, report, checks = summarize(p["base_url"], results)
    out = dict(changed=False, passed=all(c.ok for c in results), checks=checks, report=report, msg=msg)
    for c in results:
        if c.name == "networks":
            out["networks"] = c.data
        elif c.name in ("load", "sides"):
            out[c.name] = c.data
    if not out["passed"] and p["fail_on_error"]:
        module.fail_json(**out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
