#!/usr/bin/env bash
# Build welld and run the whole test suite (the README's test command):
#   1. the suite, normal build;
#   2. the suite again, built with AddressSanitizer and UndefinedBehaviorSanitizer;
#   3. the static checks (clang-format, clang-tidy: scripts/lint.sh);
#   4. the library's tests under valgrind (scripts/valgrind.sh);
#   5. the Debian package: build, lintian, install, use, purge (scripts/package.sh).
# Any failure stops the run with a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)
stage() { printf '\n== test.sh: %s (at %d s)\n' "$*" "$SECONDS"; }

# Line tables only (-g1): a failure's backtrace still names files and lines,
# and the builds take less time (full -g costs a fifth more for the suite, and
# with the sanitizers at -O2 over twice as much as at -O1).
flags=(-DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG")
asan_flags=(-DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG")

stage "build and run the suite"
build=${WELLD_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWELLD_WERROR=ON "${flags[@]}" >/dev/null
cmake --build "$build" -j"$jobs"
ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 600

stage "build and run the suite under ASan and UBSan"
asan=${WELLD_ASAN_BUILD_DIR:-build-asan}
cmake -S . -B "$asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWELLD_WERROR=ON "${asan_flags[@]}" \
  -DWELLD_SANITIZE=address,undefined >/dev/null
cmake --build "$asan" -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$asan" --output-on-failure -j"$jobs" --timeout 900

stage "static checks"
scripts/lint.sh

stage "the library's tests under valgrind"
scripts/valgrind.sh

stage "the Debian package"
scripts/package.sh

stage "all passed"
