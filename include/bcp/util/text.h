// The string helpers that file-name matching and messages share (one copy of each).
#pragma once
#include <string>

namespace bcp::util {

/// ASCII lower case.
std::string lower(std::string s);
/// True when `s` ends with `suffix` (an empty suffix always matches).
bool ends_with(const std::string& s, const std::string& suffix);
/// A JSON pointer from nlohmann's flatten() as a dotted config key: "/data/patch/0" ->
/// "data.patch.0".
std::string dotted_key(const std::string& pointer);

}  // namespace bcp::util
