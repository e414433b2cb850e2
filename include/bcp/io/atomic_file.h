// Writing a file so that readers see the old file or the complete new one, never a part: write a
// temporary in the same folder under a name unique to this process and call, flush and fsync it,
// rename it over the target, then fsync the folder so the rename itself survives a crash.
#pragma once
#include <string>

namespace bcp::io {

/// A temporary name beside `target`, unique per process and call ("<target>.tmp.<pid>.<n>").
std::string unique_temp_path(const std::string& target);
/// fsync of a file or a folder; throws std::runtime_error naming `path` when it fails.
void fsync_path(const std::string& path);
/// Renames `tmp` over `target` and syncs the folder; removes `tmp` and throws on failure.
void commit_temp_file(const std::string& tmp, const std::string& target);
/// Writes `bytes` to `target` atomically (see above). Errors name the file.
void write_file_atomically(const std::string& target, const std::string& bytes);
/// The same for a folder filled under another name beside it (e.g. "predictions.incomplete"):
/// renames `staged` to `target`, which must not exist or be an empty folder, and syncs the
/// parent folder, so `target` appears complete or not at all. Errors name both.
void commit_directory(const std::string& staged, const std::string& target);

}  // namespace bcp::io
