#!/usr/bin/env bash
# The test command (README, CI): install what is missing and build (scripts/setup.sh), then run ctest.
# Arguments are passed to ctest, e.g. scripts/test.sh -L unit   or   scripts/test.sh -R FakeQuant
# The shared data folder defaults to ../shared/data beside the checkout; PTQ_DATA_DIR overrides it.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
scripts/setup.sh
echo "== test: ctest (labels: unit, integration)"
t1=$(date +%s)
rc=0
ctest --test-dir "${PTQ_BUILD_DIR:-build}" --output-on-failure --timeout 1500 "$@" || rc=$?
echo "== test: ctest $(( $(date +%s) - t1 )) s; total $(( $(date +%s) - t0 )) s; exit $rc"
exit $rc
