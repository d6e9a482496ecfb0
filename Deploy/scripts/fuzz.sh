#!/usr/bin/env bash
# Builds the libFuzzer targets (AURORA_FUZZ=1, AddressSanitizer, scratch path .build-fuzz) and runs
# each for a bounded time from a copy of its committed seed corpus:
#   wire     frames and bodies as a server decodes them (Tests/Fuzz/corpus/*)
#   parser   the parser-service's Profile handler (Tests/Fuzz/corpus/parser)
#   gateway  the gateway's handlers, with a real parser-service behind them (Tests/Fuzz/corpus/gateway)
#   learning the learning-service's handlers against PostgreSQL (AURORA_TEST_DATABASE_URL, else a
#            private cluster started here: Deploy/scripts/postgres.sh, AURORA_PG_PORT or 55434)
# Exit status 1 on any crash, trap, timeout (20 s for one input) or memory over 2 GiB; the input
# that caused it is left in the working directory (crash-*, timeout-*, oom-*).
#   Deploy/scripts/fuzz.sh [SECONDS=60] [TARGET...]     (default: every target that is defined)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=()
  for name in wire parser gateway learning; do
    dir=${name^}Fuzz
    [ -d "Tests/Fuzz/$dir" ] && targets+=("$name")
  done
fi
work=$(mktemp -d /tmp/aurora-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
if [[ " ${targets[*]} " == *" learning "* ]] && [ -z "${AURORA_TEST_DATABASE_URL:-}" ]; then
  AURORA_PG_DIR=$(mktemp -d /tmp/aurora-fuzz-pg.XXXXXX)
  export AURORA_PG_DIR AURORA_PG_PORT=${AURORA_PG_PORT:-55434}
  trap 'Deploy/scripts/postgres.sh stop; rm -rf "$work" "$AURORA_PG_DIR"' EXIT
  AURORA_TEST_DATABASE_URL=$(Deploy/scripts/postgres.sh start)
  export AURORA_TEST_DATABASE_URL
fi
for name in "${targets[@]}"; do
  # The log is shown only on failure: gold warns about every ASan symbol it cannot export.
  if ! AURORA_FUZZ=1 swift build --scratch-path .build-fuzz --product "$name-fuzz" \
      -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING >"$work/build-$name.log" 2>&1; then
    grep -E "error|Error" "$work/build-$name.log" | head -40 >&2
    exit 1
  fi
done
status=0
for name in "${targets[@]}"; do
  corpus="$work/$name"
  mkdir -p "$corpus"
  if [ "$name" = wire ]; then
    find Tests/Fuzz/corpus -maxdepth 1 -type f -exec cp {} "$corpus/" \;
  else
    cp Tests/Fuzz/corpus/"$name"/* "$corpus/"
  fi
  echo "== $name-fuzz, $seconds s"
  # Leaks are not checked per input: Swift concurrency and NIO keep objects past a call by design;
  # growing memory shows up against -rss_limit_mb instead.
  if ! SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 .build-fuzz/debug/"$name-fuzz" "$corpus" \
      -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -detect_leaks=0 -print_final_stats=1 \
      >"$work/$name.log" 2>&1; then
    status=1
    echo "$name-fuzz FAILED:"
    grep -E "ERROR|Fatal|SUMMARY|Test unit written" "$work/$name.log" | head -20
    tail -40 "$work/$name.log"
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|Done [0-9]+ runs" "$work/$name.log" || true
done
exit $status
