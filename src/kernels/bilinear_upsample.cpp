// Channels-last rows: each output pixel is one loop over its C channels, which GCC vectorises
// (compiled for AVX-512, AVX2 and baseline x86-64). Source indices and weights as LibTorch's
// upsample kernels compute them (area_pixel_compute_scale, compute_source_index_and_lambda).
#include "bcp/kernels/bilinear_upsample.h"

#include <torch/autograd.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "bcp/util/parallel.h"
#include "bcp/util/vector_clones.h"
#include "bf16_bits.h"

namespace bcp::kernels {
namespace {

using bf16::bits;
using bf16::from_float;
using bf16::mutable_bits;
using bf16::to_float;

/// Along one axis: each output index's two source indices and their weights.
struct Taps {
  std::vector<int64_t> i0, i1;
  std::vector<float> w0, w1;

  Taps(int64_t in, int64_t out) : i0(out), i1(out), w0(out), w1(out) {
    const float scale = out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.0f;
    for (int64_t o = 0; o < out; ++o) {
      const auto k = static_cast<size_t>(o);
      if (in == out) {
        i0[k] = i1[k] = o;
        w0[k] = 1.0f;
        w1[k] = 0.0f;
        continue;
      }
      const float real = scale * static_cast<float>(o);
      i0[k] = static_cast<int64_t>(real);
      i1[k] = i0[k] + (i0[k] < in - 1 ? 1 : 0);
      w1[k] = std::min(std::max(real - static_cast<float>(i0[k]), 0.0f), 1.0f);
      w0[k] = 1.0f - w1[k];
    }
  }
};

// One output row: out[o][k] = sum of the four taps' weights times their inputs, in fp32. The
// two input rows may be the same (the last row): __restrict__ holds as both are only read.
BCP_VECTOR_CLONES_16BIT void interpolate_row(const uint16_t* __restrict__ row0,
                                             const uint16_t* __restrict__ row1,
                                             uint16_t* __restrict__ out, int64_t width, int64_t c,
                                             const int64_t* i0, const int64_t* i1, const float* w0,
                                             const float* w1, float h0, float h1) {
  for (int64_t o = 0; o < width; ++o, out += c) {
    const uint16_t *a = row0 + i0[o] * c, *b = row0 + i1[o] * c;
    const uint16_t *d = row1 + i0[o] * c, *e = row1 + i1[o] * c;
    const float w00 = h0 * w0[o], w01 = h0 * w1[o], w10 = h1 * w0[o], w11 = h1 * w1[o];
    for (int64_t k = 0; k < c; ++k)
      out[k] = from_float(w00 * to_float(a[k]) + w01 * to_float(b[k]) + w10 * to_float(d[k]) +
                          w11 * to_float(e[k]));
  }
}

// One output row's gradient spread over the two input rows' fp32 sums. The rows, and two taps,
// may be the same (the last row and column), so only `grad` is __restrict__: it never overlaps
// the sums, which is what lets the loops vectorise without a run-time overlap check.
BCP_VECTOR_CLONES_16BIT void spread_row(const uint16_t* __restrict__ grad, float* sum0, float* sum1,
                                        int64_t width, int64_t c, const int64_t* i0,
                                        const int64_t* i1, const float* w0, const float* w1,
                                        float h0, float h1) {
  for (int64_t o = 0; o < width; ++o, grad += c) {
    float *a = sum0 + i0[o] * c, *b = sum0 + i1[o] * c;
    float *d = sum1 + i0[o] * c, *e = sum1 + i1[o] * c;
    const float w00 = h0 * w0[o], w01 = h0 * w1[o], w10 = h1 * w0[o], w11 = h1 * w1[o];
    // One tap after the other, as two of them may be the same pixel.
    for (int64_t k = 0; k < c; ++k) a[k] += w00 * to_float(grad[k]);
    for (int64_t k = 0; k < c; ++k) b[k] += w01 * to_float(grad[k]);
    for (int64_t k = 0; k < c; ++k) d[k] += w10 * to_float(grad[k]);
    for (int64_t k = 0; k < c; ++k) e[k] += w11 * to_float(grad[k]);
  }
}

BCP_VECTOR_CLONES_16BIT void round_rows(const float* __restrict__ from, uint16_t* __restrict__ to,
                                        int64_t n) {
  for (int64_t i = 0; i < n; ++i) to[i] = from_float(from[i]);
}

torch::Tensor empty_rows(int64_t n, int64_t c, int64_t h, int64_t w) {
  return torch::empty({n, c, h, w}, torch::TensorOptions()
                                        .dtype(torch::kBFloat16)
                                        .memory_format(torch::MemoryFormat::ChannelsLast));
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct BilinearUpsample : torch::autograd::Function<BilinearUpsample> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, int64_t out_h,
                               int64_t out_w) {
    const int64_t n = x.size(0), c = x.size(1), in_h = x.size(2), in_w = x.size(3);
    const Taps th(in_h, out_h), tw(in_w, out_w);
    torch::Tensor y = empty_rows(n, c, out_h, out_w);
    const uint16_t* xb = bits(x);
    uint16_t* yb = mutable_bits(y);
    util::parallel_for(0, n * out_h, 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t image = r / out_h, oh = r % out_h;
        const auto k = static_cast<size_t>(oh);
        const uint16_t* in = xb + image * in_h * in_w * c;
        interpolate_row(in + th.i0[k] * in_w * c, in + th.i1[k] * in_w * c, yb + r * out_w * c,
                        out_w, c, tw.i0.data(), tw.i1.data(), tw.w0.data(), tw.w1.data(), th.w0[k],
                        th.w1[k]);
      }
    });
    ctx->saved_data["in_h"] = in_h;
    ctx->saved_data["in_w"] = in_w;
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const torch::Tensor g =
        grads[0].to(torch::kBFloat16).contiguous(torch::MemoryFormat::ChannelsLast);
    const int64_t n = g.size(0), c = g.size(1), out_h = g.size(2), out_w = g.size(3);
    const int64_t in_h = ctx->saved_data["in_h"].toInt(), in_w = ctx->saved_data["in_w"].toInt();
    const Taps th(in_h, out_h), tw(in_w, out_w);
    torch::Tensor dx = empty_rows(n, c, in_h, in_w);
    const uint16_t* gb = bits(g);
    uint16_t* db = mutable_bits(dx);
    const int64_t plane = in_h * in_w * c;
    // One image per task: its sums in fp32, spread in output order, rounded once.
    util::parallel_for(0, n, 1, [&](int64_t i0, int64_t i1) {
      std::vector<float> sum(static_cast<size_t>(plane));
      for (int64_t image = i0; image < i1; ++image) {
        std::fill(sum.begin(), sum.end(), 0.0f);
        for (int64_t oh = 0; oh < out_h; ++oh) {
          const auto k = static_cast<size_t>(oh);
          spread_row(gb + (image * out_h + oh) * out_w * c, sum.data() + th.i0[k] * in_w * c,
                     sum.data() + th.i1[k] * in_w * c, out_w, c, tw.i0.data(), tw.i1.data(),
                     tw.w0.data(), tw.w1.data(), th.w0[k], th.w1[k]);
        }
        round_rows(sum.data(), db + image * plane, plane);
      }
    });
    return {dx, {}, {}};
  }
};

}  // namespace

bool fuses_bilinear_upsample(const torch::Tensor& x) {
  return x.defined() && x.device().is_cpu() && x.scalar_type() == torch::kBFloat16 &&
         x.dim() == 4 && x.numel() > 0 && x.is_contiguous(torch::MemoryFormat::ChannelsLast);
}

torch::Tensor bilinear_upsample(const torch::Tensor& x, int64_t out_h, int64_t out_w) {
  TORCH_CHECK(fuses_bilinear_upsample(x),
              "bilinear_upsample: needs a non-empty bf16 channels-last CPU tensor (N, C, H, W), "
              "got ",
              x.scalar_type(), " ", x.sizes());
  TORCH_CHECK(out_h >= 1 && out_w >= 1, "bilinear_upsample: output size must be positive, got ",
              out_h, "x", out_w);
  return BilinearUpsample::apply(x, out_h, out_w);
}

}  // namespace bcp::kernels
