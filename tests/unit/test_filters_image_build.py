"""The image_build role's input check (filter_plugins/image_build.py)."""
from __future__ import annotations

import pytest

import image_build as f

PATTERN = r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z][0-9A-Za-z.-]*)?$"   # roles/image_build/defaults/main.yml
RULES = [{"path": "Dockerfile"}]


@pytest.mark.parametrize("version,msg", [
    (None, "image_build: a version is required: -e version=X.Y.Z"),
    ("", "image_build: a version is required"),
    ("dev", 'image_build: invalid version "dev"'),
    ("v1.2", 'image_build: invalid version "v1.2"'),
    ("latest", 'image_build: invalid version "latest"'),
    ("v1.2.3", 'image_build: invalid version "v1.2.3"'),
])
def test_bad_version(version, msg):
    assert f.image_build_input_error(version, PATTERN, "facilitator", "", RULES).startswith(msg)


def test_other_problems_one_line_each():
    assert "no guard rules" in f.image_build_input_error("1.2.3", PATTERN, "facilitator", "", [])
    assert 'invalid repository "Facilitator"' in f.image_build_input_error("1.2.3", PATTERN, "Facilitator", "", RULES)
    assert 'invalid env tag "-prod"' in f.image_build_input_error("1.2.3", PATTERN, "facilitator", "-prod", RULES)


@pytest.mark.parametrize("version", ["1.2.3", "1.92.0", "1.2.3-rc.1", " 1.2.3 "])
def test_good(version):
    assert f.image_build_input_error(version, PATTERN, "team/facilitator", "production", RULES) == ""


def test_filters_are_registered():
    assert set(f.FilterModule().filters()) == {"image_build_input_error"}
