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
  const std::string s(v);
  size_t end = 0;
  while (end < s.size() && end < 9 && s[end] >= '0' && s[end] <= '9') ++end;
  // "4" or "4,2" (nested levels): the outer level. Anything else is not a count.
  if (end == 0 || (end < s.size() && s[end] != ',')) return 0;
  return std::stoll(s.substr(0, end));
}

}  // namespace bcp::util
