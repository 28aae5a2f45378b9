"""No silent skips: in CI a skipped test is a failed test.

Loaded for every run under tests/ (tests/conftest.py). Two modes:

- CI (environment CI=true/1/yes, or `pytest --no-skips`; `.ci/run` and
  `./run-tests --ci` set it): every skip fails, test by test, with its reason
  and where it was raised, unless tests/expected_skips.txt lists it. A
  module-level skip (nothing collected from a file) fails the session.
- Anywhere else: skips stay skips, but the summary always names each one and
  why, and says it would fail in CI.

tests/expected_skips.txt holds skips that are genuinely expected on every
machine: one `<test id or fnmatch pattern> <reason>` per line. It is empty
today; an entry without a reason is a usage error, an entry that matched no
skip is reported as stale.
"""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

EXPECTED_SKIPS = Path(__file__).resolve().parent.parent / "expected_skips.txt"
TRUE = {"1", "true", "yes", "on"}


@dataclass
class Skip:
    nodeid: str
    reason: str
    where: str
    allowed_by: str | None  # the expected_skips.txt line that allows it


def load_expected(path: Path) -> list[tuple[str, str]]:
    """(pattern, reason) pairs; '#' starts a comment line."""
    if not path.exists():
        return []
    entries = []
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) < 2 or not parts[1].strip():
            raise pytest.UsageError(f"{path}:{n}: '{line}' has no reason (expected '<test id> <why it must skip>')")
        entries.append((parts[0], parts[1].strip()))
    return entries


def _rel(path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _reason(longrepr) -> tuple[str, str]:
    """The skip's message and file:line from a skip report's longrepr."""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        path, lineno, msg = longrepr
        msg = str(msg)
        if msg.startswith("Skipped: "):
            msg = msg[len("Skipped: "):]
        return msg, f"{_rel(path)}:{lineno}"
    return str(longrepr), "?"


class SkipPolicy:
    def __init__(self, config, enforce: bool, expected: list[tuple[str, str]], expected_path: Path):
        self.config = config
        self.enforce = enforce
        self.expected = expected
        self.expected_path = expected_path
        self.skips: list[Skip] = []
        self.used: set[str] = set()

    def _allowed(self, nodeid: str) -> str | None:
        for pattern, reason in self.expected:
            if nodeid == pattern or fnmatch.fnmatchcase(nodeid, pattern):
                self.used.add(pattern)
                return f"{pattern} ({reason})"
        return None

    def _record(self, nodeid, longrepr) -> Skip:
        reason, where = _reason(longrepr)
        skip = Skip(nodeid, reason, where, self._allowed(nodeid))
        self.skips.append(skip)
        return skip

    @property
    def unexpected(self) -> list[Skip]:
        return [s for s in self.skips if not s.allowed_by]

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        rep = outcome.get_result()
        if not rep.skipped or hasattr(rep, "wasxfail"):
            return
        skip = self._record(rep.nodeid, rep.longrepr)
        if self.enforce and not skip.allowed_by:
            # The report becomes a failure: -x stops here, the summary says FAILED and why.
            rep.outcome = "failed"
            rep.longrepr = (f"SKIPPED IN CI: {skip.reason} (at {skip.where}). In CI a skip is a failure: "
                            f"fix the cause, or list the test with its reason in {self.expected_path.name}")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector):
        outcome = yield
        rep = outcome.get_result()
        if rep.skipped:
            # A module-level skip: nothing from this file runs. Kept a skip here
            # (a collection error would stop the whole session) and failed at the end.
            self._record(rep.nodeid, rep.longrepr)

    def pytest_sessionfinish(self, session, exitstatus):
        if self.enforce and self.unexpected and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        tr = terminalreporter
        stale = [p for p, _ in self.expected if p not in self.used]
        if not self.skips and not stale:
            return
        mode = "CI: a skip is a failure" if self.enforce else "not CI: these would fail in CI"
        tr.section(f"skips ({mode})", sep="=", yellow=True, bold=True)
        for s in self.skips:
            verdict = ("allowed by " + s.allowed_by) if s.allowed_by else ("FAILED" if self.enforce else "would fail in CI")
            tr.line(f"SKIP {s.nodeid}: {s.reason} [{s.where}] -> {verdict}")
        for p in stale:
            tr.line(f"STALE {self.expected_path.name} entry {p}: nothing skipped by that id (remove it?)")
        if self.enforce and self.unexpected:
            tr.line(f"{len(self.unexpected)} unexpected skip(s): the run FAILS "
                    f"(list a skip that is expected on every machine in {self.expected_path})", red=True, bold=True)


def ci_mode(config) -> bool:
    return bool(config.getoption("no_skips")) or os.environ.get("CI", "").strip().lower() in TRUE


def pytest_addoption(parser):
    group = parser.getgroup("skip policy")
    group.addoption("--no-skips", action="store_true", default=False,
                    help="fail every skipped test not listed in the expected-skips file (on by default when CI=true)")
    group.addoption("--expected-skips", default=str(EXPECTED_SKIPS),
                    help="file of skips expected on every machine: '<test id or pattern> <reason>' per line")


def pytest_configure(config):
    path = Path(config.getoption("expected_skips"))
    config.pluginmanager.register(SkipPolicy(config, ci_mode(config), load_expected(path), path), "skip_policy_state")
