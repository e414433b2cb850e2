// Path options: an empty path names no file or folder (and would quietly mean the current
// folder), so every command refuses it as it refuses any other malformed value: a usage error
// (exit 2) naming the option.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

namespace bcp::cli {

/// The check every path option carries: `->check(bcp::cli::non_empty_path())`.
inline const CLI::Validator& non_empty_path() {
  static const CLI::Validator check(
      [](std::string& value) {
        return value.empty() ? std::string("an empty path names no file or folder") : std::string();
      },
      "");
  return check;
}

}  // namespace bcp::cli
