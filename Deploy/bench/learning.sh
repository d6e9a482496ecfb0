#!/usr/bin/env bash
# The learning-service benchmark (issue 4): Recommend latency for a 50-column batch for a user with
# 10,000 corrections, refit time, durable feedback records/s with 8 clients (one record per call,
# then ten, as `aurora feedback` sends one analysis's; each client first waits for every answer,
# then keeps 8 calls in flight) — next to pgbench single-row inserts with 8 clients against the
# same private PostgreSQL, in the same run.
#   Deploy/bench/learning.sh [SECONDS]
#   AURORA_BENCH_IN_FLIGHT=1,2,4,8,16 (calls in flight per client, one measurement each)
#   AURORA_BENCH_RECORDS=1,10 (records per call, one measurement each with every depth)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-10}
cd "$root"
swift build -c release --product learning-service >/dev/null
swift build -c release --product aurora-bench >/dev/null
export AURORA_PG_DIR=${TMPDIR:-/tmp}/aurora-bench-pg AURORA_PG_PORT=${AURORA_PG_PORT:-55441}
url=$(Deploy/scripts/postgres.sh start)
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
port=${AURORA_LEARNING_PORT:-7194}
# AURORA_BENCH_SERVICE: another learning-service binary to measure (to compare two builds).
AURORA_INTERNAL_SECRET=$secret AURORA_DATABASE_URL=$url "${AURORA_BENCH_SERVICE:-.build/release/learning-service}" --port "$port" --log-level warning &
service=$!
trap 'kill $service 2>/dev/null; wait $service 2>/dev/null; Deploy/scripts/postgres.sh stop' EXIT
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
AURORA_INTERNAL_SECRET=$secret .build/release/aurora-bench learning --address 127.0.0.1:$port --seconds "$seconds" --in-flight "${AURORA_BENCH_IN_FLIGHT:-1,8}" \
  --records-per-call "${AURORA_BENCH_RECORDS:-1,10}"
# The reference: single-row inserts by 8 pgbench clients into a table shaped like feedback, on an
# otherwise idle machine: the learning-service (and its pending refits) stopped, the feedback
# phase's writes checkpointed.
kill $service; wait $service 2>/dev/null || true
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
owner=$(echo "$url" | sed -E 's|postgresql://([^@]+)@.*|\1|')
psql_() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$bin/$1" "${@:2}"; else "$bin/$1" "${@:2}"; fi; }
psql_ psql -q -h 127.0.0.1 -p "$AURORA_PG_PORT" -U "$owner" aurora -c \
  "CHECKPOINT; DROP TABLE IF EXISTS pgbench_rows; CREATE TABLE pgbench_rows (user_id text, feedback_id text, features float8[], accepted text, created_at timestamptz DEFAULT now(), PRIMARY KEY (user_id, feedback_id))"
script=$(mktemp)
echo "INSERT INTO pgbench_rows (user_id, feedback_id, features, accepted) VALUES ('u' || :client_id, md5(random()::text), '{1,2,3,4,5,6,7,8}', 'keep');" > "$script"
chmod 644 "$script"
echo -n "pgbench, 8 clients, single-row inserts (prepared): "
psql_ pgbench -n -M prepared -h 127.0.0.1 -p "$AURORA_PG_PORT" -U "$owner" -c 8 -j 2 -T "$seconds" -f "$script" aurora 2>/dev/null | grep -E "^tps" | sed -E 's/tps = ([0-9.]+).*/\1 rows\/s/'
rm -f "$script"
