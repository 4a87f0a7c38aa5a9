#!/usr/bin/env bash
# bench/plot.sh RAW_DIR DOCS_DIR — draw bench/run's figures as SVG (gnuplot):
#   perf-syscalls.svg   system calls of each launcher against RLIMIT_NOFILE
#   perf-walltime.svg   the wall-time distribution of each launcher
#   perf-footprint.svg  RSS and PSS of the supervisors and inits, idle
set -euo pipefail
raw=$1
docs=$2
# PLOT_FORMAT=png draws PNG instead (for a quick look).
fmt=${PLOT_FORMAT:-svg}
case $fmt in
  svg) term='svg size 760,420 dynamic font "sans,12" background rgb "white"' ;;
  png) term='png size 760,420' ;;
  *) echo "plot: PLOT_FORMAT is svg or png" >&2; exit 2 ;;
esac
tmp=$(mktemp -d /tmp/welld-plot-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# syscalls.tsv (LIMIT TOOL CALLS) as one column per tool, one row per limit.
/usr/bin/python3 - "$raw/syscalls.tsv" "$tmp/syscalls.dat" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
tools = list(dict.fromkeys(r[1] for r in rows))
limits = sorted({int(r[0]) for r in rows})
calls = {(int(r[0]), r[1]): r[2] for r in rows}
with open(sys.argv[2], "w") as f:
    f.write("limit\t" + "\t".join('"%s"' % t for t in tools) + "\n")
    for n in limits:
        f.write(str(n) + "\t" + "\t".join(calls.get((n, t), "NaN") or "NaN" for t in tools) + "\n")
PY
ntools=$(head -1 "$tmp/syscalls.dat" | awk -F'\t' '{print NF - 1}')
# walltime.json (hyperfine) as INDEX MILLISECONDS rows, and the index names.
/usr/bin/python3 - "$raw/walltime.json" "$tmp/walltime.dat" "$tmp/walltime.names" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
with open(sys.argv[2], "w") as f, open(sys.argv[3], "w") as names:
    for i, r in enumerate(results, 1):
        names.write('"%s" %d, ' % (r["command"], i))
        for t in r["times"]:
            f.write("%d\t%.4f\n" % (i, t * 1000))
PY
nwall=$(awk 'END {print NR ? $1 : 0}' "$tmp/walltime.dat")

gnuplot <<GP
set terminal $term
set termoption noenhanced
set datafile separator "\t"
set key outside right top
set grid ytics lc rgb "#dddddd"

set output "$docs/perf-syscalls.$fmt"
set title "System calls to daemonize sleep 0, by RLIMIT_NOFILE (strace -f -c)"
set logscale xy
set xlabel "RLIMIT_NOFILE (soft limit)"
set ylabel "system calls (launcher and daemon)"
plot for [i=2:$((ntools + 1))] "$tmp/syscalls.dat" using 1:i with linespoints lw 2 pt 7 title columnhead(i)
unset logscale

set output "$docs/perf-walltime.$fmt"
set title "Wall time until the launcher returns (hyperfine -N, each run)"
set xlabel ""
set ylabel "milliseconds"
set logscale y
set style data boxplot
set style boxplot outliers pointtype 7
set style fill solid 0.3
set boxwidth 0.5
set pointsize 0.4
set xtics ($(sed 's/, $//' "$tmp/walltime.names")) rotate by -30
set xrange [0.5:$nwall + 0.5]
unset key
plot "$tmp/walltime.dat" using (\$1):2 with points pt 7 ps 0.3 lc rgb "#999999" notitle, \
     for [i=1:$nwall] "$tmp/walltime.dat" using (i):(\$1 == i ? \$2 : NaN) with boxplot lc i notitle
unset logscale
unset xrange
set key outside right top

set output "$docs/perf-footprint.$fmt"
set title "Idle supervisors and inits, each supervising sleep (/proc/PID/smaps_rollup)"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -30
set xtics auto
set ylabel "kB"
set logscale y
plot "$raw/footprint.tsv" using 2:xtic(1) title "RSS", "" using 3 title "PSS"
GP
echo "plot: wrote $docs/perf-syscalls.$fmt $docs/perf-walltime.$fmt $docs/perf-footprint.$fmt"
