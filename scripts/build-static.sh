#!/usr/bin/env bash
# Builds the release smtorp binary fully static: the Swift standard library,
# the C libraries (libevent, OpenSSL, libsodium) and glibc are all linked in,
# so the binary runs on any x86_64 Linux with no shared library at all. It
# strips a copy and prints its size and `ldd` (expected: "not a dynamic
# executable"). glibc warns that getaddrinfo needs NSS at run time when
# linked statically: smtorp resolves numeric addresses only (AI_NUMERICHOST),
# which never loads NSS. Debian has no static libqrencode, so this build has
# no QR output (SMTORP_NO_QRENCODE); `smtorp address --qr` says so.
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
  -Xswiftc -static-executable -Xlinker -L"$PWD/$static" -Xswiftc -DSMTORP_NO_QRENCODE \
  -Xswiftc -Osize 2>&1 | grep -vE "statically linked applications requires at runtime|^\[|^Building|^Compiling|^Build of" || true
bin=$(swift build -c release --show-bin-path)/smtorp
mkdir -p .build/dist
strip -o .build/dist/smtorp "$bin"
echo "static: .build/dist/smtorp $(stat -c %s .build/dist/smtorp) bytes stripped"
ldd .build/dist/smtorp || true
.build/dist/smtorp --version
