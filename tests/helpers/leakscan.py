"""Canary leak scan: fail if a planted secret value shows up anywhere.

A test plants canary values (valid keys, random URLs) into the SOURCE secrets
of a fresh moto world, runs a playbook, then scans every byte it can reach:
the captured stdout/stderr, the audit directory and every file under the
per-test temp directories. Each canary is searched raw and in the encodings a
leak usually takes: base64 (standard and URL-safe, at every byte alignment so
a canary embedded in a larger encoded blob is still found), hex (lower and
upper), JSON-escaped (also double-escaped, as a JSON document inside a JSON
string) and URL-encoded.

Failures name the place (file and byte offset, or stream and line) and the
canary's label and encoding, never the value.
"""
from __future__ import annotations

import base64
import json
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

MIN_CANARY_LEN = 12  # shorter values would match by chance


@dataclass(frozen=True)
class Canary:
    label: str
    value: str

    def forms(self):
        """(encoding name, needle bytes) for every form searched."""
        raw = self.value.encode("utf-8")
        out = {("raw", raw)}
        for name, enc in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            for core in _b64_cores(raw, enc):
                out.add((name, core))
        out.add(("hex", raw.hex().encode()))
        out.add(("HEX", raw.hex().upper().encode()))
        js = json.dumps(self.value)[1:-1]
        out.add(("json-escaped", js.encode()))
        out.add(("json-escaped-slash", js.replace("/", "\\/").encode()))
        out.add(("json-double-escaped", json.dumps(js)[1:-1].encode()))
        out.add(("url-encoded", urllib.parse.quote(self.value, safe="").encode()))
        return sorted(out)


def _b64_cores(raw, enc):
    """Base64 of `raw` as it appears when embedded at any offset in a longer
    buffer: encode with 0, 1, 2 bytes of prefix, drop the characters that
    depend on the neighbours."""
    cores = []
    for pad in range(3):
        encoded = enc(b"\0" * pad + raw).rstrip(b"=")
        start = (pad * 8 + 5) // 6 if pad else 0   # chars touched by the prefix
        body_bits = (pad + len(raw)) * 8
        end = body_bits // 6                      # full 6-bit groups only
        core = encoded[start:end]
        if len(core) >= MIN_CANARY_LEN:
            cores.append(core)
    return cores


@dataclass
class Finding:
    place: str
    label: str
    encoding: str

    def __str__(self):
        return f"canary '{self.label}' ({self.encoding}) found in {self.place}"


@dataclass
class LeakScanner:
    canaries: list = field(default_factory=list)

    def add(self, label, value):
        if not isinstance(value, str) or len(value) < MIN_CANARY_LEN:
            raise ValueError(f"canary {label!r} is too short to scan for reliably")
        self.canaries.append(Canary(label, value))
        return value

    def _needles(self):
        for c in self.canaries:
            seen = set()
            # raw first, so a form equal to the raw value is reported as raw
            for enc, needle in sorted(c.forms(), key=lambda f: f[0] != "raw"):
                if needle not in seen:
                    seen.add(needle)
                    yield c.label, enc, needle

    def scan_bytes(self, data, place):
        findings = []
        if not data:
            return findings
        for label, enc, needle in self._needles():
            pos = data.find(needle)
            if pos >= 0:
                line = data.count(b"\n", 0, pos) + 1
                findings.append(Finding(f"{place} (line {line}, byte {pos})", label, enc))
        return findings

    def scan_text(self, text, place):
        return self.scan_bytes(text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text, place)

    def scan_tree(self, root):
        findings = []
        root = Path(root)
        if not root.exists():
            return findings
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                path = Path(dirpath) / name
                try:
                    data = path.read_bytes()
                except OSError as e:  # unreadable: say so, it could hide a leak
                    findings.append(Finding(f"{path} (unreadable: {e.strerror})", "*", "n/a"))
                    continue
                findings.extend(self.scan_bytes(data, str(path)))
        return findings

    def scan(self, texts=None, trees=()):
        """texts: {place: str|bytes}; trees: directories to walk."""
        findings = []
        for place, text in (texts or {}).items():
            findings.extend(self.scan_text(text, place))
        for tree in trees:
            findings.extend(self.scan_tree(tree))
        return findings

    def assert_clean(self, texts=None, trees=()):
        findings = self.scan(texts, trees)
        if findings:
            raise AssertionError("secret leak: " + "; ".join(str(f) for f in findings))
