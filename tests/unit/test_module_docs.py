"""The modules' documentation tells the truth (issue 12).

For every module in library/:

- DOCUMENTATION renders with ``ansible-doc -t module -j`` (the repo's ansible.cfg, so our doc fragments and
  amazon.aws's are merged) and documents exactly the argument_spec the module really builds: option names and
  aliases, type, default, choices, required, elements, suboptions. The spec is captured by importing the module
  and running main() with AnsibleModule.__init__ replaced by a recorder that stops it (AnsibleAWSModule builds an
  AnsibleModule too, so AWS modules are compared with amazon.aws's common options included).
- An option that may hold a secret has no_log set on purpose: explicitly (True, or False for a name that only
  looks secret, by validate-modules' own name heuristic), and True when its description says "never logged".
- O(...), RV(...) and M(...) references in the docs name options, return values and modules that exist.
- EXAMPLES are YAML tasks that use only documented options (suboptions too) and give every required one.
- RETURN is YAML, every entry has description/returned/type, and every key the module source hands to
  exit_json by name (``exit_json(key=...)``, or a dict built in the same function and passed as ``**out``) is
  documented. What module_utils returns (``exit_json(**run_copy(...))``) cannot be read without running the
  module against AWS, so it is not checked here.

Why ``ansible-test sanity --test validate-modules`` is not run here (tried with ansible-test 2.19.14 on a
temporary tree /tmp/.../ansible_collections/facilitator/ops with plugins/modules, plugins/module_utils and
plugins/doc_fragments):

- with symlinks to library/ and module_utils/ (directories or per-file) it finds nothing ("No tests
  applicable"): ansible-test only tests regular files, so the tree would have to be a copy;
- on a copy it needs its own venv for the test and bootstraps pip into it by downloading get-pip from
  ci-files.testing.ansible.com, which fails offline (``--local`` does not avoid it; ``--requirements`` downloads
  too); validate-modules also needs voluptuous and antsibull-docs-parser, which are not in requirements.txt;
- the modules import ``ansible.module_utils.facilitator_ops`` (a non-collection layout), which a collection copy
  cannot import without rewriting every import to ``ansible_collections.<ns>.<name>.plugins.module_utils``.

Running validate-modules' validate.py by hand on such a rewritten copy (with voluptuous and antsibull-docs-parser
in a throwaway venv) takes ~3 s; what it found that this test did not already check was house style that does
not apply to a non-collection repo (author "Name (@github)", GPLv3 header text, FQCN in M()) and
``state: info`` in ecs_local_runtime (a design question, not a doc error).
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
from pathlib import Path

import pytest
import yaml

from ansible.module_utils import basic
from ansible.module_utils.common.parameters import DEFAULT_TYPE_VALIDATORS

REPO = Path(__file__).resolve().parents[2]
LIBRARY = REPO / "library"
MODULES = sorted(p.stem for p in LIBRARY.glob("*.py"))

# Keys every module may return without documenting them (Ansible's own).
COMMON_RETURNS = {"changed", "msg", "diff", "failed"}

# validate-modules' "could be a secret" heuristic (ansible_test/.../validate_modules/main.py,
# is_potential_secret_option): such an option must set no_log explicitly, True or False.
SECRET_HINT = re.compile(r"(?:pass(?!ive)|secret|token|key)", re.I)
NOT_SECRET_SUFFIXES = ("_count", "_type", "_alg", "_algorithm", "_timeout", "_name", "_comment", "_bits", "_id",
                       "_identifier", "_period", "_file", "_filename")
NOT_SECRET_PARTS = ("publickey", "public_key", "keyusage", "key_usage", "keyserver", "key_server", "keysize",
                    "key_size", "keyservice", "key_service", "pub_key", "pubkey", "keyboard", "secretary")
# How our docs say an option holds a secret.
DOCUMENTED_SECRET = re.compile(r"\bnever logged\b", re.I)

DOC_REFERENCE = re.compile(r"\b(O|RV|M)\(([^)]+)\)")


# ---------------------------------------------------------------- what the docs say (ansible-doc)

@pytest.fixture(scope="module")
def rendered():
    """ansible-doc -j for every module at once (one process, ~1 s)."""
    exe = Path(sys.executable).with_name("ansible-doc")
    cmd = [str(exe) if exe.exists() else shutil.which("ansible-doc"), "-t", "module", "-j", *MODULES]
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    try:
        docs = json.loads(proc.stdout or "{}")
    except ValueError:
        docs = {}
    return docs, proc.stderr


def doc_of(rendered, name):
    docs, stderr = rendered
    if name not in docs:
        pytest.fail(f"ansible-doc cannot render {name}:\n{stderr}")
    return docs[name]


# ---------------------------------------------------------------- what the module does (its real spec)

class _Captured(Exception):
    pass


def load_module(name):
    spec = importlib.util.spec_from_file_location(f"_module_docs_{name}", LIBRARY / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def real_spec(name, monkeypatch):
    """The kwargs main() passes to AnsibleModule (for AWS modules: after AnsibleAWSModule added its options)."""
    seen = {}

    def record(self, *args, **kwargs):
        seen.update(kwargs)
        raise _Captured()

    monkeypatch.setattr(basic.AnsibleModule, "__init__", record)
    try:
        load_module(name).main()
    except _Captured:
        pass
    assert "argument_spec" in seen, f"{name}: main() did not build an AnsibleModule"
    return seen


# ---------------------------------------------------------------- comparison helpers

def _convert(value, type_name):
    """A default or choice as the module would see it (5 == 5.0 for a float, "1000" for a str, ...)."""
    if value is None or not isinstance(type_name, str) or type_name not in DEFAULT_TYPE_VALIDATORS:
        return value
    try:
        return DEFAULT_TYPE_VALIDATORS[type_name](value)
    except (TypeError, ValueError):
        return ("unconvertible", repr(value))


def looks_secret(name, spec):
    if not SECRET_HINT.search(name) or name.endswith(NOT_SECRET_SUFFIXES):
        return False
    if any(part in name for part in NOT_SECRET_PARTS):
        return False
    return spec.get("type") not in ("path", "bool") and spec.get("choices") is None


def _text(description):
    return " ".join(description) if isinstance(description, list) else str(description or "")


def compare_options(spec_options, doc_options, where):
    """Every difference between an argument_spec and the rendered options, one line each."""
    problems = []
    for name in sorted(set(spec_options) | set(doc_options)):
        at = f"{where}{name}"
        if name not in doc_options:
            problems.append(f"{at}: in the argument_spec, not documented")
            continue
        if name not in spec_options:
            problems.append(f"{at}: documented, not in the argument_spec")
            continue
        s, d = spec_options[name], doc_options[name]
        if "type" not in d:
            problems.append(f"{at}: the docs give no type")
        s_type, d_type = s.get("type", "str"), d.get("type", "str")
        if s_type != d_type:
            problems.append(f"{at}: type {s_type!r} in the spec, {d_type!r} in the docs")
        if sorted(s.get("aliases") or []) != sorted(d.get("aliases") or []):
            problems.append(f"{at}: aliases {s.get('aliases')} in the spec, {d.get('aliases')} in the docs")
        if bool(s.get("required")) != bool(d.get("required")):
            problems.append(f"{at}: required={bool(s.get('required'))} in the spec, {bool(d.get('required'))} in the docs")
        if _convert(s.get("default"), s_type) != _convert(d.get("default"), s_type):
            problems.append(f"{at}: default {s.get('default')!r} in the spec, {d.get('default')!r} in the docs")
        item_type = s.get("elements") if s_type == "list" else s_type
        s_choices = sorted(map(repr, (_convert(c, item_type) for c in s.get("choices") or [])))
        d_choices = sorted(map(repr, (_convert(c, item_type) for c in d.get("choices") or [])))
        if s_choices != d_choices:
            problems.append(f"{at}: choices {s.get('choices')} in the spec, {d.get('choices')} in the docs")
        if s_type == "list" and s.get("elements") != d.get("elements"):
            problems.append(f"{at}: elements {s.get('elements')!r} in the spec, {d.get('elements')!r} in the docs")
        if s.get("options") or d.get("suboptions"):
            problems += compare_options(s.get("options") or {}, d.get("suboptions") or {}, f"{at}.")
        # no_log: on purpose for a secret-looking name, True for an option documented as secret
        if looks_secret(name, s) and "no_log" not in s:
            problems.append(f"{at}: looks like a secret but no_log is not set (True, or False if it is not one)")
        if DOCUMENTED_SECRET.search(_text(d.get("description"))) and s.get("no_log") is not True:
            problems.append(f"{at}: documented as a secret (never logged) but no_log is not True")
    return problems


def option_names(options):
    names = set(options)
    for o in options.values():
        names.update(o.get("aliases") or [])
    return names


def walk_descriptions(node, path=""):
    """(where, text) of every description in a rendered doc, options and suboptions included."""
    if "description" in node:
        yield path or "description", _text(node["description"])
    for key in ("options", "suboptions"):
        for name, sub in (node.get(key) or {}).items():
            yield from walk_descriptions(sub, f"{path}{'.' if path else ''}{name}")


def broken_references(name, doc, returns, all_docs):
    """O(), RV() and M() that point nowhere."""
    problems = []
    texts = list(walk_descriptions(doc)) + [(f"RETURN.{k}", _text(v.get("description"))) for k, v in returns.items()]
    for where, text in texts:
        for kind, ref in DOC_REFERENCE.findall(text):
            if kind == "M":
                if "." not in ref and ref not in all_docs:
                    problems.append(f"{where}: M({ref}) is no module of library/")
                continue
            target, item = name, ref
            if "#" in ref:  # O(other_module#module:option)
                target, item = ref.split("#", 1)[0], ref.split(":", 1)[-1]
                if target not in all_docs:
                    continue  # a collection's module: not ours to check
            key = re.split(r"[=.\[]", item, maxsplit=1)[0]
            pool = (all_docs[target]["doc"].get("options") or {}) if kind == "O" else (all_docs[target].get("return") or {})
            if key not in (option_names(pool) if kind == "O" else pool):
                problems.append(f"{where}: {kind}({ref}) names no {'option' if kind == 'O' else 'return value'} of {target}")
    return problems


def check_args(args, options, where):
    """Example task arguments against documented options, recursing into dict suboptions."""
    problems = []
    known = option_names(options)
    for key, value in args.items():
        if key not in known:
            problems.append(f"{where}: option {key!r} is not documented")
            continue
        opt = options.get(key) or next(o for o in options.values() if key in (o.get("aliases") or []))
        if opt.get("suboptions") and isinstance(value, dict):
            problems += check_args(value, opt["suboptions"], f"{where}.{key}")
    for key, opt in options.items():
        if opt.get("required") and not ({key} | set(opt.get("aliases") or [])) & set(args):
            problems.append(f"{where}: required option {key!r} missing")
    return problems


def exit_json_keys(source):
    """Keys handed to exit_json by name: literal keywords, and keys of a dict built in the same function and
    passed as **name (dict(k=...), {"k": ...}, name["k"] = ..., name.update(k=...))."""
    keys = {}
    tree = ast.parse(source)
    for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        splatted = set()
        for call in (n for n in ast.walk(func) if isinstance(n, ast.Call)):
            if isinstance(call.func, ast.Attribute) and call.func.attr == "exit_json":
                for kw in call.keywords:
                    if kw.arg:
                        keys.setdefault(kw.arg, kw.value.lineno)
                    elif isinstance(kw.value, ast.Name):
                        splatted.add(kw.value.id)
        for node in ast.walk(func):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id in splatted:
                        keys.update({k: node.lineno for k in _literal_keys(node.value)})
                    elif (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                          and target.value.id in splatted and isinstance(target.slice, ast.Constant)):
                        keys.setdefault(target.slice.value, node.lineno)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update"
                  and isinstance(node.func.value, ast.Name) and node.func.value.id in splatted):
                keys.update({kw.arg: node.lineno for kw in node.keywords if kw.arg})
    return keys


def _literal_keys(value):
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "dict":
        return [kw.arg for kw in value.keywords if kw.arg]
    if isinstance(value, ast.Dict):
        return [k.value for k in value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
    return []


# ---------------------------------------------------------------- the tests

@pytest.mark.parametrize("name", MODULES)
def test_options_match_argument_spec(name, rendered, monkeypatch):
    doc = doc_of(rendered, name)["doc"]
    spec = real_spec(name, monkeypatch)["argument_spec"]
    problems = compare_options(spec, doc.get("options") or {}, f"{name}: ")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", MODULES)
def test_doc_references_resolve(name, rendered):
    entry = doc_of(rendered, name)
    problems = broken_references(name, entry["doc"], entry.get("return") or {}, rendered[0])
    assert not problems, "\n".join(f"{name}: {p}" for p in problems)


@pytest.mark.parametrize("name", MODULES)
def test_examples_use_documented_options(name, rendered):
    entry = doc_of(rendered, name)
    tasks = yaml.safe_load(entry["examples"])
    assert isinstance(tasks, list) and tasks, f"{name}: EXAMPLES is not a YAML list of tasks"
    options = entry["doc"].get("options") or {}
    problems, uses = [], 0
    for i, task in enumerate(tasks):
        keys = [k for k in task if k == name or k.endswith(f".{name}")]
        if not keys:
            continue
        uses += 1
        args = task[keys[0]]
        if not isinstance(args, dict):
            problems.append(f"{name}: example {i} ({task.get('name')}): arguments are not a mapping")
            continue
        problems += check_args(args, options, f"{name}: example {i} ({task.get('name')})")
    assert uses, f"{name}: no example task uses the module"
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", MODULES)
def test_return_documents_what_the_module_returns(name, rendered):
    returns = yaml.safe_load(load_module(name).RETURN) or {}
    assert isinstance(returns, dict), f"{name}: RETURN is not a YAML mapping"
    assert returns == (doc_of(rendered, name).get("return") or {}), f"{name}: ansible-doc renders RETURN differently"
    problems = [f"{name}: RETURN.{key}: lacks {', '.join(sorted(missing))}"
                for key, entry in returns.items()
                if (missing := {"description", "returned", "type"} - set(entry or {}))]
    source = (LIBRARY / f"{name}.py").read_text()
    problems += [f"{name}: returns {key!r} (line {line}) but RETURN does not document it"
                 for key, line in sorted(exit_json_keys(source).items())
                 if key not in returns and key not in COMMON_RETURNS]
    assert not problems, "\n".join(problems)
