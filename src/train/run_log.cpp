#include "bcp/train/run_log.h"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace bcp::train {

RunLog::RunLog(const std::string& dir, bool echo) : echo_(echo) {
  std::filesystem::create_directories(dir);
  human_.open(dir + "/log.txt", std::ios::app);
  machine_.open(dir + "/metrics.jsonl", std::ios::app);
  if (!human_ || !machine_) throw std::runtime_error(dir + ": cannot open the run's log files");
}

void RunLog::info(const std::string& line) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::ostringstream s;
  s << "[" << std::put_time(&tm, "%H:%M:%S") << "] " << line;
  human_ << s.str() << "\n";
  human_.flush();
  if (echo_) std::cout << s.str() << std::endl;
}

void RunLog::record(const std::string& kind, nlohmann::json fields) {
  fields["kind"] = kind;
  fields["time"] =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  machine_ << fields.dump() << "\n";
  machine_.flush();
}

}  // namespace bcp::train
