#!/usr/bin/env bash
# Static checks: clang-format (no change wanted) over every tracked C/C++ file
# and clang-tidy (no finding) over every translation unit the build compiles.
# Exits non-zero on any finding.
#
#   scripts/lint.sh            both checks
#   scripts/lint.sh format     clang-format only
#   scripts/lint.sh tidy       clang-tidy only
#
# WELLD_LINT_BUILD_DIR (default build-lint) holds the compile_commands.json;
# WELLD_LINT_JOBS (default nproc) bounds the parallel clang-tidy processes.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
case $what in
  all | format | tidy) ;;
  *) echo "usage: scripts/lint.sh [format|tidy]" >&2; exit 2 ;;
esac

scripts/deps.sh
missing=()
for p in clang-format-14 clang-tidy-14; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "lint: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

status=0

if [[ $what != tidy ]]; then
  echo "== clang-format-14 --dry-run --Werror"
  # Tracked files only: nothing generated, nothing in a build tree.
  if git ls-files -z -- '*.c' '*.h' '*.cc' '*.cpp' '*.hpp' | xargs -0 clang-format-14 --dry-run --Werror; then
    echo "clang-format: clean"
  else
    echo "clang-format: files differ from .clang-format (fix: clang-format-14 -i FILE...)" >&2
    status=1
  fi
fi

if [[ $what != format ]]; then
  echo "== clang-tidy-14"
  build=${WELLD_LINT_BUILD_DIR:-build-lint}
  jobs=${WELLD_LINT_JOBS:-$(nproc)}
  # Configure only: clang-tidy needs compile_commands.json, not a build. The
  # benchmarks are enabled so that bench/ is checked too.
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
    -DWELLD_BUILD_BENCH=ON >/dev/null
  # Every translation unit of the project's own directories (the regexes are
  # matched against the absolute paths in compile_commands.json).
  root=$(pwd -P)
  files=()
  for dir in src tools examples tests bench fuzz; do files+=("^$root/$dir/"); done
  if run-clang-tidy-14 -quiet -p "$build" -j "$jobs" "${files[@]}" >"$build/clang-tidy.log" 2>&1; then
    echo "clang-tidy: clean"
  else
    # Findings only (the log also holds each command line and clang's summaries).
    sed 's/\x1b\[[0-9;]*m//g' "$build/clang-tidy.log" | grep -E '(warning|error):' | sort -u >&2 ||
      cat "$build/clang-tidy.log" >&2
    echo "clang-tidy: findings above (full log: $build/clang-tidy.log)" >&2
    status=1
  fi
fi

exit "$status"
