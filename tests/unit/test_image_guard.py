"""Protected-files guard (image_source_guard) and the source digest, without network."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ansible.module_utils.facilitator_ops.image import guard as g

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "facilitator"
PKG = "app/x402_reference_facilitator"
NETWORKS = ["base-sepolia", "avalanche-fuji", "solana-devnet"]
BRAND = "Ultravioleta DAO"


def reference_rules():
    """The local inventory's rule set (inventories/local/group_vars/facilitator/image_build.yml)."""
    return [
        {"path": f"{PKG}/static/index.html", "contains": [BRAND], "min_size": 4096},
        {"path": f"{PKG}/app.py", "regex": [r"static/index\.html"]},
        {"path": f"{PKG}/networks.py", "networks": NETWORKS},
        {"path": "Dockerfile", "regex": ["^ARG FACILITATOR_VERSION", "FACILITATOR_VERSION"]},
    ]


@pytest.fixture
def tree(tmp_path):
    """A copy of the reference facilitator's guarded files."""
    root = tmp_path / "src"
    for rel in (f"{PKG}/static/index.html", f"{PKG}/app.py", f"{PKG}/networks.py", "Dockerfile"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REFERENCE / rel, root / rel)
    return root


def failed(report):
    return [(r.path, r.rule.split(" ")[0]) for r in report.failures]


def test_reference_tree_passes():
    report = g.run_guard(str(REFERENCE), reference_rules())
    assert report.passed, report.lines()
    assert report.message().startswith("source guard: ") and "passed" in report.message()


def test_copy_passes(tree):
    assert g.run_guard(str(tree), reference_rules()).passed


def test_missing_file_fails_naming_file_and_rule(tree):
    (tree / PKG / "static/index.html").unlink()
    report = g.run_guard(str(tree), reference_rules())
    assert failed(report) == [(f"{PKG}/static/index.html", "exists")]
    assert report.message() == f"source guard: {PKG}/static/index.html: rule 'exists' failed: missing"


def test_lost_branding_fails(tree):
    page = tree / PKG / "static/index.html"
    page.write_text(page.read_text().replace(BRAND, "Upstream Project"))
    report = g.run_guard(str(tree), reference_rules())
    assert failed(report) == [(f"{PKG}/static/index.html", "contains")]
    assert "'Ultravioleta DAO'" in report.message() and "text not found" in report.message()


def test_too_small_fails(tree):
    page = tree / PKG / "static/index.html"
    page.write_text(f"<h1>{BRAND}</h1>")
    report = g.run_guard(str(tree), reference_rules())
    assert failed(report) == [(f"{PKG}/static/index.html", "min_size")]
    assert "< 4096" in report.failures[0].detail


def test_regex_absent_fails(tree):
    app = tree / PKG / "app.py"
    app.write_text(app.read_text().replace("static/index.html", "static/upstream.html"))
    report = g.run_guard(str(tree), reference_rules())
    assert failed(report) == [(f"{PKG}/app.py", "regex")]


def test_network_missing_fails(tree):
    nets = tree / PKG / "networks.py"
    nets.write_text(nets.read_text().replace('"avalanche-fuji"', '"avalanche-fuji-old"'))
    report = g.run_guard(str(tree), reference_rules())
    assert failed(report) == [(f"{PKG}/networks.py", "lists")]
    assert report.failures[0].detail == "missing avalanche-fuji"


def test_network_substring_is_not_a_listing(tree):
    # "base" appears inside "base-sepolia" but not as its own quoted literal.
    (tree / "nets.py").write_text('NETS = ["base-sepolia"]\n')
    report = g.run_guard(str(tree), [{"path": "nets.py", "networks": ["base"]}])
    assert not report.passed


def test_production_rule_include_str(tmp_path):
    (tmp_path / "src").mkdir()
    handlers = tmp_path / "src/handlers.rs"
    rule = [{"path": "src/handlers.rs", "regex": [r'include_str!\(\s*"[^"]*static/index\.html"\s*\)']}]
    handlers.write_text('let page = include_str!("../static/index.html");\n')
    assert g.run_guard(str(tmp_path), rule).passed
    handlers.write_text('let page = "<html>upstream</html>";\n')
    assert not g.run_guard(str(tmp_path), rule).passed


def test_must_be_absent(tree):
    rule = [{"path": "Dockerfile", "exists": False}]
    assert failed(g.run_guard(str(tree), rule)) == [("Dockerfile", "absent")]


def test_every_failure_reported(tree):
    (tree / PKG / "app.py").write_text("")
    (tree / PKG / "networks.py").write_text("")
    report = g.run_guard(str(tree), reference_rules())
    assert len(report.failures) == 2 and "(+1 more failure(s))" in report.message()


@pytest.mark.parametrize("rules, match", [
    ([], "no guard rules"),
    ([{"contains": "x"}], "no 'path'"),
    ([{"path": "/etc/passwd"}], "relative"),
    ([{"path": "../x"}], "relative"),
    ([{"path": "x", "containz": "y"}], "unknown key"),
    ([{"path": "x", "min_size": "big"}], "min_size"),
    ([{"path": "x", "regex": "("}], "bad regex"),
    ([{"path": "x", "networks": []}], "networks' is empty"),
])
def test_bad_rule_sets_are_configuration_errors(tree, rules, match):
    with pytest.raises(g.GuardConfigError, match=match):
        g.run_guard(str(tree), rules)


def test_source_dir_must_exist(tmp_path):
    with pytest.raises(g.GuardConfigError, match="not a directory"):
        g.run_guard(str(tmp_path / "nope"), reference_rules())


def test_source_digest_stable_and_sensitive(tree):
    d1, n1 = g.source_digest(str(tree))
    assert g.source_digest(str(tree)) == (d1, n1) and n1 == 4
    (tree / "__pycache__").mkdir()
    (tree / "__pycache__/x.pyc").write_bytes(b"junk")
    (tree / ".wheels").mkdir()
    (tree / ".wheels/a.whl").write_bytes(b"wheel")
    assert g.source_digest(str(tree), [".wheels"]) == (d1, n1)
    assert g.source_digest(str(tree))[0] != d1  # .wheels counts unless excluded
    (tree / "Dockerfile").write_text((tree / "Dockerfile").read_text() + "\n# change\n")
    assert g.source_digest(str(tree), [".wheels"])[0] != d1
