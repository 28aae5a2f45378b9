"""The execution environment's definitions agree with the project's pins (issue 13).

- stack/ee/requirements.txt and execution-environment.yml are what stack/ee/ee.py generates
  from requirements.txt / requirements.yml (no hand edits, no drift);
- every package the EE installs is pinned at the control node's version, and every
  third-party module library/ and module_utils/ import is provided by one of them;
- the closure walk follows markers and extras (a synthetic metadata set);
- `ansible-builder create` turns execution-environment.yml into a build context that carries
  the same pins, the pinned collections and the project's content (ansible-builder cannot
  build it here: RPM base, no pulls);
- ansible-navigator.yml validates against ansible-navigator's own schema and names the image
  build_ee.yml pushes for the local inventory, with nothing mounted or passed but the stack's.
"""
from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
spec = importlib.util.spec_from_file_location("ee_tool", REPO / "stack" / "ee" / "ee.py")
ee = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ee)


def tool(name):
    """A CLI of the pinned environment (requirements.txt): beside this interpreter, else PATH."""
    for cand in (VENV_BIN / name, REPO / ".venv" / "bin" / name):
        if cand.exists():
            return str(cand)
    found = shutil.which(name)
    assert found, f"{name} is not installed: ./bootstrap.sh installs requirements.txt (it pins {name})"
    return found


def test_generated_files_are_up_to_date():
    assert ee.generate(check=True) == []


def test_every_ee_package_is_pinned_like_the_control_node():
    pins = ee.read_pins()
    ee_pins = ee.read_pins(ee.EE_REQUIREMENTS)
    assert ee_pins, "stack/ee/requirements.txt is empty"
    for name, (_spelling, version) in ee_pins.items():
        assert name in pins, f"{name} is in the EE but not pinned in requirements.txt"
        assert pins[name][1] == version, f"{name}: EE {version}, requirements.txt {pins[name][1]}"
    for name in ee.DIRECT:
        assert canonicalize_name(Requirement(name).name) in ee_pins, f"{name} (ee.py DIRECT) missing from the EE"
    assert "web3" in ee_pins  # x402[evm]: the payment smoke test's EVM signer


def third_party_imports():
    """Top-level modules imported by library/ and module_utils/ that are not stdlib/ansible."""
    mods = set()
    for path in list((REPO / "library").glob("*.py")) + list((REPO / "module_utils").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                mods.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods.add(node.module.split(".")[0])
    return {m for m in mods if m not in sys.stdlib_module_names and m not in ("ansible", "ansible_collections", "__future__")}


def test_every_module_import_is_in_the_ee():
    ee_pins = ee.read_pins(ee.EE_REQUIREMENTS)
    dists_of = metadata.packages_distributions()
    imports = third_party_imports()
    assert {"botocore", "solders", "eth_account"} <= imports  # the scan sees the real imports
    for mod in sorted(imports):
        dists = {canonicalize_name(d) for d in dists_of.get(mod, [])}
        assert dists & set(ee_pins), f"module import {mod!r} (dists {sorted(dists)}) is not provided by the EE"


def test_collections_are_the_pinned_ones_of_the_ansible_package():
    colls = dict(ee.read_collections())
    assert {"amazon.aws", "community.aws", "community.docker", "awx.awx"} <= set(colls)
    for fqcn, version in colls.items():
        _path, found = ee.installed_collection(fqcn)
        assert found == version, f"{fqcn}: requirements.yml {version}, installed {found}"


class FakeDist:
    def __init__(self, version, requires):
        self.version, self.requires = version, requires


def test_closure_follows_markers_and_extras():
    world = {
        "top": FakeDist("1", ["dep", "winonly; sys_platform == 'win32'", "opt[fast]", "never; extra == 'x'"]),
        "dep": FakeDist("2", []),
        "opt": FakeDist("3", ["speed; extra == 'fast'"]),
        "speed": FakeDist("4", []),
        "winonly": FakeDist("5", []),
        "never": FakeDist("6", []),
    }

    def lookup(name):
        if name not in world:
            raise metadata.PackageNotFoundError(name)
        return world[name]

    assert ee.closure(["top"], lookup) == {"top": "1", "dep": "2", "opt": "3", "speed": "4"}
    assert ee.closure(["opt"], lookup) == {"opt": "3"}
    assert ee.closure(["opt[fast]"], lookup) == {"opt": "3", "speed": "4"}
    pins = {n: (n, v) for n, v in [("top", "1"), ("dep", "2"), ("opt", "3")]}
    with pytest.raises(ee.EEError, match="speed .* has no pin"):
        ee.ee_requirements(pins, ["top"], lookup)
    pins["speed"] = ("speed", "9")
    with pytest.raises(ee.EEError, match="speed is installed at 4, requirements.txt pins 9"):
        ee.ee_requirements(pins, ["top"], lookup)


def test_ansible_builder_create_gives_a_valid_context(tmp_path):
    ctx = tmp_path / "ctx"
    proc = subprocess.run([tool("ansible-builder"), "create", "-f", str(REPO / "execution-environment.yml"),
                           "--context", str(ctx), "--output-filename", "Containerfile"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cf = (ctx / "Containerfile").read_text()
    assert re.search(r"^ARG EE_BASE_IMAGE=.?quay\.io/centos/centos:stream9", cf, re.M), cf[:800]
    for stage in ("base", "galaxy", "builder", "final"):
        assert re.search(rf"^FROM .* AS {stage}$", cf, re.M | re.I), f"no {stage} stage"
    assert "ansible-galaxy collection install" in cf
    assert re.search(r"^USER 1000$", cf, re.M)
    assert re.search(r'^ENTRYPOINT \["/opt/builder/bin/entrypoint", "dumb-init"\]$', cf, re.M)
    # the same Python pins and collections as the image built here
    build = ctx / "_build"
    assert (build / "requirements.txt").read_text() == ee.EE_REQUIREMENTS.read_text()
    galaxy = yaml.safe_load((build / "requirements.yml").read_text())
    assert [(c["name"], str(c["version"])) for c in galaxy["collections"]] == ee.read_collections()
    assert ee.read_pins(ee.EE_REQUIREMENTS)["ansible-core"][1] in cf
    # the project's content, copied and placed where Ansible looks by default
    for src, dest in ee.LAYOUT.items():
        if (REPO / src).is_dir():
            assert (build / "project" / dest).is_dir(), f"{src} not in the context"
            assert f"COPY _build/project/{dest}/ /usr/share/ansible/{dest}/" in cf
    assert (build / "project" / "plugins" / "modules" / "image_registry.py").is_file()
    assert (build / "project/collections/ansible_collections/facilitator/ops/meta/runtime.yml").is_file()
    # collection Python requirements outside the pins are excluded, not installed unpinned
    excluded = (build / "exclude-requirements.txt").read_text().split()
    assert set(ee.EXCLUDED_COLLECTION_PYTHON) <= set(excluded)


def navigator_config():
    return yaml.safe_load((REPO / "ansible-navigator.yml").read_text())["ansible-navigator"]


def test_navigator_config_matches_its_schema(tmp_path):
    import jsonschema

    proc = subprocess.run([tool("ansible-navigator"), "settings", "--schema", "--mode", "stdout", "--ee", "false"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PATH=f"{Path(tool('ansible-navigator')).parent}:{os.environ['PATH']}"))
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(proc.stdout)
    jsonschema.validate(yaml.safe_load((REPO / "ansible-navigator.yml").read_text()), schema)


def test_navigator_config_runs_the_project_ee_with_only_the_stack():
    cfg = navigator_config()
    eecfg = cfg["execution-environment"]
    stack = yaml.safe_load((REPO / "inventories/local/group_vars/facilitator/stack.yml").read_text())
    version = ee.project_version()
    assert eecfg["enabled"] is True and eecfg["container-engine"] == "docker"
    assert eecfg["image"] == f"{stack['local_stack_registry']}/facilitator-ops-ee:{version}"
    assert eecfg["pull"]["policy"] in ("missing", "never")  # nothing is pulled from outside
    assert eecfg["container-options"] == ["--net=host"]
    assert "volume-mounts" not in eecfg  # no Docker socket, no ~/.aws: the project mount only
    assert set(eecfg["environment-variables"]["pass"]) == {
        "FACILITATOR_OPS_STATE", "FACILITATOR_OPS_AUDIT_DIR", "FACILITATOR_OPS_STATE_DIR"}
    assert "set" not in eecfg["environment-variables"]
    assert cfg["playbook-artifact"]["enable"] is False
