#!/usr/bin/env bash
# bench/supervise.sh BUILD OUT — welld's supervisor (welld start --respawn;
# also welld-static's, a static supervisor, when the build has it) side
# by side with s6-supervise (+ s6-log), runsv (+ svlogd), libslack daemon
# --respawn and supervisord, each supervising the same program
# (bench/supervised_child.c; the supervisors are not instrumented). Writes in OUT:
#   supervise_idle.tsv     TOOL RSS_KB PSS_KB SWITCHES: the supervisor process
#                          supervising `sleep 1000`, all at once, switches over
#                          BENCH_IDLE_SECONDS (default 60)
#   supervise_restart.tsv  TOOL LATENCY_US...: child exit -> next child's main,
#                          up to BENCH_RESTARTS (default 200) restarts or
#                          BENCH_RESTART_SECONDS (default 30) per tool
#   supervise_restart_cpu.tsv TOOL CPU_US: the supervising process's CPU time
#                          (utime + stime, in clock ticks) per start of the
#                          program, over that run
#   supervise_log.tsv      TOOL BYTES SECONDS LINES CHECKSUM_OK: the child writes
#                          BENCH_LOG_MB (default 256) MB of 100-byte lines to
#                          stdout, the supervisor's logger writes them to files
#                          rotated at 16 MiB; from the child's main to the last
#                          byte in the files
#   supervise_scale.tsv    TOOL COUNT PSS_KB RSS_KB: BENCH_SUPERVISED (default
#                          1000) supervisors of one kind at once (welld start
#                          --respawn, s6-supervise, runsv), each supervising
#                          `sleep 1000`: the supervisors' PSS and RSS summed
#                          (the sleeps not counted)
# The restart latency has one more row, respawn-loop (bench/respawn_loop.c): a
# loop that only spawns the program and waits for it, the floor of a restart.
# Knobs for a quick or a comparing run: BENCH_SUPERVISE_PARTS (default
# "idle restart log scale": the parts to run), BENCH_SUPERVISORS (default "welld
# s6-supervise runsv daemon supervisord"), BENCH_WELLD_BEFORE=PATH (another
# welld binary, e.g. an older build's, measured in the same run as "welld-before").
# Every process it starts is stopped by PID; the scratch directory is removed.
set -euo pipefail
build=$(cd "$1" && pwd) out=$2
idle=${BENCH_IDLE_SECONDS:-60}
restarts=${BENCH_RESTARTS:-200}
restart_seconds=${BENCH_RESTART_SECONDS:-30}
log_bytes=$((${BENCH_LOG_MB:-256} * 1000000))
welld=$build/tools/welld/welld
welld_before=${BENCH_WELLD_BEFORE:-}
parts=" ${BENCH_SUPERVISE_PARTS:-idle restart log scale} "
supervised=${BENCH_SUPERVISED:-1000}
welld_static=$build/tools/welld/welld-static
child=$build/bench/supervised_child
rotate=$((16 << 20))
work=$(mktemp -d /tmp/welld-supervise-XXXXXX)
# shellcheck source=bench/proc_sample.sh
source "$(dirname "$0")/proc_sample.sh"

roots=()  # the supervisors started so far, by PID
stop_all() {
  local p pids=()
  for p in "${roots[@]}"; do
    [ -d "/proc/$p" ] && mapfile -t -O "${#pids[@]}" pids < <(tree_of "$p")
  done
  # The supervisors and what they started at once: none can restart a child.
  ((${#pids[@]})) && kill -KILL "${pids[@]}" 2>/dev/null
  for p in "${pids[@]}"; do
    for _ in $(seq 500); do [ -d "/proc/$p" ] || break; sleep 0.01; done
  done
  wait 2>/dev/null || true
  roots=()
}
trap 'stop_all; rm -rf "$work"' EXIT

# Start TOOL supervising COMMAND... in directory $1 (fresh), LOGDIR $2 (empty:
# no log; the tool's logger writes into it, rotating at $rotate). Sets $sup to
# the supervising process's PID and adds it to $roots.
start_supervisor() {
  local tool=$1 dir=$2 logdir=$3 q
  shift 3
  # s6-log is s6-svscan's: it makes the pipe from a service to its log/ service.
  [ "$tool" = s6-supervise ] && [ -n "$logdir" ] && dir=$dir/scan/svc
  mkdir -p "$dir"
  printf -v q '%q ' "$@"
  case $tool in
    welld | welld-before | welld-static)
      local log=() binary=$welld
      [ "$tool" = welld-before ] && binary=$welld_before
      [ "$tool" = welld-static ] && binary=$welld_static
      [ -n "$logdir" ] && log=(--log "$logdir/out.log" --log-max-size "$rotate" --log-keep 1000)
      "$binary" start --respawn --restart-delay 0 --restart-limit 100000/1s -p "$dir/sup.pid" "${log[@]}" -- "$@"
      sup=$(cat "$dir/sup.pid") ;;
    s6-supervise | runsv)
      printf '#!/bin/sh\nexec %s\n' "$q" >"$dir/run"
      chmod +x "$dir/run"
      if [ -n "$logdir" ]; then
        mkdir -p "$dir/log"
        if [ "$tool" = runsv ]; then
          printf 's%s\nn1000\n' "$rotate" >"$logdir/config"
          printf '#!/bin/sh\nexec svlogd %q\n' "$logdir" >"$dir/log/run"
        else
          # s6-log's largest rotation size is 16 MiB - 1.
          printf '#!/bin/sh\nexec s6-log n1000 s%s %q\n' $((rotate - 1)) "$logdir" >"$dir/log/run"
        fi
        chmod +x "$dir/log/run"
      fi
      if [ "$tool" = runsv ]; then
        runsv "$dir" </dev/null >/dev/null 2>&1 &
        sup=$!
      elif [ -n "$logdir" ]; then
        s6-svscan "${dir%/svc}" </dev/null >/dev/null 2>&1 &
        sup=$!
      else
        s6-supervise "$dir" </dev/null >/dev/null 2>&1 &
        sup=$!
      fi ;;
    daemon)
      local output=()
      [ -n "$logdir" ] && output=(--output="$logdir/out.log")
      daemon --foreground --respawn --idiot --acceptable=0 --attempts=1000 --delay=0 --name=welld-bench-sup \
        --pidfile="$dir/daemon.pid" "${output[@]}" -- "$@" </dev/null >/dev/null 2>&1 &
      sup=$! ;;
    supervisord)
      {
        echo "[supervisord]"
        echo "nodaemon=true"
        echo "logfile=$dir/supervisord.log"
        echo "pidfile=$dir/supervisord.pid"
        echo "[program:child]"
        echo "command=$q"
        echo "startsecs=0"
        echo "autorestart=true"
        echo "startretries=100000"
        if [ -n "$logdir" ]; then
          echo "stdout_logfile=$logdir/out.log"
          echo "stdout_logfile_maxbytes=$rotate"
          echo "stdout_logfile_backups=1000"
        else
          echo "stdout_logfile=NONE"
        fi
      } >"$dir/supervisord.conf"
      supervisord -c "$dir/supervisord.conf" </dev/null >/dev/null 2>&1 &
      sup=$! ;;
    respawn-loop)
      "$build/bench/respawn_loop" "$@" </dev/null >/dev/null 2>&1 &
      sup=$! ;;
  esac
  roots+=("$sup")
  disown -a  # stop_all kills them: no job notices
}
read -r -a tools <<<"${BENCH_SUPERVISORS:-welld s6-supervise runsv daemon supervisord}"
if [ -n "$welld_before" ]; then  # right after welld
  others=()
  for tool in "${tools[@]}"; do [ "$tool" = welld ] || others+=("$tool"); done
  tools=(welld welld-before "${others[@]}")
fi
if [ -z "${BENCH_SUPERVISORS:-}" ] && [ -x "$welld_static" ]; then  # right after welld
  tools=(welld welld-static "${tools[@]:1}")
fi

# 1 and 2. Idle: all of them at once, each supervising sleep.
if [[ $parts == *" idle "* ]]; then
  echo "bench: supervisors idle (${idle} s)"
  : >"$out/supervise_idle.tsv"
  declare -A supof before
  for tool in "${tools[@]}"; do
    start_supervisor "$tool" "$work/idle-$tool" "" /bin/sleep 1000
    supof[$tool]=$sup
  done
  for tool in "${tools[@]}"; do
    child_sleep_of "${supof[$tool]}" >/dev/null || { echo "supervise: $tool never started sleep" >&2; exit 1; }
  done
  sleep 1  # past the start-up's own activity
  for tool in "${tools[@]}"; do before[$tool]=$(switches "${supof[$tool]}"); done
  sleep "$idle"
  for tool in "${tools[@]}"; do
    p=${supof[$tool]}
    read -r rss pss < <(rss_pss "$p")
    printf '%s\t%s\t%s\t%s\n' "$tool" "$rss" "$pss" $(($(switches "$p") - before[$tool])) >>"$out/supervise_idle.tsv"
  done
  cp "/proc/${supof[welld]}/smaps" "$out/supervise_welld.smaps"
  [ -n "${supof[welld-static]:-}" ] && cp "/proc/${supof[welld-static]}/smaps" "$out/supervise_welld-static.smaps"
  stop_all
fi

# 3. Restart latency: the child stamps its start and exit, each supervisor
#    restarts it as fast as its settings allow.
if [[ $parts == *" restart "* ]]; then
  echo "bench: restart latency (up to $restarts restarts or $restart_seconds s each)"
  : >"$out/supervise_restart.tsv"
  : >"$out/supervise_restart_cpu.tsv"
  for tool in "${tools[@]}" respawn-loop; do
    stamps=$work/restart-$tool.stamps
    start_supervisor "$tool" "$work/restart-$tool" "" "$child" stamp "$stamps"
    for _ in $(seq $((restart_seconds * 20))); do
      [ "$({ wc -l <"$stamps"; } 2>/dev/null || echo 0)" -gt "$restarts" ] && break
      sleep 0.05
    done
    # The supervising process's own CPU time (utime + stime, /proc/PID/stat) per start.
    awk -v tool="$tool" -v starts="$({ wc -l <"$stamps"; } 2>/dev/null || echo 0)" -v hz="$(getconf CLK_TCK)" \
      '{printf "%s\t%.0f\n", tool, (starts > 0 ? ($14 + $15) * 1e6 / hz / starts : 0)}' "/proc/$sup/stat" \
      >>"$out/supervise_restart_cpu.tsv"
    stop_all
    # Latency i: start of line i+1 minus exit of line i (complete lines only).
    awk -v tool="$tool" -v max="$restarts" 'NF == 2 {start[n + 0] = $1; stop[n + 0] = $2; n++}
      END {printf "%s", tool; for (i = 1; i < n && i <= max; i++) printf "\t%.1f", (start[i] - stop[i - 1]) / 1000; print ""}' \
      "$stamps" >>"$out/supervise_restart.tsv"
  done
fi

# 4. Log throughput into files rotated at 16 MiB, and the lines checked.
if [[ $parts == *" log "* ]]; then
  echo "bench: log throughput ($((log_bytes / 1000000)) MB each)"
  : >"$out/supervise_log.tsv"
  reference=$("$child" flood "$log_bytes" | sha256sum | cut -d' ' -f1)
  for tool in "${tools[@]}"; do
    logdir=$work/log-$tool
    mkdir -p "$logdir"
    start_supervisor "$tool" "$work/logsup-$tool" "$logdir" "$child" flood "$log_bytes" "$work/flood-$tool.start"
    case $tool in
      welld | welld-before | welld-static | daemon | supervisord) prefixes=(out.log) ;;
      *) prefixes=(@ current) ;;
    esac
    end=$("$child" wait-bytes "$log_bytes" 600 "$logdir" "${prefixes[@]}") || true
    for _ in $(seq 500); do [ -s "$work/flood-$tool.start" ] && break; sleep 0.01; done
    begin=$(cat "$work/flood-$tool.start")
    stop_all
    # The files oldest first: s6-log and svlogd name archives by TAI64N time;
    # welld and supervisord number them, .1 the newest.
    files=()
    case $tool in
      welld | welld-before | welld-static | daemon | supervisord)
        mapfile -t files < <(cd "$logdir" && compgen -G 'out.log.*' | sort -t. -k3,3nr)
        files+=(out.log) ;;
      *)
        mapfile -t files < <(cd "$logdir" && compgen -G '@*' | sort)
        files+=(current) ;;
    esac
    sum=$(cd "$logdir" && cat "${files[@]}" | tee >(wc -l >"$work/lines") | sha256sum | cut -d' ' -f1)
    sleep 0.1
    lines=$(cat "$work/lines")
    if [[ $end == timeout* ]]; then
      seconds=timeout
    else
      seconds=$(awk -v a="$begin" -v b="$end" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$log_bytes" "$seconds" "$lines" \
      "$([ "$sum" = "$reference" ] && echo yes || echo no)" "${#files[@]}" >>"$out/supervise_log.tsv"
    rm -rf "$logdir"
  done
fi

# 5. Scale: $supervised supervisors of one kind at once, PSS summed.
if [[ $parts == *" scale "* ]]; then
  echo "bench: $supervised supervised services each (welld, s6-supervise, runsv)"
  : >"$out/supervise_scale.tsv"
  for tool in welld s6-supervise runsv; do
    sups=()
    for i in $(seq "$supervised"); do
      start_supervisor "$tool" "$work/scale-$tool/$i" "" /bin/sleep 1000
      sups+=("$sup")
    done
    for p in "${sups[@]}"; do
      child_sleep_of "$p" >/dev/null || { echo "supervise: $tool ($p) never started sleep" >&2; exit 1; }
    done
    sleep 1  # past the start-up's own activity (welld's supervisor drops its start-up pages)
    awk '$1 == "Rss:" {r += $2} $1 == "Pss:" {p += $2} END {print p, r}' \
      $(printf '/proc/%s/smaps_rollup ' "${sups[@]}") | {
      read -r pss rss
      printf '%s\t%s\t%s\t%s\n' "$tool" "$supervised" "$pss" "$rss" >>"$out/supervise_scale.tsv"
    }
    stop_all
    rm -rf "$work/scale-$tool"
  done
fi
