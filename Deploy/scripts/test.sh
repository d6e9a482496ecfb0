#!/usr/bin/env bash
# The test command: installs what is missing, starts a private PostgreSQL (Deploy/scripts/postgres.sh),
# checks the alerting rules (promtool), builds, runs every test, compares the statistics with pandas (Deploy/scripts/pandas-check.sh), runs each libFuzzer target for 30 s (Deploy/scripts/fuzz.sh;
# AURORA_FUZZ_SECONDS sets the time, 0 skips), validates Deploy/ (Deploy/scripts/validate-deploy.sh: hadolint,
# kubernetes-validate, compose and manifests against the binaries, the release daemons run as the
# containers run them), stops the database. AURORA_SKIP_DEPLOY_VALIDATION=1 skips the last part.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
Deploy/scripts/install-deps.sh
created=""
if [ -z "${AURORA_PG_DIR:-}" ]; then
  AURORA_PG_DIR=$(mktemp -d /tmp/aurora-test-pg.XXXXXX)
  created=$AURORA_PG_DIR
fi
export AURORA_PG_DIR
export AURORA_PG_PORT=${AURORA_PG_PORT:-55433}
trap 'Deploy/scripts/postgres.sh stop; if [ -n "$created" ]; then rm -rf "$created"; fi' EXIT
AURORA_TEST_DATABASE_URL=$(Deploy/scripts/postgres.sh start)
export AURORA_TEST_DATABASE_URL
export AURORA_TEST_POSTGRES_SCRIPT="$root/Deploy/scripts/postgres.sh"
# The alerting rules: valid, and each fires on the series it is meant for (promtool unit tests).
(cd Deploy/observability && promtool check rules alerts.yml && promtool test rules alerts.test.yml)
swift build --build-tests
swift test --skip-build --disable-xctest
# Every statistic against pandas on the corpus and the simulate pool; the JSON report against its schema.
Deploy/scripts/pandas-check.sh "$root/.build/debug/aurora"
# Each daemon's libFuzzer target for a bounded time (AURORA_FUZZ_SECONDS=0 skips them).
if [ "${AURORA_FUZZ_SECONDS:-30}" != 0 ]; then
  Deploy/scripts/fuzz.sh "${AURORA_FUZZ_SECONDS:-30}"
fi
if [ "${AURORA_SKIP_DEPLOY_VALIDATION:-0}" != 1 ]; then
  Deploy/scripts/validate-deploy.sh "$AURORA_TEST_DATABASE_URL"
fi
