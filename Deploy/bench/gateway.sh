#!/usr/bin/env bash
# The gateway benchmark (issue 5), by hand, all in one run on this machine:
#  1. the foundation's plain echo (aurora-bench rpc at 1,000 calls in flight) as the reference;
#  2. Recommend (10 columns) through the gateway from 1,000 client connections: closed loop (as
#     fast as answers come), then open loop at each of the fixed total rates given;
#  3. Analyze of a generated mixed CSV through the CLI and the gateway, next to `aurora profile`
#     of the same file locally.
#   Deploy/bench/gateway.sh [SIZE_MB=200] [SECONDS=10] [OPEN_LOOP_RATES=500,1000]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
size=${1:-200}
seconds=${2:-10}
rates=${3:-500,1000}
cd "$root"
for product in aurora-bench aurora gateway parser-service learning-service; do swift build -c release --product "$product" >/dev/null; done
work=$(mktemp -d /tmp/aurora-gateway-bench.XXXXXX)
chmod 711 "$work"  # the postgres user must reach system/pg
export AURORA_LOCAL_DIR="$work/system" AURORA_LOCAL_BUILD=0 AURORA_PG_PORT=55442
export AURORA_GATEWAY_PORT=7191 AURORA_PARSER_PORT=7192 AURORA_LEARNING_PORT=7193
export AURORA_GATEWAY_ADMIN_PORT=9191 AURORA_PARSER_ADMIN_PORT=9192 AURORA_LEARNING_ADMIN_PORT=9193
# Limits out of the way: this measures capacity, not the limits.
export AURORA_RATE_CALLS=1000000000 AURORA_RATE_CALLS_BURST=1000000000
export AURORA_RATE_UPLOAD_BYTES=1000000000000 AURORA_RATE_UPLOAD_BURST=1000000000000
export AURORA_GATEWAY_MAX_CONNECTIONS_PER_PEER=5000 AURORA_LOG_LEVEL=warning
trap 'Deploy/scripts/local.sh stop >/dev/null 2>&1; rm -rf "$work"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n 8192
Deploy/scripts/local.sh start >/dev/null
token=$(Deploy/scripts/local.sh token bench analyze,feedback)
bench=.build/release/aurora-bench
echo "== reference: the RPC runtime's plain echo, 1,000 calls in flight (one connection)"
$bench rpc --in-flight 1000 --rounds 1 --seconds "$seconds" | tail -3
echo
echo "== Recommend through the gateway"
$bench gateway --address 127.0.0.1:$AURORA_GATEWAY_PORT --token "$token" --connections 1000 --seconds "$seconds" | tail -1
for rate in ${rates//,/ }; do
  $bench gateway --address 127.0.0.1:$AURORA_GATEWAY_PORT --token "$token" --connections 1000 --seconds "$seconds" --rate "$rate" | tail -1
done
echo
echo "== Analyze, ${size} MB mixed CSV"
file="$work/mixed-$size.csv"
python3 Deploy/bench/generate_mixed_csv.py "$file" "$size"
bytes=$(stat -c %s "$file")
timed() { # timed LABEL COMMAND...: wall seconds and MB/s
  local label=$1; shift
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'{sys.argv[3]:<44} {s:7.2f} s  {int(sys.argv[4])/1e6/s:6.1f} MB/s')" "$start" "$end" "$label" "$bytes"
}
timed "aurora profile (local, 1 thread)" .build/release/aurora profile --json --threads 1 "$file"
timed "aurora analyze (CLI -> gateway -> services)" env AURORA_GATEWAY=127.0.0.1:$AURORA_GATEWAY_PORT AURORA_TOKEN="$token" \
  .build/release/aurora analyze --json --no-progress "$file"
timed "aurora profile (local, 1 thread), again" .build/release/aurora profile --json --threads 1 "$file"
