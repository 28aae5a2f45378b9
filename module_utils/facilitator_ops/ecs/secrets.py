# -*- coding: utf-8 -*-
"""Resolve an ECS container definition's `secrets[].valueFrom` the way the ECS
agent does, inside the module process.

valueFrom forms (Secrets Manager):
  arn:aws:secretsmanager:<region>:<acct>:secret:<name-XXXXXX>
  arn:aws:secretsmanager:<region>:<acct>:secret:<name-XXXXXX>:<json-key>:<version-stage>:<version-id>
(empty trailing fields allowed, e.g. `<arn>:private_key::`).
"""
from __future__ import annotations

import hashlib
import json


class ResolveError(Exception):
    """Carries a message that names the variable and secret, never a value."""


def parse_value_from(value_from):
    parts = value_from.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "secretsmanager" or parts[5] != "secret":
        raise ResolveError(f"unsupported valueFrom {value_from!r} (only Secrets Manager ARNs are supported)")
    arn = ":".join(parts[:7])
    extra = parts[7:] + ["", "", ""]
    return {
        "arn": arn,
        "region": parts[3],
        "json_key": extra[0] or None,
        "version_stage": extra[1] or None,
        "version_id": extra[2] or None,
    }


def resolve_secrets(secrets, get_secret_value):
    """secrets: [{name, valueFrom}] -> {name: value}. get_secret_value(region,
    arn, version_stage, version_id) returns the SecretString. One fetch per
    (arn, stage, id)."""
    cache = {}
    out = {}
    for item in secrets or []:
        # describe-task-definition says valueFrom; the *_info modules snake-case it.
        name, value_from = item.get("name"), item.get("valueFrom") or item.get("value_from")
        if not name or not value_from:
            raise ResolveError(f"secret entry without name or valueFrom: {sorted(item)}")
        ref = parse_value_from(value_from)
        # No stage and no version id means AWSCURRENT (what the ECS agent reads).
        # Said explicitly: moto's default version does not follow a staging-label
        # move (update-secret-version-stage), AWS's does (wallet rotation promotes so).
        stage = ref["version_stage"] or (None if ref["version_id"] else "AWSCURRENT")
        key = (ref["arn"], stage, ref["version_id"])
        if key not in cache:
            try:
                cache[key] = get_secret_value(ref["region"], ref["arn"], stage, ref["version_id"])
            except ResolveError:
                raise
            except Exception as e:  # botocore errors: say which secret, not why in the value
                code = getattr(e, "response", {}).get("Error", {}).get("Code", e.__class__.__name__)
                raise ResolveError(f"{name}: cannot read {ref['arn']} ({code})") from None
        raw = cache[key]
        if ref["json_key"]:
            try:
                doc = json.loads(raw)
            except (TypeError, ValueError):
                raise ResolveError(f"{name}: {ref['arn']} is not JSON, cannot select key {ref['json_key']!r}") from None
            if not isinstance(doc, dict) or ref["json_key"] not in doc:
                raise ResolveError(f"{name}: key {ref['json_key']!r} missing in {ref['arn']}")
            value = doc[ref["json_key"]]
            out[name] = value if isinstance(value, str) else json.dumps(value)
        else:
            out[name] = raw
    return out


def render_env_file(environment):
    """docker --env-file format; values may not contain newlines."""
    lines = []
    for k in sorted(environment):
        v = str(environment[k])
        if "\n" in v:
            raise ResolveError(f"{k}: value contains a newline, not representable in an env file")
        lines.append(f"{k}={v}")
    return "\n".join(lines) + "\n"


def content_digest(text):
    return hashlib.sha256(text.encode()).hexdigest()
