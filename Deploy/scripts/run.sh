#!/usr/bin/env bash
# The main job, end to end on this machine: installs what is missing, builds the release binaries,
# starts a private PostgreSQL and the three daemons on loopback with a fresh key (local.sh), issues
# a token, analyzes the bundled sample, records a correction, analyzes a similar file to show the
# learned rule at work, and stops everything. Keep it running instead with Deploy/scripts/local.sh start.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
Deploy/scripts/install-deps.sh
export AURORA_LOCAL_DIR=${AURORA_LOCAL_DIR:-$(mktemp -d /tmp/aurora-run.XXXXXX)}
created=$AURORA_LOCAL_DIR
trap 'Deploy/scripts/local.sh stop; rm -rf "$created"' EXIT
Deploy/scripts/local.sh start
source "$AURORA_LOCAL_DIR/env"
AURORA_TOKEN=$(Deploy/scripts/local.sh token demo analyze,feedback)
export AURORA_TOKEN AURORA_CONFIG="$AURORA_LOCAL_DIR/cli-config.json"
aurora=.build/release/aurora
sample=Deploy/samples/customers.csv

echo
echo "== aurora analyze $sample"
$aurora analyze "$sample" --domain retail | tee "$AURORA_LOCAL_DIR/analysis.txt"
analysis=$(sed -n 's/^analysis //p' "$AURORA_LOCAL_DIR/analysis.txt")

# This user log-transforms spend figures rather than imputing them first. Three corrections on three
# uploads (the rule needs 3 agreeing corrections), then a fourth upload gets the learned rule.
echo
echo "== aurora feedback $analysis --correct monthly_spend=log_transform --accept-rest"
$aurora feedback "$analysis" --correct monthly_spend=log_transform --accept-rest
for round in 2 3; do
  id=$($aurora analyze "$sample" --domain retail --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["analysis_id"])')
  $aurora feedback "$id" --correct monthly_spend=log_transform --accept-rest >/dev/null
done
echo
echo "== aurora rules --domain retail   (domains are stored as pseudonyms; naming one labels its rules)"
$aurora rules --domain retail
echo
echo "== aurora analyze $sample (after the corrections)"
$aurora analyze "$sample" --domain retail --json | python3 -c '
import json, sys
result = json.load(sys.stdin)
for column in result["columns"]:
    if column["name"] == "monthly_spend":
        r = column["recommendation"]
        print("monthly_spend -> %s (%s, confidence %.2f): %s" % (r["action"], r["source"], r["confidence"], r["explanation"]))
'
echo
echo "== aurora stats"
$aurora stats
