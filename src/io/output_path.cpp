#include "bcp/io/output_path.h"

#include <stdexcept>

namespace bcp::io {

namespace fs = std::filesystem;

void refuse_link(const fs::path& path) {
  if (fs::is_symlink(fs::symlink_status(path)))
    throw std::runtime_error(path.string() +
                             ": is a symbolic link; bcp does not write through links inside an "
                             "output folder (remove it, or name the real folder)");
}

fs::path make_dir_inside(const fs::path& base, const fs::path& relative) {
  fs::path at = base;
  for (const auto& part : relative) {
    if (part.empty() || part == ".") continue;
    if (part == ".." || part.has_root_path())
      throw std::invalid_argument(relative.string() + ": not a plain folder name inside " +
                                  base.string());
    at /= part;
    refuse_link(at);
  }
  fs::create_directories(at);
  return at;
}

}  // namespace bcp::io
