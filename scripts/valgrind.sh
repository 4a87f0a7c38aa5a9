#!/usr/bin/env bash
# Run the library's tests under valgrind (memcheck): any invalid access, use of
# uninitialised memory or definite leak fails the run. Uses the normal build
# tree of scripts/test.sh (built here when missing); not sanitized, as valgrind
# and the sanitizers do not mix.
#
#   scripts/valgrind.sh [TEST_BINARY...]    default: the library's tests (tests/unit)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
if ! command -v valgrind >/dev/null; then
  echo "valgrind: installing valgrind"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
fi
build=${WELLD_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWELLD_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

tests=("$@")
if ((${#tests[@]} == 0)); then
  tests=(step_test fds_test signals_test environment_test pidfile_test daemon_test daemon_plan_test spawn_clone_test spawn_foreground_test after_fork_test c_api_test)
fi
# Forked children (the daemons of daemon_test) run under valgrind too; their
# reports are kept quiet (--child-silent-after-fork), as a daemon that ends with
# _exit leaves the parent's allocations behind by design.
# --fair-sched=yes: valgrind runs one thread at a time, and its default lock
# lets a spinning thread (SpawnDaemon's busy thread) starve the others forever.
opts=(--tool=memcheck --fair-sched=yes --suppressions=scripts/valgrind.supp --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
      --show-leak-kinds=definite --track-origins=yes --child-silent-after-fork=yes --quiet)
failed=()
for name in "${tests[@]}"; do
  bin=$build/tests/unit/$name
  [ -x "$bin" ] || bin=$build/tests/integration/$name
  [ -x "$bin" ] || { echo "valgrind: no test binary $bin" >&2; exit 2; }
  start=$SECONDS
  if valgrind "${opts[@]}" --log-file="$build/valgrind-$name.log" "$bin" >"$build/valgrind-$name.out" 2>&1; then
    echo "valgrind: $name clean ($((SECONDS - start)) s)"
  else
    rc=$?
    echo "valgrind: $name FAILED (exit $rc); see $build/valgrind-$name.log and .out" >&2
    # The CI log is often all there is: show the failed assertions and
    # valgrind's own report.
    grep -E -B2 -A8 '(Failure|FAILED|Expected|Which is)' "$build/valgrind-$name.out" | head -80 >&2 || true
    head -60 "$build/valgrind-$name.log" >&2 || true
    failed+=("$name")
  fi
done
if ((${#failed[@]})); then
  echo "valgrind: failed: ${failed[*]}" >&2
  exit 1
fi
echo "valgrind: ${#tests[@]} test programs clean"
