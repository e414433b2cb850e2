#include "bcp/util/text_table.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

namespace bcp::util {

std::string format_columns(const std::vector<std::string>& header,
                           const std::vector<std::vector<std::string>>& cells) {
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& line : cells)
      if (c < line.size()) width[c] = std::max(width[c], line[c].size());
  }
  std::ostringstream os;
  const auto print = [&](const std::vector<std::string>& line) {
    for (size_t c = 0; c < width.size(); ++c)
      os << (c ? "  " : "") << std::setw(static_cast<int>(width[c]))
         << (c < line.size() ? line[c] : std::string());
    os << '\n';
  };
  print(header);
  for (const auto& line : cells) print(line);
  return os.str();
}

}  // namespace bcp::util
