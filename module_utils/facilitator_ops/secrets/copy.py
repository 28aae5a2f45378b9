# -*- coding: utf-8 -*-
"""The secret_copy module's logic: copy one secret (or one value into a key of
a JSON secret) across regions, compare by digest, verify, report ARNs.

run_copy() takes two SecretStore objects and the module's parameters and
returns the module result; it raises SecretError with a printable message
(secret names, digests, key names; never a value).
"""
from __future__ import annotations

from ansible.module_utils.facilitator_ops.common.digests import short
from ansible.module_utils.facilitator_ops.common.digests import value_digest
from ansible.module_utils.facilitator_ops.secrets.core import action_words
from ansible.module_utils.facilitator_ops.secrets.core import MIGRATED_DIGEST_TAG
from ansible.module_utils.facilitator_ops.secrets.core import complete_wallet
from ansible.module_utils.facilitator_ops.secrets.core import SecretError
from ansible.module_utils.facilitator_ops.secrets.core import SecretPendingDeletion
from ansible.module_utils.facilitator_ops.secrets.core import key_value_digest
from ansible.module_utils.facilitator_ops.secrets.core import metadata_changes
from ansible.module_utils.facilitator_ops.secrets.core import migrated_key_tag
from ansible.module_utils.facilitator_ops.secrets.core import plan_copy
from ansible.module_utils.facilitator_ops.secrets.core import plan_key
from ansible.module_utils.facilitator_ops.secrets.core import preserved_keys
from ansible.module_utils.facilitator_ops.secrets.core import source_text
from ansible.module_utils.facilitator_ops.secrets.core import value_from
from ansible.module_utils.facilitator_ops.secrets.core import verify_document
from ansible.module_utils.facilitator_ops.secrets.core import write_key

MODES = ("copy", "verify", "retire_source")
def check_params(p):
    """Input validation that needs no AWS call. Returns a list of problems."""
    problems = []
    if not p.get("source_name"):
        problems.append("source_name is empty")
    if not p.get("name"):
        problems.append("name (destination) is empty")
    if not p.get("source_region"):
        problems.append("source_region is missing")
    if not p.get("region"):
        problems.append("destination region is missing")
    if (
        p.get("source_name")
        and p.get("source_name") == p.get("name")
        and p.get("source_region") == p.get("region")
        and not p.get("destination_key")
    ):
        problems.append("source and destination are the same secret")
    if p.get("wallet") and p.get("destination_key"):
        problems.append("wallet verification applies to whole-secret copies, not to a key insert")
    if p.get("mode", "copy") not in MODES:
        problems.append(f"mode must be one of {', '.join(MODES)}")
    window = p.get("recovery_window_days")
    if window is not None and not 7 <= int(window) <= 30:
        problems.append("recovery_window_days must be between 7 and 30")
    return problems


def _value_from_keys(p):
    if p.get("destination_key"):
        keys = [p["destination_key"]]
    elif p.get("wallet"):
        keys = ["private_key"]
    else:
        keys = list(p.get("required_keys") or [])
    return keys + [k for k in (p.get("value_from_keys") or []) if k not in keys]


def _required(p):
    keys = list(p.get("required_keys") or [])
    if p.get("destination_key") and p["destination_key"] not in keys:
        keys.append(p["destination_key"])
    return keys


def run_copy(p, src, dst, check_mode=False):
    """p: module params. src/dst: SecretStore for the source / destination region."""
    problems = check_params(p)
    if problems:
        raise SecretError("; ".join(problems))
    mode = p.get("mode") or "copy"
    name, key = p["name"], p.get("destination_key")
    src_label = f"{p['source_region']}/{p['source_name']}"
    dst_label = f"{p['region']}/{name}" + (f"[{key}]" if key else "")
    result = dict(changed=False, name=name, region=p["region"], destination_key=key, mode=mode)

    # ---- source ---------------------------------------------------------
    src_meta_full = src.describe(p["source_name"])
    retired = bool(src_meta_full and src_meta_full.get("DeletedDate"))
    source, src_meta = (None, None)
    if not retired:
        try:
            source, src_meta = src.read(p["source_name"])
        except SecretPendingDeletion:
            retired = True
    if source is None and not retired:
        raise SecretError(f"source secret {src_label} not found")
    result["source"] = dict(
        name=p["source_name"],
        region=p["source_region"],
        arn=(src_meta or src_meta_full or {}).get("ARN"),
        exists=True,
        scheduled_for_deletion=retired,
        deletion_date=str(src_meta_full.get("DeletedDate")) if retired else None,
    )

    if source is not None:
        if key:
            new_text = source_text(source, p.get("source_key"))
            src_digest = value_digest(string_value=new_text)
        else:
            if p.get("source_key"):
                raise SecretError("source_key needs destination_key (a whole copy copies the whole value)")
            if p.get("wallet"):
                # A monorepo wallet holds private_key only: the copy carries the derived address too.
                source, derived = complete_wallet(source)
                result["source"]["address_derived"] = derived
            src_digest = source.digest
            src_problems, _ = verify_document(source, p.get("required_keys") or (), p.get("wallet"))
            if src_problems:
                raise SecretError(f"source {src_label}: {'; '.join(src_problems)}: refusing to copy it")
        result["source"]["digest"] = short(src_digest)
        result["source"]["kind"] = source.kind

    # ---- destination ------------------------------------------------------
    dest_meta = dst.describe(name)
    if dest_meta and dest_meta.get("DeletedDate"):
        raise SecretError(
            f"destination {p['region']}/{name} is scheduled for deletion: restore it "
            "(aws secretsmanager restore-secret) or pick another name"
        )
    dest, dest_read = dst.read(name) if dest_meta else (None, None)
    result["destination_existed"] = dest is not None
    before_digest = dest.digest if dest is not None else None

    if retired:
        # The source was retired by an earlier run: nothing left to copy, the
        # destination must stand on its own.
        if dest is None:
            raise SecretError(f"source {src_label} is scheduled for deletion and destination {dst_label} does not exist")
        action, new_value, before_doc = "source_retired", None, dest.json_object()
        result["warnings"] = [
            f"source {src_label} is scheduled for deletion: the destination can no longer be compared with it"
        ]
    elif key:
        action, new_value, before_doc = plan_key(
            new_text, dest, key, p.get("overwrite"), p.get("create_missing"), delete=False
        )
    else:
        create_missing = p.get("create_missing")
        if dest is None and create_missing is False:
            raise SecretError(f"destination {dst_label} does not exist and create_missing is off")
        before_doc = dest.json_object() if dest is not None else None
        copied = _tag(dest_meta, MIGRATED_DIGEST_TAG)
        if dest is not None and dest.digest != src_digest and copied and dest.short != copied:
            # The destination no longer holds what an earlier run copied into it (the tag is the
            # digest of that copy): it moved on since (a wallet rotation). The source never
            # overwrites it, whatever overwrite says: that would put the old key back.
            action, new_value = "superseded", None
            if copied != short(src_digest):
                result.setdefault("warnings", []).append(
                    f"{dst_label}: the source {src_label} changed since the copy (sha256:{copied} -> "
                    f"sha256:{short(src_digest)}) and the destination was changed since too (sha256:{dest.short}): "
                    "the destination is kept; the source never overwrites a destination changed since its copy"
                )
        else:
            try:
                action, new_value = plan_copy(source, dest, p.get("overwrite"))
            except SecretError as e:
                hint = (" (a wallet is overwritten only when named for the run: "
                        f"-e secrets_migration_overwrite_items={name})") if p.get("wallet") else ""
                raise SecretError(f"{e}{hint}") from None
        if action not in ("create", "superseded") and before_digest == src_digest:
            action = "equal"
    result["action"] = action

    tags = dict(p.get("tags") or {})
    if not key and source is not None and action != "superseded":
        tags[MIGRATED_DIGEST_TAG] = short(src_digest)
    elif key and source is not None:
        # the deploy recognises a migrated key by this tag (secrets/status.py)
        tags[migrated_key_tag(key)] = short(src_digest)
    meta_changes = metadata_changes(dest_meta, p.get("description"), tags) if dest is not None else {}
    if dest_meta and p.get("kms_key_id") and dest_meta.get("KmsKeyId") not in (None, p["kms_key_id"]):
        result.setdefault("warnings", []).append(
            f"destination {dst_label} uses another KMS key than kms_key_id (not changed: KMS key changes are manual)"
        )

    after_value = new_value if new_value is not None else dest
    result["diff"] = dict(
        before=dict(
            secret=dst_label,
            exists=dest is not None,
            digest=short(before_digest),
            keys=sorted(before_doc) if before_doc is not None else None,
        ),
        after=dict(
            secret=dst_label,
            exists=True,
            digest=after_value.short if after_value is not None else None,
            keys=sorted(after_value.json_object() or {}) if after_value is not None and after_value.json_object() is not None else None,
        ),
    )
    result["metadata_changes"] = sorted(meta_changes)
    if meta_changes:
        result["diff"]["after"]["metadata"] = sorted(meta_changes)
    result["plan"] = f"{dst_label}: {action_words(action)}" + (
        f" (+{', '.join(sorted(meta_changes))})" if meta_changes else ""
    )

    # ---- modes that never write the destination ------------------------------
    if mode in ("verify", "retire_source"):
        if action not in ("equal", "source_retired", "superseded"):
            raise SecretError(
                f"{dst_label} is not migrated yet ({action_words(action)}): run the copy first, "
                "retirement is refused in the same run as a copy"
            )
        _verify_destination(p, dest, src_digest if source is not None and action != "superseded" else None, key,
                            result, before_doc=None)
        result["arn"] = dest_read["ARN"]
        _finish(p, result)
        result["would_change"] = mode == "retire_source" and not retired
        if mode == "retire_source" and not retired:
            result["changed"] = True
            result["source"]["scheduled_for_deletion"] = not check_mode
            result["plan"] = (
                f"{src_label}: {'would schedule' if check_mode else 'scheduled'} deletion "
                f"(recovery window {p.get('recovery_window_days') or 30} days)"
            )
            if not check_mode:
                resp = src.schedule_deletion(p["source_name"], p.get("recovery_window_days") or 30)
                result["source"]["deletion_date"] = str(resp.get("DeletionDate"))
        return result

    # ---- copy ---------------------------------------------------------------
    result["changed"] = action not in ("equal", "source_retired", "superseded") or bool(meta_changes)
    result["would_change"] = result["changed"]
    if check_mode or not result["changed"]:
        if dest is not None:
            result["arn"] = dest_read["ARN"]
            if not result["changed"]:
                _verify_destination(p, dest, src_digest if source is not None and action != "superseded" else None,
                                    key, result, before_doc=None)
        else:
            result["arn"] = None
        _finish(p, result)
        return result

    if action == "create":
        resp = dst.create(name, new_value, p.get("description"), p.get("kms_key_id"), tags)
        result["version_id"] = resp.get("VersionId")
    elif new_value is not None and key:
        # compare-and-swap: an interleaved writer's change is merged, never lost (core.write_key)
        cas = write_key(dst, name, key, new_text, dest, dest_read.get("VersionId"), overwrite=p.get("overwrite"),
                        label=dst_label)
        result["version_id"], before_doc = cas["version_id"], cas["before_doc"]
        result["merged_interleaved_writes"] = cas["merges"]
    elif new_value is not None:
        resp = dst.put(name, new_value)
        result["version_id"] = resp.get("VersionId")
    if meta_changes.get("description"):
        dst.update_description(name, meta_changes["description"])
    if meta_changes.get("tags"):
        dst.add_tags(name, meta_changes["tags"])

    written, written_meta = dst.read(name)
    result["arn"] = written_meta["ARN"]
    _verify_destination(p, written, src_digest if action != "superseded" else None, key, result,
                        before_doc=before_doc)
    _finish(p, result)
    return result


def _tag(meta, name):
    return {t["Key"]: t.get("Value") for t in (meta or {}).get("Tags") or []}.get(name)


def _verify_destination(p, dest, src_digest, key, result, before_doc):
    """Read-back checks; raises SecretError naming what failed."""
    label = f"{p['region']}/{p['name']}" + (f"[{key}]" if key else "")
    rollback = " (the previous value is the AWSPREVIOUS version)" if result.get("destination_existed") else ""
    if dest is None:
        raise SecretError(f"{label}: destination missing after write")
    if src_digest is not None:
        if key:
            doc = dest.json_object() or {}
            if key not in doc or key_value_digest(doc[key]) != src_digest:
                raise SecretError(f"{label}: key value digest differs from the source after write{rollback}")
        elif dest.digest != src_digest:
            raise SecretError(f"{label}: digest differs from the source after write{rollback}")
    if key and before_doc is not None:
        kept, damaged = preserved_keys(before_doc, dest.json_object(), key)
        if damaged:
            raise SecretError(f"{label}: other keys changed or vanished: {', '.join(damaged)}{rollback}")
        result["preserved_keys"] = kept
    problems, facts = verify_document(dest, _required(p), bool(p.get("wallet")) and not key)
    if problems:
        raise SecretError(f"{label}: {'; '.join(problems)}{rollback}")
    result["digest"] = dest.short
    result["keys"] = facts.get("keys")
    if facts.get("address"):
        result["address"] = facts["address"]
        result["wallet_kind"] = facts.get("wallet_kind")
    result["verified"] = True


def _finish(p, result):
    arn = result.get("arn")
    keys = _value_from_keys(p)
    result["value_from"] = {k: value_from(arn, k) for k in keys} if arn else {}
    result["value_from_whole"] = arn
