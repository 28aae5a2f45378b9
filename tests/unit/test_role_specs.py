"""Every role states its interface in meta/argument_specs.yml, and it tells the truth.

Ansible validates a role's variables against its argument spec when the role
starts (from every playbook and from molecule), and `ansible-doc -t role`
renders it. The actual defaults live in defaults/main.yml; these tests keep the
two consistent: every default is specified, a literal default is repeated in
the spec with the same value and passes the spec's own validation, a templated
one has no (wrong) literal default in the spec.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

REPO = Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "tasks").is_dir())
ANSIBLE_DOC = str(Path(sys.executable).parent / "ansible-doc")


def spec_of(role):
    return yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]


def defaults_of(role):
    path = REPO / "roles" / role / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def templated(value):
    return "{{" in json.dumps(value)


def options_of(role):
    out = {}
    for entry in spec_of(role).values():
        out.update(entry.get("options") or {})
    return out


def test_every_role_has_a_spec():
    assert ROLES and all((REPO / "roles" / r / "meta" / "argument_specs.yml").exists() for r in ROLES), ROLES
    for role in ROLES:
        spec = spec_of(role)
        assert "main" in spec, role
        for name, entry in spec.items():
            assert entry.get("short_description") and entry.get("options"), (role, name)


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_specified(role):
    missing = sorted(set(defaults_of(role)) - set(options_of(role)))
    assert not missing, f"{role}: defaults/main.yml variables missing from meta/argument_specs.yml: {missing}"


@pytest.mark.parametrize("role", ROLES)
def test_spec_defaults_are_the_real_defaults(role):
    defaults = defaults_of(role)
    for name, opt in options_of(role).items():
        assert opt.get("description"), f"{role}: {name} has no description"
        if name not in defaults:
            # an input with no default (required, or set by the playbook / inventory)
            continue
        if templated(defaults[name]):
            assert "default" not in opt, f"{role}: {name}'s default is computed ({defaults[name]!r}); say it in the description"
        else:
            assert "default" in opt, f"{role}: {name}: document the default {defaults[name]!r} in the spec"
            assert opt["default"] == defaults[name], f"{role}: {name}: spec default {opt['default']!r} != {defaults[name]!r}"
            if opt.get("choices"):
                assert opt["default"] in opt["choices"], (role, name)


@pytest.mark.parametrize("role", ROLES)
def test_literal_defaults_pass_the_spec(role):
    """What Ansible does at the role's start, on the role's own literal defaults."""
    defaults = defaults_of(role)
    for name, entry in spec_of(role).items():
        opts = entry["options"]
        params = {k: v for k, v in defaults.items() if k in opts and not templated(v)}
        spec = {k: {kk: vv for kk, vv in v.items() if kk not in ("description",)} for k, v in opts.items()}
        for v in spec.values():
            for sub in (v.get("options") or {}).values():
                sub.pop("description", None)
            v.pop("required", None)  # required inputs come from the inventory or the playbook
        result = ArgumentSpecValidator(spec).validate(params)
        assert not result.error_messages, (role, name, result.error_messages)


@pytest.mark.parametrize("role", ROLES)
def test_no_template_in_a_spec(role):
    # the validation task's arguments are templated: a "{{" in a description would be evaluated
    assert "{{" not in (REPO / "roles" / role / "meta" / "argument_specs.yml").read_text()


@pytest.mark.parametrize("role", ROLES)
def test_ansible_doc_renders_the_role(role):
    proc = subprocess.run([ANSIBLE_DOC, "-t", "role", "-r", str(REPO / "roles"), "--json", role],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)[role]
    assert set(doc["entry_points"]) == set(spec_of(role))
    assert set(doc["entry_points"]["main"]["options"]) == set(spec_of(role)["main"]["options"])
