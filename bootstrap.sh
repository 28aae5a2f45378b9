#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian/Python 3.11 machine:
# Debian packages (Docker engine, debootstrap, OCI registry, HAProxy for the ALB
# stand-ins / edge / ECR-like front, skopeo for registry access, openssl, wrk), the pinned
# Python environment in .venv (Ansible + bundled collections, moto, x402 SDK,
# Molecule, test tools), and the chain tooling (anvil, solc-js) from npm.
# Idempotent: a second run installs nothing new.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${FACILITATOR_OPS_VENV:-$REPO/.venv}"
cd "$REPO"
log() { printf '[bootstrap] %s\n' "$*" >&2; }
# shellcheck source=stack/lib/timing.sh
source "$REPO/stack/lib/timing.sh"

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v docker-registry >/dev/null || [[ -x /usr/bin/docker-registry ]] || need+=(docker-registry)
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || need+=(haproxy)
command -v skopeo >/dev/null || need+=(skopeo)
command -v openssl >/dev/null || need+=(openssl)
if ((${#need[@]})); then
  log "apt: ${need[*]}"
  timed bootstrap/apt-update apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timed bootstrap/apt-install \
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

pip_install() {
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e facilitator/app
}
if [[ ! -x $VENV/bin/python ]]; then
  log "creating $VENV"
  timed bootstrap/venv python3 -m venv "$VENV"
fi
stamp="$VENV/.requirements.sha256"
want=$(cat requirements.txt facilitator/app/pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(<"$stamp") != "$want" ]]; then
  log "pip: requirements.txt"
  timed bootstrap/pip pip_install
  echo "$want" >"$stamp"
fi

# npm ci starts from an empty node_modules every time: only when the lock file changed.
npm_stamp="stack/chain/node_modules/.package-lock.sha256"
want=$(sha256sum stack/chain/package-lock.json | cut -d' ' -f1)
if [[ ! -f $npm_stamp || $(<"$npm_stamp") != "$want" ]]; then
  log "npm: anvil + solc-js"
  timed bootstrap/npm stack/chain/chains.sh install >/dev/null
  echo "$want" >"$npm_stamp"
fi
log "done"
