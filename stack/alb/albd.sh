#!/usr/bin/env bash
# Start/stop stack/alb/albd.py (Route 53 -> edge weights, ALB metrics -> CloudWatch,
# a trickle of user traffic through the public name). Log and pid in $STATE/alb/.
# Usage: stack/alb/albd.sh start|stop|status
set -euo pipefail
# shellcheck source=stack/docker/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../docker/lib.sh"

VENV="${FACILITATOR_OPS_VENV:-$FO_REPO_ROOT/.venv}"
DIR="$FO_STATE/alb"
PIDFILE="$DIR/albd.pid"
LOGFILE="$DIR/albd.log"

case "${1:-}" in
  start)
    mkdir -p "$DIR"
    if fo_pidfile_alive "$PIDFILE" albd.py; then
      fo_log "albd already running (pid $(<"$PIDFILE"))"; exit 0
    fi
    [[ -s $FO_STATE/world.json ]] || fo_die "no $FO_STATE/world.json: seed the stack first (playbooks/local_stack_seed.yml)"
    fo_log "starting albd (log $LOGFILE)"
    # shellcheck disable=SC2016
    setsid bash -c 'echo $$ >"$1"; exec "$2" "$3"' _ "$PIDFILE" "$VENV/bin/python" "$FO_REPO_ROOT/stack/alb/albd.py" \
      </dev/null >>"$LOGFILE" 2>&1 &
    for _ in $(seq 1 50); do
      [[ -s $FO_STATE/albd.json ]] && "$VENV/bin/python" - "$FO_STATE/albd.json" <<'PY' && exit 0
import json, sys, time
s = json.load(open(sys.argv[1]))
sys.exit(0 if s.get("weights") is not None and time.time() - s["at"] < 3 else 1)
PY
      sleep 0.2
    done
    tail -5 "$LOGFILE" >&2; cat "$FO_STATE/albd.json" >&2 2>/dev/null || true
    fo_die "albd did not apply the Route 53 weights"
    ;;
  stop)
    if fo_pidfile_alive "$PIDFILE" albd.py; then
      fo_log "stopping albd pid $(<"$PIDFILE")"; fo_stop_pidfile "$PIDFILE" albd.py 10 || true
    fi
    rm -f "$PIDFILE" "$FO_STATE/albd.json"
    ;;
  status) fo_pidfile_alive "$PIDFILE" albd.py ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
