#!/usr/bin/env bash
# The CUDA issue's whole device check as one command, for a GPU machine lent for minutes (docs/setup.md, "On a
# GPU machine without package registries"): build with CUDA against the carried bundle, run every *_CUDA test, run
# scripts/gpu/bench.sh, and leave what the closing note needs in OUT as at most 8 plain files:
#   build.log, cuda_tests.log, gpu_bench.log, report.md (gpu_bench's), gpu_results.tar.gz (results/gpu: store, raw
#   JSON), summary.txt (one line per step: status and seconds)
# Each step has its own time limit, so a slow step cannot eat the others' time; a failing step is recorded and the
# next one still runs (the summary says which failed; the exit code is 1 if any did).
# Usage, with the device tool (carry deps/bundle.tar.xz, and results/models/default for the default-model section):
#   scripts/gpu_check.sh            (writes into $OUT when set, else results/gpu_check)
# Environment: PTQ_GIT_SHA (the commit, recorded with every result, where the copy has no .git);
#   PTQ_CHECK_BUILD_S (300), PTQ_CHECK_TESTS_S (180), PTQ_CHECK_BENCH_S (300): the steps' limits;
#   PTQ_CHECK_SKIP (build,tests,bench); PTQ_JOBS (nproc); gpu/bench.sh's variables pass through (PTQ_GPU_LAYERS, ...).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEST=${OUT:-$ROOT/results/gpu_check}
mkdir -p "$DEST"
SKIP=",${PTQ_CHECK_SKIP:-},"
BUILD=$ROOT/build-cuda
SUMMARY=$DEST/summary.txt
: >"$SUMMARY"
failed=0
# The test binaries that hold *_CUDA tests (found with grep, so a new *_CUDA test in a new binary is not missed) and
# what they and gpu/bench.sh need.
mapfile -t CUDA_SOURCES < <(grep -l '_CUDA)' tests/unit/*.cc tests/integration/*.cc)
TEST_BINS=()
for src in "${CUDA_SOURCES[@]}"; do
  bin=$(awk -v f="${src#tests/}" '/ptq_add_test\(/ {name=$1; sub(/.*ptq_add_test\(/, "", name)} index($0, f) {print name}' \
    tests/CMakeLists.txt | head -1)
  [ -n "$bin" ] && [[ " ${TEST_BINS[*]} " != *" $bin "* ]] && TEST_BINS+=("$bin")
done

step() {  # step NAME LIMIT_S LOG command...
  local name=$1 limit=$2 log=$3
  shift 3
  local t=$(date +%s) rc
  echo "== gpu_check: $name (limit ${limit} s)"
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
  rc=$?
  local secs=$(( $(date +%s) - t ))
  local status=ok
  [ $rc -eq 0 ] || { status="FAILED (exit $rc$([ $rc -eq 124 ] && echo ', time limit'))"; failed=1; }
  echo "$name: $status, $secs s" | tee -a "$SUMMARY"
  [ $rc -eq 0 ] || tail -15 "$log"
  return 0
}

{
  echo "machine: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
  echo "cpus: $(nproc); commit: $(git rev-parse --short HEAD 2>/dev/null || echo "${PTQ_GIT_SHA:-unknown}")"
  echo "cuda test binaries: ${TEST_BINS[*]}"
} | tee -a "$SUMMARY"

if [[ $SKIP != *,build,* ]]; then
  step build "${PTQ_CHECK_BUILD_S:-300}" "$DEST/build.log" \
    env PTQ_TARGETS="ptq_cli bench_eval_mfu ${TEST_BINS[*]}" scripts/gpu/build_cuda.sh "$BUILD"
fi

run_cuda_tests() {  # run_cuda_tests BINARY... (run through bash -c, as timeout runs programs, not functions)
  local data=$ROOT/../shared/data rc=0 ran=0
  [ -d "$data" ] || data=$ROOT/deps/bundle/data
  for b in "$@"; do
    echo "--- $b"
    PTQ_DATA_DIR=$data PTQ_BIN=$BUILD/ptq "$BUILD/tests/$b" --gtest_filter='*_CUDA:*_CUDA/*' 2>&1 | tee "/tmp/$b.cuda.log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || { rc=1; echo "FAILED $b"; }
    ran=$(( ${ran:-0} + $(sed -n 's/^\[==========\] Running \([0-9]*\) tests\{0,1\} .*/\1/p' "/tmp/$b.cuda.log" | head -1) ))
  done
  # The test main drops *_CUDA tests where LibTorch sees no GPU: none run means this was no GPU check at all.
  [ "${ran:-0}" -gt 0 ] || { echo "no *_CUDA test ran: LibTorch sees no CUDA device here"; rc=1; }
  echo "*_CUDA tests run: ${ran:-0}"
  return $rc
}
if [[ $SKIP != *,tests,* ]]; then
  export -f run_cuda_tests
  export ROOT BUILD
  step cuda_tests "${PTQ_CHECK_TESTS_S:-180}" "$DEST/cuda_tests.log" bash -c 'run_cuda_tests "$@"' _ "${TEST_BINS[@]}"
  grep -E '^\[  (PASSED|FAILED) |^\[==========\] [0-9]+ tests? from .* ran' "$DEST/cuda_tests.log" | tee -a "$SUMMARY"
fi

if [[ $SKIP != *,bench,* ]]; then
  step gpu_bench "${PTQ_CHECK_BENCH_S:-300}" "$DEST/gpu_bench.log" env PTQ_BUILD_DIR="$BUILD" scripts/gpu/bench.sh results/gpu
  [ -f results/gpu/report.md ] && cp results/gpu/report.md "$DEST/report.md"
  [ -d results/gpu ] && tar -C results -czf "$DEST/gpu_results.tar.gz" gpu
fi
echo "gpu_check: $([ $failed -eq 0 ] && echo 'all steps passed' || echo 'some steps FAILED') (summary: $SUMMARY)"
exit $failed
