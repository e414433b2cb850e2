// Reading a JSON file with an error that names it: configs, dataset.json, ablation plans.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

namespace bcp::io {

/// Parses the JSON file at `path`. Throws std::runtime_error "<path>: cannot open" or
/// "<path>: not valid JSON (...)".
nlohmann::json read_json_file(const std::string& path);

}  // namespace bcp::io
