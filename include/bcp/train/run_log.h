// A run's two logs: `log.txt` for people (also echoed to stdout) and `metrics.jsonl` for
// programs (one JSON object per line: training steps and validations).
#pragma once
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

namespace bcp::train {

class RunLog {
 public:
  /// Opens both logs in `dir` for appending (a resumed run continues them). `echo` mirrors
  /// the human log to stdout.
  RunLog(const std::string& dir, bool echo = true);
  /// One human line, prefixed with the wall-clock time.
  void info(const std::string& line);
  /// One machine record; `kind` is "step", "validation", "stage" or "event".
  void record(const std::string& kind, nlohmann::json fields);

 private:
  std::ofstream human_;
  std::ofstream machine_;
  bool echo_;
};

}  // namespace bcp::train
