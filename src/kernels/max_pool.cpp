// Loops over a row of output pixels, each over its C channels (vectorised, compiled for AVX-512,
// AVX2 and baseline x86-64); the window's four values compared in fp32 as LibTorch's bf16 kernel.
// The plain "avx512f" clones, not the other bf16 kernels' x86-64-v4 ones: with those the
// backward's selects ran 3x slower (13 against 4 ms an ACDC step).
#include "bcp/kernels/max_pool.h"

#include <torch/autograd.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>

#include "bcp/util/parallel.h"
#include "bcp/util/vector_clones.h"
#include "bf16_bits.h"

namespace bcp::kernels {
namespace {

using bf16::bits;
using bf16::from_float;
using bf16::mutable_bits;
using bf16::select;
using bf16::to_float;

// LibTorch's step of the scan: v replaces the running maximum where v > max or v is NaN. As an
// integer mask, so that GCC vectorises the loop (a float comparison may trap, so a condition on
// one stays a branch).
inline uint32_t takes_over(float v, float max) {
  return 0u - static_cast<uint32_t>((v > max) | (v != v));
}

// One output row: y[o][k] = the maximum of rows r0 and r1 at columns 2o and 2o + 1.
BCP_VECTOR_CLONES void pool_row(const uint16_t* __restrict__ r0, const uint16_t* __restrict__ r1,
                                uint16_t* __restrict__ y, int64_t width, int64_t c) {
  for (int64_t o = 0; o < width; ++o, r0 += 2 * c, r1 += 2 * c, y += c)
    for (int64_t k = 0; k < c; ++k) {
      float m = to_float(r0[k]);  // the first value always replaces -inf
      const float b = to_float(r0[c + k]), d = to_float(r1[k]), e = to_float(r1[c + k]);
      m = select(takes_over(b, m), b, m);
      m = select(takes_over(d, m), d, m);
      m = select(takes_over(e, m), e, m);
      y[k] = from_float(m);
    }
}

// The gradient of one output row: to each window's winner (found by the same scan), zero to the
// other three.
BCP_VECTOR_CLONES void unpool_row(const uint16_t* __restrict__ r0, const uint16_t* __restrict__ r1,
                                  const uint16_t* __restrict__ g, uint16_t* __restrict__ d0,
                                  uint16_t* __restrict__ d1, int64_t width, int64_t c) {
  for (int64_t o = 0; o < width; ++o, r0 += 2 * c, r1 += 2 * c, g += c, d0 += 2 * c, d1 += 2 * c)
    for (int64_t k = 0; k < c; ++k) {
      float m = to_float(r0[k]);
      const float b = to_float(r0[c + k]), d = to_float(r1[k]), e = to_float(r1[c + k]);
      const uint32_t to_b = takes_over(b, m);
      m = select(to_b, b, m);
      const uint32_t to_d = takes_over(d, m);
      m = select(to_d, d, m);
      const uint32_t to_e = takes_over(e, m);
      // The winner is the last value that took over.
      const uint32_t win_e = to_e, win_d = to_d & ~to_e, win_b = to_b & ~to_d & ~to_e;
      const uint32_t win_a = ~(to_b | to_d | to_e);
      // As LibTorch's scatter into zeros (0 + g in bf16): -0 becomes +0, NaN the quiet NaN.
      const uint16_t gk = from_float(to_float(g[k]) + 0.0f);
      d0[k] = static_cast<uint16_t>(gk & win_a);
      d0[c + k] = static_cast<uint16_t>(gk & win_b);
      d1[k] = static_cast<uint16_t>(gk & win_d);
      d1[c + k] = static_cast<uint16_t>(gk & win_e);
    }
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct MaxPool2x2 : torch::autograd::Function<MaxPool2x2> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input) {
    const torch::Tensor x = input.contiguous(torch::MemoryFormat::ChannelsLast);
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    const int64_t oh = h / 2, ow = w / 2;
    auto y =
        torch::empty({n, c, oh, ow}, x.options().memory_format(torch::MemoryFormat::ChannelsLast));
    const uint16_t* xb = bits(x);
    uint16_t* yb = mutable_bits(y);
    util::parallel_for(0, n * oh, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, ow * c)),
                       [&](int64_t begin, int64_t end) {
                         for (int64_t r = begin; r < end; ++r) {
                           const uint16_t* r0 = xb + ((r / oh) * h + 2 * (r % oh)) * w * c;
                           pool_row(r0, r0 + w * c, yb + r * ow * c, ow, c);
                         }
                       });
    ctx->save_for_backward({x});
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const torch::Tensor x = ctx->get_saved_variables()[0];
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    const int64_t oh = h / 2, ow = w / 2;
    const torch::Tensor g =
        grads[0].to(torch::kBFloat16).contiguous(torch::MemoryFormat::ChannelsLast);
    // Every value of an even-sized input is in one window and written; a last odd row or column
    // is in none and stays zero.
    const auto options = x.options().memory_format(torch::MemoryFormat::ChannelsLast);
    torch::Tensor dx = torch::empty(x.sizes(), options);  // zeros() would drop the layout
    if (h % 2 || w % 2) dx.zero_();
    const uint16_t *xb = bits(x), *gb = bits(g);
    uint16_t* db = mutable_bits(dx);
    util::parallel_for(0, n * oh, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, ow * c)),
                       [&](int64_t begin, int64_t end) {
                         for (int64_t r = begin; r < end; ++r) {
                           const int64_t at = ((r / oh) * h + 2 * (r % oh)) * w * c;
                           unpool_row(xb + at, xb + at + w * c, gb + r * ow * c, db + at,
                                      db + at + w * c, ow, c);
                         }
                       });
    return {dx};
  }
};

}  // namespace

bool fuses_max_pool_2x2(const torch::Tensor& x) {
  // suggest_memory_format: a one-channel tensor with plain strides keeps LibTorch's (plain) output.
  return x.defined() && x.device().is_cpu() && x.scalar_type() == torch::kBFloat16 &&
         x.dim() == 4 && x.size(1) >= 1 && x.size(2) >= 2 && x.size(3) >= 2 &&
         x.is_contiguous(torch::MemoryFormat::ChannelsLast) &&
         x.suggest_memory_format() == torch::MemoryFormat::ChannelsLast;
}

torch::Tensor max_pool_2x2(const torch::Tensor& x) {
  TORCH_CHECK(fuses_max_pool_2x2(x),
              "max_pool_2x2: needs a bf16 channels-last CPU tensor of 4 dims, at least 2x2, got ",
              x.scalar_type(), " ", x.sizes());
  return MaxPool2x2::apply(x);
}

}  // namespace bcp::kernels
