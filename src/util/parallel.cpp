// Compiled alone, with OpenMP's flags (CMakeLists.txt).
#include "bcp/util/parallel.h"

#include <ATen/Parallel.h>

namespace bcp::util {

void parallel_for(int64_t begin, int64_t end, int64_t grain_size,
                  const std::function<void(int64_t, int64_t)>& fn) {
  at::parallel_for(begin, end, grain_size, fn);
}

}  // namespace bcp::util
