// The text of an exception for a one-line error: LibTorch's c10::Error::what() appends a C++
// backtrace, which users should not see and which breaks "one line names the file and problem".
#pragma once
#include <c10/util/Exception.h>

#include <exception>
#include <string>

namespace bcp::util {

inline std::string error_message(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e))
    return c10_error->what_without_backtrace();
  return e.what();
}

}  // namespace bcp::util
