# shellcheck shell=bash
# bench/proc_sample.sh — sourced by bench/footprint.sh and bench/supervise.sh:
# what they read of a running supervisor in /proc.

# The first child of PID $1, once it has exec'd sleep (up to 5 s).
child_sleep_of() {
  local parent=$1 c
  for _ in $(seq 500); do
    for c in $(cat "/proc/$parent/task/$parent/children" 2>/dev/null); do
      [ "$(cat "/proc/$c/comm" 2>/dev/null)" = sleep ] && { echo "$c"; return 0; }
    done
    sleep 0.01
  done
  return 1
}
# PID $1 and all its descendants.
tree_of() {
  local c
  echo "$1"
  for c in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do tree_of "$c"; done
}
# Voluntary and nonvoluntary context switches of PID $1 so far.
switches() { awk '/ctxt_switches/ {n += $2} END {print n}' "/proc/$1/status"; }
# "RSS PSS" of PID $1, KiB (/proc/PID/smaps_rollup).
rss_pss() { awk '$1 == "Rss:" {r = $2} $1 == "Pss:" {p = $2} END {print r, p}' "/proc/$1/smaps_rollup"; }
