# -*- coding: utf-8 -*-
# GPL-3.0-or-later
"""Filters of the image_build role: the build's input. Pure functions of their
arguments (unit-tested in tests/unit/test_filters_image_build.py).
"""
from __future__ import annotations

import json
import re

REPOSITORY_RE = re.compile(r"^[a-z0-9]+([._/-][a-z0-9]+)*$")
ENV_TAG_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]{0,127})?$")
NEVER = ("dev", "latest", "unknown")


def image_build_input_error(version, pattern, repository, env_tag="", guard_rules=None):
    """"" or the one line refusing the build (types and choices are the argument
    spec's; this checks the formats and that the tree is guarded)."""
    version = "" if version is None else str(version).strip()
    if not version:
        return 'image_build: a version is required: -e version=X.Y.Z (the images built without one report "dev")'
    if not re.match(pattern, version) or version.lower() in NEVER:
        return f"image_build: invalid version {json.dumps(version)}: expected X.Y.Z[-pre], never dev/latest"
    if not guard_rules:
        return "image_build: no guard rules configured (image_build_guard_rules): refusing to build an unguarded tree"
    if not REPOSITORY_RE.match(str(repository)):
        return f"image_build: invalid repository {json.dumps(repository)}: lower-case path components"
    if not ENV_TAG_RE.match(str(env_tag or "")):
        return f"image_build: invalid env tag {json.dumps(env_tag)}: a Docker tag ([A-Za-z0-9][A-Za-z0-9_.-]*, <= 128)"
    return ""


class FilterModule:
    def filters(self):
        return {"image_build_input_error": image_build_input_error}
