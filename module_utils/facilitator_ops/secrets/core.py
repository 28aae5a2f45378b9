# -*- coding: utf-8 -*-
"""Secrets Manager logic shared by secret_copy and secret_json_key.

Values are read and written only inside the module process. Everything this
file returns to a caller that could reach Ansible's output is a digest (12 hex),
a key name, a public address, an ARN or a version id: never a value, and never
an exception text that could quote one (JSON parse errors are reduced to
"not a JSON object").

The pure planning functions (plan_copy, plan_key, verify_document,
preserved_keys) take SecretValue objects and are unit-tested without network;
SecretStore wraps a boto3 client (with or without the AnsibleAWSModule retry
wrapper) so the read/write paths can be tested with botocore's Stubber.
"""
from __future__ import annotations

import json

from ansible.module_utils.facilitator_ops.common import crashpoint
from ansible.module_utils.facilitator_ops.common.digests import key_digests
from ansible.module_utils.facilitator_ops.common.digests import short
from ansible.module_utils.facilitator_ops.common.digests import value_digest
from ansible.module_utils.facilitator_ops.common.keys import wallet_address_for
from ansible.module_utils.facilitator_ops.common.keys import wallet_address_matches

WALLET_KEYS = ("private_key", "address")

# What each write action is called in a plan (check mode) and after it ran:
# one wording for the copy, the one-key change and the migration report.
ACTION_WORDING = {
    "create": ("would create", "created"),
    "add_version": ("would add a version", "new version"),
    "insert_key": ("would insert key", "key inserted"),
    "update_key": ("would update key", "key updated"),
    "remove_key": ("would remove key", "key removed"),
    "equal": ("equal", "unchanged (equal)"),
    "source_retired": ("equal (source already scheduled for deletion)",
                       "unchanged (source already scheduled for deletion)"),
    "superseded": ("unchanged (migrated earlier; the destination has moved on since, e.g. rotated)",
                   "unchanged (migrated earlier; the destination has moved on since, e.g. rotated)"),
}
# Tag a whole-secret copy leaves on its destination: the source's digest (12 hex, never a
# value) at the time of the copy. A destination that differs from an unchanged source
# because it moved on (a wallet rotation) is then told apart from drift.
MIGRATED_DIGEST_TAG = "facilitator-ops:migrated-source-digest"
# The same mark for one key written into an existing JSON secret (the RPC map): the
# key's source digest under a tag named after the key, so that a key the secret held
# before the migration is told apart from one the migration wrote.
MIGRATED_KEY_TAG_PREFIX = "facilitator-ops:migrated-key:"


def migrated_key_tag(key):
    """The tag a key-mode copy leaves on its destination for `key`."""
    return MIGRATED_KEY_TAG_PREFIX + key


def action_words(action, planned=True):
    """The operator's wording of a write action, as planned or as done."""
    words = ACTION_WORDING.get(action)
    return words[0 if planned else 1] if words else action


class SecretError(Exception):
    """A refusal or failure whose message is safe to print (names, never values)."""


class SecretPendingDeletion(SecretError):
    pass


class SecretValue:
    """One secret value, string or binary, held only in memory."""

    __slots__ = ("kind", "data")

    def __init__(self, kind, data):
        if kind not in ("string", "binary"):
            raise ValueError("kind must be string or binary")
        self.kind = kind
        self.data = data

    @classmethod
    def from_response(cls, resp):
        if resp.get("SecretString") is not None:
            return cls("string", resp["SecretString"])
        if resp.get("SecretBinary") is not None:
            return cls("binary", resp["SecretBinary"])
        return None

    @property
    def digest(self):
        if self.kind == "binary":
            return value_digest(binary_value=self.data)
        return value_digest(string_value=self.data)

    @property
    def short(self):
        return short(self.digest)

    def payload(self):
        return {"SecretString": self.data} if self.kind == "string" else {"SecretBinary": self.data}

    def json_object(self):
        """The value parsed as a JSON object, or None (binary, not JSON, not an object)."""
        if self.kind != "string":
            return None
        try:
            doc = json.loads(self.data)
        except (TypeError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def __repr__(self):  # never the value, even in a traceback
        return f"SecretValue({self.kind}, sha256:{self.short})"

    __str__ = __repr__


def key_value_digest(value):
    """Digest of one key's value inside a JSON secret, comparable with the
    digest of a whole string secret holding the same text."""
    if isinstance(value, str):
        return value_digest(string_value=value)
    return value_digest(string_value=json.dumps(value, sort_keys=True))


def value_from(arn, key=None):
    """ECS `valueFrom` for a whole secret (key None) or one JSON key."""
    return arn if not key else f"{arn}:{key}::"


# --------------------------------------------------------------------------
# Planning (pure)
# --------------------------------------------------------------------------
def plan_copy(source, destination, overwrite):
    """Whole-value copy. Returns (action, value_to_write).

    action: create | equal | add_version. Raises SecretError when the
    destination differs and overwrite is off."""
    if destination is None:
        return "create", source
    if destination.digest == source.digest:
        return "equal", None
    if not overwrite:
        raise SecretError(
            "destination exists with a different value "
            f"(destination sha256:{destination.short}, source sha256:{source.short}) and overwrite is off"
        )
    return "add_version", source


def source_text(source, source_key=None):
    """The text a key-mode copy inserts: the whole string secret, or one key of a JSON source."""
    if source.kind != "string":
        raise SecretError("a binary source cannot be written into a JSON key")
    if not source_key:
        return source.data
    doc = source.json_object()
    if doc is None:
        raise SecretError(f"source is not a JSON object, cannot read key '{source_key}'")
    if source_key not in doc:
        raise SecretError(f"source has no key '{source_key}' (keys: {', '.join(sorted(doc))})")
    value = doc[source_key]
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def plan_key(new_text, destination, key, overwrite, create_missing, delete=False):
    """Read-modify-write of one key of a JSON object secret.

    Returns (action, new SecretValue or None, before_doc or None).
    action: create | insert_key | update_key | remove_key | equal."""
    if destination is None:
        if delete:
            return "equal", None, None
        if not create_missing:
            raise SecretError("destination secret does not exist (a key is only written into an existing JSON secret)")
        return "create", SecretValue("string", json.dumps({key: new_text})), None
    doc = destination.json_object()
    if doc is None:
        raise SecretError(
            "destination is not a JSON object (binary or plain string): refusing to turn it into one"
        )
    if delete:
        if key not in doc:
            return "equal", None, doc
        after = {k: v for k, v in doc.items() if k != key}
        return "remove_key", SecretValue("string", json.dumps(after)), doc
    if key in doc:
        if key_value_digest(doc[key]) == value_digest(string_value=new_text):
            return "equal", None, doc
        if not overwrite:
            raise SecretError(
                f"key '{key}' exists with a different value "
                f"(sha256:{short(key_value_digest(doc[key]))}, new sha256:{short(value_digest(string_value=new_text))}) "
                "and overwrite is off"
            )
        action = "update_key"
    else:
        action = "insert_key"
    after = dict(doc)
    after[key] = new_text
    return action, SecretValue("string", json.dumps(after)), doc


def preserved_keys(before_doc, after_doc, changed_key):
    """Proof that a read-modify-write kept every other key: returns
    (preserved, damaged) key-name lists. damaged lists keys that vanished
    or whose value digest changed."""
    if not before_doc:
        return [], []
    before = key_digests({k: v for k, v in before_doc.items() if k != changed_key})
    after = key_digests({k: v for k, v in (after_doc or {}).items() if k != changed_key})
    preserved = sorted(k for k in before if after.get(k) == before[k])
    damaged = sorted(k for k in before if after.get(k) != before[k])
    return preserved, damaged


def complete_wallet(value):
    """A wallet secret as the new stack stores it: {"private_key", "address"}. A
    monorepo wallet has `private_key` only (FACTS): the address is derived from the
    key inside this process and added after the other keys. A comma-separated EVM
    value (several signers, as the facilitator reads it) gets the addresses in the
    same order, comma-separated. Returns (SecretValue to write, derived?) - the
    value itself when it needs nothing, or when it is not a wallet document
    (verify_document then says what is wrong)."""
    doc = value.json_object() if value is not None else None
    if not doc or not isinstance(doc.get("private_key"), str) or doc.get("address") not in (None, ""):
        return value, False
    try:
        address = wallet_address_for(doc["private_key"])
    except ValueError:
        return value, False
    return SecretValue("string", json.dumps(dict(doc, address=address))), True


def verify_document(value, required_keys=(), wallet=False):
    """Check what the facilitator needs of a secret. Returns (problems, facts)
    where facts carries only key names, the wallet kind and its public address."""
    problems, facts = [], {}
    if value is None:
        return ["secret is missing"], facts
    facts["kind"] = value.kind
    if not required_keys and not wallet:
        return problems, facts
    doc = value.json_object()
    if doc is None:
        return ["value is not a JSON object"], facts
    facts["keys"] = sorted(doc)
    needed = list(required_keys) + (list(WALLET_KEYS) if wallet else [])
    missing = sorted({k for k in needed if k not in doc or doc[k] in (None, "")})
    if missing:
        problems.append(f"missing key(s): {', '.join(missing)}")
    if wallet and not missing:
        ok, kind = wallet_address_matches(doc)
        facts["wallet_kind"] = kind
        if isinstance(doc.get("address"), str):
            facts["address"] = doc["address"]
        if not ok:
            problems.append(f"address does not belong to the private_key beside it ({kind or 'unknown'} wallet)")
    return problems, facts


# --------------------------------------------------------------------------
# AWS access
# --------------------------------------------------------------------------
def _error_code(exc):
    return getattr(exc, "response", {}).get("Error", {}).get("Code")


class SecretStore:
    """Thin wrapper around one region's Secrets Manager client."""

    def __init__(self, client, retry=True):
        self.client = client
        self.retry = retry

    def _call(self, method, **kwargs):
        if self.retry:
            kwargs["aws_retry"] = True
        return getattr(self.client, method)(**kwargs)

    def describe(self, name):
        try:
            return self._call("describe_secret", SecretId=name)
        except Exception as e:  # botocore ClientError
            if _error_code(e) == "ResourceNotFoundException":
                return None
            raise

    def read(self, name):
        """(SecretValue, response metadata) or (None, None) when missing.
        Raises SecretPendingDeletion for a secret scheduled for deletion.

        Always names VersionStage=AWSCURRENT: that is what AWS answers without a
        stage, but the AWS stand-in answers its default version even after
        UpdateSecretVersionStage moved AWSCURRENT (a rotation), and the rehearsal
        must read what production reads."""
        try:
            resp = self._call("get_secret_value", SecretId=name, VersionStage="AWSCURRENT")
        except Exception as e:
            code = _error_code(e)
            if code == "ResourceNotFoundException":
                return None, None
            if code == "InvalidRequestException":
                meta = self.describe(name)
                if meta and meta.get("DeletedDate"):
                    raise SecretPendingDeletion(f"secret is scheduled for deletion on {meta['DeletedDate']}") from None
            raise
        meta = {"ARN": resp.get("ARN"), "Name": resp.get("Name"), "VersionId": resp.get("VersionId")}
        return SecretValue.from_response(resp), meta

    def create(self, name, value, description=None, kms_key_id=None, tags=None):
        kwargs = dict(Name=name, **value.payload())
        if description:
            kwargs["Description"] = description
        if kms_key_id:
            kwargs["KmsKeyId"] = kms_key_id
        if tags:
            kwargs["Tags"] = [{"Key": k, "Value": str(v)} for k, v in sorted(tags.items())]
        resp = self._call("create_secret", **kwargs)
        crashpoint.wrote(f"secrets: created {name}")
        return resp

    def put(self, name, value):
        resp = self._call("put_secret_value", SecretId=name, **value.payload())
        crashpoint.wrote(f"secrets: new version of {name}")
        return resp

    def read_version(self, name, version_id):
        """The SecretValue of one version (None if it holds nothing)."""
        resp = self._call("get_secret_value", SecretId=name, VersionId=version_id)
        return SecretValue.from_response(resp)

    def stages(self, name):
        """{stage: version id} of the secret now."""
        d = self._call("describe_secret", SecretId=name)
        out = {}
        for vid, stages in (d.get("VersionIdsToStages") or {}).items():
            for stage in stages or []:
                out[stage] = vid
        return out

    def update_description(self, name, description):
        resp = self._call("update_secret", SecretId=name, Description=description)
        crashpoint.wrote(f"secrets: description of {name}")
        return resp

    def add_tags(self, name, tags):
        resp = self._call("tag_resource", SecretId=name, Tags=[{"Key": k, "Value": str(v)} for k, v in sorted(tags.items())])
        crashpoint.wrote(f"secrets: tags of {name}")
        return resp

    def schedule_deletion(self, name, recovery_window_days):
        resp = self._call("delete_secret", SecretId=name, RecoveryWindowInDays=int(recovery_window_days))
        crashpoint.wrote(f"secrets: deletion of {name} scheduled")
        return resp


def metadata_changes(meta, description, tags):
    """What description/tag updates an existing secret needs (no removals)."""
    changes = {}
    if meta is None:
        return changes
    if description and meta.get("Description", "") != description:
        changes["description"] = description
    current = {t["Key"]: t.get("Value", "") for t in meta.get("Tags") or []}
    missing = {k: str(v) for k, v in (tags or {}).items() if current.get(k) != str(v)}
    if missing:
        changes["tags"] = missing
    return changes


# --------------------------------------------------------------------------
# Read-modify-write of one key with compare-and-swap
# --------------------------------------------------------------------------
CAS_ATTEMPTS = 5


def _key_digest_of(doc, key):
    if doc is None or key not in doc:
        return None
    return key_value_digest(doc[key])


def write_key(store, name, key, new_text, base, base_version, delete=False, overwrite=True, label=None,
              attempts=CAS_ATTEMPTS):
    """Write one key of a JSON secret read as `base` (a SecretValue) at version `base_version`.

    PutSecretValue has no precondition, so the swap is checked after the fact:
    the version our write pushed to AWSPREVIOUS must be the one we read. If it
    is not, someone wrote in between and our write dropped their change: their
    version (now AWSPREVIOUS) is read, our one key is applied on top of it and
    written again, until the check holds. If they changed the same key, their
    document is put back as it was and the run fails naming the key.

    Returns dict(action, before_doc (the document the final write was merged on),
    version_id, merges (interleaved writes merged))."""
    label = label or name
    ours_before = _key_digest_of(base.json_object(), key)
    ours_after = None if delete else value_digest(string_value=new_text)
    expected_prev, merge_base, merges = base_version, base, 0
    for _ in range(int(attempts)):
        action, new_value, before_doc = plan_key(new_text, merge_base, key, overwrite, False, delete=delete)
        if action == "equal":
            if not merges:
                return dict(action=action, before_doc=before_doc, version_id=expected_prev, merges=merges)
            # their document already holds our value: it is what must be AWSCURRENT again
            new_value = merge_base
        version_id = store.put(name, new_value).get("VersionId")
        displaced = store.stages(name).get("AWSPREVIOUS")
        if displaced == expected_prev:
            return dict(action=action, before_doc=before_doc, version_id=version_id, merges=merges)
        # Interleaved: `displaced` was written after our read; our write lost whatever it changed.
        theirs = store.read_version(name, displaced)
        their_doc = theirs.json_object() if theirs is not None else None
        if their_doc is None:
            raise SecretError(f"{label}: another writer replaced the secret with a non-JSON value (version "
                              f"{displaced}) between this run's read and write; this run's write is version "
                              f"{version_id}: check it by hand")
        if _key_digest_of(their_doc, key) not in (ours_before, ours_after):
            # They changed the very key we change: put their document back, change nothing of ours.
            store.put(name, theirs)
            raise SecretError(f"{label}: key '{key}' was changed by another writer (version {displaced}) between this "
                              f"run's read and write: their document is AWSCURRENT again and this run's change is "
                              f"not applied; check the key's value and rerun")
        merges += 1
        merge_base, expected_prev = theirs, version_id
    raise SecretError(f"{label}: the secret kept changing under this run ({merges} interleaved writes merged): "
                      f"the last write is AWSCURRENT; check it and rerun")
