#include "bcp/io/output_rules.h"

#include <stdexcept>
#include <system_error>

namespace bcp::io {

namespace fs = std::filesystem;

namespace {

fs::path resolved(const fs::path& p) {
  std::error_code ec;
  fs::path r = fs::weakly_canonical(fs::absolute(p, ec), ec);
  return ec ? fs::absolute(p).lexically_normal() : r;
}

}  // namespace

bool same_or_inside(const fs::path& path, const fs::path& folder) {
  const fs::path rel = resolved(path).lexically_relative(resolved(folder));
  return !rel.empty() && *rel.begin() != "..";
}

void refuse_output_over_input(const std::string& out, const std::string& option,
                              const std::vector<std::string>& inputs) {
  std::error_code ec;
  const bool exists = fs::exists(fs::symlink_status(out, ec));
  for (const auto& in : inputs) {
    if (in.empty() || !same_or_inside(out, in)) continue;
    const bool same = resolved(out) == resolved(in);
    // A new file inside an input folder replaces nothing (a report beside the masks it scores).
    if (!same && !exists) continue;
    throw std::invalid_argument(option + " " + out + ": " +
                                (same ? "is this command's input" : "is a file inside its input ") +
                                (same ? std::string() : in) +
                                "; an output never replaces an input (name another " + option +
                                ")");
  }
}

void refuse_folder_overlapping_inputs(const std::string& out, const std::string& option,
                                      const std::vector<std::string>& inputs) {
  for (const auto& in : inputs) {
    if (in.empty()) continue;
    const char* how = same_or_inside(out, in)   ? "is or lies inside"
                      : same_or_inside(in, out) ? "holds"
                                                : nullptr;
    if (how)
      throw std::invalid_argument(option + " " + out + ": " + how + " this command's input " + in +
                                  "; bcp writes this folder itself and never one that overlaps "
                                  "its inputs (name another " +
                                  option + ")");
  }
}

void refuse_non_empty_folder(const std::string& out, const std::string& what) {
  std::error_code ec;
  const auto st = fs::symlink_status(out, ec);
  if (!fs::exists(st)) return;
  if (fs::is_directory(fs::status(out, ec)) && fs::is_empty(out, ec) && !ec) return;
  throw std::runtime_error(out + ": exists and is not an empty folder; bcp writes " + what +
                           " only into a new or empty folder and never replaces files there "
                           "(name another --out, or remove it yourself)");
}

}  // namespace bcp::io
