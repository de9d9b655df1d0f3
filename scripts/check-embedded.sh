#!/usr/bin/env bash
# Compiles the core library, Sources/SMTorP, as Embedded Swift
# (-enable-experimental-feature Embedded -wmo). Embedded Swift is how the
# smtorp binary gets small; this check keeps the core inside the subset
# (no Foundation, no untyped throws, no existentials of non-class protocols,
# no Codable/Mirror, no concurrency). It compiles; it does not link.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mapfile -t files < <(find Sources/SMTorP -name '*.swift' | sort)
swiftc -enable-experimental-feature Embedded -wmo -parse-as-library -Osize \
  -module-name SMTorP -I include \
  -emit-module -emit-module-path "$out/SMTorP.swiftmodule" \
  -c -o "$out/SMTorP.o" "${files[@]}"
echo "embedded: Sources/SMTorP compiles as Embedded Swift (${#files[@]} files, object $(stat -c %s "$out/SMTorP.o") bytes)"
