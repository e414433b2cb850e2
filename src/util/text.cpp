#include "bcp/util/text.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace bcp::util {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string dotted_key(const std::string& pointer) {
  std::string key = pointer.empty() ? pointer : pointer.substr(1);
  std::replace(key.begin(), key.end(), '/', '.');
  return key;
}

}  // namespace bcp::util
