// A run's logs: `log.txt` for people (also echoed to stdout), `metrics.jsonl` for programs (one
// JSON object per line: training steps and validations), and TensorBoard event files under
// `tb/<stage>/` with the same numbers (train/loss, train/lr, train/<loss part>, val/mean_dice,
// val/dice/class_<c>, ...), so `tensorboard --logdir RUNS` compares runs and stages.
#pragma once
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <memory>
#include <string>

namespace bcp::io {
class EventWriter;
}  // namespace bcp::io
namespace bcp::util {
class ProgressLine;
}  // namespace bcp::util
namespace bcp::train {

class RunLog {
 public:
  /// Opens both logs in `dir` for appending (a resumed run continues them). `echo` mirrors
  /// the human log to stdout.
  RunLog(const std::string& dir, bool echo = true);
  ~RunLog();
  /// One human line, prefixed with the wall-clock time.
  void info(const std::string& line);
  /// The live status line (on a terminal, when echoing; see util/progress.h); not logged.
  void status(const std::string& text);
  /// One machine record; `kind` is "step", "validation", "stage" or "event". Step and validation
  /// records with a "stage" and an "iteration" also go to TensorBoard: every number as a scalar
  /// ("train/" or "val/" + key), every list of numbers per class ("val/dice/class_1", ...).
  void record(const std::string& kind, nlohmann::json fields);

 private:
  void write_scalars(const std::string& prefix, const nlohmann::json& fields);
  std::string dir_;
  std::ofstream human_;
  std::ofstream machine_;
  bool echo_;
  std::map<std::string, std::unique_ptr<io::EventWriter>> writers_;  ///< per stage
  std::unique_ptr<util::ProgressLine> progress_;
};

}  // namespace bcp::train
