#!/usr/bin/env bash
# Local EVM chains of the facilitator-ops stack: one anvil per network in
# chains.json (base-sepolia 84532 on 127.0.0.1:8545, avalanche-fuji 43113 on
# 127.0.0.1:8546), bound to loopback only, instant mining.
#
# Usage: stack/chain/chains.sh start|stop|restart|status|install
#
#   start    start every chain that is not running (idempotent), then wait
#            until each answers eth_chainId with its chain id
#   stop     stop the chains this script started (by their pidfiles)
#   status   one line per chain; exit 0 if all answer, 3 otherwise
#   install  npm ci in stack/chain (start does it when anvil is missing)
#
# Environment:
#   FACILITATOR_OPS_STATE  state dir for pidfiles and logs (default <repo>/.stack)
#   CHAINS_CONFIG          chain list (default stack/chain/chains.json)
#   ANVIL_BIN              anvil binary (default: from stack/chain/node_modules)
#   CHAIN_BLOCK_TIME       seconds per block; unset = mine on every transaction
#   CHAIN_START_TIMEOUT    seconds to wait for each chain to answer (default 30)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
STATE="${FACILITATOR_OPS_STATE:-$REPO/.stack}"
CONFIG="${CHAINS_CONFIG:-$HERE/chains.json}"
START_TIMEOUT="${CHAIN_START_TIMEOUT:-30}"

die() { echo "chains.sh: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node is required (npm installs anvil and solc)"
[ -f "$CONFIG" ] || die "no chain config at $CONFIG"

# "name chain_id host port" per network, from the config.
chain_lines() {
  node -e '
    const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    for (const n of c.networks) console.log([n.name, n.chain_id, n.host || "127.0.0.1", n.port].join(" "));
  ' "$CONFIG"
}

# A value of the config's top level (dotted path), e.g. accounts.count.
config_value() {
  node -e '
    const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    let v = c; for (const k of process.argv[2].split(".")) v = v == null ? undefined : v[k];
    if (v !== undefined) console.log(v);
  ' "$CONFIG" "$1"
}

# Decimal chain id answered at URL, or nothing (2 s timeout).
rpc_chain_id() {
  node -e '
    const ac = new AbortController(); setTimeout(() => ac.abort(), 2000).unref();
    fetch(process.argv[1], {method: "POST", headers: {"content-type": "application/json"},
      body: JSON.stringify({jsonrpc: "2.0", id: 1, method: "eth_chainId", params: []}), signal: ac.signal})
      .then(r => r.json()).then(j => { if (j.result) console.log(parseInt(j.result, 16)); })
      .catch(() => {});
  ' "$1" 2>/dev/null || true
}

anvil_bin() {
  if [ -n "${ANVIL_BIN:-}" ]; then echo "$ANVIL_BIN"; return; fi
  local arch os
  case "$(uname -m)" in x86_64|amd64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; *) arch="$(uname -m)" ;; esac
  case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) os="$(uname -s)" ;; esac
  # The platform package's real binary (so the pidfile holds anvil's own pid,
  # not the node wrapper's); the wrapper as a fallback.
  local real="$HERE/node_modules/@foundry-rs/anvil-$os-$arch/bin/anvil"
  if [ -x "$real" ]; then echo "$real"; else echo "$HERE/node_modules/.bin/anvil"; fi
}

do_install() {
  command -v npm >/dev/null 2>&1 || die "npm is required"
  (cd "$HERE" && npm ci --no-audit --no-fund)
}

pidfile() { echo "$STATE/anvil-$1.pid"; }
logfile() { echo "$STATE/anvil-$1.log"; }

# pid of our anvil for chain NAME if it is alive, else nothing.
live_pid() {
  local pf pid
  pf="$(pidfile "$1")"
  [ -f "$pf" ] || return 0
  pid="$(cat "$pf" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q anvil; then
    echo "$pid"
  fi
}

check_loopback() {
  case "$1" in
    127.*|localhost) ;;
    *) die "refusing to bind $2 to $1: the stack binds loopback (127.0.0.1) only" ;;
  esac
}

start_one() {
  local name="$1" chain_id="$2" host="$3" port="$4"
  local url="http://$host:$port" pid answered
  check_loopback "$host" "$name"
  pid="$(live_pid "$name")"
  if [ -n "$pid" ]; then
    echo "$name: already running (pid $pid, $url)"
    return 0
  fi
  answered="$(rpc_chain_id "$url")"
  if [ -n "$answered" ]; then
    if [ "$answered" = "$chain_id" ]; then
      echo "$name: chain $chain_id already answers at $url (not started by this script; left alone)"
      return 0
    fi
    die "$name: $url answers chain id $answered, expected $chain_id (port taken)"
  fi

  local anvil mnemonic count balance
  anvil="$(anvil_bin)"
  mnemonic="$(config_value mnemonic)"
  count="$(config_value accounts.count)"
  balance="$(config_value accounts.balance_eth)"
  local args=(--host "$host" --port "$port" --chain-id "$chain_id")
  [ -n "$mnemonic" ] && args+=(--mnemonic "$mnemonic")
  [ -n "$count" ] && args+=(--accounts "$count")
  [ -n "$balance" ] && args+=(--balance "$balance")
  [ -n "${CHAIN_BLOCK_TIME:-}" ] && args+=(--block-time "$CHAIN_BLOCK_TIME")

  local log
  log="$(logfile "$name")"
  echo "=== $(date -u +%FT%TZ) start $name: anvil ${args[*]}" >>"$log"
  # setsid: the chain outlives the shell (and process group) that started it.
  setsid "$anvil" "${args[@]}" >>"$log" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
  echo "$name: started pid $! ($url, chain id $chain_id, log $log)"
}

wait_one() {
  local name="$1" chain_id="$2" host="$3" port="$4"
  local url="http://$host:$port" deadline answered pid
  deadline=$(( $(date +%s) + START_TIMEOUT ))
  while :; do
    answered="$(rpc_chain_id "$url")"
    if [ "$answered" = "$chain_id" ]; then
      return 0
    fi
    if [ -n "$answered" ]; then
      die "$name: $url answers chain id $answered, expected $chain_id"
    fi
    pid="$(live_pid "$name")"
    if [ -z "$pid" ]; then
      echo "chains.sh: $name: anvil exited; last log lines:" >&2
      tail -n 20 "$(logfile "$name")" >&2 || true
      rm -f "$(pidfile "$name")"
      exit 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      die "$name: no eth_chainId answer at $url after ${START_TIMEOUT}s (see $(logfile "$name"))"
    fi
    sleep 0.2
  done
}

do_start() {
  mkdir -p "$STATE"
  local anvil
  anvil="$(anvil_bin)"
  if [ ! -x "$anvil" ] && [ -z "${ANVIL_BIN:-}" ]; then
    echo "chains.sh: anvil not installed; running npm ci in $HERE"
    do_install
    anvil="$(anvil_bin)"
  fi
  [ -x "$anvil" ] || die "anvil not executable: $anvil"
  local lines
  lines="$(chain_lines)"
  while read -r name chain_id host port; do
    start_one "$name" "$chain_id" "$host" "$port"
  done <<<"$lines"
  while read -r name chain_id host port; do
    wait_one "$name" "$chain_id" "$host" "$port"
    echo "$name: ready at http://$host:$port (chain id $chain_id)"
  done <<<"$lines"
}

do_stop() {
  local lines name chain_id host port pid i
  lines="$(chain_lines)"
  while read -r name chain_id host port; do
    pid="$(live_pid "$name")"
    if [ -z "$pid" ]; then
      rm -f "$(pidfile "$name")"
      echo "$name: not running"
      continue
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$(pidfile "$name")"
    echo "=== $(date -u +%FT%TZ) stopped $name (pid $pid)" >>"$(logfile "$name")"
    echo "$name: stopped (pid $pid)"
  done <<<"$lines"
}

do_status() {
  local lines name chain_id host port pid answered rc=0 url
  lines="$(chain_lines)"
  while read -r name chain_id host port; do
    url="http://$host:$port"
    pid="$(live_pid "$name")"
    answered="$(rpc_chain_id "$url")"
    if [ "$answered" = "$chain_id" ]; then
      echo "$name: running chain_id=$chain_id url=$url pid=${pid:-unknown(not started by chains.sh)}"
    elif [ -n "$pid" ]; then
      echo "$name: starting or unresponsive chain_id=$chain_id url=$url pid=$pid answered=${answered:-none}"
      rc=3
    else
      echo "$name: stopped chain_id=$chain_id url=$url"
      rc=3
    fi
  done <<<"$lines"
  return "$rc"
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  restart) do_stop; do_start ;;
  status) do_status ;;
  install) do_install ;;
  *) echo "usage: $0 start|stop|restart|status|install" >&2; exit 2 ;;
esac
