#!/usr/bin/env bash
# The hardening soak (issue 19), by hand: the local system (Deploy/scripts/local.sh) under normal
# users' traffic interleaved with the attacks of issue 19 (abandoned uploads at the gateway and
# straight at the parser-service, 4 MiB frames before the handshake, hostile statistics, bad
# tokens, many distinct users, a zstd window of 2^31, 64 MiB uploads), then each daemon's RSS and
# open descriptors against its baseline 10 s after the load ends. Exit status 1 if a daemon is not
# back within 16 MiB and 4 descriptors of its baseline, died, or a normal user's call failed.
#   Deploy/bench/soak.sh [SECONDS=600] [USERS=4]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-600}
users=${2:-4}
cd "$root"
if [ "${AURORA_SOAK_BUILD:-1}" != 0 ]; then
  for product in aurora-bench gateway parser-service learning-service aurora; do swift build -c release --product "$product" >/dev/null; done
fi
work=$(mktemp -d /tmp/aurora-soak.XXXXXX)
chmod 711 "$work"  # the postgres user must reach system/pg
export AURORA_LOCAL_DIR="$work/system" AURORA_LOCAL_BUILD=0 AURORA_PG_PORT=55452
export AURORA_GATEWAY_PORT=7181 AURORA_PARSER_PORT=7182 AURORA_LEARNING_PORT=7183
export AURORA_GATEWAY_ADMIN_PORT=9181 AURORA_PARSER_ADMIN_PORT=9182 AURORA_LEARNING_ADMIN_PORT=9183
export AURORA_LOG_LEVEL=warning
trap 'Deploy/scripts/local.sh stop >/dev/null 2>&1; rm -rf "$work"' EXIT
Deploy/scripts/local.sh start >/dev/null
dir=$AURORA_LOCAL_DIR
pids="gateway=$(cat "$dir/gateway.pid"),parser-service=$(cat "$dir/parser-service.pid"),learning-service=$(cat "$dir/learning-service.pid")"
.build/release/aurora-bench soak --gateway 127.0.0.1:$AURORA_GATEWAY_PORT --parser 127.0.0.1:$AURORA_PARSER_PORT \
  --keys-file "$dir/jwks.json" --secret-file "$dir/internal-secret" --pids "$pids" --seconds "$seconds" --users "$users" \
  ${AURORA_SOAK_ATTACKS:+--attacks "$AURORA_SOAK_ATTACKS"}
