// Writing a generated report file (figure, HTML page): the parent folder is created, the bytes go to a temporary file
// beside the target which is then renamed over it, so a reader (a browser, LaTeX, make) never sees half a file.
#pragma once

#include <string>

namespace ptq {

// Throws a user error naming the path when the folder or the file cannot be written.
void write_output_file(const std::string& path, const std::string& bytes);

}  // namespace ptq
