# -*- coding: utf-8 -*-
"""Append-only audit log: one JSON object per line, one file per capability.

Every changing playbook writes a record when it starts (before the first
change), after each change, and at the end in an `always` path, so a run that
fails, or is killed, still leaves what it changed on record.

Why not `lineinfile`: it de-duplicates (an identical line is "already there")
and rewrites the whole file; an audit log must keep every line and only ever
append. Here a record is one `write()` on a descriptor opened with O_APPEND,
then fsync: two runs appending at once never interleave or overwrite, and a
SIGKILL right after the write does not lose it.

Records hold names, addresses, version ids, digests, amounts: never key
material (the callers only ever have those).
"""
from __future__ import annotations

import datetime
import getpass
import json
import os
import socket

# Keys a record may never carry (a bug upstream, caught here before it reaches disk).
FORBIDDEN_KEYS = ("private_key", "secret_string", "secretstring", "secret_binary", "password")


class AuditError(Exception):
    pass


def _walk_keys(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield f"{path}.{k}" if path else str(k), str(k)
            yield from _walk_keys(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _walk_keys(v, f"{path}[{i}]")


def forbidden(record):
    """Paths of keys that look like key material."""
    return [p for p, k in _walk_keys(record) if k.lower() in FORBIDDEN_KEYS]


def operator():
    try:
        user = os.environ.get("USER") or getpass.getuser()
    except Exception:  # noqa: BLE001 (no passwd entry in a container)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def build(record, capability=None, now=None):
    """The record as written: `ts` (UTC) and `operator` first unless given."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    out = {"ts": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if capability:
        out["capability"] = capability
    out["operator"] = operator()
    out.update(record or {})
    return out


def append(path, record):
    """Append one JSON line to `path` (directory 0700 and file 0600 created as
    needed). Returns the line's length in bytes."""
    bad = forbidden(record)
    if bad:
        raise AuditError(f"refusing to write an audit record with key(s) {', '.join(bad)}")
    line = (json.dumps(record, default=str, separators=(",", ":")) + "\n").encode("utf-8")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        written = os.write(fd, line)
        if written != len(line):
            raise AuditError(f"short write to {path} ({written} of {len(line)} bytes)")
        os.fsync(fd)
    finally:
        os.close(fd)
    return len(line)


def read(path):
    """Every record of an audit file (tests, summaries)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
