#!/usr/bin/env bash
# Smoke test of the docker setup: docker compose v2 builds an image FROM the local base
# (BuildKit, build network: host) and runs it with network_mode: host, bound to 127.0.0.1,
# until its curl health check passes; then tears everything down.
#
# Usage: stack/docker/selftest.sh   (after ensure-docker.sh and build-base-image.sh)
set -euo pipefail
# shellcheck source=stack/docker/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

docker image inspect "$FO_BASE_IMAGE" >/dev/null 2>&1 || fo_die "$FO_BASE_IMAGE missing; run stack/docker/build-base-image.sh"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
project="fo-selftest-$$"
trap 'docker compose -p "$project" -f "$dir/compose.yaml" down --rmi local -t 2 >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

cat >"$dir/Dockerfile" <<DOCKERFILE
FROM $FO_BASE_IMAGE
RUN python3 -m venv /opt/venv && /opt/venv/bin/python -c 'import sys; print(sys.version)'
DOCKERFILE
cat >"$dir/compose.yaml" <<YAML
services:
  web:
    build:
      context: .
      network: host   # required: the daemon has no bridge network (see README)
    network_mode: host
    command: ["/opt/venv/bin/python", "-m", "http.server", "--bind", "127.0.0.1", "$port"]
    healthcheck:
      test: ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:$port/"]
      interval: 1s
      timeout: 3s
      retries: 30
YAML

t=$(fo_now)
# COMPOSE_BAKE=false: no buildx plugin here; use compose's built-in BuildKit client quietly.
COMPOSE_BAKE=false docker compose -p "$project" -f "$dir/compose.yaml" up -d --build --wait --wait-timeout 60 >"$dir/up.log" 2>&1 ||
  { cat "$dir/up.log" >&2; fo_die "compose up failed"; }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")
[[ $code == 200 ]] || fo_die "host-network service on 127.0.0.1:$port answered HTTP $code"
listen=$(ss -Hltn "sport = :$port" | awk '{print $4}')
[[ $listen == 127.0.0.1:$port ]] || fo_die "service listens on '$listen', expected 127.0.0.1:$port only"
fo_log "OK: compose build + network_mode: host service healthy on $listen in $(fo_elapsed "$t")"
