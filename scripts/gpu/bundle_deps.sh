#!/usr/bin/env bash
# Gathers ptq's Debian-built dependencies from this machine's installed packages into one relocatable folder and packs
# it as DIR.tar.xz, the one file to carry to a machine that has a compiler, nvcc and python3's torch but no package
# registry (the GPU machines: docs/setup.md, "On a GPU machine without package registries").
# scripts/gpu/build_cuda.sh builds ptq against it.
#   libraries  headers, CMake package configs and pkg-config files of yaml-cpp, nlohmann-json, fmt, sqlite3,
#              GoogleTest + gmock, Google Benchmark, sentencepiece, pcre2, zstd, zlib; the static .a where Debian
#              ships one (nothing to find at run time), else the .so with its soname link (fmt, benchmark,
#              sentencepiece: build_cuda.sh's binaries find them through their build RPATH)
#   tools      pkg-config (pkgconf), ninja, cmake + ctest and their modules (cmake-data), with every shared library
#              they load except glibc's in lib/tools, reached through a DT_RPATH of $ORIGIN/../lib/tools: it
#              covers their indirect libraries too and, unlike LD_LIBRARY_PATH, is not inherited by the compilers
#              and tests they start
#   data/      the few files the *_CUDA tests and scripts/gpu/bench.sh read from PTQ_DATA_DIR (stories260K-hf, its
#              reference logits, the TinyStories sample, the Llama-2 tokenizer), laid out as in ../shared/data
# The folder mirrors /usr (include/, lib/<multiarch>/, share/), so Debian's CMake configs, which find their prefix by
# walking up from their own location, keep working; the absolute /usr left in .pc and .cmake files is rewritten
# relative to the file. cmake's libraries (curl, OpenSSL, libarchive, ICU's 30 MiB of data) make the folder 92 MiB,
# too big to carry as it is (18 MiB without cmake); the archive is a .tar.xz, not .tar.zst, because python3's tarfile
# unpacks xz everywhere while zstd may be missing there.
# Usage: scripts/gpu/bundle_deps.sh [DIR]        (default deps/bundle; writes DIR/, DIR.tar.xz and DIR/MANIFEST.txt)
# Environment: PTQ_BUNDLE_CMAKE=0 leaves cmake and ctest out (archive 5 MiB instead of 23; the H200 image has its
#              own CMake), PTQ_DATA_DIR (where the CUDA tests' data comes from; default ../shared/data).
# Needs: the Debian packages below (scripts/setup.sh installs them) and patchelf; missing ones are installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
DIR=${1:-deps/bundle}
DIR=$(realpath -m "$DIR")
ARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
DATA_SRC=${PTQ_DATA_DIR:-$ROOT/../shared/data}
WITH_CMAKE=${PTQ_BUNDLE_CMAKE:-1}

# package | libraries to ship (lib<name>) | CMake package folders to ship (those ptq's CMakeLists find_package()s)
LIBRARY_PACKAGES=(
  "libyaml-cpp-dev|yaml-cpp|yaml-cpp"
  "nlohmann-json3-dev||nlohmann_json"
  "libfmt-dev|fmt|fmt"
  "libsqlite3-dev|sqlite3|"
  "libgtest-dev|gtest gtest_main|GTest"
  "libgmock-dev|gmock gmock_main|GTest"
  "libbenchmark-dev|benchmark benchmark_main|benchmark"
  "libsentencepiece-dev|sentencepiece sentencepiece_train|"
  "libpcre2-dev|pcre2-8|"
  "libzstd-dev|zstd|"
  "zlib1g-dev|z|"
)
# What the *_CUDA tests read from PTQ_DATA_DIR (tests/integration/model_reference_test.cc, cuda_parity_test.cc),
# relative to the shared data folder: 2 MiB, against 41 MiB for the whole folder.
CUDA_TEST_DATA=(models/stories260K-hf fixtures/stories260K_reference.json
  eval/tinystories/tinystories_valid_first1000.txt
  models/llama2-tokenizer/tokenizer.model)  # scripts/gpu/bench.sh: the 7B-shaped random model's tokenizer
TOOL_PACKAGES=(pkgconf ninja-build patchelf xz-utils)
[ "$WITH_CMAKE" = 1 ] && TOOL_PACKAGES+=(cmake cmake-data)

step_start=0
step() { step_start=$(date +%s); echo "== bundle: $1"; }
step_done() { echo "   ($(( $(date +%s) - step_start )) s)"; }

step "Debian packages"
debian_packages=()
for entry in "${LIBRARY_PACKAGES[@]}"; do debian_packages+=("${entry%%|*}"); done
scripts/install_debian_packages.sh "${debian_packages[@]}" "${TOOL_PACKAGES[@]}"
step_done

# Built next to DIR and renamed at the end, so an interrupted run never leaves a half bundle that looks complete.
# An existing DIR is replaced only if it is a bundle (has our MANIFEST.txt): DIR is a user's path, rm -rf must not
# hit anything else.
if [ -e "$DIR" ] && [ ! -f "$DIR/MANIFEST.txt" ]; then
  echo "bundle_deps.sh: $DIR exists and is not a bundle (no MANIFEST.txt); not replacing it" >&2; exit 2
fi
STAGE="$DIR.tmp-$$"
trap 'rm -rf "$STAGE" "$DIR.tar.xz.tmp-$$"' EXIT
rm -rf "$STAGE"
mkdir -p "$STAGE/lib/$ARCH" "$STAGE/bin"
LIB="$STAGE/lib/$ARCH"

# copy_usr FILE: copies FILE (an absolute path under /usr) to the same place under the stage, links as links.
copy_usr() { local rel=${1#/usr/}; mkdir -p "$STAGE/$(dirname "$rel")"; cp -P "$1" "$STAGE/$rel"; }

# soname FILE: the DT_SONAME of a shared library.
soname() { objdump -p "$1" | awk '$1 == "SONAME" { print $2 }'; }

# copy_shared DEV_LINK DEST_DIR: the real file of a .so under its own name, plus the soname and (when DEV_LINK is a
# development name like libfmt.so) dev-name links, so both the linker (-lfmt, full path) and the loader find it.
copy_shared() {
  local dev=$1 dest=$2 real so
  real=$(readlink -f "$dev"); so=$(soname "$real")
  cp "$real" "$dest/"
  [ -n "$so" ] && [ "$so" != "$(basename "$real")" ] && ln -sf "$(basename "$real")" "$dest/$so"
  [ "$(basename "$dev")" != "$so" ] && [ "$(basename "$dev")" != "$(basename "$real")" ] \
    && ln -sf "${so:-$(basename "$real")}" "$dest/$(basename "$dev")"
  return 0
}

step "libraries, headers, CMake and pkg-config files"
declare -A SHIPPED=()       # lib name -> a (static) or so (shared)
GLIBC_LIBS='^(c|m|dl|pthread|rt)$'   # -l names that the machine's glibc provides
for entry in "${LIBRARY_PACKAGES[@]}"; do
  IFS='|' read -r pkg libs cmake_dirs <<<"$entry"
  files=$(dpkg -L "$pkg")
  # Headers: everything the package puts under /usr/include.
  while read -r f; do
    if [ -f "$f" ] || [ -L "$f" ]; then copy_usr "$f"; fi
  done < <(grep '^/usr/include/' <<<"$files")
  for name in $libs; do
    if grep -qx "/usr/lib/$ARCH/lib$name.a" <<<"$files"; then
      cp "/usr/lib/$ARCH/lib$name.a" "$LIB/"; SHIPPED[$name]=a
    elif grep -qx "/usr/lib/$ARCH/lib$name.so" <<<"$files"; then
      copy_shared "/usr/lib/$ARCH/lib$name.so" "$LIB"; SHIPPED[$name]=so
    else
      echo "bundle_deps.sh: $pkg ships neither lib$name.a nor lib$name.so" >&2; exit 1
    fi
  done
  for d in $cmake_dirs; do
    while read -r f; do
      if [ -f "$f" ]; then copy_usr "$f"; fi
    done < <(grep -E "^/usr/(lib/$ARCH|share)/cmake/$d/" <<<"$files")
  done
  # A .pc goes in only when every library it names (-lNAME) is shipped or glibc's: libpcre2-16.pc and friends stay
  # out.
  while read -r f; do
    ok=1
    for l in $(grep -E '^Libs:' "$f" | grep -oE -- '-l[^ ]+' | sed 's/^-l//'); do
      [ -n "${SHIPPED[$l]:-}" ] || [[ $l =~ $GLIBC_LIBS ]] || ok=0
    done
    if [ $ok = 1 ]; then copy_usr "$f"; fi
  done < <(grep -E '/pkgconfig/[^/]+\.pc$' <<<"$files")
done

# Debian's yaml-cpp config imports the shared library although the package also has the static one we ship: point
# the imported target at the .a (and make it STATIC) wherever a config names the .so of a library shipped static.
for name in "${!SHIPPED[@]}"; do
  [ "${SHIPPED[$name]}" = a ] || continue
  mapfile -t configs < <(grep -rlE "lib$name\\.so" "$STAGE/lib/$ARCH/cmake" "$STAGE/share/cmake" 2>/dev/null || true)
  for f in "${configs[@]}"; do
    targets=$(awk -v lib="lib$name.so" '
      /set_target_properties\(/ { t = $0; sub(/.*set_target_properties\(/, "", t); sub(/ .*/, "", t) }
      index($0, lib) && /IMPORTED_LOCATION/ { print t }' "$f" | sort -u)
    sed -i -E "/IMPORTED_SONAME_[A-Z]+ +\"lib${name//+/\\+}\\.so/d; s#(lib${name//+/\\+})\\.so(\\.[0-9]+)*\"#\\1.a\"#g" "$f"
    for t in $targets; do
      sed -i "s/add_library($t SHARED IMPORTED)/add_library($t STATIC IMPORTED)/" "$(dirname "$f")"/*.cmake
      echo "   $t: imported as the static lib$name.a"
    done
  done
done

# Relocation. CMake configs: drop the "/usr move" guards, the only absolute paths in them (they re-point the prefix at
# /usr when the file's real path is Debian's; never true for the bundle). pkg-config: prefix and -I/-L relative to
# the .pc (pkgconf's ${pcfiledir}); libdir is where the bundle keeps every library, which also repairs libzstd.pc
# (Debian's says ${prefix}/lib while the library is in lib/<multiarch>).
CONFIG_DIRS=("$LIB/cmake" "$STAGE/share/cmake" "$LIB/pkgconfig" "$STAGE/share/pkgconfig")
while read -r f; do
  sed -i '/get_filename_component(_realOrig /,/^endif()/d' "$f"
done < <(find "${CONFIG_DIRS[@]}" -name '*.cmake' 2>/dev/null)
while read -r f; do
  up=$(realpath -m --relative-to="$(dirname "$f")" "$STAGE")
  sed -i -E "s#/usr(/|\$|[[:space:]])#\${pcfiledir}/$up\\1#g" "$f"
  if [[ $f == "$LIB/pkgconfig/"* ]]; then sed -i -E 's#^libdir=.*#libdir=${pcfiledir}/..#' "$f"; fi
done < <(find "${CONFIG_DIRS[@]}" -name '*.pc' 2>/dev/null)
left=$(grep -rnE '(^|[^#].*)/usr(/|"|$)' --include='*.cmake' --include='*.pc' "${CONFIG_DIRS[@]}" 2>/dev/null \
  | grep -vE ':[0-9]+:[[:space:]]*#' || true)
if [ -n "$left" ]; then echo "bundle_deps.sh: absolute /usr paths left:" >&2; echo "$left" >&2; exit 1; fi
step_done

step "tools (pkg-config, ninja$([ "$WITH_CMAKE" = 1 ] && echo ', cmake, ctest'))"
TOOLS="$STAGE/lib/tools"
mkdir -p "$TOOLS"
cp /usr/bin/pkgconf "$STAGE/bin/pkg-config"
cp /usr/bin/ninja "$STAGE/bin/ninja"
if [ "$WITH_CMAKE" = 1 ]; then
  cp /usr/bin/cmake /usr/bin/ctest "$STAGE/bin/"
  # CMake finds its modules at <bin>/../share/cmake-X.Y; Help/ (the --help-* texts) is left out.
  cmroot=$(ls -d /usr/share/cmake-[0-9]*.[0-9]* | sort -V | tail -1)
  mkdir -p "$STAGE/share/$(basename "$cmroot")"
  for d in Modules Templates include; do cp -a "$cmroot/$d" "$STAGE/share/$(basename "$cmroot")/"; done
fi
# glibc's own libraries must come from the machine that runs the tool (they belong to its loader); everything else,
# libstdc++ included, goes in, so the tools depend on nothing but glibc there.
GLIBC_RE='^(ld-linux.*|libc|libm|libdl|libpthread|librt|libresolv|libutil|libanl|libnsl|libmvec)\.so'
for exe in "$STAGE"/bin/*; do
  while read -r dep; do
    base=$(basename "$dep")
    [[ $base =~ $GLIBC_RE ]] && continue
    [ -e "$TOOLS/$base" ] || cp "$(readlink -f "$dep")" "$TOOLS/$base"
  done < <(ldd "/usr/bin/$(basename "$exe" | sed 's/^pkg-config$/pkgconf/')" | awk '/=> \// { print $3 }')
  patchelf --force-rpath --set-rpath '$ORIGIN/../lib/tools' "$exe"
done
# Each tool must resolve every non-glibc library inside the bundle and start.
for exe in "$STAGE"/bin/*; do
  outside=$(ldd "$exe" | awk '/=> \// { print $1, $3 }' | grep -vE "$GLIBC_RE" | while read -r n p; do
    [[ $(realpath "$p") == "$TOOLS"/* ]] || echo "$n $p"; done)
  if [ -n "$outside" ]; then echo "bundle_deps.sh: $exe loads libraries from outside the bundle:" >&2; echo "$outside" >&2; exit 1; fi
done
"$STAGE/bin/ninja" --version >/dev/null
"$STAGE/bin/pkg-config" --version >/dev/null
[ "$WITH_CMAKE" = 1 ] && "$STAGE/bin/cmake" --version >/dev/null
# Every shipped .pc must resolve, through the bundle's pkg-config alone, to libraries that exist in the bundle.
export PKG_CONFIG_LIBDIR="$LIB/pkgconfig:$STAGE/share/pkgconfig" PKG_CONFIG_PATH=""
unset PKG_CONFIG_SYSROOT_DIR
for pc in "$LIB"/pkgconfig/*.pc "$STAGE"/share/pkgconfig/*.pc; do
  m=$(basename "$pc" .pc)
  flags=$("$STAGE/bin/pkg-config" --cflags --libs "$m")
  for l in $(grep -oE -- '(^| )-l[^ ]+' <<<"$flags" | sed 's/^ *-l//'); do
    [[ $l =~ $GLIBC_LIBS ]] && continue
    [ -e "$LIB/lib$l.a" ] || [ -e "$LIB/lib$l.so" ] || { echo "bundle_deps.sh: $m.pc: lib$l not in the bundle" >&2; exit 1; }
  done
  if grep -qE -- '-[IL]/usr' <<<"$flags"; then echo "bundle_deps.sh: $m.pc still points at /usr: $flags" >&2; exit 1; fi
done
unset PKG_CONFIG_LIBDIR PKG_CONFIG_PATH
step_done

step "test data for the *_CUDA tests"
for rel in "${CUDA_TEST_DATA[@]}"; do
  if [ -e "$DATA_SRC/$rel" ]; then
    mkdir -p "$STAGE/data/$(dirname "$rel")"; cp -r "$DATA_SRC/$rel" "$STAGE/data/$rel"
  else
    echo "   warning: $DATA_SRC/$rel missing: the tests that read it fail there"
  fi
done
step_done

# The oldest glibc the shipped ELF files load with, and the oldest libstdc++ the shared libraries ptq links load with
# (the tools bring their own). Symbol versions say it; the static archives, compiled here, can only fail at link time
# there, with the missing symbol named.
# needs PREFIX FILES...: the highest PREFIX<version> among the versioned symbols the files import.
needs() { local pre=$1; shift; objdump -T "$@" 2>/dev/null | grep -oE "${pre}[0-9][0-9.]*" | sed "s/^$pre//" | sort -uV | tail -1; }
mapfile -t elves < <(find "$STAGE/bin" "$TOOLS" "$LIB" -type f \( -perm -u+x -o -name '*.so*' \) ! -name '*.a')
mapfile -t ptq_shared < <(find "$LIB" -type f -name '*.so*')
glibc_min=$(needs GLIBC_ "${elves[@]}")
glibcxx_min=$(needs GLIBCXX_ "${ptq_shared[@]}")

{
  echo "# ptq dependency bundle (scripts/gpu/bundle_deps.sh); scripts/gpu/build_cuda.sh reads the key=value lines"
  echo "built_on=$(. /etc/os-release; echo "$PRETTY_NAME") $(uname -m), $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "multiarch=$ARCH"
  echo "glibc_min=$glibc_min"
  echo "glibcxx_min=$glibcxx_min"
  echo "compiler=$(g++ -dumpfullversion)"
  echo "cmake=$([ "$WITH_CMAKE" = 1 ] && "$STAGE/bin/cmake" --version | head -1 | awk '{print $3}' || echo none)"
  echo "ninja=$("$STAGE/bin/ninja" --version)"
  echo "pkg_config=$("$STAGE/bin/pkg-config" --version)"
  echo "# packages"
  for entry in "${LIBRARY_PACKAGES[@]}" ; do p=${entry%%|*}; dpkg-query -W -f='${Package}=${Version}\n' "$p"; done
  for f in /usr/bin/pkgconf /usr/bin/ninja $([ "$WITH_CMAKE" = 1 ] && echo /usr/bin/cmake "$cmroot/Modules"); do
    dpkg-query -W -f='${Package}=${Version}\n' "$(dpkg -S "$f" | cut -d: -f1)"
  done
  echo "# libraries (a: static, so: shared)"
  for name in $(printf '%s\n' "${!SHIPPED[@]}" | sort); do echo "lib$name ${SHIPPED[$name]}"; done
} >"$STAGE/MANIFEST.txt"

rm -rf "$DIR"
mv "$STAGE" "$DIR"
step "archive $(basename "$DIR").tar.xz"
# Owner and order fixed so two runs over the same packages give the same member list; -T0 uses the free cores.
tar -C "$(dirname "$DIR")" --sort=name --owner=0 --group=0 --numeric-owner -cf - "$(basename "$DIR")" \
  | xz -9 -T0 >"$DIR.tar.xz.tmp-$$"
mv "$DIR.tar.xz.tmp-$$" "$DIR.tar.xz"
step_done

size() { du -sh --apparent-size "$@" 2>/dev/null | awk '{print $1}'; }
echo "== bundle: $DIR ($(size "$DIR"), $(find "$DIR" -type f | wc -l) files); carry $DIR.tar.xz ($(size "$DIR.tar.xz"))"
printf '   %-34s %s\n' \
  "include/" "$(size "$DIR/include")" \
  "lib/$ARCH/*.a (static)" "$(cd "$DIR/lib/$ARCH"; ls *.a | sed 's/\.a$//' | tr '\n' ' ')" \
  "lib/$ARCH/*.so (shared)" "$(cd "$DIR/lib/$ARCH"; ls *.so | sed 's/\.so$//' | tr '\n' ' ')" \
  "lib/$ARCH (all libraries)" "$(size "$DIR/lib/$ARCH")" \
  "CMake configs" "$(cd "$DIR"; ls -d lib/$ARCH/cmake/* share/cmake/* | xargs -n1 basename | tr '\n' ' ')" \
  "pkg-config modules" "$(cd "$DIR"; ls lib/$ARCH/pkgconfig share/pkgconfig | grep '\.pc$' | sed 's/\.pc$//' | tr '\n' ' ')" \
  "bin/" "$(ls "$DIR/bin" | tr '\n' ' ')" \
  "lib/tools (the tools' libraries)" "$(size "$DIR/lib/tools")" \
  "share/cmake-* (CMake modules)" "$(size "$DIR"/share/cmake-* || echo none)" \
  "data/" "$(size "$DIR/data" || echo none)"
echo "   needs there: glibc >= $glibc_min, libstdc++ >= GLIBCXX_$glibcxx_min (MANIFEST.txt)"
