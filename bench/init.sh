#!/usr/bin/env bash
# bench/init.sh BUILD OUT.tsv [IDLE_SECONDS] — welld run side by side with
# the container inits (tini, tini-static, dumb-init, catatonit), each as PID 1
# of a PID namespace of its own (unshare --pid --fork --mount-proc), as in a
# container. Root only. One line per init:
#   INIT RSS_KB PSS_KB WAKEUPS LATENCY_MEDIAN_US LATENCY_P90_US REAP_1000_MS EXEC_US
# RSS and PSS: /proc/PID/smaps_rollup of the idle init with one sleeping
# child; WAKEUPS: its voluntary + nonvoluntary context switches over
# IDLE_SECONDS (default 10) idle; LATENCY: SIGUSR1 sent to the init until its
# child stamps it (1000 rounds); REAP: 1000 orphans adopted by the init end
# together, until the last is reaped; EXEC: from the init's exec to its
# child's (not PID 1), minus the child's own start (the baseline line
# "none"). bench/init_bench.c does the timed parts. Every process started is
# ended by PID; unshare's --kill-child takes the namespace with it.
set -euo pipefail
build=$1
out=$2
idle=${3:-10}
welld=$build/tools/welld/welld
welld_static=$build/tools/welld/welld-static
bench=$build/bench/init_bench
started=()
finish() {
  local p
  for p in "${started[@]}"; do
    [ -d "/proc/$p" ] && kill -KILL $(tree_of "$p") 2>/dev/null
  done
  wait 2>/dev/null || true
}
trap finish EXIT
# shellcheck source=bench/proc_sample.sh
source "$(dirname "$0")/proc_sample.sh"

# Each init's command line up to where its child's goes.
declare -A inits=(
  [welld]="$welld run --"
  [welld-static]="$welld_static run --"
  [tini]="/usr/bin/tini --"
  [tini-static]="/usr/bin/tini-static --"
  [dumb-init]="/usr/bin/dumb-init"
  [catatonit]="/usr/bin/catatonit --"
)
order=(welld welld-static tini tini-static dumb-init catatonit)

# RSS, PSS and wake-ups of INIT as PID 1 with `sleep 1000` as its child.
idle_of() {
  local top init before after rss pss
  # shellcheck disable=SC2086
  unshare --pid --fork --mount-proc --kill-child=SIGKILL ${inits[$1]} /bin/sleep 1000 &
  top=$!
  started+=("$top")
  for _ in $(seq 500); do
    init=$(cat "/proc/$top/task/$top/children" 2>/dev/null | cut -d' ' -f1)
    [ -n "$init" ] && break
    sleep 0.01
  done
  child_sleep_of "$init" >/dev/null || { echo "init: $1 never started sleep" >&2; return 1; }
  sleep 1  # its start-up is over
  before=$(switches "$init")
  sleep "$idle"
  after=$(switches "$init")
  read -r rss pss < <(rss_pss "$init")
  kill -KILL "$top"
  wait "$top" 2>/dev/null || true
  echo "$rss $pss $((after - before))"
}

baseline=$("$bench" exec 200)
printf 'none\t\t\t\t\t\t\t%s\n' "$baseline" >"$out"
for name in "${order[@]}"; do
  [ -x "${inits[$name]%% *}" ] || { echo "init: no ${inits[$name]%% *}, skipped" >&2; continue; }
  read -r rss pss wakeups < <(idle_of "$name")
  # shellcheck disable=SC2086
  read -r median p90 < <("$bench" latency 1000 ${inits[$name]})
  # shellcheck disable=SC2086
  reap=$("$bench" reap 1000 ${inits[$name]})
  # shellcheck disable=SC2086
  exec_us=$("$bench" exec 200 ${inits[$name]})
  exec_us=$(awk -v a="$exec_us" -v b="$baseline" 'BEGIN { printf "%.1f", a - b }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$rss" "$pss" "$wakeups" "$median" "$p90" "$reap" "$exec_us" >>"$out"
done
