# shellcheck shell=bash
# Wall time of the set-up steps (sourced by bootstrap.sh and stack/stackctl). With
# FACILITATOR_OPS_TIMINGS set (./rehearse sets it), each `timed` step appends
# "<group>/<step><TAB><seconds>" to that file, and ./rehearse prints the table at its end.
fo_timing_now() { date +%s.%N; }

# timed GROUP/STEP command [args...]: runs the command, records its wall time, keeps its exit code.
timed() {
  local name=$1 t0 rc=0
  shift
  t0=$(fo_timing_now)
  "$@" || rc=$?
  if [[ -n ${FACILITATOR_OPS_TIMINGS:-} ]]; then
    awk -v n="$name" -v a="$t0" -v b="$(fo_timing_now)" 'BEGIN { printf "%s\t%.1f\n", n, b - a }' \
      >>"$FACILITATOR_OPS_TIMINGS"
  fi
  return "$rc"
}
