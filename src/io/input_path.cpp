#include "bcp/io/input_path.h"

#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace bcp::io {

namespace fs = std::filesystem;

namespace {
std::atomic<bool> g_follow_links{false};
}  // namespace

void set_follow_links_out_of_root(bool follow) {
  g_follow_links = follow;
}
bool follow_links_out_of_root() {
  return g_follow_links;
}

std::string inside_root(const std::string& root, const std::string& path) {
  if (g_follow_links) return path;
  std::error_code ec;
  const fs::path real_root = fs::weakly_canonical(root, ec);
  if (ec) return path;  // an unreadable root fails where it is read, with its own message
  const fs::path real = fs::weakly_canonical(path, ec);
  if (ec) return path;
  const fs::path rel = real.lexically_relative(real_root);
  const bool outside = rel.empty() || *rel.begin() == "..";
  if (outside)
    throw std::runtime_error(path + ": leads outside the data root " + root +
                             " through a symbolic link (to " + real.string() +
                             "); bcp reads only files inside the root unless you pass "
                             "--follow-links");
  return path;
}

std::string file_in_root(const std::string& root, const std::string& name) {
  const fs::path rel(name);
  bool escapes = name.empty() || rel.is_absolute() || rel.has_root_path();
  for (const auto& part : rel) escapes = escapes || part == "..";
  if (escapes)
    throw std::invalid_argument("'" + name + "': not a file name inside the data root " + root +
                                " (lists are named relative to it, without '..')");
  return inside_root(root, (fs::path(root) / rel).string());
}

}  // namespace bcp::io
