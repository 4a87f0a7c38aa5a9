#!/usr/bin/env bash
# kill_previous.sh TOOL PIDFILE — untimed, between benchmark runs: stop the
# daemon the previous run of TOOL started, the way that tool stops it. Some
# launchers return before their daemon writes the PID file, so wait for it
# (bounded) when a previous run happened (the marker file says so).
tool=$1 pid=$2 marker=$2.ran
if [ -e "$marker" ]; then
  for _ in $(seq 500); do [ -s "$pid" ] && break; sleep 0.01; done
  case $tool in
    daemon) daemon --name=welld-bench "--pidfile=$pid" --stop 2>/dev/null ;;
    *) [ -s "$pid" ] && kill "$(cat "$pid")" 2>/dev/null ;;
  esac
  for _ in $(seq 500); do [ -e "/proc/$(cat "$pid" 2>/dev/null || echo 0)" ] || break; sleep 0.01; done
fi
rm -f "$pid"
touch "$marker"
