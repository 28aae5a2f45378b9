"""The inventory contract (issue 10): every environment has the same variables, and
only endpoints, credentials and names differ.

Each inventory is rendered the way a playbook sees it: ``ansible-inventory --list``
gives its variables, then every variable is templated (with the roles' defaults
underneath, as in a play) through Ansible's own Templar. The test fails on

- a variable present in one environment and missing in another;
- a template that does not resolve (an undefined name, a leftover ``{{``);
- a facilitator URL that is not HTTPS (the clients verify certificates; there is no plain-HTTP path);
- a deploy / verify / cutover / rotation URL equal to the public name (before and during the cutover
  the public name is the old ALB or a weighted mix: those must reach the NEW ALB through its own name).

No network: ansible-inventory and the Templar only read files.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ENVS = sorted(p.name for p in (REPO / "inventories").iterdir() if (p / "hosts.yml").exists())
# Ansible's own per-host connection settings, the same in every hosts.yml.
CONNECTION_VARS = {"ansible_connection", "ansible_python_interpreter"}
# Roles whose defaults derive the URLs the playbooks use.
ROLES = ["facilitator_verify", "ecs_deploy", "dns_cutover", "wallet_rotation", "image_build"]
# URL variables that reach a facilitator: HTTPS, and never the public name.
MUST_NOT_BE_PUBLIC = {
    "facilitator_endpoints.new": "the new ALB",
    "facilitator_base_url": "what verify.yml checks",
    "facilitator_verify_base_url": "verify",
    "ecs_deploy_base_url": "deploy's verification",
    "dns_cutover_new_url": "the cutover gate's probe",
    "wallet_rotation_base_url": "rotation's signer proof",
}
# http:// is allowed only for endpoints that are not the facilitator and that
# production reaches another way: the AWS API stand-in (production: no endpoint)
# and the local chains' JSON-RPC (production: RPC URLs from Secrets Manager).
PLAIN_HTTP_ALLOWED = ("aws_endpoint_url", "facilitator_aws.endpoint_url", "wallet_rotation_networks.*.rpc_url")


def _inventory_list(env):
    exe = Path(sys.executable).with_name("ansible-inventory")
    proc = subprocess.run([str(exe), "-i", f"inventories/{env}", "--list"], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")))
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    hostvars = doc["_meta"]["hostvars"]
    assert list(hostvars) == ["localhost"], f"{env}: expected the control node only, got {list(hostvars)}"
    return hostvars["localhost"]


# Rendering runs in a child process: initialising Ansible's plugin loader and
# collection finder here would change the interpreter the other unit tests share.
RENDER = r"""
import json, sys
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

def trusted(v):
    if isinstance(v, dict):
        return {k: trusted(x) for k, x in v.items()}
    if isinstance(v, list):
        return [trusted(x) for x in v]
    return trust_as_template(v) if isinstance(v, str) else v

args = json.load(sys.stdin)
init_plugin_loader()
defaults = {}
for path in args["defaults"]:
    defaults.update(yaml.safe_load(open(path)) or {})
raw = args["raw"]
context = trusted(dict(defaults, **raw))
context.update(args["magic"])
templar = Templar(loader=DataLoader(), variables=context)
rendered, errors = {}, {}
for name in sorted(set(raw) | set(args["derived"])):
    try:
        rendered[name] = templar.template(context[name])
    except Exception as e:  # any templating error is a contract failure: name it
        errors[name] = f"{e.__class__.__name__}: {str(e).splitlines()[0][:200]}"
print(json.dumps({"rendered": rendered, "errors": errors}, default=str))
"""


def _render(env, raw):
    """Every inventory variable templated, and the URL variables the roles derive
    from it (their defaults beneath the inventory, as in a play)."""
    derived = [n.split(".")[0] for n in MUST_NOT_BE_PUBLIC if n.split(".")[0] not in raw]
    args = {
        "raw": raw,
        "derived": derived,
        "defaults": [str(REPO / "roles" / role / "defaults" / "main.yml") for role in ROLES],
        "magic": {"playbook_dir": str(REPO), "inventory_dir": str(REPO / "inventories" / env),
                  "inventory_hostname": "localhost", "ansible_playbook_python": sys.executable,
                  "ansible_check_mode": False, "groups": {}, "ansible_config_file": str(REPO / "ansible.cfg")},
    }
    proc = subprocess.run([sys.executable, "-c", RENDER], input=json.dumps(args), capture_output=True, text=True,
                          timeout=120, cwd=REPO, env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    return out["rendered"], out["errors"]


@pytest.fixture(scope="module")
def inventories():
    out = {}
    for env in ENVS:
        raw = _inventory_list(env)
        rendered, errors = _render(env, raw)
        out[env] = {"raw": raw, "rendered": rendered, "errors": errors}
    return out


def _walk(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, value


def _lookup(rendered, dotted):
    head, *rest = dotted.split(".")
    v = rendered.get(head)
    for k in rest:
        v = (v or {}).get(k)
    return v


def _allowed_plain(path):
    import fnmatch

    return any(fnmatch.fnmatch(path.split("[")[0], pattern) for pattern in PLAIN_HTTP_ALLOWED)


def _norm(url):
    u = urlsplit(str(url))
    return (u.scheme, (u.hostname or "").lower(), u.port or (443 if u.scheme == "https" else 80), u.path.rstrip("/"))


def test_every_environment_is_checked():
    assert {"local", "production"} <= set(ENVS)


def test_same_variables_in_every_environment(inventories):
    names = {env: set(inv["raw"]) - CONNECTION_VARS for env, inv in inventories.items()}
    every = set().union(*names.values())
    problems = [f"{env} lacks {', '.join(sorted(every - have))}" for env, have in sorted(names.items()) if every - have]
    assert not problems, "variables differ between environments: " + "; ".join(problems)


def test_every_variable_renders(inventories):
    problems = [f"{env}: {name}: {err}" for env, inv in inventories.items() for name, err in inv["errors"].items()]
    for env, inv in inventories.items():
        for name, value in inv["rendered"].items():
            for path, leaf in _walk(value, name):
                if isinstance(leaf, str) and ("{{" in leaf or "{%" in leaf):
                    problems.append(f"{env}: {path} still holds a template: {leaf[:80]!r}")
    assert not problems, "unresolved templates:\n" + "\n".join(problems)


def test_facilitator_urls_are_https(inventories):
    problems = []
    for env, inv in inventories.items():
        for name in list(inv["raw"]) + list(MUST_NOT_BE_PUBLIC):
            for path, leaf in _walk(inv["rendered"].get(name.split(".")[0]), name.split(".")[0]):
                if isinstance(leaf, str) and leaf.startswith("http://") and not _allowed_plain(path):
                    problems.append(f"{env}: {path} = {leaf} is not HTTPS")
        for name in ["facilitator_public_url", *MUST_NOT_BE_PUBLIC]:
            url = _lookup(inv["rendered"], name)
            if not (isinstance(url, str) and url.startswith("https://")):
                problems.append(f"{env}: {name} = {url!r} is not an https:// URL")
    assert not problems, "\n".join(sorted(set(problems)))


def test_deploy_verify_cutover_urls_are_not_the_public_name(inventories):
    problems = []
    for env, inv in inventories.items():
        public = _norm(inv["rendered"]["facilitator_public_url"])
        for name, what in MUST_NOT_BE_PUBLIC.items():
            url = _lookup(inv["rendered"], name)
            if url and _norm(url) == public:
                problems.append(f"{env}: {name} ({what}) is the public name {url}: it must be the new ALB's own URL")
        if _norm(inv["rendered"]["facilitator_endpoints"]["old"]) == _norm(inv["rendered"]["facilitator_endpoints"]["new"]):
            problems.append(f"{env}: facilitator_endpoints.old and .new are the same URL")
    assert not problems, "\n".join(problems)


def test_ca_bundle_local_is_the_stack_ca_production_is_system_trust(inventories):
    assert inventories["production"]["rendered"]["facilitator_ca_bundle"] == ""
    assert str(inventories["local"]["rendered"]["facilitator_ca_bundle"]).endswith("/ca.pem")


def test_contract_catches_what_it_is_for(tmp_path):
    """The checks above fail on a broken inventory (a copy of local with the faults planted)."""
    import shutil

    bad = tmp_path / "inventories" / "bad"
    shutil.copytree(REPO / "inventories" / "local", bad, symlinks=False)
    main = bad / "group_vars" / "facilitator" / "main.yml"
    doc = yaml.safe_load(main.read_text())
    doc["facilitator_endpoints"]["new"] = "http://127.0.0.1:18081"
    doc["facilitator_base_url"] = "{{ facilitator_public_url }}"
    doc["extra_only_here"] = "{{ no_such_variable }}"
    main.write_text(yaml.safe_dump(doc))
    exe = Path(sys.executable).with_name("ansible-inventory")
    proc = subprocess.run([str(exe), "-i", str(bad), "--list"], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")))
    raw = json.loads(proc.stdout)["_meta"]["hostvars"]["localhost"]
    rendered, errors = _render("local", raw)
    assert "extra_only_here" in errors
    assert _norm(rendered["facilitator_base_url"]) == _norm(rendered["facilitator_public_url"])
    assert rendered["facilitator_endpoints"]["new"].startswith("http://")
