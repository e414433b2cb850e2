// The text of an exception for a one-line error: LibTorch's c10::Error::what() appends a C++
// backtrace, which users should not see and which breaks "one line names the file and problem".
#pragma once
#include <c10/util/Exception.h>

#include <exception>
#include <filesystem>
#include <string>

namespace bcp::util {

/// The message on one line: line breaks (CLI11 lists, ITK and HDF5 texts) become spaces.
inline std::string error_message(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  std::string text = c10_error ? c10_error->what_without_backtrace() : e.what();
  // "filesystem error: cannot create directories: Not a directory [/a/out]" names the file last
  // and in brackets; bcp's errors name it first.
  if (const auto* fs_error = dynamic_cast<const std::filesystem::filesystem_error*>(&e)) {
    const std::string prefix = "filesystem error: ";
    if (text.compare(0, prefix.size(), prefix) == 0) text.erase(0, prefix.size());
    const size_t bracket = text.find(" [");
    if (bracket != std::string::npos) text.erase(bracket);
    if (!fs_error->path1().empty()) text = fs_error->path1().string() + ": " + text;
    if (!fs_error->path2().empty()) text += " (to " + fs_error->path2().string() + ")";
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  for (char& ch : text)
    if (ch == '\n' || ch == '\r') ch = ' ';
  return text;
}

}  // namespace bcp::util
