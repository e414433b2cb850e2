#include "bcp/util/threads.h"

#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

namespace bcp::util {

int64_t available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return std::max<int64_t>(1, std::thread::hardware_concurrency());
}

int64_t omp_num_threads_env() {
  const char* v = std::getenv("OMP_NUM_THREADS");
  if (v == nullptr) return 0;
  std::string s(v);
  const auto space = [](char c) { return c == ' ' || c == '\t'; };
  while (!s.empty() && space(s.back())) s.pop_back();
  size_t begin = 0;
  while (begin < s.size() && space(s[begin])) ++begin;
  size_t end = begin;
  // At most 9 digits: a count, never an overflow.
  while (end < s.size() && end - begin < 9 && s[end] >= '0' && s[end] <= '9') ++end;
  // "4" or "4,2" (nested levels): the outer level. Anything else is not a count.
  if (end == begin || (end < s.size() && (s[end] != ',' || end + 1 == s.size()))) return 0;
  return std::stoll(s.substr(begin, end - begin));
}

int64_t max_threads() {
  return 4 * std::max<int64_t>(1, std::thread::hardware_concurrency());
}

int64_t default_threads(int64_t local_ranks) {
  // An environment value is not ours to refuse: capped where a config's `threads` is refused.
  const int64_t env = std::min(omp_num_threads_env(), max_threads());
  if (env > 0) return env;
  return std::max<int64_t>(1, available_cores() / std::max<int64_t>(1, local_ranks));
}

int64_t threads_or_default(int64_t requested, int64_t local_ranks) {
  return requested > 0 ? requested : default_threads(local_ranks);
}

}  // namespace bcp::util
