#!/usr/bin/env bash
# Installs what ptq needs and builds it into build/. Idempotent: nothing present is reinstalled, pip's cache is reused.
#   Debian packages: compilers' libraries listed in DEBIAN_PACKAGES below (sudo when not root)
#   LibTorch:        the torch wheel pinned in scripts/requirements-torch.txt, in a project-local .venv/
#   Build:           cmake + ninja (or make) into build/, -j${PTQ_JOBS:-2}
# Environment: PTQ_BUILD_DIR (default build), PTQ_BUILD_TYPE (Release), PTQ_JOBS (2), PTQ_BUILD_BENCH (ON),
#              PTQ_PYTHON (python3 used to create .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${PTQ_BUILD_DIR:-build}
JOBS=${PTQ_JOBS:-2}

DEBIAN_PACKAGES=(build-essential cmake ninja-build pkg-config git python3-venv
  libyaml-cpp-dev nlohmann-json3-dev libfmt-dev libsqlite3-dev libgtest-dev libgmock-dev libbenchmark-dev
  libsentencepiece-dev libpcre2-dev libzstd-dev zstd zlib1g-dev curl
  # compiler cache: rebuilds of a fresh clone reuse earlier objects (CMakeLists.txt PTQ_USE_CCACHE)
  ccache
  # the default model's training corpus (src/train/corpus.h)
  bible-kjv bible-kjv-text fortunes fortunes-min jargon-text debian-handbook perl-doc)

# A single-node SLURM cluster for tests/slurm/run_slurm_test.sh (`ptq run --backend slurm`), started by the test itself.
DEBIAN_PACKAGES+=(munge slurmctld slurmd slurm-client)

# clang with its sanitizer and libFuzzer runtimes: scripts/test.sh's ASan + UBSan build of the unit tests and the
# fuzz harnesses' corpus runs (scripts/sanitize_build.sh, scripts/fuzz.sh).
DEBIAN_PACKAGES+=(clang-14 libclang-rt-14-dev)

step_start=0
step() { step_start=$(date +%s); echo "== setup: $1"; }
step_done() { echo "   ($(( $(date +%s) - step_start )) s)"; }

step "Debian packages"
scripts/install_debian_packages.sh "${DEBIAN_PACKAGES[@]}"
step_done

step "LibTorch (torch wheel in .venv)"
PY=${PTQ_PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
want=$(grep -E '^torch==' scripts/requirements-torch.txt | cut -d= -f3)
have=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("torch"))' 2>/dev/null || true)
if [ "${have%%+*}" != "$want" ]; then
  echo "   installing torch $want (found: ${have:-none})"
  .venv/bin/pip install --disable-pip-version-check -q -r scripts/requirements-torch.txt
else
  echo "   torch $have present"
fi
TORCH_CMAKE=$(.venv/bin/python -c 'import torch.utils; print(torch.utils.cmake_prefix_path)' 2>/dev/null)
step_done

step "configure ($BUILD_DIR)"
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
if [ -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" >/dev/null
else
  cmake -S . -B "$BUILD_DIR" "${GEN[@]}" -DCMAKE_BUILD_TYPE="${PTQ_BUILD_TYPE:-Release}" \
    -DCMAKE_PREFIX_PATH="$TORCH_CMAKE" -DPTQ_BUILD_BENCH="${PTQ_BUILD_BENCH:-ON}" >"$BUILD_DIR.configure.log" 2>&1 \
    || { cat "$BUILD_DIR.configure.log"; exit 1; }
  rm -f "$BUILD_DIR.configure.log"
fi
step_done

step "build (-j$JOBS)"
cmake --build "$BUILD_DIR" -j "$JOBS"
step_done
echo "== setup: done; binary at $ROOT/$BUILD_DIR/ptq"
