"""Fixtures for the reference facilitator's tests (tests/facilitator/)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Works under any --import-mode: the helpers module sits next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from facilitator_helpers import RunningFacilitator, start_facilitator, stop_facilitator  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "integration: needs the local anvil chain stack (skipped otherwise)")


@pytest.fixture
def facilitator_factory(tmp_path):
    started: list[RunningFacilitator] = []

    def _start(env: dict[str, str]) -> RunningFacilitator:
        running = start_facilitator(env, tmp_path)
        started.append(running)
        return running

    yield _start
    for running in started:
        stop_facilitator(running)
