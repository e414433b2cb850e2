// The text of an exception for a one-line error: LibTorch's c10::Error::what() appends a C++
// backtrace, which users should not see and which breaks "one line names the file and problem".
#pragma once
#include <c10/util/Exception.h>

#include <exception>
#include <string>

namespace bcp::util {

/// The message on one line: line breaks (CLI11 lists, ITK and HDF5 texts) become spaces.
inline std::string error_message(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  std::string text = c10_error ? c10_error->what_without_backtrace() : e.what();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  for (char& ch : text)
    if (ch == '\n' || ch == '\r') ch = ' ';
  return text;
}

}  // namespace bcp::util
