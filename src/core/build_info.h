// Provenance of this binary, recorded next to every result ptq writes.
#pragma once

namespace ptq {

struct BuildInfo {
  const char* git_commit;     // short SHA of the source tree, "-dirty" when tracked files were modified
  const char* torch_version;  // LibTorch version the build was configured against (CMake's Torch_VERSION)
  bool torch_cuda;            // LibTorch was built with CUDA (the CUDA code paths are compiled in)
};

// Generated at build time by cmake/build_info.cmake.
const BuildInfo& build_info();

}  // namespace ptq
