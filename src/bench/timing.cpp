#include <algorithm>
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <string>

#include "bcp/bench/bench.h"

namespace bcp::bench {

double Timing::median() const {
  if (seconds.empty()) return 0;
  std::vector<double> s = seconds;
  std::sort(s.begin(), s.end());
  const size_t n = s.size();
  return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

double Timing::min() const {
  return seconds.empty() ? 0 : *std::min_element(seconds.begin(), seconds.end());
}

Timing time_repeats(int warmup, int repeats, const std::function<void()>& fn) {
  if (warmup < 0 || repeats < 1)
    throw std::invalid_argument("bench: need warm-up >= 0 and repeats >= 1, got " +
                                std::to_string(warmup) + " and " + std::to_string(repeats));
  for (int i = 0; i < warmup; ++i) fn();
  Timing t;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    t.seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return t;
}

double peak_memory_mib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      double kib = 0;
      status >> kib;
      return kib / 1024.0;
    }
    status.ignore(1 << 20, '\n');
  }
  return -1;
}

void reset_peak_memory() {
  std::ofstream clear("/proc/self/clear_refs");
  if (clear) clear << "5";
}

}  // namespace bcp::bench
