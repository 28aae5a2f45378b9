# -*- coding: utf-8 -*-
"""Digests of secret values, shared by every capability that reads secrets.

Everything here works on values already inside the module process and only
ever returns digests, key names and addresses: never a value.
"""
from __future__ import annotations

import base64
import hashlib
import json

DIGEST_SHORT = 12


def value_digest(string_value=None, binary_value=None):
    """sha256 of a secret value, tagged with its kind so a string and a binary
    with the same bytes never compare equal."""
    h = hashlib.sha256()
    if binary_value is not None:
        if isinstance(binary_value, str):
            binary_value = base64.b64decode(binary_value)
        h.update(b"binary:")
        h.update(binary_value)
    else:
        h.update(b"string:")
        h.update((string_value or "").encode("utf-8"))
    return h.hexdigest()


def short(digest):
    return digest[:DIGEST_SHORT] if digest else None


def key_digests(doc):
    """Per-key digests of a JSON object: lets a caller prove every other key
    of a read-modify-write survived without comparing values in the clear."""
    return {k: hashlib.sha256(json.dumps(v, sort_keys=True).encode()).hexdigest() for k, v in doc.items()}
