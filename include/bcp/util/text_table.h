// Plain-text tables for the terminal: right-aligned columns two spaces apart.
#pragma once
#include <string>
#include <vector>

namespace bcp::util {

/// `header` then each row of `cells`, every column as wide as its widest cell, one line each.
/// Rows shorter than the header leave their last columns empty.
std::string format_columns(const std::vector<std::string>& header,
                           const std::vector<std::vector<std::string>>& cells);

}  // namespace bcp::util
