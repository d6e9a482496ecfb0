#!/usr/bin/env bash
# Regenerates the Swift code for the schemas under Protocol/schemas (committed, so builds need no protoc).
#   Needs: protoc (Debian: protobuf-compiler) and protoc-gen-swift built from swift-protobuf 1.39.0,
#   the same version as the runtime. PROTOC_GEN_SWIFT may point at it; otherwise it is built once
#   under .build-tools/ (about a minute).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
plugin=${PROTOC_GEN_SWIFT:-}
if [ -z "$plugin" ]; then
  tools="$root/.build-tools"
  plugin="$tools/swift-protobuf/.build/release/protoc-gen-swift"
  if [ ! -x "$plugin" ]; then
    mkdir -p "$tools"
    [ -d "$tools/swift-protobuf" ] || git clone -q --branch 1.39.0 https://github.com/apple/swift-protobuf.git "$tools/swift-protobuf"
    (cd "$tools/swift-protobuf" && swift build -c release --product protoc-gen-swift >/dev/null)
  fi
fi
gen() { # gen OUTDIR PROTO...
  local out=$1; shift
  mkdir -p "$out"
  protoc --plugin=protoc-gen-swift="$plugin" --swift_out="$out" \
    --swift_opt=Visibility=Public --swift_opt=FileNaming=PathToUnderscores \
    -I "$here/schemas" "$@"
}
gen "$root/Sources/AuroraWire/Generated" "$here/schemas/aurora/wire/v1/control.proto"
gen "$root/Sources/AuroraProtocol/Generated" \
  "$here/schemas/aurora/diag/v1/diag.proto" \
  "$here/schemas/aurora/profile/v1/profile.proto" \
  "$here/schemas/aurora/learning/v1/learning.proto" \
  "$here/schemas/aurora/gateway/v1/gateway.proto"
# aurora/parser/v1/parser.proto declares only the parser-service (its messages are profile.proto's):
# nothing to generate. The method descriptors are in Sources/AuroraProtocol/ServiceAPIs.swift,
# checked against every schema's `service` by Tests/AuroraServiceTests/SpecConformanceTests.swift.
echo "generated Swift for $(find "$here/schemas" -name '*.proto' | wc -l) schemas ($(find "$here/schemas" -name '*.proto' | xargs grep -l '^message' | wc -l) with messages)"
