#!/usr/bin/env bash
# bench/footprint.sh OUT.tsv [IDLE_SECONDS] — the resident cost of the
# supervisors and inits welld is compared with, each supervising `sleep`:
# RSS and PSS of the supervising process (/proc/PID/smaps_rollup) and its
# context switches while idle. One line per tool: TOOL RSS_KB PSS_KB SWITCHES.
# Every process it starts is stopped by PID; the scratch directory is removed.
set -euo pipefail
out=$1
idle=${2:-5}
work=$(mktemp -d /tmp/welld-footprint-XXXXXX)
started=()
finish() {
  local p
  for p in "${started[@]}"; do
    [ -d "/proc/$p" ] && kill -KILL $(tree_of "$p") 2>/dev/null
  done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap finish EXIT

# shellcheck source=bench/proc_sample.sh
source "$(dirname "$0")/proc_sample.sh"
measure() {
  local tool=$1 p=$2 before after rss pss
  child_sleep_of "$p" >/dev/null || { echo "footprint: $tool never started sleep" >&2; return 1; }
  before=$(switches "$p")
  sleep "$idle"
  after=$(switches "$p")
  read -r rss pss < <(rss_pss "$p")
  printf '%s\t%s\t%s\t%s\n' "$tool" "$rss" "$pss" $((after - before)) >>"$out"
  # The supervisor first (it would restart its child), then what it started.
  local tree
  tree=$(tree_of "$p")
  kill -KILL $tree 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
: >"$out"

mkdir -p "$work/s6" "$work/runit"
printf '#!/bin/sh\nexec sleep 1000\n' >"$work/s6/run"
cp "$work/s6/run" "$work/runit/run"
chmod +x "$work/s6/run" "$work/runit/run"
cat >"$work/supervisord.conf" <<CONF
[supervisord]
nodaemon=true
logfile=$work/supervisord.log
pidfile=$work/supervisord.pid
[program:sleep]
command=sleep 1000
CONF

s6-supervise "$work/s6" & started+=($!); measure s6-supervise $!
runsv "$work/runit" & started+=($!); measure runsv $!
daemon --foreground --respawn --name=footprint -- sleep 1000 & started+=($!); measure "daemon (libslack)" $!
supervisord -c "$work/supervisord.conf" >/dev/null 2>&1 & started+=($!); measure supervisord $!
tini -s -- sleep 1000 & started+=($!); measure tini $!
dumb-init sleep 1000 & started+=($!); measure dumb-init $!
