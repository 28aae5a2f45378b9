# shellcheck shell=bash disable=SC2034  # variables are used by the sourcing scripts
# Shared helpers for stack/docker/*.sh and stack/registry/*.sh (sourced, not run).
# Paths are derived from this file's location so the repo can live anywhere.

FO_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FO_STATE="${FACILITATOR_OPS_STATE:-$FO_REPO_ROOT/.stack}"
FO_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/facilitator-ops"
FO_BASE_IMAGE="${FACILITATOR_OPS_BASE_IMAGE:-facilitator-ops/base:bookworm}"

fo_log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
fo_die() { fo_log "ERROR: $*"; exit 1; }

# Seconds since epoch with millisecond precision, for timings.
fo_now() { date +%s.%N; }
fo_elapsed() { awk -v a="$1" -v b="$(fo_now)" 'BEGIN { printf "%.1fs", b - a }'; }

# True if the pid in file $1 is alive and its command line contains $2.
# Guards against a stale pidfile whose pid was recycled by another program.
fo_pidfile_alive() {
  local pidfile=$1 want=$2 pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$want"
}

# Send SIGTERM to the pid in $1 (must match $2), wait up to $3 seconds, then SIGKILL.
fo_stop_pidfile() {
  local pidfile=$1 want=$2 timeout=${3:-30} pid i
  if ! fo_pidfile_alive "$pidfile" "$want"; then
    rm -f "$pidfile"
    return 1
  fi
  pid=$(<"$pidfile")
  kill -TERM "$pid"
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
    sleep 0.1
  done
  fo_log "pid $pid did not exit after ${timeout}s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}
