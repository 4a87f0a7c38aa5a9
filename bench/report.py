#!/usr/bin/python3
"""Turn the raw results of bench/run (a directory) into docs/PERFORMANCE.md on stdout."""
import json
import statistics
import sys
from pathlib import Path

out = Path(sys.argv[1])
LABEL = {
    "welld": "welld start",
    "daemon3": "glibc daemon(3) + PID file + exec",
    "start-stop-daemon": "start-stop-daemon --background --make-pidfile",
    "daemonize": "daemonize -p",
    "daemon": "daemon (libslack) --pidfile",
    "python-daemon": "python-daemon DaemonContext",
}


def read_tsv(name):
    path = out / name
    return [line.split("\t") for line in path.read_text().splitlines() if line] if path.exists() else []


def numbers(name):
    path = out / name
    return [float(x) for x in path.read_text().split()] if path.exists() else []


def stats_row(values):
    return statistics.median(values), min(values), max(values)


def verdict(ok):
    return "**met**" if ok else "**missed**"


STARTUP_LABEL = {
    "true": "/bin/true",
    "cxx-runtime": "empty C++ program with `<iostream>` (bench/cxx_runtime.cpp), linked like welld",
    "welld-startup": "welld status -p ABSENT",
    "welld-static-startup": "welld-static status -p ABSENT",
    "ssd-status": "start-stop-daemon --status --pidfile ABSENT",
}


def startup_table(ref):
    """Section 2's start-up comparison: one hyperfine run, medians in ms."""
    if "ssd-status" not in ref:
        return
    true_ms, ssd_ms = ref["true"], ref["ssd-status"]
    print("\nStart-up side by side, one hyperfine -N run (100 runs each), medians:\n")
    print("| program | median (ms) | over /bin/true (ms) | ratio to start-stop-daemon |\n|---|---|---|---|")
    for key, label in STARTUP_LABEL.items():
        if key in ref:
            print(f"| {label} | {ref[key]:.3f} | {ref[key] - true_ms:+.3f} | {ref[key] / ssd_ms:.2f} |")
    w = ref["welld-startup"]
    print(f"\nTarget: `welld status` median ≤ start-stop-daemon's: {w:.3f} ms vs {ssd_ms:.3f} ms, {verdict(w <= ssd_ms)}.")
    if "welld-static-startup" in ref:
        st = ref["welld-static-startup"]
        print(f"welld-static's: {st:.3f} ms, {verdict(st <= ssd_ms)}.")
    print()


def statuses_table():
    """Section 2's sequential statuses (bench/repeat.c) of one running daemon, ms per sequence."""
    path = out / "walltime-statuses.json"
    if not path.exists():
        return
    res = {r["command"]: statistics.median(r["times"]) * 1000 for r in json.loads(path.read_text())["results"]}
    print("Sequential statuses of one running daemon, N in a row with no shell between them (bench/repeat.c),")
    print("one hyperfine -N run, median total milliseconds:\n")
    print("| statuses | welld | welld-static | start-stop-daemon | welld / ssd |\n|---|---|---|---|---|")
    lines = []
    for n in (200, 1000):
        w, st, ssd = res.get(f"welld-{n}"), res.get(f"welld-static-{n}"), res.get(f"ssd-{n}")
        if w is None or ssd is None:
            continue
        static_cell = f"{st:.0f}" if st is not None else "—"
        print(f"| {n} | {w:.0f} | {static_cell} | {ssd:.0f} | {w / ssd:.2f} |")
        lines.append(f"{n} statuses ≤ start-stop-daemon's total: {w:.0f} ms vs {ssd:.0f} ms, {verdict(w <= ssd)}")
    if lines:
        print("\nTargets: " + "; ".join(lines) + ".\n")


def usable_section():
    """Section 3b: from invoking the launcher to the service's first answer."""
    rows = [r for r in read_tsv("usable.tsv") if len(r) == 4 and r[2]]
    if not rows:
        return
    label = dict(LABEL)
    label["welld-tcp"] = "welld start --ready=tcp"
    label["welld-notify"] = "welld start --ready=notify"
    groups = {}
    for case, interval, us, attempts in rows:
        groups.setdefault((case, int(interval)), []).append((float(us) / 1000, int(attempts)))
    print("## 3b. Time until the service is usable\n")
    print("From invoking the launcher until the service answers its first request (connect to")
    print("127.0.0.1, read its answer), bench/usable_after.c, no shell in the timing. The service")
    print("(`timed_service listen`) listens 50 ms after its exec. welld returns once the service is")
    print("ready, then one request; each peer returns early and is followed by a request every 10 ms")
    print("(what scripts do) or, in the best case, every 1 ms. Milliseconds.\n")
    print("| launcher | retry every | runs | median | min | max | requests tried (median) |")
    print("|---|---|---|---|---|---|---|")
    med = {}
    for (case, interval), vals in groups.items():
        ms = [v[0] for v in vals]
        med[(case, interval)] = statistics.median(ms)
        lo, hi = min(ms), max(ms)
        tries = statistics.median([v[1] for v in vals])
        print(f"| {label.get(case, case)} | {interval / 1000:g} ms | {len(ms)} | {med[(case, interval)]:.2f} | "
              f"{lo:.2f} | {hi:.2f} | {tries:g} |")
    peers = {k: v for k, v in med.items() if not k[0].startswith("welld")}
    if peers:
        best_key = min(peers, key=peers.get)
        best = f"{label.get(best_key[0], best_key[0])} every {best_key[1] / 1000:g} ms, {peers[best_key]:.2f} ms"
        for case in ("welld-tcp", "welld-notify"):
            mine = [v for k, v in med.items() if k[0] == case]
            if mine:
                print(f"\nTarget: {label[case]} ≤ every peer: {mine[0]:.2f} ms vs the best peer ({best}), "
                      f"{verdict(mine[0] <= peers[best_key])}.", end="")
        print("\n")


print("# Performance\n")
print("Generated by `bash bench/run` (see the README); do not edit by hand. Raw data stays in a")
print("temporary directory named at the end of the run.\n")
print("## Machine and versions\n")
print("```")
print((out / "machine.txt").read_text().rstrip())
print("```\n")

# 1. system calls
rows = read_tsv("syscalls.tsv")
limits = sorted({int(r[0]) for r in rows})
calls = {(int(r[0]), r[1]): int(r[2]) for r in rows if r[2].isdigit()}
print("## 1. System calls to daemonize `sleep`\n")
print("`strace -f -c` over the whole run of the launcher, its children and `sleep 0` (the same")
print("program for every tool, so its own calls are a common offset), with a PID file.\n")
print("| launcher | " + " | ".join(f"RLIMIT_NOFILE={l}" for l in limits) + " | ratio to welld (at 1024) |")
print("|---|" + "---|" * (len(limits) + 1))
tools = list(LABEL)
base = 1024 if 1024 in limits else limits[0]
for tool in tools:
    vals = [calls.get((l, tool)) for l in limits]
    ratio = calls[(base, tool)] / calls[(base, "welld")] if calls.get((base, tool)) else float("nan")
    print(f"| {LABEL[tool]} | " + " | ".join(str(v) for v in vals) + f" | {ratio:.2f} |")
w = [calls[(l, "welld")] for l in limits]
d3 = calls[(base, "daemon3")]
same = max(w) - min(w) <= 0.02 * min(w)
print("\n![System calls against RLIMIT_NOFILE](perf-syscalls.svg)")
print(f"\nTargets: welld's count is the same at every limit (±2%): {min(w)} to {max(w)}, {verdict(same)};")
wb = calls[(base, "welld")]
print(f"at most 1.5× the daemon(3) program's (at {base}): {wb} / {d3} = {wb / d3:.2f}×, {verdict(wb <= 1.5 * d3)}.\n")

# 2. wall time
print("## 2. Wall time until the launcher returns\n")
print("![Wall-time distribution of each launcher](perf-walltime.svg)\n")
print("hyperfine, 3 warm-up runs and 30 timed runs each, daemonizing `sleep 1000`; the previous")
print("daemon is killed through its PID file outside the timing. Milliseconds.\n")
data = json.loads((out / "walltime.json").read_text())["results"]
by = {r["command"]: r for r in data}
wmed = statistics.median(by["welld"]["times"]) * 1000
print("| launcher | median | min | max | ratio to welld |")
print("|---|---|---|---|---|")
for tool in tools:
    t = [x * 1000 for x in by[tool]["times"]]
    med, lo, hi = stats_row(t)
    print(f"| {LABEL[tool]} | {med:.2f} | {lo:.2f} | {hi:.2f} | {med / wmed:.2f} |")
peers = [statistics.median(by[t]["times"]) * 1000 for t in tools if t != "welld"]
chain_file = out / "walltime-chain.json"
if chain_file.exists():
    chain_med = statistics.median(json.loads(chain_file.read_text())["results"][0]["times"]) * 1000
    print(f"\nTarget (issue 20): welld's median ≤ 1.15 × exec_chain's (the same critical path in C, below):"
          f" {wmed:.2f} ms vs {chain_med:.2f} ms = {wmed / chain_med:.2f}×, {verdict(wmed <= 1.15 * chain_med)}."
          " The peers that return right after their first fork report nothing of what follows it; the fastest"
          f" peer's median, {min(peers):.2f} ms, is shown for reference, not as a target.\n")
ref_file = out / "walltime-ref.json"
if ref_file.exists():
    ref = {r["command"]: statistics.median(r["times"]) * 1000 for r in json.loads(ref_file.read_text())["results"]}
    true_ms, startup_ms = ref["true"], ref["welld-startup"]
    d3_ms = statistics.median(by["daemon3"]["times"]) * 1000
    print("Where the time goes (medians of the same run, milliseconds): starting any process and")
    print(f"letting it exit (`/bin/true`) costs {true_ms:.2f}; welld's own start-up (`welld status` of")
    print(f"an absent PID file: loader, C++ runtime, command line) {startup_ms:.2f}, that is "
          f"{startup_ms - true_ms:+.2f} over `/bin/true`.")
    if "cxx-runtime" in ref:
        cxx_ms = ref["cxx-runtime"]
        print("An empty C++ program that includes `<iostream>` (as CLI11 does), linked like welld, takes")
        print(f"{cxx_ms:.2f} ({cxx_ms - true_ms:+.2f} over `/bin/true`): the C++ runtime's start-up alone"
              + (", longer than the fastest peer's whole run." if cxx_ms > min(peers) else "."))
    print(f"`welld start` then spends {wmed - startup_ms:.2f} more: the fifteen steps, the PID file and the")
    print("daemon's exec of the program, which welld waits for so that it can report a failed step or")
    print(f"exec with its errno. The daemon(3) program returns right after its first fork "
          f"({d3_ms - true_ms:+.2f} over `/bin/true`):")
    print("its steps, PID file and exec happen after it returned, and their failures go unreported.")
    if chain_file.exists():
        chain_ms = statistics.median(json.loads(chain_file.read_text())["results"][0]["times"]) * 1000
        print("A minimal C launcher that does only welld's critical path (bench/exec_chain.c: clone,")
        print("setsid, clone, PID file, exec, wait for the exec; no other step, no C++ runtime, no command")
        print(f"line) takes {chain_ms:.2f} ({chain_ms - true_ms:+.2f} over `/bin/true`)"
              + (": even this lower bound for a launcher" if chain_ms > min(peers) else "."))
        if chain_ms > min(peers):
            print("that reports a failed exec is slower than the fastest peer.")
    print()

    startup_table(ref)
statuses_table()

# 3. readiness
ready = numbers("ready.txt")
print("## 3. Readiness latency (`--ready=notify`)\n")
if ready:
    med, lo, hi = stats_row(ready)
    print("From the daemon's timestamp just before it sends READY=1 to `welld start` returning")
    print(f"(CLOCK_MONOTONIC), {len(ready)} runs, microseconds.\n")
    print("| | median | min | max |\n|---|---|---|---|")
    print(f"| welld start --ready=notify | {med:.1f} | {lo:.1f} | {hi:.1f} |")
    print(f"\nTarget: median < 1 ms: {verdict(med < 1000)}.\n")
else:
    print("Not measured: this build of welld has no `--ready` option.\n")

usable_section()

# 4. stop
sw, ss = numbers("stop_welld.txt"), numbers("stop_ssd.txt")
print("## 4. Stop latency\n")
print("From the daemon's exit (timestamped in its SIGTERM handler, which exits at once) to the")
print(f"stopper returning, {len(sw)} runs each, microseconds.\n")
print("| stopper | median | min | max | ratio to welld |\n|---|---|---|---|---|")
wm = statistics.median(sw)
for name, vals in (("welld stop", sw), ("start-stop-daemon --stop --retry TERM/10", ss)):
    med, lo, hi = stats_row(vals)
    print(f"| {name} | {med:.1f} | {lo:.1f} | {hi:.1f} | {med / wm:.2f} |")
sleeps = (out / "stop_sleeps.txt").read_text().strip()
polls = (out / "stop_polls.txt").read_text().strip()
print(f"\nTarget: median < 5 ms: {verdict(wm < 5000)}. `strace -f welld stop` shows {sleeps} sleep calls")
print(f"(nanosleep, clock_nanosleep, select, pause) and {polls} poll on the pidfd: {verdict(sleeps == '0')}.\n")

# 5. scale
scale_rows = read_tsv("scale.tsv")
scale_n = scale_rows[0][4] if scale_rows and len(scale_rows[0]) > 4 else "200"
print(f"## 5. Scale: {scale_n} daemons with distinct PID files\n")
print("Total milliseconds per phase, sequential (a bash loop: its fork and exec are in every row).\n")
print("| tool | start all | status all | stop all |\n|---|---|---|---|")
phases = {}
for row in scale_rows:
    phases[row[0]] = [int(x) for x in row[1:4]]
    print(f"| {row[0]} | {row[1]} | {row[2]} | {row[3]} |")
if "welld" in phases and "start-stop-daemon" in phases:
    w, ssd = phases["welld"], phases["start-stop-daemon"]
    parts = [f"{name} {a} ms vs {b} ms, {verdict(a <= b)}" for name, a, b in zip(("start", "status", "stop"), w, ssd)]
    print(f"\nTargets: each phase ≤ start-stop-daemon's: " + "; ".join(parts) + ".")
print()

# 6. memory
print("## 6. Memory\n")
print("Peak resident set of the launcher and of the processes it reaped (wait4's")
print("ru_maxrss; the launcher is started with posix_spawn), KiB. welld creates its daemon the")
print("way posix_spawn creates a child (clone with CLONE_VM | CLONE_VFORK): until its exec the daemon")
print("runs the fifteen steps in welld's own memory, allocating nothing, so it has no resident set")
print("of its own before it becomes the program.\n")
mem = dict(read_tsv("memory.tsv"))
print("| launcher | peak RSS (KiB) | ratio to welld |\n|---|---|---|")
for tool in tools:
    print(f"| {LABEL[tool]} | {mem[tool]} | {int(mem[tool]) / int(mem['welld']):.2f} |")
print()

# 7. footprints
print("## 7. Supervisor and init footprints\n")
print("Each supervisor or init supervising `sleep 1000`, idle: RSS and PSS of the supervising")
print("process (/proc/PID/smaps_rollup) and its context switches over 10 s idle. welld has no")
print("resident process of its own after `welld start` returns, so it has no row here.\n")
print("| supervisor | RSS (KiB) | PSS (KiB) | context switches in 10 s idle |\n|---|---|---|---|")
for tool, rss, pss, sw in read_tsv("footprint.tsv"):
    print(f"| {tool} | {rss} | {pss} | {sw} |")
print("\n![Supervisor and init footprints](perf-footprint.svg)\n")

# 7b. inits side by side (bench/init.sh)
INIT_ROWS = read_tsv("init.tsv")
if INIT_ROWS:
    print("## 7b. Container inits: welld run beside tini, tini-static, dumb-init and catatonit\n")
    print("Each init as PID 1 of a PID namespace of its own (`unshare --pid --fork --mount-proc`), as in a")
    print("container (`bash bench/init.sh`; the timed parts are bench/init_bench.c). RSS and PSS: the idle")
    print("init with one sleeping child; wake-ups: its context switches over 10 s idle; signal latency:")
    print("SIGUSR1 sent to the init until its child stamps it, 1000 rounds; reap: 1000 orphans adopted by")
    print("the init end together, until the last one is reaped (seen by a /proc scan from inside, whose")
    print("own cost is in every figure); exec: from the init's exec to its child's (not PID 1), minus the")
    print("child's own start.\n")
    print("| init | RSS (KiB) | PSS (KiB) | wake-ups in 10 s idle | signal latency median / p90 (µs) "
          "| reap 1000 orphans (ms) | exec to child's exec (µs) |")
    print("|---|---|---|---|---|---|---|")
    for row in INIT_ROWS:
        if row[0] == "none":
            continue
        name, rss, pss, wakeups, median, p90, reap, exec_us = row
        print(f"| {name} | {rss} | {pss} | {wakeups} | {median} / {p90} | {reap} | {exec_us} |")
    print()

# 8. micro
print("## 8. Micro-benchmarks (Google Benchmark)\n")
micro = json.loads((out / "micro.json").read_text())["benchmarks"]
print("| benchmark | time per iteration |\n|---|---|")
for b in micro:
    unit = b.get("time_unit", "ns")
    print(f"| {b['name']} | {b['real_time']:.0f} {unit} |")
print("\n`BM_CloseFds_*/N` close N open fds (the benchmark's own fds are kept);")
print("the bounded loop pays for every possible fd up to RLIMIT_NOFILE whatever N is.\n")

# 9. supervision side by side
SUP_LABEL = {
    "welld": "welld start --respawn",
    "welld-static": "welld-static start --respawn",
    "s6-supervise": "s6-supervise (+ s6-log)",
    "runsv": "runsv (+ svlogd)",
    "daemon": "daemon (libslack) --respawn",
    "supervisord": "supervisord",
    "welld-before": "welld start --respawn (the BENCH_WELLD_BEFORE build)",
    "respawn-loop": "respawn_loop (floor: spawn, wait, spawn again)",
}
SUP_FLOOR = {
    "welld": "--restart-delay 0 --restart-limit 100000/1s",
    "welld-static": "the same",
    "s6-supervise": "s6-supervise waits until 1 s after the previous start (no option)",
    "runsv": "runsv waits until 1 s after the previous start (no option)",
    "daemon": "--idiot --acceptable=0 --delay=0",
    "supervisord": "startsecs=0 autorestart=true; a restart waits for its main loop's 1 s poll timeout",
    "welld-before": "as welld",
    "respawn-loop": "posix_spawn, waitpid, again: no decision, state, log or daemon(7) step; the floor of any supervisor here",
}


def scale_section():
    """Section 9's memory of many supervised services (bench/supervise.sh, part scale)."""
    rows = read_tsv("supervise_scale.tsv")
    if not rows:
        return
    print(f"### Memory of {rows[0][1]} supervised services\n")
    print(f"{rows[0][1]} supervisors of one kind at once, each supervising `sleep 1000`: PSS and RSS of")
    print("the supervising processes summed (/proc/PID/smaps_rollup; the sleeps not counted). PSS shares")
    print("each shared page among the processes that map it, so it is the memory the set costs.\n")
    print("| supervisor | services | PSS total (MiB) | PSS per service (KiB) | RSS total (MiB) |")
    print("|---|---|---|---|---|")
    pss = {}
    label = {"welld": "welld start --respawn", "s6-supervise": "s6-supervise", "runsv": "runsv"}
    for tool, count, p, r in rows:
        pss[tool] = int(p)
        print(f"| {label.get(tool, tool)} | {count} | {int(p) / 1024:.1f} | {int(p) / int(count):.0f} | "
              f"{int(r) / 1024:.1f} |")
    peers = {t: v for t, v in pss.items() if t in ("s6-supervise", "runsv")}
    if "welld" in pss and peers:
        best = min(peers, key=peers.get)
        print(f"\nTarget: welld's total PSS ≤ every peer's: {pss['welld'] / 1024:.1f} MiB vs {best}'s "
              f"{peers[best] / 1024:.1f} MiB, {verdict(pss['welld'] <= peers[best])}.")
    print()


idle_rows = read_tsv("supervise_idle.tsv")
if idle_rows:
    print("## 9. Supervision side by side\n")
    print("`bench/supervise.sh`: welld's supervisor (`welld start --respawn`) and the supervisors of")
    print("s6, runit, libslack daemon and supervisord, each supervising the same program")
    print("(bench/supervised_child.c), measured from the outside: no supervisor is instrumented.\n")
    print("### Idle cost\n")
    print("All at once, each supervising `sleep 1000`: RSS and PSS of the supervising process")
    print("(/proc/PID/smaps_rollup; loggers not included) and its voluntary + nonvoluntary context")
    print("switches (/proc/PID/status) over the idle window. welld's supervisor is the welld binary")
    print("itself (`/proc/self/exe supervise`), with libc and the loader shared (their pages count")
    print("fully in RSS, barely in PSS); welld-static's is the static build (docs/welld.md, Static")
    print("build): the same code, nothing mapped but its own file, linked with --gc-sections, its")
    print("libc's pages its own (RSS and PSS alike). What stays resident is mostly the code that ran")
    print("after the start: once its first start is over, each supervisor returns its free heap")
    print("(malloc_trim) and drops its clean read-only file pages (welld/memory.hpp; ~1.8 MB of")
    print("code touched once by option parsing and the start), and what it then runs on its way to")
    print("poll(2) comes back 64 KiB at a time (the kernel's fault-around). The rest: the heap (the")
    print("parsed command line), the stack, and relocated read-only data.\n")
    print("| supervisor | RSS (KiB) | PSS (KiB) | context switches idle |\n|---|---|---|---|")
    idle = {}
    for tool, rss, pss, sw in idle_rows:
        idle[tool] = (int(rss), int(pss), int(sw))
        print(f"| {SUP_LABEL.get(tool, tool)} | {rss} | {pss} | {sw} |")
    if "welld" in idle and "s6-supervise" in idle:
        w, s6 = idle["welld"], idle["s6-supervise"]
        print(f"\nTargets: welld's RSS and PSS ≤ s6-supervise's: {w[0]} / {w[1]} KiB vs {s6[0]} / {s6[1]} KiB, "
              f"{verdict(w[0] <= s6[0] and w[1] <= s6[1])}; zero wake-ups idle: {w[2]}, {verdict(w[2] == 0)}.")
        if "welld-static" in idle:
            st = idle["welld-static"]
            print(f"welld-static's: {st[0]} / {st[1]} KiB, {verdict(st[0] <= s6[0] and st[1] <= s6[1])}; "
                  f"zero wake-ups idle: {st[2]}, {verdict(st[2] == 0)}.")
        print()
    print("### Restart latency\n")
    print("The child stamps CLOCK_MONOTONIC first thing in main and again just before it appends both")
    print("to a file and exits; latency is the next child's first stamp minus the previous child's")
    print("last: exit, reaping, the supervisor's decision, fork and exec (s6 and runit also exec the")
    print("`run` script's /bin/sh). Each supervisor as fast as its own settings allow; milliseconds.\n")
    cpu = {row[0]: row[1] for row in read_tsv("supervise_restart_cpu.tsv")}
    print("| supervisor | restarts | median | p90 | max | CPU µs per start | settings, and what sets the floor |")
    print("|---|---|---|---|---|---|---|")
    for row in read_tsv("supervise_restart.tsv"):
        tool, vals = row[0], [float(x) / 1000 for x in row[1:]]
        if len(vals) < 2:
            print(f"| {SUP_LABEL.get(tool, tool)} | {len(vals)} | | | | {cpu.get(tool, '')} | {SUP_FLOOR.get(tool, '')} |")
            continue
        q = statistics.quantiles(vals, n=10, method="inclusive")
        print(f"| {SUP_LABEL.get(tool, tool)} | {len(vals)} | {statistics.median(vals):.2f} | {q[8]:.2f} | "
              f"{max(vals):.2f} | {cpu.get(tool, '')} | {SUP_FLOOR.get(tool, '')} |")
    print("\nEach supervisor gets up to the same number of restarts or the same time, whichever ends")
    print("first: those throttled to one start a second reach fewer restarts. The last row is no")
    print("supervisor: bench/respawn_loop.c spawns the program, waits for it and spawns it again, the")
    print("kernel's exit, wake-up, clone and exec and the program's dynamic loading and nothing else.")
    print("Its median is the floor of this machine. On a machine whose CPUs are busy, a restart's")
    print("latency is mostly the scheduler's: a scheduler trace (perf sched events) shows the new")
    print("child placed on, or moved at its exec to, the other CPU, where it waits for the running")
    print("task's tick (4 ms at HZ=250) before it runs; every row can pay that wait, some more often.")
    print("The supervising process's own CPU time per start (utime + stime over the run, its")
    print("start-up included) depends much less on the load: it is the figure to compare between builds.\n")
    restart = {row[0]: [float(x) / 1000 for x in row[1:]] for row in read_tsv("supervise_restart.tsv")}
    if len(restart.get("welld", [])) > 1:
        w = statistics.median(restart["welld"])
        line = f"Target: welld's median ≤ 1 ms: {w:.2f} ms, {verdict(w <= 1.0)}"
        if len(restart.get("respawn-loop", [])) > 1:
            line += f"; the floor's median {statistics.median(restart['respawn-loop']):.2f} ms"
        print(line + ".\n")
    scale_section()
    print("### Log throughput\n")
    print("The child writes numbered 100-byte lines to stdout as fast as it can (64 KiB writes);")
    print("each supervisor's logger writes them to files rotated at 16 MiB (welld `--log FILE")
    print("--log-max-size`, s6-log `s16777215` in a directory, svlogd `s16777216`, supervisord")
    print("`stdout_logfile_maxbytes`; libslack daemon `--output FILE` cannot rotate). From the child's")
    print("first stamp to the last byte in the files (polled every millisecond); then the files,")
    print("oldest first, are concatenated and their lines counted and checksummed against the")
    print("child's own output.\n")
    print("| supervisor | MB | seconds | MB/s | lines | checksum | files |\n|---|---|---|---|---|---|---|")
    mbps = {}
    for tool, nbytes, seconds, lines, ok, files in read_tsv("supervise_log.tsv"):
        mb = int(nbytes) / 1e6
        rate = f"{mb / float(seconds):.1f}" if seconds != "timeout" else "—"
        if seconds != "timeout" and ok == "yes":
            mbps[tool] = mb / float(seconds)
        print(f"| {SUP_LABEL.get(tool, tool)} | {mb:.0f} | {seconds} | {rate} | {lines} | "
              f"{'matches' if ok == 'yes' else '**differs**'} | {files} |")
    if "welld" in mbps:
        peers = [mbps[t] for t in ("s6-supervise", "runsv") if t in mbps]
        if peers:
            print(f"\nTarget: welld's throughput ≥ s6-log's and svlogd's: {mbps['welld']:.1f} MB/s vs "
                  f"{max(peers):.1f}, {verdict(mbps['welld'] >= max(peers))}.")
    print()

print("## Reproduce\n")
print("```sh\nbash bench/run    # as root; rewrites this file\n```")
