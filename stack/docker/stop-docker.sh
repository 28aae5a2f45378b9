#!/usr/bin/env bash
# Stop the dockerd started by ensure-docker.sh (identified by its pidfile in the state dir).
# A daemon started any other way is never touched. Running containers are stopped by
# dockerd itself during its shutdown.
#
# Usage: stack/docker/stop-docker.sh
set -euo pipefail
# shellcheck source=stack/docker/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PIDFILE="$FO_STATE/docker/dockerd.pid"

if [[ -s $PIDFILE ]] && fo_pidfile_alive "$PIDFILE" dockerd; then
  pid=$(<"$PIDFILE")
  fo_log "stopping dockerd pid $pid"
  # dockerd gives containers up to 15s (shutdown-timeout) to stop, then shuts down containerd.
  fo_stop_pidfile "$PIDFILE" dockerd 60
  fo_log "dockerd stopped"
else
  rm -f "$PIDFILE"
  if docker info >/dev/null 2>&1; then
    fo_log "no dockerd started by this stack; a docker daemon is answering but was started elsewhere, leaving it alone"
  else
    fo_log "dockerd not running, nothing to do"
  fi
fi
