// bf16 values as raw 16-bit patterns, for the loops of bcp's bf16 kernels: integer loads and
// shifts that GCC vectorises, and c10::BFloat16's rounding written so that it vectorises too.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <cstring>

namespace bcp::kernels::bf16 {

inline float to_float(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// c10::BFloat16's rounding: to nearest, ties to even, NaN to the quiet NaN.
inline uint16_t from_float(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const uint32_t nan = 0u - static_cast<uint32_t>((u & 0x7fffffffu) > 0x7f800000u);
  return static_cast<uint16_t>((rounded & ~nan) | (0x7fc0u & nan));  // masks: no branch
}

// if_set where mask is all ones, if_clear where it is zero: a select by bit masks, not by a
// condition. GCC keeps a float select a branch (a comparison may raise an FP exception), and a
// branch stops it from vectorising the loop.
inline float select(uint32_t mask, float if_set, float if_clear) {
  uint32_t a, b;
  std::memcpy(&a, &if_set, sizeof a);
  std::memcpy(&b, &if_clear, sizeof b);
  a = (a & mask) | (b & ~mask);
  float f;
  std::memcpy(&f, &a, sizeof f);
  return f;
}

inline const uint16_t* bits(const torch::Tensor& t) {
  return reinterpret_cast<const uint16_t*>(t.data_ptr<at::BFloat16>());
}

inline uint16_t* mutable_bits(torch::Tensor& t) {
  return reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>());
}

}  // namespace bcp::kernels::bf16
