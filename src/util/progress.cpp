#include "bcp/util/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace bcp::util {

ProgressLine::ProgressLine(std::FILE* stream) : stream_(stream) {
  const char* env = std::getenv("BCP_PROGRESS");
  if (env && std::strcmp(env, "0") == 0) return;
  active_ = (env && std::strcmp(env, "1") == 0) || ::isatty(::fileno(stream_)) == 1;
}

ProgressLine::~ProgressLine() {
  clear();
}

void ProgressLine::update(const std::string& text, bool force) {
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && shown_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  std::fprintf(stream_, "\r\033[K%s", text.c_str());
  std::fflush(stream_);
  shown_ = true;
}

void ProgressLine::clear() {
  if (!active_ || !shown_) return;
  std::fputs("\r\033[K", stream_);
  std::fflush(stream_);
  shown_ = false;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(std::llround(seconds));
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  }
  return buf;
}

}  // namespace bcp::util
