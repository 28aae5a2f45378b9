#!/usr/bin/python
# -*- coding: utf-8 -*-
# GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
---
module: ecr_scan_gate
short_description: Fail when an ECR image scan reports more findings of a severity than allowed
description:
  - Reads C(ecr:DescribeImageScanFindings) for one image (by digest), waits for a scan in progress up to
    O(wait_seconds), and compares the finding counts by severity with O(thresholds).
  - Exists because no bundled module reads ECR scan findings.
  - When the registry reports no scan for the image (no scan on push, or locally where the images live in an OCI
    registry that the ECR API does not hold) the gate passes, saying so in its report, unless O(required).
  - Read-only, so it runs the same in check mode.
author:
  - facilitator-ops
options:
  repository:
    description: ECR repository name.
    type: str
    required: true
  digest:
    description: Image manifest digest (C(sha256:...)).
    type: str
    required: true
  registry_id:
    description: Registry (account) id; default the caller's.
    type: str
  thresholds:
    description: "Maximum allowed findings per severity, e.g. C({CRITICAL: 0, HIGH: 0}); other severities are reported only."
    type: dict
    default: {}
  required:
    description: Fail when the registry reports no completed scan for the image.
    type: bool
    default: false
  wait_seconds:
    description: How long to wait for a scan in progress.
    type: int
    default: 300
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: No critical or high findings
  ecr_scan_gate:
    repository: facilitator
    digest: "{{ image_build_result.digest }}"
    thresholds: {CRITICAL: 0, HIGH: 0}
"""

RETURN = r"""
status:
  description: Scan status (C(COMPLETE), C(FAILED), ..., or C(NOT_REPORTED)).
  returned: always
  type: str
counts:
  description: Finding counts by severity.
  returned: always
  type: dict
report:
  description: One line per gated or non-zero severity.
  returned: always
  type: list
  elements: str
"""

import time

from ansible.module_utils.facilitator_ops.image.registry import evaluate_findings
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

NOT_REPORTED = ("ScanNotFoundException", "ImageNotFoundException", "RepositoryNotFoundException")


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            repository=dict(type="str", required=True),
            digest=dict(type="str", required=True),
            registry_id=dict(type="str"),
            thresholds=dict(type="dict", default={}),
            required=dict(type="bool", default=False),
            wait_seconds=dict(type="int", default=300),
        ),
        supports_check_mode=True,
    )
    p = module.params
    ecr = module.client("ecr", retry_decorator=AWSRetry.jittered_backoff())
    kwargs = dict(repositoryName=p["repository"], imageId={"imageDigest": p["digest"]})
    if p["registry_id"]:
        kwargs["registryId"] = p["registry_id"]
    deadline = time.time() + max(0, p["wait_seconds"])
    while True:
        try:
            resp = ecr.describe_image_scan_findings(aws_retry=True, **kwargs)
        except botocore.exceptions.ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in NOT_REPORTED:
                out = dict(changed=False, status="NOT_REPORTED", counts={}, report=[f"no scan reported ({code})"])
                if p["required"]:
                    module.fail_json(msg=f"scan gate: the registry reports no scan for {p['digest']} ({code})", **out)
                module.exit_json(msg=f"scan gate: the registry reports no scan for this image ({code}); not gated",
                                 **out)
            module.fail_json_aws(e, msg="scan gate: DescribeImageScanFindings failed")
        except (botocore.exceptions.BotoCoreError, NotImplementedError) as e:
            module.fail_json(msg=f"scan gate: DescribeImageScanFindings failed: {e}")
        status = (resp.get("imageScanStatus") or {}).get("status", "UNKNOWN")
        if status != "IN_PROGRESS" or time.time() >= deadline:
            break
        time.sleep(5)
    counts = (resp.get("imageScanFindings") or {}).get("findingSeverityCounts") or {}
    if status != "COMPLETE":
        out = dict(changed=False, status=status, counts=counts, report=[f"scan status {status}"])
        if p["required"]:
            module.fail_json(msg=f"scan gate: scan status {status}", **out)
        module.exit_json(msg=f"scan gate: scan status {status}; not gated", **out)
    ok, lines = evaluate_findings(counts, p["thresholds"])
    out = dict(changed=False, status=status, counts=counts, report=lines)
    if not ok:
        module.fail_json(msg="scan gate: " + "; ".join(x for x in lines if x.startswith("FAIL")), **out)
    module.exit_json(msg="scan gate passed", **out)


if __name__ == "__main__":
    main()
