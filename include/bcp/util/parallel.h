// at::parallel_for, compiled with OpenMP. ATen's is a header template whose `#pragma omp parallel`
// takes effect only in a file compiled with -fopenmp, and bcp's files are not (the flag would
// invalidate the precompiled header they share), so at::parallel_for called from them runs on
// one thread. This one runs on LibTorch's intra-op threads, with at::parallel_for's semantics.
#pragma once
#include <cstdint>
#include <functional>

namespace bcp::util {

/// Calls fn(b, e) on disjoint [b, e) covering [begin, end), in parallel when end - begin >
/// grain_size and not already inside a parallel region.
void parallel_for(int64_t begin, int64_t end, int64_t grain_size,
                  const std::function<void(int64_t, int64_t)>& fn);

}  // namespace bcp::util
