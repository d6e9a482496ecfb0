#!/usr/bin/env bash
# Learning curves for simulated users that ../shared/simulate does not ship (generalise.py: three
# users with other thresholds), AURORA against the harness's tree reference; runs after
# simulate.sh has set up its venv and data pool.
#   Deploy/bench/generalise.sh [--users scaler clinical offedge finance_analyst ...] [--seeds 0 1 2] [--show]
# AURORA_BENCH_SERVICE: another learning-service binary; AURORA_LEARNING_ARGS: extra flags for it
# (say --epsilon 1000, to see the learner without the noise).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
simulate=$(cd "$root/../shared/simulate" && pwd)
work=${AURORA_SIM_WORK:-${TMPDIR:-/tmp}/aurora-sim}
[ -x "$work/venv/bin/python" ] && [ -f "$work/data/manifest.json" ] || { echo "run Deploy/bench/simulate.sh first (it sets up $work)" >&2; exit 1; }
(cd "$root" && swift build -c release --product learning-service >/dev/null && swift build -c release --product aurora-sim-adapter >/dev/null)
export AURORA_PG_DIR="$work/pg" AURORA_PG_PORT=${AURORA_PG_PORT:-55440}
url=$("$root/Deploy/scripts/postgres.sh" start)
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
port=${AURORA_LEARNING_PORT:-7193}
# shellcheck disable=SC2086 # AURORA_LEARNING_ARGS is a list of flags
AURORA_INTERNAL_SECRET=$secret AURORA_PSEUDONYM_KEYS="k1 $(head -c 32 /dev/urandom | base64 -w0)" AURORA_DATABASE_URL=$url "${AURORA_BENCH_SERVICE:-$root/.build/release/learning-service}" \
  --port "$port" --log-level warning ${AURORA_LEARNING_ARGS:-} &
service=$!
trap 'kill $service 2>/dev/null; wait $service 2>/dev/null; "$root/Deploy/scripts/postgres.sh" stop' EXIT
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
cd "$simulate"
SIM_DIR="$simulate" SIM_DATA="$work/data" AURORA_LEARNING_ADDRESS=127.0.0.1:$port AURORA_INTERNAL_SECRET=$secret \
  AURORA_SIM_ADAPTER="$root/.build/release/aurora-sim-adapter" "$work/venv/bin/python" "$root/Deploy/bench/generalise.py" "$@"
