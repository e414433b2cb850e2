#include "bcp/data/case_list.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "bcp/io/atomic_file.h"

namespace bcp::data {

namespace {

/// `name` for a message: bytes outside printable ASCII as \xNN (a binary file's NUL would cut the
/// message short).
std::string printable_name(const std::string& name) {
  std::string out;
  for (const unsigned char c : name) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> parse_case_list(const std::string& text, const std::string& source) {
  // Invisible in an editor and in a message, it would become part of the first case's name.
  if (text.rfind("\xEF\xBB\xBF", 0) == 0)
    throw std::runtime_error(source +
                             ":1: begins with a UTF-8 byte order mark (BOM, bytes EF BB BF); "
                             "save the list as UTF-8 without BOM");
  std::vector<std::string> names;
  std::map<std::string, size_t> first_line;  // a case listed twice would count twice
  std::istringstream in(text);
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    // Leading whitespace is kept on purpose: it would be part of a (strange) name, and the
    // real lists never have it; trailing blanks come from editors and Windows line ends.
    size_t end = line.find_last_not_of(" \t\r");
    if (end == std::string::npos) continue;
    names.push_back(line.substr(0, end + 1));
    if (!is_plain_case_name(names.back()))
      throw std::runtime_error(source + ":" + std::to_string(line_no) + ": case name \"" +
                               printable_name(names.back()) +
                               "\" is not a plain name (no '/', '\\' or '..'): cases stay "
                               "inside the data root");
    const auto [at, fresh] = first_line.emplace(names.back(), line_no);
    if (!fresh)
      throw std::runtime_error(source + ":" + std::to_string(line_no) + ": case \"" +
                               printable_name(names.back()) + "\" is listed again (first on line " +
                               std::to_string(at->second) + ")");
  }
  if (names.empty()) throw std::runtime_error(source + ": empty split (no case names)");
  return names;
}

std::vector<std::string> read_case_list(const std::string& path) {
  if (std::filesystem::is_directory(path))
    throw std::runtime_error(path + ": is a folder, not a case list");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error(
        path + (std::filesystem::exists(path) ? ": cannot open case list" : ": no such case list"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::runtime_error(path + ": read error in case list");
  return parse_case_list(text.str(), path);
}

bool is_plain_case_name(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  return name.find_first_of(std::string("/\\\0", 3)) == std::string::npos;
}

void check_case_name(const std::string& name) {
  if (!is_plain_case_name(name))
    throw std::invalid_argument("case name \"" + name +
                                "\" is not a plain name (no '/', '\\' or '..'): cases stay "
                                "inside the data root");
}

std::string patient_of(const std::string& name) {
  for (const char* sep : {"_frame", "_slice"}) {
    const size_t at = name.find(sep);
    if (at != std::string::npos && at > 0) return name.substr(0, at);
  }
  return name;
}

int64_t count_first_patients(const std::vector<std::string>& names, int64_t patients) {
  if (patients < 1)
    throw std::invalid_argument("labeled patients must be >= 1, got " + std::to_string(patients));
  std::set<std::string> seen;
  std::string current;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string p = patient_of(names[i]);
    if (p == current) continue;
    if (seen.count(p))
      throw std::invalid_argument("case list: the names of " + p +
                                  " are not contiguous, so 'the first patients' is ambiguous");
    if (static_cast<int64_t>(seen.size()) == patients) return static_cast<int64_t>(i);
    seen.insert(p);
    current = p;
  }
  if (static_cast<int64_t>(seen.size()) < patients)
    throw std::invalid_argument("case list has " + std::to_string(seen.size()) +
                                " patients, fewer than the " + std::to_string(patients) +
                                " asked for");
  return static_cast<int64_t>(names.size());
}

void check_listable_name(const std::string& name, const std::string& where) {
  // A line break inside a name would split it into two list entries.
  for (const unsigned char ch : name)
    if (ch < 0x20 || ch == 0x7f)
      throw std::invalid_argument(where + ": case name \"" + printable_name(name) +
                                  "\" holds a line break or other control character; rename it");
}

void write_case_list(const std::string& path, const std::vector<std::string>& names) {
  std::string text;
  for (const auto& n : names) {
    check_listable_name(n, path);
    text += n + '\n';
  }
  io::write_file_atomically(path, text);
}

}  // namespace bcp::data
