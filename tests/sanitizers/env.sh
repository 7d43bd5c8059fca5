# Sanitizer runtime options for build-asan (sourced by scripts/test.sh and scripts/fuzz.sh).
#   ASan: leaks checked (LSan); protect_shadow_gap=0 because the CUDA runtime that LibTorch loads maps memory in the
#         gap ASan would protect (harmless without a GPU, needed with one); a failed huge allocation returns null
#         to the caller (which reports it) instead of aborting.
#   UBSan: every report is fatal (the build also compiles with -fno-sanitize-recover=undefined).
_san_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:protect_shadow_gap=0:allocator_may_return_null=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$_san_dir/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$_san_dir/ubsan.supp}"
