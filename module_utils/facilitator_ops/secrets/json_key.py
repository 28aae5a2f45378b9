# -*- coding: utf-8 -*-
"""The secret_json_key module's logic: change (or remove) one key of a JSON
object secret by read-modify-write, then prove every other key survived.

This is the operation that wiped production's RPC map when done by hand with
`update-secret --secret-string` (which replaces the whole document).
"""
from __future__ import annotations

from ansible.module_utils.facilitator_ops.common.digests import short
from ansible.module_utils.facilitator_ops.common.digests import value_digest
from ansible.module_utils.facilitator_ops.secrets.core import action_words
from ansible.module_utils.facilitator_ops.secrets.core import SecretError
from ansible.module_utils.facilitator_ops.secrets.core import key_value_digest
from ansible.module_utils.facilitator_ops.secrets.core import plan_key
from ansible.module_utils.facilitator_ops.secrets.core import preserved_keys
from ansible.module_utils.facilitator_ops.secrets.core import value_from
from ansible.module_utils.facilitator_ops.secrets.core import verify_document
from ansible.module_utils.facilitator_ops.secrets.core import write_key

def check_params(p):
    problems = []
    if not p.get("name"):
        problems.append("name is empty")
    if not p.get("key"):
        problems.append("key is empty")
    if not p.get("region"):
        problems.append("region is missing")
    if p.get("state", "present") == "present" and p.get("value") in (None, ""):
        problems.append("value is empty (state=present needs a value)")
    if p.get("state", "present") == "absent" and p.get("key") in (p.get("required_keys") or []):
        problems.append("cannot remove a key listed in required_keys")
    return problems


def run_set_key(p, store, check_mode=False):
    problems = check_params(p)
    if problems:
        raise SecretError("; ".join(problems))
    name, key = p["name"], p["key"]
    label = f"{p['region']}/{name}[{key}]"
    delete = p.get("state") == "absent"
    meta = store.describe(name)
    if meta and meta.get("DeletedDate"):
        raise SecretError(f"{label}: the secret is scheduled for deletion")
    current, current_meta = store.read(name) if meta else (None, None)
    if p.get("expected_digest") and current is not None:
        if not current.digest.startswith(p["expected_digest"].lower()):
            raise SecretError(
                f"{label}: the secret changed since you looked (sha256:{current.short}, expected {p['expected_digest']})"
            )
    new_text = None if delete else p["value"]
    action, new_value, before_doc = plan_key(
        new_text, current, key, p.get("overwrite", True), p.get("create_missing", False), delete=delete
    )
    after_value = new_value if new_value is not None else current
    result = dict(
        changed=action != "equal",
        action=action,
        name=name,
        region=p["region"],
        key=key,
        arn=current_meta["ARN"] if current_meta else None,
        digest_before=short(current.digest) if current is not None else None,
        key_digest=None if delete else short(value_digest(string_value=new_text)),
        plan=f"{label}: {action_words(action)}",
    )
    result["diff"] = dict(
        before=dict(secret=label, exists=current is not None, digest=result["digest_before"],
                    keys=sorted(before_doc) if before_doc is not None else None),
        after=dict(secret=label, exists=after_value is not None, digest=after_value.short if after_value is not None else None,
                   keys=sorted(after_value.json_object() or {}) if after_value is not None else None),
    )
    if check_mode or action == "equal":
        if after_value is not None and not check_mode:
            _verify(p, after_value, result, label)
        result["value_from"] = value_from(result["arn"], key) if result["arn"] else None
        return result

    if action == "create":
        resp = store.create(name, new_value, p.get("description"))
        result["version_id"] = resp.get("VersionId")
    else:
        # compare-and-swap: an interleaved writer's change is merged, never lost (core.write_key)
        cas = write_key(store, name, key, new_text, current, current_meta.get("VersionId"), delete=delete,
                        overwrite=p.get("overwrite", True), label=label)
        result["version_id"], before_doc = cas["version_id"], cas["before_doc"]
        result["merged_interleaved_writes"] = cas["merges"]

    written, written_meta = store.read(name)
    result["arn"] = written_meta["ARN"]
    rollback = " (the previous value is the AWSPREVIOUS version)" if current is not None else ""
    doc = written.json_object() if written is not None else None
    if doc is None:
        raise SecretError(f"{label}: not a JSON object after write{rollback}")
    if delete:
        if key in doc:
            raise SecretError(f"{label}: key still present after write{rollback}")
    elif key not in doc or key_value_digest(doc[key]) != value_digest(string_value=new_text):
        raise SecretError(f"{label}: key value digest differs after write{rollback}")
    kept, damaged = preserved_keys(before_doc, doc, key)
    if damaged:
        raise SecretError(f"{label}: other keys changed or vanished: {', '.join(damaged)}{rollback}")
    result["preserved_keys"] = kept
    _verify(p, written, result, label)
    result["value_from"] = None if delete else value_from(result["arn"], key)
    return result


def _verify(p, value, result, label):
    problems, facts = verify_document(value, p.get("required_keys") or ())
    if problems:
        raise SecretError(f"{label}: {'; '.join(problems)}")
    result["digest"] = value.short
    result["keys"] = sorted(value.json_object() or {})
