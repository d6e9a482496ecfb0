#!/usr/bin/env bash
# The profiling benchmark (issue 3): `aurora profile` on a generated mixed CSV, one and two
# threads, next to pandas.read_csv and DuckDB SUMMARIZE on the same file in the same run.
#   Deploy/bench/profile.sh [SIZE_MB] [ROUNDS]   (default 500 and 1; needs ~2x SIZE_MB of free disk
#   under $TMPDIR). With several rounds the five measurements take turns, round after round, so
#   the machine's drift hits them alike; the medians and the goals' ratios are printed at the end.
#   AURORA_PROFILE_BASELINE=PATH/TO/aurora also measures another build (e.g. the last release) in the
#   same rounds and prints this build's speed relative to it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
size=${1:-500}
rounds=${2:-1}
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
  # A reference tool reports its own time, without Python's start-up and imports.
  if grep -q '^elapsed ' "$work/out"; then start=0; end=$(sed -n 's/^elapsed //p' "$work/out"); fi
  awk -v l="$label" -v s="$start" -v e="$end" -v b="$bytes" -v r="$rss" \
    'BEGIN { t = e - s; printf "%-34s %7.2f s %7.0f MB/s  peak RSS %5.0f MiB\n", l, t, b / t / 1e6, r / 1024 }' | tee -a "$work/results"
}
echo "file: $file ($((bytes / 1000000)) MB), $rounds round(s)"
: > "$work/results"
for round in $(seq "$rounds"); do
  [ "$rounds" -gt 1 ] && echo "round $round"
  measure "aurora profile, 1 thread" "$aurora" profile --json --threads 1 "$file"
  measure "aurora profile, 2 threads" "$aurora" profile --json --threads 2 "$file"
  if [ -n "${AURORA_PROFILE_BASELINE:-}" ]; then
    measure "baseline profile, 1 thread" "$AURORA_PROFILE_BASELINE" profile --json --threads 1 "$file"
    measure "baseline profile, 2 threads" "$AURORA_PROFILE_BASELINE" profile --json --threads 2 "$file"
  fi
  measure "pandas.read_csv (load only)" "$venv/bin/python" "$root/Deploy/bench/profile_reference.py" pandas "$file"
  measure "DuckDB SUMMARIZE, 1 thread" "$venv/bin/python" "$root/Deploy/bench/profile_reference.py" duckdb "$file" 1
  measure "DuckDB SUMMARIZE, 2 threads" "$venv/bin/python" "$root/Deploy/bench/profile_reference.py" duckdb "$file" 2
done
# Medians of MB/s per tool, and the issue's goals as ratios of those medians.
python3 - "$work/results" <<'PY'
import re, statistics, sys
rates = {}
for line in open(sys.argv[1]):
    label, rate = line[:34].strip(), float(re.search(r"([0-9.]+) MB/s", line).group(1))
    rates.setdefault(label, []).append(rate)
median = {label: statistics.median(values) for label, values in rates.items()}
print("medians (MB/s): " + ", ".join(f"{label} {value:.0f}" for label, value in median.items()))
one, two = median["aurora profile, 1 thread"], median["aurora profile, 2 threads"]
pandas, duck1, duck2 = median["pandas.read_csv (load only)"], median["DuckDB SUMMARIZE, 1 thread"], median["DuckDB SUMMARIZE, 2 threads"]
print(f"goals: 1 thread / pandas {one / pandas:.2f}x (>= 1), 1 thread / DuckDB 1 thread {one / duck1:.2f}x (>= 3), "
      f"2 threads / DuckDB 2 threads {two / duck2:.2f}x (>= 3), 2 threads / 1 thread {two / one:.2f}x (>= 1.7)")
if "baseline profile, 1 thread" in median:
    print(f"against the baseline: 1 thread {one / median['baseline profile, 1 thread']:.2f}x, "
          f"2 threads {two / median['baseline profile, 2 threads']:.2f}x (1.00 = same speed)")
PY
