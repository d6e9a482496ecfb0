#!/usr/bin/env bash
# The learning-service benchmark (issue 4): Recommend latency for a 50-column batch for a user with
# 10,000 corrections, refit time, durable feedback records/s with 8 clients (one record per call,
# then ten, as `aurora feedback` sends one analysis's; each client first waits for every answer,
# then keeps 8 calls in flight) — each feedback measurement next to pgbench single-row inserts
# with 8 clients against the same private PostgreSQL, run right after it (the disk's fsync latency
# drifts over minutes), as a ratio, with the CPU each record costs the service, PostgreSQL and the
# rest (they share the machine's cores).
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
AURORA_INTERNAL_SECRET=$secret AURORA_PSEUDONYM_KEYS="k1 $(head -c 32 /dev/urandom | base64 -w0)" AURORA_DATABASE_URL=$url "${AURORA_BENCH_SERVICE:-.build/release/learning-service}" --port "$port" --log-level warning &
service=$!
script=$(mktemp)
trap 'kill $service 2>/dev/null; wait $service 2>/dev/null; rm -f "$script"; Deploy/scripts/postgres.sh stop' EXIT
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done

bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
owner=$(echo "$url" | sed -E 's|postgresql://([^@]+)@.*|\1|')
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$bin/$1" "${@:2}"; else "$bin/$1" "${@:2}"; fi; }
sql() { as_owner psql -q -h 127.0.0.1 -p "$AURORA_PG_PORT" -U "$owner" aurora -c "$1"; }

# CPU accounting in clock ticks (USER_HZ, 100/s): a process's user+system time; PostgreSQL's is the
# postmaster's, its live children's and the children it has reaped (backends that exited).
process_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
postgres_ticks() {
  local postmaster total pid
  postmaster=$(head -1 "$AURORA_PG_DIR/data/postmaster.pid")
  total=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$postmaster/stat")
  for pid in $(pgrep -P "$postmaster"); do total=$((total + $(process_ticks "$pid"))); done
  echo "$total"
}
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
snapshot() { echo "$(date +%s.%N) $(process_ticks $service) $(postgres_ticks) $(busy_ticks)"; }
# cpu_line BEFORE AFTER RECORDS_PER_SECOND: CPU per record between two snapshots.
cpu_line() {
  echo "$1 $2 $3" | awk -v cores="$(nproc)" '{
    seconds = $5 - $1; per = 1e6 / 100 / ($9 * seconds)
    service = ($6 - $2) * per; postgres = ($7 - $3) * per; rest = ($8 - $4) * per - service - postgres
    printf "  CPU per record: service %.0f us, PostgreSQL %.0f us, the rest (clients, kernel) %.0f us; machine %.0f%% busy\n",
      service, postgres, rest, ($8 - $4) / seconds / cores }'
}
bench() { AURORA_INTERNAL_SECRET=$secret .build/release/aurora-bench learning --address "127.0.0.1:$port" --seconds "$seconds" "$@"; }

bench --phases recommend
# The reference: single-row inserts by 8 pgbench clients into a table shaped like feedback.
sql "DROP TABLE IF EXISTS pgbench_rows; CREATE TABLE pgbench_rows (user_id text, feedback_id text, features float8[], accepted text, created_at timestamptz DEFAULT now(), PRIMARY KEY (user_id, feedback_id))"
echo "INSERT INTO pgbench_rows (user_id, feedback_id, features, accepted) VALUES ('u' || :client_id, md5(random()::text), '{1,2,3,4,5,6,7,8}', 'keep');" > "$script"
chmod 644 "$script"
IFS=, read -r -a record_counts <<< "${AURORA_BENCH_RECORDS:-1,10}"
IFS=, read -r -a depths <<< "${AURORA_BENCH_IN_FLIGHT:-1,8}"
for records in "${record_counts[@]}"; do
  for depth in "${depths[@]}"; do
    # Each side starts from checkpointed data; pgbench runs once the service's refits are done.
    sql "CHECKPOINT"
    before=$(snapshot)
    line=$(bench --phases feedback --in-flight "$depth" --records-per-call "$records")
    after=$(snapshot)
    echo "$line"
    rate=$(echo "$line" | sed -nE 's/^Feedback, .*: ([0-9]+) records\/s.*/\1/p')
    [ -n "$rate" ] && cpu_line "$before" "$after" "$rate"
    sleep 3
    sql "CHECKPOINT"
    before=$(snapshot)
    reference=$(as_owner pgbench -n -M prepared -h 127.0.0.1 -p "$AURORA_PG_PORT" -U "$owner" -c 8 -j 2 -T "$seconds" -f "$script" aurora 2>/dev/null |
      sed -nE 's/^tps = ([0-9.]+).*/\1/p') || true
    after=$(snapshot)
    echo "pgbench, 8 clients, single-row inserts (prepared), right after: ${reference:-failed} rows/s"
    if [ -n "$reference" ]; then
      cpu_line "$before" "$after" "$reference"
      [ -n "$rate" ] && echo "$rate $reference" | awk '{ printf "  ratio: %.2fx pgbench\n", $1 / $2 }'
    fi
  done
done
