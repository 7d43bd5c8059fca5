// Running another program (sbatch) and capturing what it prints: fork + execvp, no shell, so arguments are never
// re-parsed; standard output and standard error are read through two pipes until both close.
#pragma once

#include <string>
#include <vector>

namespace ptq {

struct ProcessOutput {
  int exit_code = -1;  // the exit status; 128 + signal number when killed by a signal
  std::string out, err;
};

// argv[0] is looked up on PATH when it has no '/'. Throws a user error when it cannot be started (not found, not
// executable), naming it.
ProcessOutput run_process(const std::vector<std::string>& argv);

// argv0 itself when it contains a '/' and is an executable file, else the first executable PATH entry of that name;
// "" when there is none.
std::string find_executable(const std::string& argv0);

}  // namespace ptq
