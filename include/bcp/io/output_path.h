// Outputs stay inside the folder the user named. Files bcp writes whole are renamed into place,
// which replaces a symbolic link rather than following it; the folders bcp creates inside an
// output folder, and the logs it appends to, could still lead elsewhere through a link planted
// there, so bcp refuses to write through one.
#pragma once
#include <filesystem>

namespace bcp::io {

/// Creates `base / relative` and returns it. `base` is the folder the user named (taken as it
/// is); an existing component of `relative` that is a symbolic link is refused
/// (std::runtime_error naming it) before anything is created.
std::filesystem::path make_dir_inside(const std::filesystem::path& base,
                                      const std::filesystem::path& relative);

/// Throws std::runtime_error naming `path` when it exists as a symbolic link: for the files bcp
/// appends to (a run's logs), which cannot be replaced atomically.
void refuse_link(const std::filesystem::path& path);

}  // namespace bcp::io
