#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
Deploy/scripts/install-deps.sh
swift build --build-tests
swift test --skip-build --disable-xctest
