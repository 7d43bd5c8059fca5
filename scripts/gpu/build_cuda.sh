#!/usr/bin/env bash
# Configures and builds ptq with CUDA against the dependency bundle of scripts/gpu/bundle_deps.sh and an installed torch's
# LibTorch: the way to build on a GPU machine that has a compiler, nvcc and python3's torch but no package registry
# (docs/setup.md, "On a GPU machine without package registries"). CMake is told to look for the Debian packages ONLY in
# the bundle (no system prefixes, no PATH-derived prefixes, no package registries, pkg-config limited to the bundle's
# .pc files), and the generated build is checked for any system copy, so a build that succeeds on a machine that has
# those packages installed shows that the bundle alone is enough.
# Usage: scripts/gpu/build_cuda.sh [BUILD_DIR]      (default build-cuda)
# Environment:
#   PTQ_BUNDLE            the bundle folder (default deps/bundle); unpacked from PTQ_BUNDLE.tar.xz when only that exists
#   PTQ_TORCH_PREFIX      LibTorch's CMake prefix; default torch.utils.cmake_prefix_path of .venv/bin/python when
#                         the project has a .venv, else of python3
#   TORCH_CUDA_ARCH_LIST  default: the compute capability of the GPUs nvidia-smi lists, else 9.0 (H100/H200)
#   CUDACXX               nvcc (default: nvcc on PATH, else /usr/local/cuda/bin/nvcc)
#   PTQ_JOBS (nproc), PTQ_BUILD_TYPE (Release), PTQ_BUILD_BENCH (ON), PTQ_TARGETS (targets to build; default all),
#   PTQ_CMAKE, PTQ_NINJA  tools to use instead of the bundle's (default: the bundle's when they run, else PATH's)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD_DIR=$(realpath -m "${1:-build-cuda}")
BUNDLE=$(realpath -m "${PTQ_BUNDLE:-deps/bundle}")
JOBS=${PTQ_JOBS:-$(nproc)}

step_start=0
step() { step_start=$(date +%s); echo "== build_cuda: $1"; }
step_done() { echo "   ($(( $(date +%s) - step_start )) s)"; }
die() { echo "build_cuda.sh: $*" >&2; exit 1; }

step "bundle ($BUNDLE)"
if [ ! -f "$BUNDLE/MANIFEST.txt" ]; then
  [ -f "$BUNDLE.tar.xz" ] || die "no bundle: neither $BUNDLE/ nor $BUNDLE.tar.xz (make one with scripts/gpu/bundle_deps.sh)"
  echo "   unpacking $BUNDLE.tar.xz"
  # tar needs the xz program for .xz, which a bare machine may lack; python3's tarfile reads xz without it.
  if command -v xz >/dev/null; then
    tar -C "$(dirname "$BUNDLE")" -xJf "$BUNDLE.tar.xz"
  else
    python3 - "$BUNDLE.tar.xz" "$(dirname "$BUNDLE")" <<'EOF'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    # the "data" filter (Python 3.12, backported to some older ones) refuses members that escape the target folder
    t.extractall(sys.argv[2], **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
EOF
  fi
  [ -f "$BUNDLE/MANIFEST.txt" ] || die "$BUNDLE.tar.xz did not unpack to $BUNDLE (renamed? unpack it by hand)"
fi
manifest() { sed -n "s/^$1=//p" "$BUNDLE/MANIFEST.txt"; }
ARCH=$(manifest multiarch)
BLIB="$BUNDLE/lib/$ARCH"
# This machine must be at least as new as the one that made the bundle, or its tools and libraries will not load:
# say so up front rather than through a loader error later.
have_glibc=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
need_glibc=$(manifest glibc_min)
if [ "$(printf '%s\n' "$need_glibc" "$have_glibc" | sort -V | head -1)" != "$need_glibc" ]; then
  echo "   warning: glibc $have_glibc here, the bundle's binaries want >= $need_glibc (bundle tools may not start)"
fi
have_glibcxx=$(strings -a "$("${CXX:-c++}" -print-file-name=libstdc++.so.6)" 2>/dev/null \
  | grep -oE '^GLIBCXX_3\.4\.[0-9]+$' | sed 's/^GLIBCXX_//' | sort -V | tail -1 || true)
need_glibcxx=$(manifest glibcxx_min)
if [ -n "$have_glibcxx" ] && [ "$(printf '%s\n' "$need_glibcxx" "$have_glibcxx" | sort -V | head -1)" != "$need_glibcxx" ]; then
  echo "   warning: the compiler's libstdc++ has GLIBCXX_$have_glibcxx, the bundle's shared libraries want" \
       ">= $need_glibcxx (linking fmt/sentencepiece may fail)"
fi
echo "   $(manifest built_on); glibc $have_glibc here"
step_done

step "LibTorch"
PY=$(command -v python3 || echo python3)
[ -x .venv/bin/python ] && PY=$ROOT/.venv/bin/python
if [ -n "${PTQ_TORCH_PREFIX:-}" ]; then
  TORCH_PREFIX=$PTQ_TORCH_PREFIX
  TORCH_DESC="PTQ_TORCH_PREFIX"
else
  # One python start for everything (importing torch takes seconds); its warnings (no NumPy, ...) are not ours.
  read -r TORCH_PREFIX TORCH_VERSION TORCH_CUDA < <("$PY" -c \
    'import torch, torch.utils; print(torch.utils.cmake_prefix_path, torch.__version__, torch.version.cuda)' 2>/dev/null) \
    || die "$PY cannot import torch (set PTQ_TORCH_PREFIX to LibTorch's share/cmake)"
  [ "$TORCH_CUDA" != None ] || die "$PY's torch $TORCH_VERSION is a CPU-only build; ptq's CUDA build needs a CUDA wheel"
  TORCH_DESC="$PY: torch $TORCH_VERSION, CUDA $TORCH_CUDA"
fi
[ -f "$TORCH_PREFIX/Torch/TorchConfig.cmake" ] || die "$TORCH_PREFIX has no Torch/TorchConfig.cmake"
echo "   $TORCH_PREFIX ($TORCH_DESC)"
step_done

step "CUDA toolkit and architectures"
NVCC=${CUDACXX:-$(command -v nvcc || true)}
[ -n "$NVCC" ] || NVCC=/usr/local/cuda/bin/nvcc
[ -x "$NVCC" ] || die "no nvcc (not on PATH, not /usr/local/cuda/bin/nvcc); set CUDACXX"
NVCC=$(realpath "$NVCC")
CUDA_ROOT=$(dirname "$(dirname "$NVCC")")
if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then
  TORCH_CUDA_ARCH_LIST=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | sort -uV | paste -sd';' || true)
  [ -n "$TORCH_CUDA_ARCH_LIST" ] || TORCH_CUDA_ARCH_LIST=9.0   # no GPU visible: the H200 the builds are for
fi
echo "   $NVCC ($("$NVCC" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')); TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST"
step_done

step "tools"
runs() { [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }
CMAKE=${PTQ_CMAKE:-}
if [ -z "$CMAKE" ]; then
  if runs "$BUNDLE/bin/cmake"; then CMAKE=$BUNDLE/bin/cmake; else CMAKE=$(command -v cmake || true); fi
fi
runs "${CMAKE:-/nonexistent}" || die "no working cmake (the bundle's does not start here and none is on PATH)"
NINJA=${PTQ_NINJA:-}
if [ -z "$NINJA" ]; then
  if runs "$BUNDLE/bin/ninja"; then NINJA=$BUNDLE/bin/ninja; else NINJA=$(command -v ninja || true); fi
fi
GEN=(-G "Unix Makefiles")
[ -n "$NINJA" ] && GEN=(-G Ninja -DCMAKE_MAKE_PROGRAM="$NINJA")
PKG_CONFIG=$BUNDLE/bin/pkg-config
runs "$PKG_CONFIG" || PKG_CONFIG=$(command -v pkg-config || command -v pkgconf || true)
[ -n "$PKG_CONFIG" ] || die "no working pkg-config (the bundle's does not start here and none is on PATH)"
echo "   cmake $("$CMAKE" --version | head -1 | awk '{print $3}') ($CMAKE)"
if [ -n "$NINJA" ]; then echo "   ninja $("$NINJA" --version) ($NINJA)"; else echo "   make (no ninja found)"; fi
echo "   pkg-config $("$PKG_CONFIG" --version) ($PKG_CONFIG)"
step_done

step "configure ($BUILD_DIR)"
# pkg-config sees the bundle's .pc files and nothing else (PKG_CONFIG_LIBDIR replaces its default search path);
# FindPkgConfig caches what it found, so later re-configures from the build tool do not need these variables.
export PKG_CONFIG_LIBDIR="$BLIB/pkgconfig:$BUNDLE/share/pkgconfig" PKG_CONFIG_PATH=""
unset PKG_CONFIG_SYSROOT_DIR
# Generator and compilers only for a new tree (changing them in an existing one makes CMake start over). They are
# named because PATH is not searched (below); CC and CXX are honoured as CMake itself does.
FIRST_ARGS=()
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  CC_PATH=$(command -v "${CC:-cc}") || die "no C compiler (${CC:-cc}) on PATH"
  CXX_PATH=$(command -v "${CXX:-c++}") || die "no C++ compiler (${CXX:-c++}) on PATH"
  FIRST_ARGS=("${GEN[@]}" -DCMAKE_C_COMPILER="$CC_PATH" -DCMAKE_CXX_COMPILER="$CXX_PATH")
fi
mkdir -p "$BUILD_DIR"
# ../shared/data does not travel to the GPU machines; there the bundle's data/ (what the *_CUDA tests read) becomes
# the compiled-in default data folder, so ctest and ptq find it without PTQ_DATA_DIR.
DATA_ARGS=()
[ ! -d "$ROOT/../shared/data" ] && [ -d "$BUNDLE/data" ] && DATA_ARGS=(-DPTQ_DATA_DIR="$BUNDLE/data")
# Every find_*() searches CMAKE_PREFIX_PATH (bundle, LibTorch) and explicit hints only: the system prefixes
# (/usr, /usr/local, /), the prefixes derived from PATH (/usr/bin -> /usr), the CMAKE_PREFIX_PATH environment
# variable and the package registries are all off, and /usr, /usr/local and / are ignored even where a module names
# them. The package folders and SQLite3 (a CMake find module) are named outright, so a machine whose compiler has
# no multiarch directory (lib/x86_64-linux-gnu) finds them too. Python is named for LibTorch 2.11's cuda.cmake, which
# runs it to hash libnvrtc (2.15 uses CMake's file(SHA256)).
if ! "$CMAKE" -S "$ROOT" -B "$BUILD_DIR" "${FIRST_ARGS[@]}" \
    -DCMAKE_BUILD_TYPE="${PTQ_BUILD_TYPE:-Release}" \
    -DPTQ_BUILD_BENCH="${PTQ_BUILD_BENCH:-ON}" \
    -DCMAKE_PREFIX_PATH="$BUNDLE;$TORCH_PREFIX" \
    -DCMAKE_FIND_USE_CMAKE_SYSTEM_PATH=OFF \
    -DCMAKE_FIND_USE_SYSTEM_ENVIRONMENT_PATH=OFF \
    -DCMAKE_FIND_USE_CMAKE_ENVIRONMENT_PATH=OFF \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
    -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
    -DCMAKE_IGNORE_PREFIX_PATH="/usr;/usr/local;/" \
    -Dyaml-cpp_DIR="$BLIB/cmake/yaml-cpp" \
    -Dfmt_DIR="$BLIB/cmake/fmt" \
    -DGTest_DIR="$BLIB/cmake/GTest" \
    -Dbenchmark_DIR="$BLIB/cmake/benchmark" \
    -Dnlohmann_json_DIR="$BUNDLE/share/cmake/nlohmann_json" \
    -DSQLite3_INCLUDE_DIR="$BUNDLE/include" \
    -DSQLite3_LIBRARY="$BLIB/libsqlite3.a" \
    -DPKG_CONFIG_EXECUTABLE="$PKG_CONFIG" \
    -DCMAKE_CUDA_COMPILER="$NVCC" \
    -DCUDAToolkit_ROOT="$CUDA_ROOT" \
    -DCUDA_TOOLKIT_ROOT_DIR="$CUDA_ROOT" \
    -DTORCH_CUDA_ARCH_LIST="$TORCH_CUDA_ARCH_LIST" \
    -DPython_EXECUTABLE="$PY" \
    "${DATA_ARGS[@]}" \
    >"$BUILD_DIR/configure.log" 2>&1; then
  cat "$BUILD_DIR/configure.log"; die "configure failed (log: $BUILD_DIR/configure.log)"
fi
grep -E '^-- ptq:' "$BUILD_DIR/configure.log" | sed 's/^/   /'
grep -qE '^-- ptq: .*CUDA in LibTorch: (ON|TRUE|1)' "$BUILD_DIR/configure.log" \
  || die "LibTorch was configured without CUDA (see $BUILD_DIR/configure.log)"
# The proof that only the bundle was used: no cached find result and no compile or link line of the generated
# build may name a system copy of a bundled package.
BUNDLED_RE='(yaml-cpp|nlohmann|fmt|sqlite3|gtest|gmock|benchmark|sentencepiece|pcre2|zstd|zlib|libz\.)'
SYS_RE="(^|[ =;:\"'])(-I|-L|-isystem ?)?/usr/(local/)?(include|lib|lib64|share)(/$ARCH)?/(cmake/|pkgconfig/)?(lib)?$BUNDLED_RE"
gen_files=("$BUILD_DIR/CMakeCache.txt")
[ -f "$BUILD_DIR/build.ninja" ] && gen_files+=("$BUILD_DIR/build.ninja")
mapfile -t -O ${#gen_files[@]} gen_files < <(find "$BUILD_DIR/CMakeFiles" -name link.txt -o -name flags.make)
if leaks=$(grep -HnoE "$SYS_RE[^ ;\"']*" "${gen_files[@]}"); then
  echo "$leaks" | head -20 >&2
  die "the configured build uses system copies of bundled packages (above), not the bundle"
fi
echo "   only the bundle's copies of the Debian packages are used"
step_done

step "build (-j$JOBS${PTQ_TARGETS:+, targets: $PTQ_TARGETS})"
TARGET_ARGS=()
for t in ${PTQ_TARGETS:-}; do TARGET_ARGS+=(--target "$t"); done
"$CMAKE" --build "$BUILD_DIR" -j "$JOBS" "${TARGET_ARGS[@]}"
step_done

echo "== build_cuda: done"
if [ -x "$BUILD_DIR/ptq" ]; then
  echo "   binary:  $BUILD_DIR/ptq   ($("$BUILD_DIR/ptq" version 2>/dev/null | grep -iE 'torch|cuda' | head -2 | tr '\n' ' '))"
fi
tests=$(find "$BUILD_DIR/tests" -maxdepth 1 -type f -executable -name '*_test' 2>/dev/null | sort | xargs -r -n1 basename | tr '\n' ' ')
benches=$(find "$BUILD_DIR/tests/bench" -maxdepth 1 -type f -executable -name 'bench_*' 2>/dev/null | sort | xargs -r -n1 basename | tr '\n' ' ')
[ -n "$tests" ] && echo "   tests:   $BUILD_DIR/tests/{ $tests}"
[ -n "$benches" ] && echo "   benches: $BUILD_DIR/tests/bench/{ $benches}"
DATA_HINT=""
[ -d "$BUNDLE/data" ] && DATA_HINT="PTQ_DATA_DIR=$BUNDLE/data "
# The test main drops *_CUDA tests only where no GPU is present; a filter that matches nothing in a binary passes.
echo "   GPU tests: for t in $BUILD_DIR/tests/*_test; do ${DATA_HINT}PTQ_BIN=$BUILD_DIR/ptq \$t" \
     "--gtest_filter='*_CUDA:*_CUDA/*' --gtest_brief=1 || echo FAILED \$t; done"
echo "   ctest:     $(dirname "$CMAKE")/ctest --test-dir $BUILD_DIR -L unit   (-L integration needs all of ../shared/data)"
