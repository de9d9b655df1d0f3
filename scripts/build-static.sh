#!/usr/bin/env bash
# Builds the release smtorp binary with the Swift standard library and the C
# libraries (libevent, OpenSSL, libsodium) linked statically, strips a copy,
# and prints its size and what it still needs at run time (ldd).
#
# SwiftPM would find the shared libraries first, so a folder holding only
# symlinks to the static archives goes first on the linker's search path.
set -euo pipefail
cd "$(dirname "$0")/.."
libdir=/usr/lib/x86_64-linux-gnu
static=.build/static-libs
mkdir -p "$static"
for lib in event_core event_openssl ssl crypto sodium; do
  ln -sf "$libdir/lib$lib.a" "$static/lib$lib.a"
done
swift build -c release --product smtorp --static-swift-stdlib \
  -Xlinker -L"$PWD/$static" -Xlinker -ldl -Xlinker -lpthread \
  -Xswiftc -Osize >/dev/null
bin=$(swift build -c release --show-bin-path)/smtorp
mkdir -p .build/dist
strip -o .build/dist/smtorp "$bin"
echo "static: .build/dist/smtorp $(stat -c %s .build/dist/smtorp) bytes stripped"
ldd .build/dist/smtorp || true
