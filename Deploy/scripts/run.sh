#!/usr/bin/env bash
# The main job, end to end on this machine. Today it builds the release binaries, drives the bundled
# sample file through every kind of RPC call on loopback, and profiles it with `aurora profile`;
# the gateway, the learning-service and `aurora analyze` take this script over as they land.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
Deploy/scripts/install-deps.sh
swift build -c release --product aurora-bench
swift build -c release --product aurora
swift build -c release --product parser-service
.build/release/aurora-bench smoke Deploy/samples/customers.csv
echo
.build/release/aurora profile Deploy/samples/customers.csv
