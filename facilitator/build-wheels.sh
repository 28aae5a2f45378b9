#!/usr/bin/env bash
# Build every wheel the facilitator image needs into facilitator/.wheels/ (gitignored),
# on the HOST, where a package index is reachable; the Docker build then installs
# with `pip install --no-index --find-links` and never touches the network.
#
# Usage: facilitator/build-wheels.sh [--clean]
#   --clean   empty .wheels/ first (otherwise wheels already present are reused)
# Env: PYTHON (default: the repo .venv's python, else python3) -- must be CPython 3.11,
#      the base image's python3 (Debian bookworm), so binary wheels match.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
wheels="$here/.wheels"

if [[ ${1:-} == --clean ]]; then
  rm -rf "$wheels"
elif [[ -n ${1:-} ]]; then
  echo "usage: $0 [--clean]" >&2
  exit 2
fi

py=${PYTHON:-}
if [[ -z $py ]]; then
  if [[ -x $repo/.venv/bin/python ]]; then py=$repo/.venv/bin/python; else py=python3; fi
fi
ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [[ $ver != 3.11 ]]; then
  echo "build-wheels: $py is Python $ver; the image runs Python 3.11 (set PYTHON=...)" >&2
  exit 1
fi

mkdir -p "$wheels"
# 1. The pinned dependency closure. `pip wheel` reuses published wheels and builds
#    the few sdist-only packages locally (host is bookworm too: same glibc as the image).
#    Offline first: when .wheels/ already holds the whole closure, no index is contacted.
if ! "$py" -m pip wheel --quiet --disable-pip-version-check --no-index --find-links "$wheels" \
  --wheel-dir "$wheels" -r "$here/requirements.txt" >/dev/null 2>&1; then
  "$py" -m pip wheel --quiet --disable-pip-version-check --find-links "$wheels" \
    --wheel-dir "$wheels" -r "$here/requirements.txt"
fi
# 2. The application itself (pure Python; setuptools comes from the host).
rm -f "$wheels"/x402_reference_facilitator-*.whl
"$py" -m pip wheel --quiet --disable-pip-version-check --no-deps \
  --wheel-dir "$wheels" "$here/app"
rm -rf "$here/app/build"

# Self-check: the wheel set is complete for an offline install.
"$py" -m pip download --quiet --disable-pip-version-check --no-index --find-links "$wheels" \
  --dest "$(mktemp -d)" -r "$here/requirements.txt" x402-reference-facilitator >/dev/null

count=$(find "$wheels" -name '*.whl' | wc -l)
echo "build-wheels: $count wheels in $wheels"
