#!/usr/bin/env bash
# Build the Debian packages (welld, libwelld-dev) from a copy of this tree,
# lint them, install them, use them (welld --version, a start and a stop),
# purge them and check that nothing they installed is left behind.
# Needs root (dpkg -i) and the packages scripts/deps.sh installs.
# WELLD_PACKAGE_KEEP=DIR: copy the .deb files there before cleaning up.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'package.sh: %s\n' "$*"; }
fail() { printf 'package.sh: FAIL: %s\n' "$*" >&2; exit 1; }
packages=(welld libwelld-dev)

for p in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "installed"; then
    fail "$p is already installed here; remove it first (this script installs and purges its own build)"
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/welld-package.XXXXXX")
installed=0
cleanup() {
  if ((installed)); then dpkg --purge "${packages[@]}" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A copy of the tree (tracked and new files, not ignored build dirs), so that
# dpkg-buildpackage's ../*.deb land in the temporary directory.
src=$work/welld-0.1.0
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents -P {} "$src" 2>/dev/null || \
  git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$src"
export WELLD_COMMIT
WELLD_COMMIT=$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)

start=$SECONDS
say "dpkg-buildpackage -us -uc -b (commit $WELLD_COMMIT)"
(cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc) nocheck" dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) || {
  tail -40 "$work/build.log" >&2
  fail "dpkg-buildpackage failed (log above)"
}
changes=$(ls "$work"/*.changes)
say "built in $((SECONDS - start))s"
say "lintian (errors and warnings fail)"
lintian --fail-on error,warning --info --display-info "$changes" | tee "$work/lintian.log" || fail "lintian"

say "install"
installed=1
debs=("$work"/welld_*.deb "$work"/libwelld-dev_*.deb)
dpkg -i "${debs[@]}" >/dev/null
if [[ -n ${WELLD_PACKAGE_KEEP:-} ]]; then cp "${debs[@]}" "$WELLD_PACKAGE_KEEP"/; fi
files=()
for p in "${packages[@]}"; do
  while IFS= read -r f; do [[ -f $f || -L $f ]] && files+=("$f"); done < <(dpkg -L "$p")
done

say "use"
version=$(/usr/bin/welld --version)
[[ $version == "welld 0.1.0 (commit $WELLD_COMMIT)" ]] || fail "welld --version said: $version"
MANPAGER=cat man welld | grep -q "welld - run programs" || fail "man welld"
pidfile=$work/sleep.pid
/usr/bin/welld start -p "$pidfile" -- /bin/sleep 1000
pid=$(cat "$pidfile")
[[ -d /proc/$pid ]] || fail "the started daemon $pid is not running"
/usr/bin/welld status -p "$pidfile" >/dev/null || fail "welld status after start"
/usr/bin/welld stop -p "$pidfile" >/dev/null || fail "welld stop"
# Gone, or a zombie its new parent has not reaped yet (stop waited for its exit).
state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1) || true
[[ -z $state || $state == Z ]] || fail "welld stop left $pid running (state $state)"
# welld-static: the same CLI, fully static, and its man page is welld(1)'s.
[[ $(/usr/bin/welld-static --version) == "$version" ]] || fail "welld-static --version differs from welld's"
! readelf -l /usr/bin/welld-static | grep -q INTERP || fail "welld-static has an interpreter (not static)"
MANPAGER="cat" man welld-static | grep -q "welld - run programs" || fail "man welld-static"
pkg-config --exists welld welld-daemonize || fail "pkg-config does not find welld"

say "remove and purge"
dpkg --remove "${packages[@]}" >/dev/null
dpkg --purge "${packages[@]}" >/dev/null 2>&1  # removed already: nothing but the records to purge
installed=0
for p in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv "not-installed"; then fail "$p still known to dpkg"; fi
done
left=()
for f in "${files[@]}"; do [[ -e $f || -L $f ]] && left+=("$f"); done
((${#left[@]} == 0)) || fail "left behind: ${left[*]}"
say "ok: ${#files[@]} files installed, none left; lintian info tags:"
grep -E '^[IP]: ' "$work/lintian.log" | sed 's/^/  /' || echo "  (none)"
