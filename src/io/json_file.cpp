#include "bcp/io/json_file.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace bcp::io {

nlohmann::json read_json_file(const std::string& path) {
  if (std::filesystem::is_directory(path))
    throw std::runtime_error(path + ": is a folder, not a file");
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error(path +
                             (std::filesystem::exists(path) ? ": cannot open" : ": not found"));
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": not valid JSON (" + std::string(e.what()) + ")");
  } catch (const std::exception& e) {  // a read error of the stream itself
    throw std::runtime_error(path + ": cannot read (" + std::string(e.what()) + ")");
  }
}

}  // namespace bcp::io
