# -*- coding: utf-8 -*-
# GPL-3.0-or-later
"""What an image reference says about itself: its digest and version label,
read from the registry (never from a local state file, which another operator
does not have).

`split_reference("123.dkr.ecr.us-east-2.amazonaws.com/facilitator@sha256:ab..")`
-> (registry host, repository, tag or digest). `version_check()` is the deploy's
rule: the version an operator gives must be the image's own.
"""
from __future__ import annotations

import re

from ansible.module_utils.facilitator_ops.image.registry import LABEL_VERSION

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class ReferenceError_(ValueError):
    pass


def split_reference(ref):
    """-> (registry, repository, reference). The registry part is mandatory (no
    Docker Hub default: the facilitator's images live in ECR / the local registry)."""
    ref = (ref or "").strip()
    name, reference = ref, None
    if "@" in ref:
        name, reference = ref.split("@", 1)
        if not _DIGEST.match(reference):
            raise ReferenceError_(f"{ref}: the digest must be sha256:<64 hex>")
    else:
        last = ref.rsplit("/", 1)[-1]
        if ":" in last:
            name, reference = ref.rsplit(":", 1)
    if "/" not in name:
        raise ReferenceError_(f"{ref}: expected <registry>/<repository>[:tag|@digest]")
    registry, repository = name.split("/", 1)
    if not ("." in registry or ":" in registry or registry == "localhost"):
        raise ReferenceError_(f"{ref}: {registry!r} is not a registry host")
    if not repository:
        raise ReferenceError_(f"{ref}: no repository")
    return registry, repository, reference or "latest"


def normalize(version):
    v = str(version or "").strip()
    return v[1:] if v[:1] in ("v", "V") else v


def version_check(given, label):
    """(ok, version, line). `given` is what the operator said (-e version), `label`
    the image's org.opencontainers.image.version. The label wins; a mismatch refuses."""
    given, label = normalize(given), normalize(label)
    if label in ("", "dev"):
        if given:
            return True, given, (f"the image has no usable version label ({label or 'none'}): "
                                 f"trusting -e version={given}")
        return False, "", "the image has no usable version label and no version was given: pass -e version=X.Y.Z"
    if given and given != label:
        return False, label, (f"-e version={given} but the image says it is {label} (label {LABEL_VERSION}): "
                              f"refusing (deploy that version, or fix the image)")
    return True, label, f"version {label} from the image's label {LABEL_VERSION}"
