// The kernels work on the activations as rows of C channels (channels-last memory order) and on
// raw bf16 bits, so that the compiler vectorises each channel loop; they are compiled for AVX-512,
// AVX2 and baseline x86-64 and picked at load time. Sums are fp32 within a block of rows and fp64
// across blocks, in block order: the result does not depend on the number of threads.
#include "bcp/kernels/batch_norm_act.h"

#include <torch/autograd.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "bcp/kernels/dropout.h"
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

constexpr int64_t kBlockValues = 16384;

// leaky_relu(v) for slope >= 0: v where v's sign bit is clear, else v * slope.
inline float leaky(float v, float slope) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return select(0u - (u >> 31), v * slope, v);
}

// All ones where a bf16 value is > 0 (its bits as int16 are), else zero.
inline uint32_t positive(uint16_t bits) {
  return 0u - static_cast<uint32_t>(static_cast<int16_t>(bits) > 0);
}

// sum[c] += x - shift[c] and sq[c] += (x - shift[c])^2 over `rows` rows of `c` channels.
BCP_VECTOR_CLONES_16BIT void add_shifted_moments(const uint16_t* __restrict__ x, int64_t rows,
                                                 int64_t c, const float* __restrict__ shift,
                                                 float* __restrict__ sum, float* __restrict__ sq) {
  for (int64_t r = 0; r < rows; ++r, x += c)
    for (int64_t k = 0; k < c; ++k) {
      const float v = to_float(x[k]) - shift[k];
      sum[k] += v;
      sq[k] += v * v;
    }
}

// The kernels below take an optional dropout: `keep`, the mask in bf16 bits (0 or 1 / (1 - p);
// null for none; 16 bits as the activations, so the loops vectorise alike). Each is a template on
// whether there is one, inlined into the per-ISA functions, so that both loops vectorise.
#define BCP_INLINE inline __attribute__((always_inline))
// Pointers are __restrict__: without it GCC checks for overlap at run time and may take a
// scalar loop, whose rounding (no fused multiply-add) differs from the vector loop's.

// The dropout factor of value k of a row.
template <bool kDrop>
BCP_INLINE float kept(const uint16_t* __restrict__ keep, int64_t k) {
  if constexpr (kDrop) {
    return to_float(keep[k]);
  } else {
    (void)keep, (void)k;
    return 1.0f;
  }
}

// The element-wise kernels run over `n` values (whole rows) a stripe of `p` values at a time: p
// is whole rows too, and their per-channel arrays hold p values, each channel's repeated. With
// 16 channels a row is one 512-bit vector of bf16, too short a loop; a stripe of 64 is four.

// y = leaky_relu(x * scale + offset), times the dropout factor.
template <bool kDrop>
BCP_INLINE void normalize(const uint16_t* __restrict__ x, uint16_t* __restrict__ y, int64_t n,
                          int64_t p, const float* __restrict__ scale,
                          const float* __restrict__ offset, float slope,
                          const uint16_t* __restrict__ keep) {
  for (int64_t i = 0; i < n; i += p, x += p, y += p, keep += kDrop ? p : 0) {
    const int64_t len = std::min(p, n - i);
    for (int64_t k = 0; k < len; ++k) {
      const float v = to_float(x[k]) * scale[k] + offset[k];
      y[k] = from_float(leaky(v, slope) * kept<kDrop>(keep, k));
    }
  }
}

BCP_VECTOR_CLONES_16BIT void normalize_values(const uint16_t* __restrict__ x,
                                              uint16_t* __restrict__ y, int64_t n, int64_t p,
                                              const float* __restrict__ scale,
                                              const float* __restrict__ offset, float slope,
                                              const uint16_t* __restrict__ keep) {
  if (keep)
    normalize<true>(x, y, n, p, scale, offset, slope, keep);
  else
    normalize<false>(x, y, n, p, scale, offset, slope, keep);
}

// The gradient into the activation: dy times the dropout factor, where the output y is > 0, else
// times slope too (a dropped value's is zero either way).
template <bool kDrop>
BCP_INLINE float activation_grad(uint16_t dy, uint16_t y, float slope,
                                 const uint16_t* __restrict__ keep, int64_t k) {
  const float d = to_float(dy) * kept<kDrop>(keep, k);
  return select(positive(y), d, d * slope);
}

// With g the activation's input gradient and xh the normalised input: sum_g[c] += g and
// sum_gxh[c] += g * xh.
template <bool kDrop>
BCP_INLINE void grad_sums(const uint16_t* __restrict__ dy, const uint16_t* __restrict__ y,
                          const uint16_t* __restrict__ x, int64_t rows, int64_t c,
                          const float* __restrict__ mean, const float* __restrict__ invstd,
                          float slope, const uint16_t* __restrict__ keep, float* __restrict__ sum_g,
                          float* __restrict__ sum_gxh) {
  for (int64_t r = 0; r < rows; ++r, dy += c, y += c, x += c, keep += kDrop ? c : 0)
    for (int64_t k = 0; k < c; ++k) {
      const float g = activation_grad<kDrop>(dy[k], y[k], slope, keep, k);
      sum_g[k] += g;
      sum_gxh[k] += g * ((to_float(x[k]) - mean[k]) * invstd[k]);
    }
}

BCP_VECTOR_CLONES_16BIT void add_grad_sums(const uint16_t* __restrict__ dy,
                                           const uint16_t* __restrict__ y,
                                           const uint16_t* __restrict__ x, int64_t rows, int64_t c,
                                           const float* __restrict__ mean,
                                           const float* __restrict__ invstd, float slope,
                                           const uint16_t* __restrict__ keep,
                                           float* __restrict__ sum_g, float* __restrict__ sum_gxh) {
  if (keep)
    grad_sums<true>(dy, y, x, rows, c, mean, invstd, slope, keep, sum_g, sum_gxh);
  else
    grad_sums<false>(dy, y, x, rows, c, mean, invstd, slope, keep, sum_g, sum_gxh);
}

// dx = (g - mean_g - xh * mean_gxh) * gain, gain = weight * invstd; in stripes as normalize.
template <bool kDrop>
BCP_INLINE void grad_input(const uint16_t* __restrict__ dy, const uint16_t* __restrict__ y,
                           const uint16_t* __restrict__ x, uint16_t* __restrict__ dx, int64_t n,
                           int64_t p, const float* __restrict__ mean,
                           const float* __restrict__ invstd, const float* __restrict__ mean_g,
                           const float* __restrict__ mean_gxh, const float* __restrict__ gain,
                           float slope, const uint16_t* __restrict__ keep) {
  for (int64_t i = 0; i < n; i += p, dy += p, y += p, x += p, dx += p, keep += kDrop ? p : 0) {
    const int64_t len = std::min(p, n - i);
    for (int64_t k = 0; k < len; ++k) {
      const float g = activation_grad<kDrop>(dy[k], y[k], slope, keep, k);
      const float xh = (to_float(x[k]) - mean[k]) * invstd[k];
      dx[k] = from_float((g - mean_g[k] - xh * mean_gxh[k]) * gain[k]);
    }
  }
}

BCP_VECTOR_CLONES_16BIT void grad_input_values(
    const uint16_t* __restrict__ dy, const uint16_t* __restrict__ y, const uint16_t* __restrict__ x,
    uint16_t* __restrict__ dx, int64_t n, int64_t p, const float* __restrict__ mean,
    const float* __restrict__ invstd, const float* __restrict__ mean_g,
    const float* __restrict__ mean_gxh, const float* __restrict__ gain, float slope,
    const uint16_t* __restrict__ keep) {
  if (keep)
    grad_input<true>(dy, y, x, dx, n, p, mean, invstd, mean_g, mean_gxh, gain, slope, keep);
  else
    grad_input<false>(dy, y, x, dx, n, p, mean, invstd, mean_g, mean_gxh, gain, slope, keep);
}

constexpr int64_t kStripeValues = 64;

/// Per-channel values repeated over a stripe of whole rows of at least kStripeValues values.
std::vector<float> striped(const float* per_channel, int64_t c) {
  const int64_t p = c * ((kStripeValues + c - 1) / c);
  std::vector<float> out(static_cast<size_t>(p));
  for (int64_t i = 0; i < p; ++i) out[static_cast<size_t>(i)] = per_channel[i % c];
  return out;
}

/// An activation seen as `rows` rows of `channels` values, cut into blocks of rows.
struct Rows {
  int64_t rows, channels, block_rows, blocks;

  explicit Rows(const torch::Tensor& x)
      : rows(x.numel() / x.size(1)),
        channels(x.size(1)),
        block_rows(std::max<int64_t>(1, kBlockValues / x.size(1))),
        blocks((rows + block_rows - 1) / block_rows) {}
  int64_t begin(int64_t block) const { return block * block_rows; }
  int64_t count(int64_t block) const {
    return std::min(rows, begin(block) + block_rows) - begin(block);
  }
};

/// Two per-channel sums over all rows: `add(first_row, row_count, a, b)` adds a block's terms
/// to its own zeroed fp32 accumulators; blocks run in parallel and are summed in fp64 in block
/// order.
template <typename Add>
std::pair<std::vector<double>, std::vector<double>> channel_sums(const Rows& r, const Add& add) {
  const auto c = static_cast<size_t>(r.channels);
  std::vector<float> part_a(static_cast<size_t>(r.blocks) * c, 0.0f),
      part_b(static_cast<size_t>(r.blocks) * c, 0.0f);
  util::parallel_for(0, r.blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t block = b0; block < b1; ++block) {
      const auto at = static_cast<size_t>(block) * c;
      add(r.begin(block), r.count(block), part_a.data() + at, part_b.data() + at);
    }
  });
  std::vector<double> a(c, 0.0), b(c, 0.0);
  for (int64_t block = 0; block < r.blocks; ++block)
    for (size_t k = 0; k < c; ++k) {
      a[k] += part_a[static_cast<size_t>(block) * c + k];
      b[k] += part_b[static_cast<size_t>(block) * c + k];
    }
  return {a, b};
}

/// Runs `fn(first_row, row_count)` over all rows in parallel, a block at a time.
template <typename Fn>
void for_rows(const Rows& r, const Fn& fn) {
  util::parallel_for(0, r.blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t block = b0; block < b1; ++block) fn(r.begin(block), r.count(block));
  });
}

/// Rows-of-channels order for a 4- or 5-dimensional tensor.
torch::MemoryFormat rows_format(int64_t dim) {
  return dim == 5 ? torch::MemoryFormat::ChannelsLast3d : torch::MemoryFormat::ChannelsLast;
}

/// x in rows-of-channels order: channels-last strides, which a one-voxel sample has either way.
torch::Tensor as_rows(const torch::Tensor& x) {
  return x.contiguous(rows_format(x.dim()));
}

torch::Tensor channel_values(const std::vector<double>& v) {
  auto t = torch::empty({static_cast<int64_t>(v.size())}, torch::kFloat32);
  std::copy(v.begin(), v.end(), t.data_ptr<float>());
  return t;
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// Running statistics to update. Passed to the autograd function by pointer: in LibTorch 1.13 a
/// custom function's tensor inputs must all be defined, and these may not be.
struct Running {
  torch::Tensor mean, var;
  double momentum;
};

struct BatchNormLeakyRelu : torch::autograd::Function<BatchNormLeakyRelu> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               const Running* running, double eps, double slope, double dropout_p) {
    const torch::Tensor x = as_rows(input);
    const Rows r(x);
    const int64_t c = r.channels;
    const uint16_t* xb = bits(x);
    // Moments about each channel's first value: no cancellation when the mean dwarfs the spread.
    std::vector<float> shift(static_cast<size_t>(c));
    for (int64_t k = 0; k < c; ++k) shift[static_cast<size_t>(k)] = to_float(xb[k]);
    auto [sum, sq] = channel_sums(r, [&](int64_t row, int64_t n, float* a, float* b) {
      add_shifted_moments(xb + row * c, n, c, shift.data(), a, b);
    });
    const double count = static_cast<double>(r.rows);
    std::vector<double> mean(static_cast<size_t>(c)), var(static_cast<size_t>(c));
    std::vector<float> scale(static_cast<size_t>(c)), offset(static_cast<size_t>(c));
    const float *w = weight.data_ptr<float>(), *b = bias.data_ptr<float>();
    std::vector<double> invstd(static_cast<size_t>(c));
    for (size_t k = 0; k < static_cast<size_t>(c); ++k) {
      const double m = sum[k] / count;
      mean[k] = shift[k] + m;
      var[k] = std::max(0.0, sq[k] / count - m * m);
      invstd[k] = 1.0 / std::sqrt(var[k] + eps);
      scale[k] = static_cast<float>(invstd[k] * w[k]);
      offset[k] = static_cast<float>(b[k] - mean[k] * scale[k]);
    }
    const std::vector<float> scale_p = striped(scale.data(), c),
                             offset_p = striped(offset.data(), c);
    const auto p = static_cast<int64_t>(scale_p.size());
    torch::Tensor y = torch::empty_like(x);
    uint16_t* yb = mutable_bits(y);
    const auto fslope = static_cast<float>(slope);
    // The dropout key is drawn where ParallelDropout, after batch norm and the activation (which
    // draw nothing), would draw it.
    torch::Tensor keep = torch::empty({dropout_p > 0 ? x.numel() : 0}, torch::kInt16);
    const DropoutDraw draw = dropout_p > 0 ? draw_dropout(dropout_p) : DropoutDraw{0, 0};
    // 1 / (1 - p) in bf16, as ParallelDropout's bf16 mask holds it.
    const uint16_t kept = from_float(static_cast<float>(1.0 / (1.0 - dropout_p)));
    auto* kb = dropout_p > 0 ? reinterpret_cast<uint16_t*>(keep.data_ptr<int16_t>()) : nullptr;
    for_rows(r, [&](int64_t row, int64_t n) {
      uint16_t* block_keep = kb ? kb + row * c : nullptr;
      if (block_keep) dropout_keep(draw, row * c, n * c, kept, block_keep);
      normalize_values(xb + row * c, yb + row * c, n * c, p, scale_p.data(), offset_p.data(),
                       fslope, block_keep);
    });
    if (running) {
      torch::NoGradGuard no_grad;
      std::vector<double> unbiased(var);
      for (double& v : unbiased) v *= count / std::max(1.0, count - 1);
      const double m = running->momentum;
      running->mean.mul_(1 - m).add_(channel_values(mean), m);
      running->var.mul_(1 - m).add_(channel_values(unbiased), m);
    }
    ctx->save_for_backward({x, y, channel_values(mean), channel_values(invstd), weight, keep});
    ctx->saved_data["slope"] = slope;
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &y = saved[1], &mean = saved[2], &invstd = saved[3],
                        &weight = saved[4], &keep = saved[5];
    const torch::Tensor dy = as_rows(grads[0].to(torch::kBFloat16));
    const auto slope = static_cast<float>(ctx->saved_data["slope"].toDouble());
    const Rows r(x);
    const int64_t c = r.channels;
    const uint16_t *xb = bits(x), *yb = bits(y), *db = bits(dy);
    const float *m = mean.data_ptr<float>(), *is = invstd.data_ptr<float>();
    const auto* kb =
        keep.numel() > 0 ? reinterpret_cast<const uint16_t*>(keep.data_ptr<int16_t>()) : nullptr;
    const auto block_keep = [&](int64_t row) { return kb ? kb + row * c : nullptr; };
    auto [sum_g, sum_gxh] = channel_sums(r, [&](int64_t row, int64_t n, float* a, float* b) {
      add_grad_sums(db + row * c, yb + row * c, xb + row * c, n, c, m, is, slope, block_keep(row),
                    a, b);
    });
    const double count = static_cast<double>(r.rows);
    std::vector<float> mean_g(static_cast<size_t>(c)), mean_gxh(static_cast<size_t>(c)),
        gain(static_cast<size_t>(c));
    const float* w = weight.data_ptr<float>();
    for (size_t k = 0; k < static_cast<size_t>(c); ++k) {
      mean_g[k] = static_cast<float>(sum_g[k] / count);
      mean_gxh[k] = static_cast<float>(sum_gxh[k] / count);
      gain[k] = is[k] * w[k];
    }
    const std::vector<float> m_p = striped(m, c), is_p = striped(is, c),
                             mean_g_p = striped(mean_g.data(), c),
                             mean_gxh_p = striped(mean_gxh.data(), c),
                             gain_p = striped(gain.data(), c);
    const auto p = static_cast<int64_t>(m_p.size());
    torch::Tensor dx = torch::empty_like(x);
    uint16_t* dxb = mutable_bits(dx);
    for_rows(r, [&](int64_t row, int64_t n) {
      grad_input_values(db + row * c, yb + row * c, xb + row * c, dxb + row * c, n * c, p,
                        m_p.data(), is_p.data(), mean_g_p.data(), mean_gxh_p.data(), gain_p.data(),
                        slope, block_keep(row));
    });
    return {dx, channel_values(sum_gxh), channel_values(sum_g), {}, {}, {}, {}};
  }
};

/// Each defined tensor of `ts` holds `c` contiguous fp32 values on the CPU.
void check_channel_values(const char* fn, int64_t c,
                          std::initializer_list<const torch::Tensor*> ts) {
  for (const torch::Tensor* t : ts)
    TORCH_CHECK(!t->defined() || (t->scalar_type() == torch::kFloat32 && t->numel() == c &&
                                  t->is_contiguous() && t->device().is_cpu()),
                fn, ": weight, bias and running statistics must be ", c,
                " contiguous fp32 CPU values");
}

}  // namespace

bool fuses_batch_norm_leaky_relu(const torch::Tensor& x) {
  if (!x.defined() || !x.device().is_cpu() || x.scalar_type() != torch::kBFloat16) return false;
  if (x.dim() != 4 && x.dim() != 5) return false;
  if (x.size(1) < 1 || x.numel() / x.size(1) < 2) return false;
  return x.is_contiguous(rows_format(x.dim()));
}

torch::Tensor batch_norm_leaky_relu(const torch::Tensor& x, const torch::Tensor& weight,
                                    const torch::Tensor& bias, const torch::Tensor& running_mean,
                                    const torch::Tensor& running_var, double momentum, double eps,
                                    double slope, double dropout_p) {
  TORCH_CHECK(fuses_batch_norm_leaky_relu(x),
              "batch_norm_leaky_relu: needs a bf16 channels-last CPU tensor of 4 or 5 dims with "
              "more than one value per channel, got ",
              x.scalar_type(), " ", x.sizes());
  TORCH_CHECK(slope >= 0, "batch_norm_leaky_relu: slope must be >= 0, got ", slope);
  TORCH_CHECK(dropout_p >= 0 && dropout_p < 1,
              "batch_norm_leaky_relu: dropout_p must be in [0, 1), got ", dropout_p);
  const int64_t c = x.size(1);
  check_channel_values("batch_norm_leaky_relu", c, {&weight, &bias, &running_mean, &running_var});
  TORCH_CHECK(weight.defined() == bias.defined(),
              "batch_norm_leaky_relu: weight and bias must be both defined or both undefined");
  TORCH_CHECK(running_mean.defined() == running_var.defined(),
              "batch_norm_leaky_relu: running mean and variance must be both defined or both "
              "undefined");
  // Without affine parameters: a scale of one and a shift of zero, whose gradients go nowhere.
  const auto values = [&](double v) { return torch::full({c}, v, torch::kFloat32); };
  const Running running{running_mean, running_var, momentum};
  return BatchNormLeakyRelu::apply(
      x, weight.defined() ? weight : values(1), bias.defined() ? bias : values(0),
      running_mean.defined() ? &running : nullptr, eps, slope, dropout_p);
}

torch::Tensor batch_norm_leaky_relu_inference(const torch::Tensor& x, const torch::Tensor& weight,
                                              const torch::Tensor& bias,
                                              const torch::Tensor& running_mean,
                                              const torch::Tensor& running_var, double eps,
                                              double slope) {
  TORCH_CHECK(fuses_batch_norm_leaky_relu(x),
              "batch_norm_leaky_relu_inference: needs a bf16 channels-last CPU tensor of 4 or 5 "
              "dims, got ",
              x.scalar_type(), " ", x.sizes());
  TORCH_CHECK(slope >= 0, "batch_norm_leaky_relu_inference: slope must be >= 0, got ", slope);
  const int64_t c = x.size(1);
  TORCH_CHECK(running_mean.defined() && running_var.defined(),
              "batch_norm_leaky_relu_inference: needs running statistics");
  check_channel_values("batch_norm_leaky_relu_inference", c,
                       {&weight, &bias, &running_mean, &running_var});
  const torch::Tensor in = as_rows(x);
  const Rows r(in);
  // BatchNorm's inference as one product and one sum per value, as LibTorch's CPU kernel (which
  // computes the two per channel in fp32, so values may differ from its in the last bit).
  std::vector<float> scale(static_cast<size_t>(c)), offset(static_cast<size_t>(c));
  const float *mean = running_mean.data_ptr<float>(), *var = running_var.data_ptr<float>();
  const float* w = weight.defined() ? weight.data_ptr<float>() : nullptr;
  const float* b = bias.defined() ? bias.data_ptr<float>() : nullptr;
  for (size_t k = 0; k < static_cast<size_t>(c); ++k) {
    const double s = (w ? w[k] : 1.0) / std::sqrt(static_cast<double>(var[k]) + eps);
    scale[k] = static_cast<float>(s);
    offset[k] = static_cast<float>((b ? b[k] : 0.0) - mean[k] * s);
  }
  torch::Tensor y = torch::empty_like(in);
  const uint16_t* xb = bits(in);
  uint16_t* yb = mutable_bits(y);
  const std::vector<float> scale_p = striped(scale.data(), c), offset_p = striped(offset.data(), c);
  const auto p = static_cast<int64_t>(scale_p.size());
  for_rows(r, [&](int64_t row, int64_t n) {
    normalize_values(xb + row * c, yb + row * c, n * c, p, scale_p.data(), offset_p.data(),
                     static_cast<float>(slope), nullptr);
  });
  return y;
}

}  // namespace bcp::kernels

#undef BCP_INLINE
