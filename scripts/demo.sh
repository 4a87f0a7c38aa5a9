#!/usr/bin/env bash
# The demo (the README's first command): build welld, then show a daemon that
# is started only once it is up, controlled safely, and audited.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
build=${WELLD_BUILD_DIR:-build-release}
echo "== building (cmake, Release)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
welld=$build/tools/welld/welld
simpleservice=$build/examples/simpleservice/simpleservice
run=$(mktemp -d /tmp/welld-demo-XXXXXX)
trap 'for f in hello web; do "$welld" stop -p "$run/$f.pid" >/dev/null 2>&1 || true; done; rm -rf "$run"' EXIT

step() { printf '\n$ %s\n' "$*"; "$@"; }

echo
echo "== 1. the library: simpleservice daemonizes itself through welld::daemonize"
step "$simpleservice" -D --pidfile "$run/lib.pid" --log "$run/lib.log"
echo "(returned only once the daemon was initialized; its PID file is already there)"
step cat "$run/lib.pid"
pid=$(cat "$run/lib.pid")
step grep -E '^(PPid|SigBlk|SigIgn|Umask)' "/proc/$pid/status"
step kill "$pid"
for _ in $(seq 100); do [ -e "/proc/$pid" ] || break; sleep 0.01; done
step cat "$run/lib.log"
[ -e "$run/lib.pid" ] && echo "PID file left behind!" || echo "(PID file removed by the daemon on exit)"

echo
echo "== 2. the CLI: any program as a daemon, controlled by its PID file"
step "$welld" start -p "$run/hello.pid" --output "$run/hello.log" -- "$(realpath "$simpleservice")"
step "$welld" status -p "$run/hello.pid"
step "$welld" reload -p "$run/hello.pid"
step "$welld" start -p "$run/hello.pid" -- "$(realpath "$simpleservice")" || echo "(exit $?: a second instance is refused)"
sleep 1.2
step tail -n 3 "$run/hello.log"
step "$welld" audit -p "$run/hello.pid"
step "$welld" stop -p "$run/hello.pid"
step "$welld" status -p "$run/hello.pid" || echo "(exit $?: LSB 'not running')"

echo
echo "== 3. readiness and socket activation: the webapp on a privileged port, as nobody"
webapp=$(realpath "$build/examples/webapp/webapp")
cp "$webapp" "$run/webapp" && chmod 755 "$run" && webapp=$run/webapp
echo "Hello from the welld demo" >"$run/message"
chmod 644 "$run/message"
step "$welld" start -p "$run/web.pid" --ready=notify --listen tcp:127.0.0.1:8080 --user nobody \
  --output "$run/web.log" --env MESSAGE_FILE="$run/message" -- "$webapp"
echo "(start returned: the server is already answering)"
step curl -s http://127.0.0.1:8080/
step "$welld" status -p "$run/web.pid"
step "$welld" audit -p "$run/web.pid"
step "$welld" stop -p "$run/web.pid"
step cat "$run/web.log"
echo
echo "demo done."
