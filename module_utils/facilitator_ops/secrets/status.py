# -*- coding: utf-8 -*-
"""Whether the secrets migration has happened, read from AWS: the decision the
deploy takes its container secrets' `valueFrom` from.

A local state file (state/<env>/secrets_migration.json) exists only on the
machine that ran the migration: another laptop or a controller job would keep
the monorepo ARNs and its plan would show no change. Here the migrated secrets
are found by name in the destination region (the inventory's mapping) and
recognised by the mark the migration leaves on them, a tag holding a digest
(12 hex, never a value):

- a whole copy: `facilitator-ops:migrated-source-digest` (core.MIGRATED_DIGEST_TAG);
- one key written into an existing JSON secret: `facilitator-ops:migrated-key:<key>`
  (core.migrated_key_tag), so a key the secret held before the migration does
  not count.

Only DescribeSecret is called: no value is read. The ARN (with its random
suffix) comes from the same answer.
"""
from __future__ import annotations

from ansible.module_utils.facilitator_ops.secrets.core import MIGRATED_DIGEST_TAG
from ansible.module_utils.facilitator_ops.secrets.core import SecretError
from ansible.module_utils.facilitator_ops.secrets.core import migrated_key_tag
from ansible.module_utils.facilitator_ops.secrets.core import value_from

# The default tag a migrated destination carries naming its environment (secrets_migration_default_tags).
ENVIRONMENT_TAG = "environment"


def _tags(meta):
    return {t["Key"]: t.get("Value") for t in (meta or {}).get("Tags") or []}


def item_status(entry, meta):
    """(migrated?, reason) of one normalised mapping item, from its destination's DescribeSecret (or None)."""
    dest = f"{entry['destination_region']}/{entry['destination']}"
    if meta is None:
        return False, f"{dest} does not exist"
    if meta.get("DeletedDate"):
        return False, f"{dest} is scheduled for deletion"
    tags = _tags(meta)
    key = entry.get("destination_key")
    mark = migrated_key_tag(key) if key else MIGRATED_DIGEST_TAG
    if not tags.get(mark):
        what = f"key {key} of {dest}" if key else dest
        return False, f"{what} was not written by the migration (no {mark} tag)"
    return True, f"{dest}{f'[{key}]' if key else ''} migrated (tag {mark}={tags[mark]})"


def migration_status(entries, describe, environment=None):
    """entries: the normalised mapping (mapping.normalise). describe(region, name)
    returns DescribeSecret's answer or None when the secret does not exist.

    Returns dict(state, container_secrets, value_from, secrets, lines):
      state `migrated` (every item with `env` is migrated: their valueFrom are the
      migrated ARNs) or `not_migrated` (none is: the deploy keeps what the task
      definition has).
    Raises SecretError (one line) when only some are migrated (an interrupted or
    failed migration) or a migrated secret is tagged for another environment."""
    used = [e for e in entries if e.get("env")]
    done, pending, container, secrets = [], [], [], {}
    for e in used:
        meta = describe(e["destination_region"], e["destination"])
        migrated, reason = item_status(e, meta)
        tagged_env = _tags(meta).get(ENVIRONMENT_TAG) if meta else None
        if migrated and environment and tagged_env and tagged_env != environment:
            raise SecretError(
                f"{e['destination_region']}/{e['destination']} is tagged {ENVIRONMENT_TAG}={tagged_env}, "
                f"this deploy is for {environment}: check the inventory's mapping and credentials"
            )
        (done if migrated else pending).append((e, reason))
        if not migrated:
            continue
        arn = meta["ARN"]
        secrets[e["destination"]] = dict(name=e["destination"], region=e["destination_region"], arn=arn)
        for env_name, json_key in sorted(e["env"].items()):
            container.append({"name": env_name, "valueFrom": value_from(arn, json_key)})
    if done and pending:
        raise SecretError(
            f"the secrets migration is incomplete in AWS ({len(done)} of {len(used)} migrated; "
            + "; ".join(reason for _, reason in pending)
            + "): finish it (migrate_secrets.yml, from any machine) or deploy with -e use_migrated_secrets=false"
        )
    state = "migrated" if done else "not_migrated"
    container.sort(key=lambda c: c["name"])
    if state == "migrated":
        lines = [f"secrets: migrated in AWS ({len(done)} of {len(used)}): valueFrom of "
                 + ", ".join(c["name"] for c in container) + " from the migrated secrets"]
    elif used:
        lines = [f"secrets: not migrated in AWS (0 of {len(used)}: {pending[0][1]}"
                 + (", ..." if len(pending) > 1 else "") + "): valueFrom unchanged"]
    else:
        lines = ["secrets: the mapping names no container secret (env): valueFrom unchanged"]
    return dict(
        state=state,
        container_secrets=container,
        value_from={c["name"]: c["valueFrom"] for c in container},
        secrets=secrets,
        lines=lines,
    )
