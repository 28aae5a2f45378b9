# -*- coding: utf-8 -*-
"""Validation and normalisation of the secrets-migration mapping (inventory
`secrets_migration_secrets`). Pure logic: no AWS call, no value.

Every problem is collected so the operator sees them all at once, in one line.
"""
from __future__ import annotations

import re

from ansible.module_utils.facilitator_ops.secrets.core import action_words

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@:-]{1,2048}$")
REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
TYPES = ("wallet", "json", "string", "binary")
ALLOWED = {
    "source", "source_region", "source_profile", "source_role_arn", "source_key",
    "destination", "destination_region", "destination_key",
    "description", "tags", "kms_key_id", "type", "required_keys",
    "overwrite", "create_missing", "env",
}


def overwrite_item_names(value):
    """The operator's `secrets_migration_overwrite_items`: a list, or a comma-separated
    string (what `-e name=a,b` gives). Returns (names, problem or None)."""
    if value is None or value == "":
        return [], None
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):  # -e secrets_migration_overwrite_items=[a,b]
            value = value[1:-1]
        return [n.strip().strip("'\"") for n in value.split(",") if n.strip().strip("'\"")], None
    if isinstance(value, list) and all(isinstance(n, str) and n.strip() for n in value):
        return [n.strip() for n in value], None
    return [], "secrets_migration_overwrite_items must be a list of destination names (or a comma-separated string)"


def normalise(entries, default_source_region=None, default_region=None, default_tags=None,
              default_overwrite=False, overwrite_items=None):
    """Returns (normalised entries, problems).

    Overwrite: `default_overwrite` (-e secrets_migration_overwrite=true) applies to
    every item but the wallets; a wallet is overwritten only when its destination is
    named in `overwrite_items` for that run (a wallet's `overwrite` is never set in
    the mapping, where it would hold for every later run). Each name must be a
    destination of the mapping. (A destination rotated since its copy is never
    overwritten by the source whatever these say: copy.run_copy.)"""
    problems, out, seen = [], [], {}
    if not isinstance(entries, list) or not entries:
        return [], ["the mapping must be a non-empty list of {source, destination, ...} items"]
    named, problem = overwrite_item_names(overwrite_items)
    if problem:
        problems.append(problem)
    for i, raw in enumerate(entries):
        where = f"item {i + 1}"
        if not isinstance(raw, dict):
            problems.append(f"{where}: not a mapping")
            continue
        where = f"item {i + 1} ({raw.get('source', '?')} -> {raw.get('destination', '?')})"
        unknown = sorted(set(raw) - ALLOWED)
        if unknown:
            problems.append(f"{where}: unknown field(s) {', '.join(unknown)}")
        e = dict(raw)
        for field in ("source", "destination"):
            v = e.get(field)
            if not isinstance(v, str) or not v.strip():
                problems.append(f"{where}: {field} is missing")
            elif not SECRET_NAME.match(v):
                problems.append(f"{where}: {field} is not a valid secret name")
        e["source_region"] = e.get("source_region") or default_source_region
        e["destination_region"] = e.get("destination_region") or default_region
        for field in ("source_region", "destination_region"):
            v = e.get(field)
            if not v:
                problems.append(f"{where}: {field} is missing")
            elif not isinstance(v, str) or not REGION.match(v):
                problems.append(f"{where}: {field} is not a region name")
        kind = e.get("type") or ("string" if e.get("destination_key") else "json")
        if kind not in TYPES:
            problems.append(f"{where}: type must be one of {', '.join(TYPES)}")
        e["type"] = kind
        e["wallet"] = kind == "wallet"
        if e["wallet"] and e.get("destination_key"):
            problems.append(f"{where}: a wallet is copied whole, not into a key")
        if kind == "binary" and (e.get("destination_key") or e.get("required_keys")):
            problems.append(f"{where}: a binary secret has no JSON keys")
        if e.get("source_key") and not e.get("destination_key"):
            problems.append(f"{where}: source_key needs destination_key")
        req = e.get("required_keys") or []
        if not isinstance(req, list) or not all(isinstance(k, str) and k for k in req):
            problems.append(f"{where}: required_keys must be a list of key names")
            req = []
        e["required_keys"] = list(req)
        if (
            e.get("source") and e.get("source") == e.get("destination")
            and e["source_region"] == e["destination_region"] and not e.get("destination_key")
        ):
            problems.append(f"{where}: source and destination are the same secret")
        # Default tags mark secrets this migration creates; a key insert goes
        # into someone else's secret and only gets the item's own tags.
        tags = {} if e.get("destination_key") else dict(default_tags or {})
        if e.get("tags") is not None and not isinstance(e.get("tags"), dict):
            problems.append(f"{where}: tags must be a mapping")
        else:
            tags.update(e.get("tags") or {})
        e["tags"] = {str(k): str(v) for k, v in tags.items()}
        for flag in ("overwrite", "create_missing"):
            if e.get(flag) is not None and not isinstance(e.get(flag), bool):
                problems.append(f"{where}: {flag} must be true or false")
        if e["wallet"] and e.get("overwrite") is not None:
            problems.append(f"{where}: a wallet's overwrite is not set in the mapping (it would hold for every run): "
                            "name it for one run with -e secrets_migration_overwrite_items=<destination>")
        if e["wallet"]:
            e["overwrite"] = e.get("destination") in named
        else:
            e["overwrite"] = bool(e.get("overwrite", default_overwrite)) or e.get("destination") in named
        if e.get("create_missing") is None:
            e["create_missing"] = not e.get("destination_key")
        env = e.get("env") or {}
        if not isinstance(env, dict):
            problems.append(f"{where}: env must map ENV_NAME to a JSON key (or null for the whole secret)")
            env = {}
        for name, key in env.items():
            if not isinstance(name, str) or not ENV_NAME.match(name):
                problems.append(f"{where}: env name {name!r} is not an environment variable name")
            if key is not None and not isinstance(key, str):
                problems.append(f"{where}: env {name} must name a JSON key or be null")
        e["env"] = env
        target = (e["destination_region"], e.get("destination"), e.get("destination_key"))
        if target in seen:
            problems.append(f"{where}: same destination as item {seen[target]}")
        else:
            seen[target] = i + 1
        for opt in ("source_profile", "source_role_arn", "source_key", "destination_key", "description", "kms_key_id"):
            e.setdefault(opt, None)
        out.append(e)
    destinations = sorted({e.get("destination") for e in out if isinstance(e.get("destination"), str)})
    for name in named:
        if name not in destinations:
            problems.append(f"secrets_migration_overwrite_items: {name} is not a destination of the mapping "
                            f"(destinations: {', '.join(destinations)})")
    env_seen = {}
    for e in out:
        for name in e["env"]:
            if name in env_seen:
                problems.append(f"env {name} is set by both {env_seen[name]} and {e.get('destination')}")
            env_seen[name] = e.get("destination")
    return out, problems


# --------------------------------------------------------------------------
# Report: what the deploy role, the execution role and the operator need
# --------------------------------------------------------------------------
def handover_report(results, environment=None, mode="copy", check_mode=False, policy_sid="FacilitatorReadMigratedSecrets"):
    """results: the registered loop results of secret_copy (each with `item`,
    the normalised entry). Returns a dict with `secrets`, `container_secrets`,
    `iam_policy`, `summary` (lines) and `audit` (one record): names, ARNs,
    digests, actions; never a value."""
    secrets, container, arns, kms, lines, audit = {}, [], [], [], [], []
    for r in results:
        e = r.get("item") or {}
        dest = e.get("destination") or r.get("name")
        key = e.get("destination_key")
        arn = r.get("arn")
        action = r.get("action")
        src = r.get("source") or {}
        label = f"{e.get('destination_region')}/{dest}" + (f"[{key}]" if key else "")
        if mode == "retire_source":
            what = (
                ("would schedule deletion of the source" if check_mode else "source deletion scheduled")
                if r.get("would_change") else "source already scheduled for deletion"
            )
        else:
            what = action_words(action, planned=check_mode)
            if r.get("metadata_changes"):
                what += f" (+{', '.join(r['metadata_changes'])})"
        line = f"{label} <- {src.get('region')}/{src.get('name')}: {what}"
        if r.get("digest") or src.get("digest"):
            line += f" sha256:{r.get('digest') or src.get('digest')}"
        if arn:
            line += f" arn={arn}"
        lines.append(line)
        entry = secrets.setdefault(dest, {
            "name": dest,
            "region": e.get("destination_region"),
            "arn": arn,
            "value_from": {},
            "sources": [],
        })
        entry["arn"] = arn or entry["arn"]
        if r.get("digest"):
            entry["digest"] = r["digest"]
        if r.get("address"):
            entry["address"] = r["address"]
        if r.get("keys") is not None:
            entry["keys"] = r["keys"]
        entry["value_from"].update(r.get("value_from") or {})
        entry["sources"].append({
            "name": src.get("name"),
            "region": src.get("region"),
            "arn": src.get("arn"),
            # a retired source can no longer be read: keep the file stable across runs
            "digest": None if src.get("scheduled_for_deletion") else src.get("digest"),
            "into_key": key,
            "scheduled_for_deletion": bool(src.get("scheduled_for_deletion")),
        })
        if arn and arn not in arns:
            arns.append(arn)
        if e.get("kms_key_id") and str(e["kms_key_id"]).startswith("arn:") and e["kms_key_id"] not in kms:
            kms.append(e["kms_key_id"])
        for env_name, env_key in sorted((e.get("env") or {}).items()):
            if arn:
                container.append({"name": env_name, "valueFrom": f"{arn}:{env_key}::" if env_key else arn})
        audit.append({
            "secret": label,
            "action": action,
            "arn": arn,
            "digest": r.get("digest"),
            "source": f"{src.get('region')}/{src.get('name')}",
            "source_digest": src.get("digest"),
            "source_scheduled_for_deletion": bool(src.get("scheduled_for_deletion")),
            "preserved_keys": r.get("preserved_keys"),
            "changed": bool(r.get("would_change")),
        })
    statements = []
    if arns:
        statements.append({
            "Sid": policy_sid,
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": sorted(arns),
        })
    if kms:
        statements.append({
            "Sid": policy_sid + "Kms",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": sorted(kms),
        })
    changed = [a for a in audit if a["changed"]]
    lines.append(
        f"{len(audit)} secret(s): {len(changed)} {'to change' if check_mode else 'changed'}, "
        f"{len(audit) - len(changed)} unchanged" + (" (check mode: nothing was written)" if check_mode else "")
    )
    return {
        "state": {
            "schema": 1,
            "environment": environment,
            "secrets": secrets,
            "container_secrets": sorted(container, key=lambda c: c["name"]),
            "iam_policy": {"Version": "2012-10-17", "Statement": statements},
        },
        "summary": lines,
        "audit": audit,
    }
