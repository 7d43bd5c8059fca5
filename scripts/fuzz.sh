#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz; clang with ASan + UBSan in build-asan, scripts/sanitize_build.sh) and
# runs each for a given time, one process at a time, starting from the seed corpus in tests/fuzz/corpus/<target>
# (copied; new inputs go to build-asan/corpus/<target>, findings to build-asan/findings/<target>-crash-*).
#   scripts/fuzz.sh [SECONDS_PER_TARGET (default 60)] [TARGET ...]   targets: safetensors gguf tokenizer_json experiment
# Exit status: 0 when no target found anything, 1 otherwise. Needs clang-14 and libclang-rt-14-dev (scripts/setup.sh
# installs them). Environment: PTQ_ASAN_BUILD_DIR (build-asan), PTQ_JOBS (2, for the build), PTQ_FUZZ_RSS_MB (4096).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_PER=${1:-60}
shift || true
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(safetensors gguf tokenizer_json experiment)
BUILD=${PTQ_ASAN_BUILD_DIR:-build-asan}
scripts/sanitize_build.sh "${TARGETS[@]/%/_fuzz}"

# shellcheck source=../tests/sanitizers/env.sh
. tests/sanitizers/env.sh
mkdir -p "$BUILD/findings"
status=0
for t in "${TARGETS[@]}"; do
  work="$BUILD/corpus/$t"
  mkdir -p "$work"
  cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  log="$BUILD/fuzz-$t.log"
  echo "== fuzz $t: ${SECONDS_PER} s, corpus $(ls "$work" | wc -l) inputs, log $log"
  rc=0
  "$BUILD/tests/fuzz/${t}_fuzz" "$work" -max_total_time="$SECONDS_PER" -rss_limit_mb="${PTQ_FUZZ_RSS_MB:-4096}" \
    -timeout=30 -print_final_stats=1 -artifact_prefix="$BUILD/findings/$t-" >"$log" 2>&1 || rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  echo "   exit $rc; $execs executions; $cov; corpus now $(ls "$work" | wc -l) inputs"
  if [ "$rc" != 0 ]; then
    status=1
    grep -E 'ERROR|fuzz finding|Test unit written|SUMMARY' "$log" | head -20 || true
  fi
done
exit $status
