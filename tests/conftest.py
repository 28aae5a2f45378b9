"""Shared pytest wiring.

- Makes `ansible.module_utils.facilitator_ops` importable exactly as Ansible
  resolves it at run time (module_utils path from ansible.cfg).
- Makes library/ modules importable by name for unit tests.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import ansible.module_utils

REPO = Path(__file__).resolve().parent.parent
ansible.module_utils.__path__.append(str(REPO / "module_utils"))
sys.path.insert(0, str(REPO / "library"))
sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "crash: kill -9 at every changing task and two operators at once (issue 11); "
                   "./run-tests runs them as their own step")
