// Random draws that give the same numbers with every standard library:
// std::uniform_int_distribution and friends are implementation-defined, which would make a run's
// masks, crops and batch order depend on the compiler that built bcp.
#pragma once
#include <cstdint>
#include <random>

namespace bcp::util {

/// Uniform integer in [lo, hi) (requires lo < hi) by rejection of the biased low tail.
inline int64_t uniform_int(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  const uint64_t range = static_cast<uint64_t>(hi - lo);
  const uint64_t threshold = (0 - range) % range;  // 2^64 mod range
  for (;;) {
    const uint64_t r = rng();
    if (r >= threshold) return lo + static_cast<int64_t>(r % range);
  }
}

/// Uniform double in [0, 1) from the top 53 bits of one draw.
inline double uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

}  // namespace bcp::util
