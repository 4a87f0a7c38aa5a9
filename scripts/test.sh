#!/usr/bin/env bash
# Build welld and run the whole test suite (the README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
build=${WELLD_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWELLD_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 600
