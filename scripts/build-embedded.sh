#!/usr/bin/env bash
# Builds the smtorp binary as Embedded Swift (-enable-experimental-feature
# Embedded -wmo), fully static: no Swift runtime library at all (Embedded
# Swift compiles what it uses into the program), the C libraries (libevent,
# OpenSSL, libsodium) from the Debian -dev packages' static archives, and
# static glibc. The result, stripped, is .build/embedded/smtorp; the script
# prints its size, `ldd` (expected: "not a dynamic executable") and, when
# scripts/build-static.sh has run, the size of that normal static build.
#
# SwiftPM cannot build one target as Embedded and link it, so this drives
# the compilers directly, with the flags Package.swift gives:
#   1. the C core (CSources/core/*.c), -O2 -fvisibility=hidden, with the
#      toolchain's clang;
#   2. Sources/SMTorP as an Embedded module (-Osize, whole module);
#   3. Sources/smtorp against it, also Embedded. Debian has no static
#      libqrencode, so, as in build-static.sh, SMTORP_NO_QRENCODE leaves QR
#      output out (`smtorp address --qr` says so);
#   4. one static link with clang, dropping unused sections.
# The same sources build normally with `swift build` (and `swift test`).
set -euo pipefail
cd "$(dirname "$0")/.."
toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")  # <toolchain>/usr
clang="$toolchain/bin/clang"
embedded_lib="$toolchain/lib/swift/embedded/x86_64-unknown-linux-gnu"
libdir=/usr/lib/x86_64-linux-gnu
out=.build/embedded
rm -rf "$out/obj"
mkdir -p "$out/obj/c"

sections=(-ffunction-sections -fdata-sections)
for source in CSources/core/*.c; do
  "$clang" -c -fvisibility=hidden -Wall -Wextra -Wno-unused-parameter -O2 "${sections[@]}" -I include \
    -o "$out/obj/c/$(basename "$source" .c).o" "$source"
done

embedded=(-enable-experimental-feature Embedded -wmo -Osize -Xfrontend -function-sections -I include)
mapfile -t core < <(find Sources/SMTorP -name '*.swift' | sort)
swiftc "${embedded[@]}" -parse-as-library -module-name SMTorP \
  -emit-module -emit-module-path "$out/obj/SMTorP.swiftmodule" -c -o "$out/obj/SMTorP.o" "${core[@]}"
mapfile -t tool < <(find Sources/smtorp -name '*.swift' | sort)
swiftc "${embedded[@]}" -module-name smtorp -I "$out/obj" -DSMTORP_NO_QRENCODE \
  -c -o "$out/obj/smtorp.o" "${tool[@]}"

# glibc warns that getaddrinfo needs NSS at run time when linked statically:
# smtorp resolves numeric addresses only (AI_NUMERICHOST), which never loads it.
rm -f "$out/smtorp" "$out/smtorp.unstripped"
if ! "$clang" -static -Wl,--gc-sections -o "$out/smtorp.unstripped" \
  "$out/obj/smtorp.o" "$out/obj/SMTorP.o" "$out"/obj/c/*.o \
  "$libdir/libevent_openssl.a" "$libdir/libevent_core.a" "$libdir/libssl.a" "$libdir/libcrypto.a" \
  "$libdir/libsodium.a" -L"$embedded_lib" -lswiftUnicodeDataTables -lpthread -lm >"$out/obj/link.log" 2>&1; then
  cat "$out/obj/link.log" >&2
  exit 1
fi
grep -v "statically linked applications requires at runtime" "$out/obj/link.log" || true
strip -o "$out/smtorp" "$out/smtorp.unstripped"
echo "embedded: $out/smtorp $(stat -c %s "$out/smtorp") bytes stripped"
ldd "$out/smtorp" || true
if [[ -f .build/dist/smtorp ]]; then
  echo "static (normal Swift, scripts/build-static.sh): .build/dist/smtorp $(stat -c %s .build/dist/smtorp) bytes stripped"
fi
"$out/smtorp" --version
