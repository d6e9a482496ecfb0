#!/usr/bin/env bash
# The main job, end to end on this machine. Today (foundation only) it builds everything and drives
# a bundled sample file through every kind of RPC call on loopback; the daemons and the `aurora`
# CLI take over this script as they land.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
Deploy/scripts/install-deps.sh
swift build -c release --product aurora-bench
.build/release/aurora-bench smoke Deploy/samples/customers.csv
