// Split lists (train_slices.list, val.list, ...): one case name a line.
#pragma once
#include <string>
#include <vector>

namespace bcp::data {

/// Names in `path`, in file order. Trailing spaces/tabs and CR (CRLF files) are stripped, blank
/// lines skipped. Throws std::runtime_error naming the file when it is missing/unreadable or
/// holds no name ("empty split").
std::vector<std::string> read_case_list(const std::string& path);

/// Writes `names` one a line (LF) to `path` via a temporary file renamed into place.
/// Throws std::runtime_error naming the file on IO failure.
void write_case_list(const std::string& path, const std::vector<std::string>& names);

}  // namespace bcp::data
