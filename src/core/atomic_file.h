// Files and folders that are either complete or absent, whatever kills the process (SIGKILL, a crash, power loss):
// written under a temporary name in the destination folder, flushed to the disk (fsync), renamed into place (rename
// is atomic within one file system), then the folder entry is flushed too. A reader never sees a half-written file
// under its final name; a killed writer leaves at most a temporary ".<name>.tmp-<pid>", which the next writer into
// that folder removes (remove_stale_temps) once the process that made it is gone.
#pragma once

#include <string>
#include <string_view>

namespace ptq {

// "<folder>/.<name>.tmp-<pid>" for `path` "<folder>/<name>": the temporary of this process for that destination.
std::string temp_path_for(const std::string& path);

// Writes `bytes` to `path` through its temporary: write, fsync, rename, fsync of the folder. Throws ptq::Error (user)
// naming the file on failure (disk full, no permission), leaving no temporary behind.
void write_file_atomically(const std::string& path, std::string_view bytes);

// fsync of a written file, and of a folder (so a rename or a new entry in it survives a power loss). Throw naming
// the path on failure.
void fsync_file(const std::string& path);
void fsync_dir(const std::string& dir);

// Publishes a completely written temporary folder: every file under `tmp` and `tmp` itself are fsynced, then `tmp`
// is renamed to `dir` (which must not exist) and the parent folder fsynced. Throws naming both on failure.
void publish_dir(const std::string& tmp, const std::string& dir);

// Removes, in folder `dir`, every ".<name>.tmp-<pid>" (file or folder) whose process <pid> no longer exists: what a
// killed writer left. Entries of live processes (another writer at work) are kept. Returns how many were removed.
int remove_stale_temps(const std::string& dir);

}  // namespace ptq
