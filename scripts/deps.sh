#!/usr/bin/env bash
# Install the Debian packages welld needs to build and test, only when missing.
set -euo pipefail
packages=(
  g++ cmake make pkg-config
  libcli11-dev libfmt-dev libmicrohttpd-dev libcap-dev
  googletest libgtest-dev libbenchmark-dev libsystemd-dev
  curl procps
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
