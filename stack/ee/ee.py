#!/usr/bin/env python3
"""The project's execution environment (EE), derived from the project's own pins.

    stack/ee/ee.py generate [--check]     # write (or check) stack/ee/requirements.txt + execution-environment.yml
    stack/ee/ee.py context DIR [--base-image-id ID]
                                          # stage the build context of stack/ee/Dockerfile in DIR

One source of truth: the pinned control-node environment (requirements.txt, installed in
.venv by bootstrap.sh) and the pinned collections (requirements.yml, bundled by the pinned
`ansible` package). `generate` writes:

- stack/ee/requirements.txt: the EE's Python packages, i.e. what ansible-core, ansible-runner,
  the collections and the project's modules import (DIRECT below) and their whole dependency
  closure, each pinned to its requirements.txt version (read from the installed metadata of
  the running interpreter, which must be that environment);
- execution-environment.yml: the same EE as an ansible-builder v3 definition, for sites that
  build EEs with ansible-builder on an RPM-based image (ansible-builder cannot build on the
  Debian base used here; see docs/execution-environment.md).

`context` stages what stack/ee/Dockerfile builds from (nothing is downloaded at build time):
wheels of stack/ee/requirements.txt (built on the host, offline first, like
facilitator/build-wheels.sh), the pinned collections copied from the installed `ansible`
package, the facilitator.ops collection, and library/, module_utils/, doc_fragments/,
filter_plugins/ (if present) and roles/ laid out where Ansible looks by default
(/usr/share/ansible/...). The image build (build_ee.yml) digests DIR: same inputs, same
digest, no rebuild.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PINS_FILE = REPO / "requirements.txt"
COLLECTIONS_FILE = REPO / "requirements.yml"
EE_REQUIREMENTS = HERE / "requirements.txt"
EE_DEFINITION = REPO / "execution-environment.yml"
PROJECT_COLLECTION = REPO / "collections" / "ansible_collections" / "facilitator" / "ops"

# What the EE must import, and why (name[extras]). Everything these need comes along (closure).
DIRECT = {
    "ansible-core": "the engine",
    "ansible-runner": "the controller runs `ansible-runner worker` inside the EE",
    "dumb-init": "PID 1 of the EE: reaps zombies, forwards signals (the EE entrypoint convention)",
    "boto3": "amazon.aws, community.aws and the project's AWS modules",
    "botocore": "amazon.aws, community.aws and the project's AWS modules",
    "requests": "community.docker's Docker API client",
    "docker": "library/ecs_local_runtime, library/wallet_signer_proof (container logs)",
    "httpx": "HTTP clients of the project's modules",
    "x402[evm]": "library/x402_payment_smoke signs a real EVM payment (x402's EVM signer needs web3)",
    "eth-account": "wallet keys and payment signatures (module_utils wallet/, verify/)",
    "eth-utils": "address checksums (module_utils wallet/)",
    "solders": "Solana keys (module_utils wallet/, secrets/)",
}
# Python requirements the bundled collections declare for features the project does not use:
# left out of the ansible-builder EE (introspection would add them unpinned).
EXCLUDED_COLLECTION_PYTHON = {
    "awxkit": "awx.awx's export/import modules only",
    "pytz": "awx.awx's schedule_rrule lookup only",
}
# ansible-builder definition: an RPM-based image with Python 3.11 (the wheels in
# requirements.txt are for CPython 3.11).
BUILDER_BASE_IMAGE = "quay.io/centos/centos:stream9"
BUILDER_PYTHON = ("python3.11 python3.11-pip", "/usr/bin/python3.11")
EE_USER = "1000"
# Where Ansible finds content by default (ansible-core's DEFAULT_*_PATH), inside the image.
LAYOUT = {
    "library": "plugins/modules",
    "module_utils": "plugins/module_utils",
    "doc_fragments": "plugins/doc_fragments",
    "filter_plugins": "plugins/filter",
    "roles": "roles",
}
IMAGE_ROOT = "/usr/share/ansible"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".pytest_cache")


class EEError(Exception):
    pass


# --- pins ----------------------------------------------------------------------------------

def read_pins(path=PINS_FILE):
    """{canonical name: (spelling, version)} from a pip-freeze style file."""
    pins = {}
    for raw in Path(path).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "==" not in line or line.startswith("-"):
            raise EEError(f"{path}: not an exact pin: {raw!r}")
        name, version = (p.strip() for p in line.split("==", 1))
        pins[canonicalize_name(name)] = (name, version)
    return pins


def read_collections(path=COLLECTIONS_FILE):
    """[(fqcn, version)] from requirements.yml, each pinned exactly."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    out = []
    for item in data.get("collections") or []:
        name, version = item.get("name"), str(item.get("version", ""))
        if not name or not version or any(c in version for c in "<>=*,"):
            raise EEError(f"{path}: collection {name!r} needs an exact version, got {version!r}")
        out.append((name, version))
    return out


def closure(direct, dist_lookup=metadata.distribution):
    """Every distribution `direct` needs (markers evaluated for this interpreter), by canonical
    name -> installed version."""
    found = {}
    done = set()
    todo = [(canonicalize_name(r.name), frozenset(r.extras)) for r in map(Requirement, direct)]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in done:
            continue
        done.add((name, extras))
        try:
            dist = dist_lookup(name)
        except metadata.PackageNotFoundError:
            raise EEError(f"{name} is not installed in {sys.prefix}: run ./bootstrap.sh (it installs requirements.txt)")
        found[name] = dist.version
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is not None:
                envs = [{"extra": e} for e in (sorted(extras) or [""])]
                if not any(req.marker.evaluate(env) for env in envs):
                    continue
            todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    return found


def ee_requirements(pins=None, direct=DIRECT, dist_lookup=metadata.distribution):
    """Sorted ["name==version"] of the EE's Python packages, every one pinned in requirements.txt
    and installed at that version."""
    pins = read_pins() if pins is None else pins
    needed = closure(direct, dist_lookup)
    lines, problems = [], []
    for name, installed in sorted(needed.items()):
        if name not in pins:
            problems.append(f"{name} (needed by the EE) has no pin in requirements.txt")
            continue
        spelling, version = pins[name]
        if installed != version:
            problems.append(f"{name} is installed at {installed}, requirements.txt pins {version}: run ./bootstrap.sh")
        lines.append(f"{spelling}=={version}")
    if problems:
        raise EEError("; ".join(problems))
    return sorted(lines, key=str.lower)


def project_version():
    """The project's version (the facilitator.ops collection's galaxy.yml): the EE's tag."""
    return str(yaml.safe_load((PROJECT_COLLECTION / "galaxy.yml").read_text())["version"])


# --- generated files -------------------------------------------------------------------------

def render_requirements(lines):
    head = [
        "# GENERATED by stack/ee/ee.py generate from requirements.txt: do not edit.",
        "# The execution environment's Python packages: what ansible-core, ansible-runner, the",
        "# collections and the project's modules import (ee.py DIRECT) and all they need, each",
        "# pinned to the control node's version (requirements.txt).",
    ]
    return "\n".join(head + lines) + "\n"


def render_definition(lines, collections):
    pins = {ln.split("==")[0].lower(): ln for ln in lines}
    galaxy = "\n".join(f"      - {{name: {n}, version: \"{v}\"}}" for n, v in collections)
    excluded = "\n".join(f"      - {n}  # {why}" for n, why in sorted(EXCLUDED_COLLECTION_PYTHON.items()))
    copies = [(src, dest) for src, dest in LAYOUT.items() if (REPO / src).is_dir()]
    files = "\n".join(f"  - {{src: {src}, dest: project/{dest}}}" for src, dest in copies)
    files += "\n  - {src: collections/ansible_collections/facilitator/ops, dest: project/collections/ansible_collections/facilitator/ops}"
    steps = "\n".join(
        f"    - COPY _build/project/{dest}/ {IMAGE_ROOT}/{dest}/" for _src, dest in copies)
    steps += f"\n    - COPY _build/project/collections/ {IMAGE_ROOT}/collections/"
    return f"""\
# GENERATED by stack/ee/ee.py generate from requirements.txt and requirements.yml: do not edit.
# The project's execution environment as an ansible-builder v3 definition, for sites that build
# EEs with ansible-builder on an RPM-based image:
#   ansible-builder build -f execution-environment.yml -t <registry>/facilitator-ops-ee:<version>
# Same pins as the image this repository builds and tests (stack/ee/Dockerfile, build_ee.yml):
# ansible-builder cannot build on the Debian base image used here and no RPM image can be
# pulled on this machine, so only `ansible-builder create` is tested (docs/execution-environment.md).
version: 3

images:
  base_image:
    name: {BUILDER_BASE_IMAGE}

dependencies:
  python_interpreter:
    package_system: "{BUILDER_PYTHON[0]}"
    python_path: {BUILDER_PYTHON[1]}
  ansible_core:
    package_pip: {pins['ansible-core']}
  ansible_runner:
    package_pip: {pins['ansible-runner']}
  galaxy:
    collections:
{galaxy}
  python: stack/ee/requirements.txt
  exclude:
    python:
{excluded}

additional_build_files:
{files}

additional_build_steps:
  append_final:
    # The project's modules, module_utils, doc fragments and roles where Ansible looks by default.
{steps}
    - RUN ansible-doc -t module image_registry >/dev/null && ansible-galaxy collection list facilitator.ops

options:
  user: "{EE_USER}"
  tags:
    - facilitator-ops-ee:{project_version()}
"""


def generate(check=False):
    lines = ee_requirements()
    wanted = {
        EE_REQUIREMENTS: render_requirements(lines),
        EE_DEFINITION: render_definition(lines, read_collections()),
    }
    stale = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    if check:
        if stale:
            raise EEError("out of date (run stack/ee/ee.py generate): " + ", ".join(str(p.relative_to(REPO)) for p in stale))
        return []
    for p in stale:
        p.write_text(wanted[p])
    return stale


# --- build context ---------------------------------------------------------------------------

def installed_collection(fqcn):
    """Path of a collection in the running interpreter's `ansible_collections` (the pinned
    `ansible` package) and its MANIFEST version."""
    ns, name = fqcn.split(".", 1)
    spec = importlib.util.find_spec("ansible_collections")
    for base in (spec.submodule_search_locations or []) if spec else []:
        path = Path(base) / ns / name
        manifest = path / "MANIFEST.json"
        if manifest.is_file():
            return path, json.loads(manifest.read_text())["collection_info"]["version"]
    raise EEError(f"collection {fqcn} is not installed with the pinned ansible package: run ./bootstrap.sh")


def build_wheels(requirements, wheels, python=sys.executable):
    """Wheels of `requirements` into `wheels` (kept between runs): offline first, so a complete
    set is reused without contacting an index (an isolated stack has none)."""
    wheels.mkdir(parents=True, exist_ok=True)
    stamp = wheels / ".requirements.sha256"
    want = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() != want:
        # pins changed: drop the old wheels so the context holds exactly the pinned set
        for whl in wheels.glob("*.whl"):
            whl.unlink()
    base = [python, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--find-links", str(wheels),
            "--wheel-dir", str(wheels), "-r", str(requirements)]
    offline = subprocess.run(base[:4] + ["--no-index"] + base[4:], capture_output=True, text=True)
    if offline.returncode != 0:
        online = subprocess.run(base, capture_output=True, text=True)
        if online.returncode != 0:
            raise EEError("pip wheel failed (a package index is needed once, outside any isolated stack): "
                          + (online.stderr.strip().splitlines() or ["?"])[-1])
    stamp.write_text(want + "\n")


def stage_context(dest, base_image_id="", python=sys.executable, wheels_cache=None):
    """Lay out the build context of stack/ee/Dockerfile in `dest`; returns a summary dict."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    generate(check=True)
    wheels_cache = Path(wheels_cache) if wheels_cache else dest / "wheels"
    build_wheels(EE_REQUIREMENTS, wheels_cache, python)
    for name in ("collections", "plugins", "roles"):
        shutil.rmtree(dest / name, ignore_errors=True)
    for name in ("Dockerfile", "entrypoint", "requirements.txt"):
        shutil.copy2(HERE / name, dest / name)
    os.chmod(dest / "entrypoint", 0o755)
    if wheels_cache != dest / "wheels":
        shutil.rmtree(dest / "wheels", ignore_errors=True)
        shutil.copytree(wheels_cache, dest / "wheels")
    colls = {}
    for fqcn, version in read_collections():
        src, found = installed_collection(fqcn)
        if found != version:
            raise EEError(f"collection {fqcn} is {found} in the installed ansible package, requirements.yml pins {version}")
        ns, name = fqcn.split(".", 1)
        shutil.copytree(src, dest / "collections" / "ansible_collections" / ns / name, ignore=IGNORE)
        colls[fqcn] = version
    shutil.copytree(PROJECT_COLLECTION, dest / "collections" / "ansible_collections" / "facilitator" / "ops", ignore=IGNORE)
    copied = []
    for src, rel in LAYOUT.items():
        if (REPO / src).is_dir():
            shutil.copytree(REPO / src, dest / rel, ignore=IGNORE)
            copied.append(src)
    # A new base image is a new input (the Dockerfile does not read this file).
    (dest / "base-image.id").write_text((base_image_id or "unknown") + "\n")
    return {"context": str(dest), "collections": colls, "project": copied,
            "python_packages": len(read_pins(EE_REQUIREMENTS)),
            "wheels": len(list((dest / "wheels").glob("*.whl")))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="write stack/ee/requirements.txt and execution-environment.yml")
    g.add_argument("--check", action="store_true", help="only check that both are up to date")
    c = sub.add_parser("context", help="stage the build context of stack/ee/Dockerfile")
    c.add_argument("dir")
    c.add_argument("--base-image-id", default="")
    c.add_argument("--wheels-cache", default=None, help="keep wheels here instead of DIR/wheels")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "generate":
            changed = generate(check=args.check)
            print(json.dumps({"changed": [str(p.relative_to(REPO)) for p in changed]}))
        else:
            print(json.dumps(stage_context(args.dir, args.base_image_id, wheels_cache=args.wheels_cache)))
    except EEError as e:
        print(f"ee.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
