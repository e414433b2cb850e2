// A live status line on a terminal: redrawn in place ("\r", clear to end of line), throttled, and
// silent when the stream is not a terminal (CI, nohup, pipes), where callers' plain lines serve.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

namespace bcp::util {

class ProgressLine {
 public:
  /// Active when `stream` is a terminal, or when BCP_PROGRESS=1 (tests, `script` logs);
  /// BCP_PROGRESS=0 turns it off.
  explicit ProgressLine(std::FILE* stream = stdout);
  ~ProgressLine();
  bool active() const { return active_; }
  /// Redraws the line with `text`, at most about ten times a second unless `force`.
  void update(const std::string& text, bool force = false);
  /// Erases the line so that a plain line can be printed; the next update draws it again.
  void clear();

 private:
  std::FILE* stream_;
  bool active_ = false;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

/// "12s", "3m05s", "1h02m": an estimate's precision.
std::string format_duration(double seconds);

}  // namespace bcp::util
