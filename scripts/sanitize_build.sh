#!/usr/bin/env bash
# Configures (once) and builds the sanitizer build: clang-14 with AddressSanitizer + UndefinedBehaviorSanitizer over
# all of ptq, plus libFuzzer coverage (PTQ_FUZZ=ON), in build-asan. scripts/test.sh builds the unit tests and the fuzz
# harnesses there and runs them (ctest -L 'unit|fuzz'); scripts/fuzz.sh fuzzes with the same build.
#   scripts/sanitize_build.sh TARGET...
# Environment: PTQ_ASAN_BUILD_DIR (build-asan), PTQ_JOBS (2). Needs clang-14 and libclang-rt-14-dev (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${PTQ_ASAN_BUILD_DIR:-build-asan}
JOBS=${PTQ_JOBS:-2}
CXX=${PTQ_SAN_CXX:-clang++-14}
CC=${PTQ_SAN_CC:-clang-14}
command -v "$CXX" >/dev/null ||
  { echo "sanitize_build.sh: $CXX not found (apt-get install clang-14 libclang-rt-14-dev)"; exit 2; }
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  TORCH_CMAKE=$(.venv/bin/python -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
  GEN=()
  command -v ninja >/dev/null && GEN=(-G Ninja)
  # -O1 -g: the sanitizers' usual setting (readable reports, about half the compile time of -O2).
  cmake -S . -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_PREFIX_PATH="$TORCH_CMAKE" -DPTQ_FUZZ=ON \
    -DPTQ_BUILD_BENCH=OFF >"$BUILD.configure.log" 2>&1 || { cat "$BUILD.configure.log"; exit 1; }
  rm -f "$BUILD.configure.log"
fi
cmake --build "$BUILD" -j "$JOBS" --target "$@"
