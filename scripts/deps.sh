#!/usr/bin/env bash
# Install the Debian packages welld needs to build and test, only when missing.
# pandoc: the man pages; zsh, fish: the completion tests; debhelper, lintian:
# the Debian package (scripts/package.sh).
set -euo pipefail
packages=(
  g++ cmake make pkg-config
  libcli11-dev libfmt-dev libmicrohttpd-dev libcap-dev
  googletest libgtest-dev libbenchmark-dev libsystemd-dev
  curl procps
  pandoc man-db groff-base bash-completion zsh fish
  debhelper dpkg-dev fakeroot lintian
  # Real servers for tests/integration/real_servers_test.cpp and docs/recipes.md.
  redis-server memcached nginx-light postgresql openssh-server
  # Other inits, beside welld run in tests/integration/run_cli_test.cpp.
  tini dumb-init
  # Real managers for welld export's round trips (tests/integration/export_cli_test.cpp):
  # s6 (s6-svscan, s6-svc), runit (runsv, sv; not runit-init, which would be
  # init), supervisor (supervisord, supervisorctl), xmllint for the launchd
  # plist, systemd-analyze (package systemd, not as init) for the units.
  # Not openrc: its postinst adds every init script to OpenRC's runlevels and
  # openrc-run needs the state OpenRC makes when it boots (docs/interop.md).
  s6 runit supervisor libxml2-utils systemd
  # One more init, beside welld run in the benchmark bench/init.sh (not a test).
  catatonit
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The server packages start their services from their maintainer scripts
  # (through invoke-rc.d, as there is no systemd here); the tests run their
  # own instances. A policy-rc.d that exits 101 forbids that (invoke-rc.d(8));
  # one already present (Docker images ship one) is left alone.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
