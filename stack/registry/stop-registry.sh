#!/usr/bin/env bash
# Stop the docker-registry started by start-registry.sh (pidfile in $STATE/registry).
# Stored images stay in $STATE/registry/data.
#
# Usage: stack/registry/stop-registry.sh
set -euo pipefail
# shellcheck source=stack/docker/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../docker/lib.sh"

PIDFILE="$FO_STATE/registry/registry.pid"
if fo_pidfile_alive "$PIDFILE" docker-registry; then
  fo_log "stopping docker-registry pid $(<"$PIDFILE")"
  fo_stop_pidfile "$PIDFILE" docker-registry 15
  fo_log "registry stopped"
else
  rm -f "$PIDFILE"
  fo_log "registry not running (no live pid in $PIDFILE), nothing to do"
fi
