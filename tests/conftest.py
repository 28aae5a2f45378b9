"""Shared pytest wiring.

- Makes `ansible.module_utils.facilitator_ops` importable exactly as Ansible
  resolves it at run time (module_utils path from ansible.cfg).
- Makes library/ modules and filter_plugins/ importable by name for unit tests.
- Loads the skip policy (tests/helpers/skip_policy.py): in CI a skip fails
  unless tests/expected_skips.txt lists it.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import ansible.module_utils

REPO = Path(__file__).resolve().parent.parent
ansible.module_utils.__path__.append(str(REPO / "module_utils"))
sys.path.insert(0, str(REPO / "library"))
sys.path.insert(0, str(REPO / "filter_plugins"))
sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))

pytest_plugins = ["helpers.skip_policy"]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "crash: kill -9 at every changing task and two operators at once (issue 11); "
                   "./run-tests runs them as their own step")
