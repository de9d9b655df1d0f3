#!/usr/bin/env bash
# Installs what smtorp needs to build, test and run the demo on Debian 12:
# the C libraries' -dev packages, tor, and the real peers the tests talk to.
# Idempotent: installs only what is missing. Needs root (or sudo) for apt.
set -euo pipefail

packages=(
  build-essential pkg-config
  libevent-dev libssl-dev libsodium-dev libqrencode-dev zbar-tools
  libequihash-dev hashcash
  tor
  swaks libnet-ssleay-perl libio-socket-ssl-perl
  openssl python3 python3-pytest
  valgrind mutt
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: swift (6.x) is not on PATH; install a Swift toolchain from swift.org first" >&2; exit 1; }
# The Python on PATH may be a pyenv one without pytest: fall back to Debian's.
if ! python3 -c 'import pytest' 2>/dev/null; then
  python3 -m pip install -q pytest 2>/dev/null || true
fi
