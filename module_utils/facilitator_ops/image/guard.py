# -*- coding: utf-8 -*-
# GPL-3.0-or-later
"""Protected-files guard for the facilitator source tree, and its content digest.

Production once lost its landing page because an upstream update overwrote the
branding. Before any build, every configured rule is checked against the source
tree; a failed rule names the file and the rule. Rules are data (group_vars):

    - path: static/index.html          # relative to the source dir
      description: landing page        # optional, shown in the report
      exists: true                     # default true; false = must NOT exist
      contains: [Ultravioleta DAO]     # literal texts, all required
      min_size: 4096                   # bytes
      regex: ['include_str!\\(\\s*"[^"]*static/index\\.html"\\s*\\)']   # all must match (multiline)
      networks: [base, base-sepolia]   # each must appear as a quoted string literal

The source digest (sha256 over relative paths + contents, minus excluded
globs) identifies "the same source" for idempotent builds.
"""
from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from dataclasses import dataclass, field

RULE_KEYS = {"path", "description", "exists", "contains", "min_size", "regex", "networks"}
DEFAULT_EXCLUDES = [".git", ".git/*", "*/__pycache__", "*/__pycache__/*", "*.pyc", "*.egg-info", "*.egg-info/*"]


class GuardConfigError(ValueError):
    """A rule set that cannot be evaluated (a configuration bug, not a failed rule)."""


@dataclass
class RuleResult:
    path: str
    rule: str
    ok: bool
    detail: str
    description: str = ""

    def line(self):
        what = f" ({self.description})" if self.description else ""
        return f"{'OK  ' if self.ok else 'FAIL'} {self.path}{what}: {self.rule}: {self.detail}"


@dataclass
class GuardReport:
    results: list = field(default_factory=list)

    @property
    def passed(self):
        return all(r.ok for r in self.results)

    @property
    def failures(self):
        return [r for r in self.results if not r.ok]

    def lines(self):
        return [r.line() for r in self.results]

    def message(self):
        if self.passed:
            return f"source guard: {len(self.results)} rule check(s) passed"
        first = self.failures[0]
        more = len(self.failures) - 1
        return (f"source guard: {first.path}: rule '{first.rule}' failed: {first.detail}"
                + (f" (+{more} more failure(s))" if more else ""))


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def validate_rules(rules):
    """Raise GuardConfigError for a malformed rule set (before reading any file)."""
    if not rules:
        raise GuardConfigError("no guard rules configured: refusing to build an unguarded source tree")
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or not rule.get("path"):
            raise GuardConfigError(f"guard rule #{i + 1} has no 'path'")
        unknown = set(rule) - RULE_KEYS
        if unknown:
            raise GuardConfigError(f"guard rule for {rule['path']}: unknown key(s) {', '.join(sorted(unknown))}")
        path = str(rule["path"])
        if os.path.isabs(path) or ".." in path.replace("\\", "/").split("/"):
            raise GuardConfigError(f"guard rule path {path!r} must be relative to the source dir, without '..'")
        if "min_size" in rule:
            try:
                if int(rule["min_size"]) < 0:
                    raise ValueError
            except (TypeError, ValueError):
                raise GuardConfigError(f"guard rule for {path}: min_size must be a non-negative integer") from None
        for pattern in _as_list(rule.get("regex")):
            try:
                re.compile(str(pattern), re.M)
            except re.error as e:
                raise GuardConfigError(f"guard rule for {path}: bad regex {pattern!r}: {e}") from None
        if "networks" in rule and not _as_list(rule["networks"]):
            raise GuardConfigError(
                f"guard rule for {path}: 'networks' is empty (configure the expected networks of this environment)")


def check_rule(source_dir, rule):
    """Evaluate one rule; returns a list of RuleResult (one per check in the rule)."""
    path = str(rule["path"])
    desc = str(rule.get("description") or "")
    full = os.path.join(source_dir, path)
    out = []
    must_exist = bool(rule.get("exists", True))
    exists = os.path.isfile(full)
    if not must_exist:
        out.append(RuleResult(path, "absent", not exists, "present but must not be" if exists else "absent", desc))
        return out
    if not exists:
        out.append(RuleResult(path, "exists", False, "missing" if not os.path.exists(full) else "not a regular file", desc))
        return out
    out.append(RuleResult(path, "exists", True, "present", desc))
    with open(full, "rb") as f:
        data = f.read()
    text = data.decode("utf-8", errors="replace")
    if "min_size" in rule:
        need = int(rule["min_size"])
        out.append(RuleResult(path, f"min_size {need}", len(data) >= need,
                              f"{len(data)} bytes" + ("" if len(data) >= need else f" < {need}"), desc))
    for needle in _as_list(rule.get("contains")):
        needle = str(needle)
        ok = needle in text
        out.append(RuleResult(path, f"contains {needle!r}", ok, "found" if ok else "text not found", desc))
    for pattern in _as_list(rule.get("regex")):
        pattern = str(pattern)
        ok = re.search(pattern, text, re.M) is not None
        out.append(RuleResult(path, f"regex {pattern!r}", ok, "matches" if ok else "no match", desc))
    nets = [str(n) for n in _as_list(rule.get("networks"))]
    if nets:
        missing = [n for n in nets if not re.search(r"""["']""" + re.escape(n) + r"""["']""", text)]
        out.append(RuleResult(path, f"lists {len(nets)} configured network(s)", not missing,
                              "all listed" if not missing else "missing " + ", ".join(missing), desc))
    return out


def run_guard(source_dir, rules):
    if not os.path.isdir(source_dir):
        raise GuardConfigError(f"source dir {source_dir} is not a directory")
    validate_rules(rules)
    report = GuardReport()
    for rule in rules:
        report.results.extend(check_rule(source_dir, rule))
    return report


def _excluded(rel, patterns):
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(os.path.basename(rel), p) for p in patterns)


def source_digest(source_dir, exclude=None):
    """sha256 (hex) over every regular file's relative path and content, in
    sorted order, minus excluded globs (matched against the relative path and
    the base name). Returns (digest, file count)."""
    patterns = list(DEFAULT_EXCLUDES) + list(exclude or [])
    h = hashlib.sha256()
    count = 0
    for dirpath, dirs, files in os.walk(source_dir):
        rel_dir = os.path.relpath(dirpath, source_dir)
        rel_dir = "" if rel_dir == "." else rel_dir
        dirs[:] = sorted(d for d in dirs if not _excluded(os.path.join(rel_dir, d), patterns))
        for name in sorted(files):
            rel = os.path.join(rel_dir, name)
            full = os.path.join(dirpath, name)
            if _excluded(rel, patterns) or not os.path.isfile(full) or os.path.islink(full):
                continue
            h.update(rel.replace(os.sep, "/").encode() + b"\0")
            with open(full, "rb") as f:
                fh = hashlib.sha256(f.read()).hexdigest()
            h.update(fh.encode() + b"\n")
            count += 1
    return h.hexdigest(), count
