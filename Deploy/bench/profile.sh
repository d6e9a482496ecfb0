#!/usr/bin/env bash
# The profiling benchmark (issue 3): `aurora profile` on a generated mixed CSV, one and two
# threads, next to pandas.read_csv and DuckDB SUMMARIZE on the same file in the same run.
#   Deploy/bench/profile.sh [SIZE_MB]   (default 500; needs ~2x SIZE_MB of free disk under $TMPDIR)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
size=${1:-500}
work=${TMPDIR:-/tmp}/aurora-bench
mkdir -p "$work"
file="$work/mixed-${size}mb.csv"
[ -f "$file" ] || python3 "$root/Deploy/bench/generate_mixed_csv.py" "$file" "$size"
venv="$work/venv"
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q pandas duckdb; }
(cd "$root" && swift build -c release --product aurora >/dev/null)
aurora="$root/.build/release/aurora"
bytes=$(stat -c %s "$file")
measure() { # measure LABEL COMMAND...
  local label=$1; shift
  local start end rss
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$work/rss" "$@" > "$work/out" 2>&1 || { cat "$work/out"; return 1; }
  end=$(date +%s.%N)
  rss=$(cat "$work/rss")
  awk -v l="$label" -v s="$start" -v e="$end" -v b="$bytes" -v r="$rss" \
    'BEGIN { t = e - s; printf "%-34s %7.2f s %7.0f MB/s  peak RSS %5.0f MiB\n", l, t, b / t / 1e6, r / 1024 }'
}
echo "file: $file ($((bytes / 1000000)) MB)"
measure "aurora profile, 1 thread" "$aurora" profile --json --threads 1 "$file"
measure "aurora profile, 2 threads" "$aurora" profile --json --threads 2 "$file"
measure "pandas.read_csv (load only)" "$venv/bin/python" "$root/Deploy/bench/profile_reference.py" pandas "$file"
measure "DuckDB SUMMARIZE, 1 thread" "$venv/bin/python" "$root/Deploy/bench/profile_reference.py" duckdb "$file" 1
measure "DuckDB SUMMARIZE, 2 threads" "$venv/bin/python" "$root/Deploy/bench/profile_reference.py" duckdb "$file" 2
