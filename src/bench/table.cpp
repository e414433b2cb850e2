#include <iomanip>
#include <sstream>

#include "bcp/bench/bench.h"

namespace bcp::bench {

std::string format_table(const std::vector<nlohmann::json>& rows) {
  static const char* kColumns[] = {"benchmark",         "dataset",         "method",
                                   "precision",         "device",          "ranks",
                                   "threads",           "windows",         "seconds_median",
                                   "seconds_min",       "repeats",         "speedup_vs_fp32",
                                   "speedup_vs_1_rank", "label_agreement", "peak_memory_mib"};
  std::vector<std::string> cols;
  for (const char* c : kColumns) {
    bool anywhere = false;
    for (const auto& r : rows) anywhere = anywhere || r.contains(c);
    if (anywhere) cols.push_back(c);
  }
  auto cell = [](const nlohmann::json& v) {
    std::ostringstream os;
    if (v.is_number_float()) {
      os << std::fixed << std::setprecision(v.get<double>() < 10 ? 4 : 1) << v.get<double>();
    } else if (v.is_string()) {
      os << v.get<std::string>();
    } else {
      os << v.dump();
    }
    return os.str();
  };
  std::ostringstream out;
  out << "|";
  for (const auto& c : cols) out << " " << c << " |";
  out << "\n|";
  for (size_t i = 0; i < cols.size(); ++i) out << "---|";
  out << "\n";
  for (const auto& r : rows) {
    out << "|";
    for (const auto& c : cols) out << " " << (r.contains(c) ? cell(r.at(c)) : "") << " |";
    out << "\n";
  }
  return out.str();
}

std::string format_profiles(const std::vector<nlohmann::json>& rows) {
  std::ostringstream out;
  out << std::fixed;
  for (const auto& r : rows) {
    if (!r.contains("profile")) continue;
    out << "\nwhere one " << r.value("precision", "") << " step goes (one more step under "
        << "LibTorch's profiler: " << std::setprecision(2) << r.value("profile_seconds", 0.0)
        << " s, against a median of " << r.value("seconds_median", 0.0)
        << " s unprofiled)\n| share | self seconds | calls | operator |\n|---|---|---|---|\n";
    for (const auto& op : r.at("profile"))
      out << "| " << std::setprecision(1) << 100 * op.value("share", 0.0) << "% | "
          << std::setprecision(3) << op.value("self_seconds", 0.0) << " | "
          << op.value("calls", int64_t{0}) << " | " << op.value("op", "") << " |\n";
  }
  return out.str();
}

}  // namespace bcp::bench
