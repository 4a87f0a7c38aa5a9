#!/usr/bin/env bash
# Run the library's tests under valgrind (memcheck): any invalid access, use of
# uninitialised memory or definite leak fails the run. Uses the normal build
# tree of scripts/test.sh (built here when missing); not sanitized, as valgrind
# and the sanitizers do not mix.
#
#   scripts/valgrind.sh [TEST_BINARY...]    default: the library's tests
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
  tests=(step_test fds_test signals_test environment_test pidfile_test daemon_test c_api_test)
fi
# Forked children (the daemons of daemon_test) run under valgrind too; their
# reports are kept quiet (--child-silent-after-fork), as a daemon that ends with
# _exit leaves the parent's allocations behind by design.
opts=(--tool=memcheck --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
      --show-leak-kinds=definite --track-origins=yes --child-silent-after-fork=yes --quiet)
failed=()
for name in "${tests[@]}"; do
  bin=$build/tests/$name
  [ -x "$bin" ] || { echo "valgrind: no test binary $bin" >&2; exit 2; }
  start=$SECONDS
  if valgrind "${opts[@]}" --log-file="$build/valgrind-$name.log" "$bin" >"$build/valgrind-$name.out" 2>&1; then
    echo "valgrind: $name clean ($((SECONDS - start)) s)"
  else
    echo "valgrind: $name FAILED (exit $?); see $build/valgrind-$name.log and .out" >&2
    failed+=("$name")
  fi
done
if ((${#failed[@]})); then
  echo "valgrind: failed: ${failed[*]}" >&2
  exit 1
fi
echo "valgrind: ${#tests[@]} test programs clean"
