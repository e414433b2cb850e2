// Each of bcp's hand-written CPU kernels against LibTorch's own operator(s) doing the same thing,
// at the shapes the networks run them, forward alone and forward + backward where the kernel has
// one: which kernels a newer LibTorch (2.13) makes unnecessary (its own within 5%) and which still
// pay, with their figure.
//   build*/bcp_bench --benchmark_filter=BM_Kernel
//
// Names: BM_Kernel/<kernel>/<shape>/<fwd|fwd_bwd>/<ours|libtorch[_variant]>, so that each pair
// sorts together. "ours" is bcp's kernel; "libtorch" is what the network would run without it,
// in the same dtype and layout; "libtorch_fp32_casts" is LibTorch in fp32 with a cast on each side
// (what the bf16 networks ran on LibTorch 1.13, where its bf16 operator was slow or missing).
// A LibTorch operator that refuses the inputs (e.g. a dtype it lacks) reports an error, not a time.
//
// Shapes: UNet2d (ACDC) bf16 channels-last activations at batch 24 (12 labeled + 12 unlabeled),
// 256 x 256 input: its first level (16 x 256 x 256) and a deeper one (64 x 64 x 64); VNet (LA) at
// batch 4, 112 x 112 x 80 patches, 16 channels at full size, 32 at half, 256 at 1/16. The mixed
// losses at their call's shape: one BCP mixed stream, half the labeled batch (ACDC 6 x 4 x 256 x
// 256, LA 2 x 2 x 112 x 112 x 80), fp32 logits.
//
// "fwd" runs under no-grad (inference, and BCP's teacher, which stays in train mode: batch norm on
// the batch's statistics, dropout on); "fwd_bwd" is a training pass: the forward, then backward
// from a fixed random output gradient into every input that trains (activations, weights, biases).
// Inputs are made before the timed loop; one untimed call precedes it (oneDNN builds its
// primitives on first use). Each benchmark runs a fixed number of iterations (about 0.3-1 s of
// work per benchmark on 2 cores), which --benchmark_min_time does not change.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "bcp/kernels/batch_norm_act.h"
#include "bcp/kernels/bilinear_upsample.h"
#include "bcp/kernels/channel_concat.h"
#include "bcp/kernels/conv3d_channels_last.h"
#include "bcp/kernels/dropout.h"
#include "bcp/kernels/fused_mix_loss.h"
#include "bcp/kernels/max_pool.h"
#include "bcp/kernels/transposed_conv.h"
#include "bcp/train/losses.h"

namespace {

using torch::Tensor;
using Shape = std::vector<int64_t>;

// ---- helpers -------------------------------------------------------------------------------

/// Channels-last for 4 or 5 dimensions; the plain layout otherwise (a bias).
torch::MemoryFormat channels_last_of(const Shape& shape) {
  if (shape.size() == 5) return torch::MemoryFormat::ChannelsLast3d;
  return shape.size() == 4 ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
}

/// Standard normal values in bf16, channels-last (the compute copy's activations).
Tensor bf16_cl(const Shape& shape) {
  return torch::randn(shape).to(torch::kBFloat16).contiguous(channels_last_of(shape));
}

Tensor leaf(const Tensor& t) {
  return t.detach().clone().requires_grad_(true);
}

std::string dims(const Shape& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
  return s;
}

/// Forward under no-grad: `f()` returns the output.
void time_forward(benchmark::State& state, const std::function<Tensor()>& f) {
  torch::NoGradGuard no_grad;
  benchmark::DoNotOptimize(f().data_ptr());  // warm-up
  for (auto _ : state) {
    Tensor y = f();
    benchmark::DoNotOptimize(y.data_ptr());
  }
}

/// A training pass: `step()` runs the forward and the backward into `leaves` (whose gradients are
/// cleared before each step, as zero_grad(set_to_none) does).
void time_forward_backward(benchmark::State& state, const std::vector<Tensor>& leaves,
                           const std::function<void()>& step) {
  const auto clear = [&] {
    for (Tensor t : leaves) t.mutable_grad() = Tensor();
  };
  clear();
  step();  // warm-up
  for (auto _ : state) {
    clear();
    step();
    benchmark::DoNotOptimize(leaves.front().grad().data_ptr());
  }
}

struct Entry {
  std::string name;
  int64_t iterations;
  std::function<void(benchmark::State&)> body;
};

/// The benchmarks, registered sorted by name (register_all) so that each kernel's variants run
/// and print next to each other.
std::vector<Entry>& entries() {
  static std::vector<Entry> list;
  return list;
}

/// Adds BM_Kernel/<name>, running `body` for `iterations` iterations; an exception (an operator
/// that refuses its inputs) becomes the benchmark's error.
void add(const std::string& name, int64_t iterations, std::function<void(benchmark::State&)> body) {
  entries().push_back({"BM_Kernel/" + name, iterations, std::move(body)});
}

void register_all() {
  std::stable_sort(entries().begin(), entries().end(),
                   [](const Entry& a, const Entry& b) { return a.name < b.name; });
  for (Entry& e : entries())
    benchmark::RegisterBenchmark(e.name.c_str(),
                                 [body = std::move(e.body)](benchmark::State& state) {
                                   try {
                                     torch::manual_seed(1);
                                     body(state);
                                   } catch (const c10::Error& err) {
                                     state.SkipWithError(err.what_without_backtrace());
                                   } catch (const std::exception& err) {
                                     state.SkipWithError(err.what());
                                   }
                                 })
        ->Iterations(e.iterations)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  entries().clear();
}

// ---- batch_norm_act.h: batch norm + leaky ReLU (+ dropout), bf16 channels-last ---------------

struct NormParams {
  Tensor weight, bias, mean, var;
  explicit NormParams(int64_t c)
      : weight(torch::rand({c}) + 0.5),
        bias(torch::randn({c})),
        mean(torch::zeros({c})),
        var(torch::ones({c})) {}
};

/// LibTorch's operators as SyncBatchNorm (no fusion) and the network run them: batch_norm with
/// the fp32 statistics, the activation in place, then dropout.
Tensor libtorch_norm_act(const Tensor& x, const NormParams& n, bool training, double slope,
                         double p) {
  Tensor y = torch::batch_norm(x, n.weight, n.bias, n.mean, n.var, training, 0.1, 1e-5,
                               at::globalContext().userEnabledCuDNN());
  y = slope == 0.0 ? torch::relu_(y) : torch::leaky_relu_(y, slope);
  return p > 0 ? torch::dropout(y, p, /*train=*/true) : y;
}

/// Training-mode batch norm + activation (+ dropout with probability p) on `shape`.
void add_batch_norm_act(const std::string& where, const Shape& shape, double slope, double p,
                        int64_t fwd_iters, int64_t bwd_iters) {
  const std::string base = "batch_norm_act/" + where + "_" + dims(shape) + "_p" +
                           std::to_string(static_cast<int>(p * 100 + 0.5)) + "/";
  for (const bool ours : {true, false}) {
    const auto forward = [=](const Tensor& x, const NormParams& n) {
      return ours ? bcp::kernels::batch_norm_leaky_relu(x, n.weight, n.bias, n.mean, n.var, 0.1,
                                                        1e-5, slope, p)
                  : libtorch_norm_act(x, n, true, slope, p);
    };
    const std::string impl = ours ? "ours" : "libtorch";
    add(base + "fwd/" + impl, fwd_iters, [=](benchmark::State& state) {
      const Tensor x = bf16_cl(shape);
      const NormParams n(shape[1]);
      time_forward(state, [&] { return forward(x, n); });
    });
    add(base + "fwd_bwd/" + impl, bwd_iters, [=](benchmark::State& state) {
      const Tensor x = leaf(bf16_cl(shape));
      const Tensor dy = bf16_cl(shape);
      NormParams n(shape[1]);
      n.weight.requires_grad_(true);
      n.bias.requires_grad_(true);
      time_forward_backward(state, {x, n.weight, n.bias}, [&] { forward(x, n).backward(dy); });
    });
  }
}

/// Eval-mode batch norm + activation (running statistics), no-grad:
/// batch_norm_leaky_relu_inference.
void add_batch_norm_act_inference(const std::string& where, const Shape& shape, double slope,
                                  int64_t iters) {
  const std::string base = "batch_norm_act_inference/" + where + "_" + dims(shape) + "/fwd/";
  for (const bool ours : {true, false}) {
    add(base + (ours ? "ours" : "libtorch"), iters, [=](benchmark::State& state) {
      const Tensor x = bf16_cl(shape);
      NormParams n(shape[1]);
      n.mean = torch::randn({shape[1]}) * 0.1;
      n.var = torch::rand({shape[1]}) + 0.5;
      time_forward(state, [&] {
        return ours ? bcp::kernels::batch_norm_leaky_relu_inference(x, n.weight, n.bias, n.mean,
                                                                    n.var, 1e-5, slope)
                    : libtorch_norm_act(x, n, false, slope, 0.0);
      });
    });
  }
}

// ---- max_pool.h: 2x2 max pool, bf16 channels-last -------------------------------------------

void add_max_pool(const std::string& where, const Shape& shape, int64_t fwd_iters,
                  int64_t bwd_iters) {
  const std::string base = "max_pool_2x2/" + where + "_" + dims(shape) + "/";
  for (const bool ours : {true, false}) {
    const auto pool = [ours](const Tensor& x) {
      return ours ? bcp::kernels::max_pool_2x2(x) : torch::max_pool2d(x, {2, 2}, {2, 2});
    };
    const std::string impl = ours ? "ours" : "libtorch";
    add(base + "fwd/" + impl, fwd_iters, [=](benchmark::State& state) {
      const Tensor x = bf16_cl(shape);
      time_forward(state, [&] { return pool(x); });
    });
    add(base + "fwd_bwd/" + impl, bwd_iters, [=](benchmark::State& state) {
      const Tensor x = leaf(bf16_cl(shape));
      const Tensor dy = bf16_cl({shape[0], shape[1], shape[2] / 2, shape[3] / 2});
      time_forward_backward(state, {x}, [&] { pool(x).backward(dy); });
    });
  }
}

// ---- bilinear_upsample.h: x2 bilinear, align_corners, bf16 channels-last ----------------------

void add_upsample(const std::string& where, const Shape& shape, int64_t fwd_iters,
                  int64_t bwd_iters) {
  const std::string base = "bilinear_upsample_x2/" + where + "_" + dims(shape) + "/";
  const int64_t h = shape[2] * 2, w = shape[3] * 2;
  // As nn::Upsample(scale_factor 2, bilinear, align_corners) runs it.
  const auto interpolate = [](const Tensor& x) {
    namespace F = torch::nn::functional;
    return F::interpolate(x, F::InterpolateFuncOptions()
                                 .scale_factor(std::vector<double>{2.0, 2.0})
                                 .mode(torch::kBilinear)
                                 .align_corners(true));
  };
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> impls{
      {"ours", [h, w](const Tensor& x) { return bcp::kernels::bilinear_upsample(x, h, w); }},
      {"libtorch", interpolate},
      {"libtorch_fp32_casts",
       [interpolate](const Tensor& x) {
         return interpolate(x.to(torch::kFloat32)).to(torch::kBFloat16);
       }},
  };
  for (const auto& entry : impls) {
    const std::string& impl = entry.first;
    const auto up = entry.second;
    add(base + "fwd/" + impl, fwd_iters, [=](benchmark::State& state) {
      const Tensor x = bf16_cl(shape);
      time_forward(state, [&] { return up(x); });
    });
    add(base + "fwd_bwd/" + impl, bwd_iters, [=](benchmark::State& state) {
      const Tensor x = leaf(bf16_cl(shape));
      const Tensor dy = bf16_cl({shape[0], shape[1], h, w});
      time_forward_backward(state, {x}, [&] { up(x).backward(dy); });
    });
  }
}

// ---- channel_concat.h: cat([skip, up], 1), bf16 channels-last ---------------------------------

/// The UNet's decoder concatenation; in the backward the skip also receives the gradient of its
/// other consumer (the encoder's next block), so the two are summed, as in the network.
void add_concat(const std::string& where, const Shape& shape, int64_t fwd_iters,
                int64_t bwd_iters) {
  const std::string base = "concat_channels/" + where + "_2x" + dims(shape) + "/";
  for (const bool ours : {true, false}) {
    const auto cat = [ours](const Tensor& skip, const Tensor& x) {
      return ours ? bcp::kernels::concat_channels(skip, x) : torch::cat({skip, x}, 1);
    };
    const std::string impl = ours ? "ours" : "libtorch";
    add(base + "fwd/" + impl, fwd_iters, [=](benchmark::State& state) {
      const Tensor skip = bf16_cl(shape), x = bf16_cl(shape);
      time_forward(state, [&] { return cat(skip, x); });
    });
    add(base + "fwd_bwd/" + impl, bwd_iters, [=](benchmark::State& state) {
      const Tensor skip = leaf(bf16_cl(shape)), x = leaf(bf16_cl(shape));
      const Tensor dy = bf16_cl({shape[0], 2 * shape[1], shape[2], shape[3]});
      const Tensor dskip = bf16_cl(shape);  // from the skip's other consumer
      time_forward_backward(state, {skip, x}, [&] {
        torch::autograd::backward({cat(skip, x), skip.alias()}, {dy, dskip});
      });
    });
  }
}

// ---- dropout.h: ParallelDropout, fp32 (the fp32 UNet's encoder; bf16 fuses it into the norm) ---

void add_dropout(const std::string& where, const Shape& shape, double p, int64_t fwd_iters,
                 int64_t bwd_iters) {
  const std::string base = "dropout/" + where + "_fp32_" + dims(shape) + "_p" +
                           std::to_string(static_cast<int>(p * 100 + 0.5)) + "/";
  for (const bool ours : {true, false}) {
    const std::string impl = ours ? "ours" : "libtorch";
    // A fresh module per benchmark (train mode, as constructed).
    const auto make = [ours, p]() -> std::function<Tensor(const Tensor&)> {
      if (ours) {
        bcp::kernels::ParallelDropout module(p);
        return [module](const Tensor& x) mutable { return module->forward(x); };
      }
      return [p](const Tensor& x) { return torch::dropout(x, p, /*train=*/true); };
    };
    add(base + "fwd/" + impl, fwd_iters, [=](benchmark::State& state) {
      const Tensor x = torch::randn(shape);
      auto drop = make();
      time_forward(state, [&] { return drop(x); });
    });
    add(base + "fwd_bwd/" + impl, bwd_iters, [=](benchmark::State& state) {
      const Tensor x = leaf(torch::randn(shape));
      const Tensor dy = torch::randn(shape);
      auto drop = make();
      time_forward_backward(state, {x}, [&] { drop(x).backward(dy); });
    });
  }
}

// ---- transposed_conv.h: VNet's 2x2x2 stride-2 up-convolution ----------------------------------

/// x (N, Ci, D, H, W) -> (N, Co, 2D, 2H, 2W); bf16 channels-last as the compute copy holds it
/// (weights too), or fp32 in the plain layout (the fp32 VNet).
void add_transposed_conv(const std::string& where, const Shape& shape, int64_t co, bool bf16,
                         int64_t fwd_iters, int64_t bwd_iters) {
  const std::string base = "transposed_conv3d_2x2x2/" + where + "_" + (bf16 ? "" : "fp32_") +
                           dims(shape) + "_to_" + std::to_string(co) + "/";
  const Shape w_shape{shape[1], co, 2, 2, 2};
  const Shape y_shape{shape[0], co, shape[2] * 2, shape[3] * 2, shape[4] * 2};
  const auto make = [bf16](const Shape& s, double scale) {
    const Tensor t = torch::randn(s) * scale;
    return bf16 ? t.to(torch::kBFloat16).contiguous(channels_last_of(s)) : t;
  };
  const std::array<int64_t, 3> stride{2, 2, 2};
  struct Impl {
    std::string name;
    std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)> conv;
  };
  // LibTorch 1.13's bf16 conv_transpose3d refuses a channels-last 3-D input (whatever the
  // weight's layout: "expected input[...] to have <Co> channels"); there "libtorch" reports that
  // error. 2.x takes it.
  std::vector<Impl> impls{
      {"ours",
       [](const Tensor& x, const Tensor& wt, const Tensor& b) {
         return bcp::kernels::conv_transpose3d_stride_is_kernel(x, wt, b);
       }},
      {"libtorch", [stride](const Tensor& x, const Tensor& wt,
                            const Tensor& b) { return torch::conv_transpose3d(x, wt, b, stride); }},
  };
  if (bf16)
    impls.push_back(
        {"libtorch_fp32_casts", [stride](const Tensor& x, const Tensor& wt, const Tensor& b) {
           const auto f = torch::kFloat32;
           return torch::conv_transpose3d(x.to(f), wt.to(f), b.to(f), stride).to(torch::kBFloat16);
         }});
  const double w_scale = 1.0 / std::sqrt(static_cast<double>(shape[1] * 8));
  for (const Impl& impl : impls) {
    const auto conv = impl.conv;
    add(base + "fwd/" + impl.name, fwd_iters, [=](benchmark::State& state) {
      const Tensor x = make(shape, 1.0), wt = make(w_shape, w_scale), b = make({co}, 0.1);
      time_forward(state, [&] { return conv(x, wt, b); });
    });
    add(base + "fwd_bwd/" + impl.name, bwd_iters, [=](benchmark::State& state) {
      const Tensor x = leaf(make(shape, 1.0)), wt = leaf(make(w_shape, w_scale)),
                   b = leaf(make({co}, 0.1)), dy = make(y_shape, 1.0);
      time_forward_backward(state, {x, wt, b}, [&] { conv(x, wt, b).backward(dy); });
    });
  }
}

// ---- conv3d_channels_last.h: VNet's 3-D convolutions, bf16 channels-last (LibTorch 1.x only) --

void add_conv3d(const std::string& where, const Shape& shape, int64_t co, int64_t k, int64_t stride,
                int64_t pad, int64_t fwd_iters, int64_t bwd_iters) {
  const std::string base = "conv3d_channels_last/" + where + "_" + dims(shape) + "_to_" +
                           std::to_string(co) + "_k" + std::to_string(k) + "s" +
                           std::to_string(stride) + "/";
  const Shape w_shape{co, shape[1], k, k, k};
  Shape y_shape{shape[0], co};
  for (size_t a = 2; a < 5; ++a) y_shape.push_back((shape[a] + 2 * pad - k) / stride + 1);
  const std::array<int64_t, 3> st{stride, stride, stride}, pd{pad, pad, pad};
  const double w_scale = 1.0 / std::sqrt(static_cast<double>(shape[1] * k * k * k));
  for (const bool ours : {true, false}) {
    const auto conv = [=](const Tensor& x, const Tensor& wt, const Tensor& b) {
      return ours ? bcp::kernels::conv3d_channels_last(x, wt, b, st, pd)
                  : torch::conv3d(x, wt, b, st, pd);
    };
    const std::string impl = ours ? "ours" : "libtorch";
    const auto inputs = [=] {
      return std::array<Tensor, 3>{bf16_cl(shape),
                                   (torch::randn(w_shape) * w_scale)
                                       .to(torch::kBFloat16)
                                       .contiguous(channels_last_of(w_shape)),
                                   (torch::randn({co}) * 0.1).to(torch::kBFloat16)};
    };
    // Where this build has no conv3d_channels_last (LibTorch 2.x, or no oneDNN / AVX-512 bf16),
    // the network runs LibTorch's convolution: nothing to compare.
    const auto unavailable = [ours](benchmark::State& state, const Tensor& x, const Tensor& wt) {
      if (!ours || bcp::kernels::conv3d_channels_last_takes(x, wt)) return false;
      state.SkipWithError(bcp::kernels::conv3d_channels_last_built()
                              ? "conv3d_channels_last does not take these inputs on this CPU"
                              : "conv3d_channels_last is not built (LibTorch 2.x or no oneDNN)");
      return true;
    };
    add(base + "fwd/" + impl, fwd_iters, [=](benchmark::State& state) {
      const std::array<Tensor, 3> in = inputs();
      if (unavailable(state, in[0], in[1])) return;
      time_forward(state, [&] { return conv(in[0], in[1], in[2]); });
    });
    add(base + "fwd_bwd/" + impl, bwd_iters, [=](benchmark::State& state) {
      const std::array<Tensor, 3> in = inputs();
      if (unavailable(state, in[0], in[1])) return;
      const Tensor x = leaf(in[0]), wt = leaf(in[1]), b = leaf(in[2]), dy = bf16_cl(y_shape);
      time_forward_backward(state, {x, wt, b}, [&] { conv(x, wt, b).backward(dy); });
    });
  }
}

// ---- fused_mix_loss.h: BCP's mixed Dice + cross-entropy losses, fp32 logits -------------------

struct MixInputs {
  Tensor logits, img_label, patch_label, mask;
};

/// One mixed stream: logits (N, C, spatial...), integer labels, the paste mask (1 outside the box).
MixInputs mix_inputs(const Shape& logits_shape) {
  MixInputs in;
  in.logits = torch::randn(logits_shape) * 3;
  Shape label_shape{logits_shape[0]}, spatial(logits_shape.begin() + 2, logits_shape.end());
  label_shape.insert(label_shape.end(), spatial.begin(), spatial.end());
  in.img_label = torch::randint(0, logits_shape[1], label_shape, torch::kLong);
  in.patch_label = torch::randint(0, logits_shape[1], label_shape, torch::kLong);
  in.mask = torch::ones(spatial);
  Tensor box = in.mask;
  for (int64_t a = 0; a < static_cast<int64_t>(spatial.size()); ++a)
    box = box.narrow(a, spatial[a] / 6, spatial[a] * 2 / 3);  // BCP's box: 2/3 of each side
  box.zero_();
  return in;
}

using MixLoss = bcp::train::MixLossResult (*)(const Tensor&, const Tensor&, const Tensor&,
                                              const Tensor&, double, double, bool);

void add_mix_loss(const std::string& name, const Shape& logits_shape, MixLoss ours,
                  MixLoss libtorch, int64_t fwd_iters, int64_t bwd_iters) {
  const std::string base = name + "/" + dims(logits_shape) + "/";
  for (const bool use_ours : {true, false}) {
    const std::string impl = use_ours ? "ours" : "libtorch";
    const MixLoss loss = use_ours ? ours : libtorch;
    const auto total = [loss](const Tensor& logits, const MixInputs& in) {
      const auto r = loss(logits, in.img_label, in.patch_label, in.mask, 1.0, 0.5, true);
      return (r.dice + r.ce) / 2;
    };
    add(base + "fwd/" + impl, fwd_iters, [=](benchmark::State& state) {
      const MixInputs in = mix_inputs(logits_shape);
      time_forward(state, [&] { return total(in.logits, in); });
    });
    add(base + "fwd_bwd/" + impl, bwd_iters, [=](benchmark::State& state) {
      const MixInputs in = mix_inputs(logits_shape);
      const Tensor logits = leaf(in.logits);
      time_forward_backward(state, {logits}, [&] { total(logits, in).backward(); });
    });
  }
}

// ---- the list ----------------------------------------------------------------------------------

[[maybe_unused]] const bool registered = [] {
  // UNet2d (ACDC): batch 24, bf16 channels-last.
  // First level (x0): in_conv's block (dropout 0.05), down1's pool, up4's concatenation.
  const Shape unet0{24, 16, 256, 256};
  // Third level (x2): down2's block (dropout 0.2), down3's pool, up2's concatenation.
  const Shape unet2{24, 64, 64, 64};
  // VNet (LA): batch 4, 112 x 112 x 80 patches.
  const Shape vnet0{4, 16, 112, 112, 80};
  const Shape vnet1{4, 32, 56, 56, 40};

  // Each UNet conv block: norm + act with the level's dropout, then norm + act without.
  add_batch_norm_act("unet_l0", unet0, 0.01, 0.05, 8, 4);
  add_batch_norm_act("unet_l0", unet0, 0.01, 0.0, 8, 4);
  add_batch_norm_act("unet_l2", unet2, 0.01, 0.2, 8, 4);
  add_batch_norm_act("vnet_l0", vnet0, 0.0, 0.0, 8, 4);  // VNet: batch norm + ReLU
  add_batch_norm_act_inference("unet_l0", unet0, 0.01, 8);
  add_batch_norm_act_inference("vnet_l0", vnet0, 0.0, 8);

  add_max_pool("unet_l0", unet0, 10, 5);
  add_max_pool("unet_l2", unet2, 10, 5);

  // up4: 16 channels 128 x 128 -> 256 x 256; up2: 64 channels 32 x 32 -> 64 x 64.
  add_upsample("unet_up4", {24, 16, 128, 128}, 8, 4);
  add_upsample("unet_up2", {24, 64, 32, 32}, 8, 4);

  add_concat("unet_up4", unet0, 8, 4);
  add_concat("unet_up2", unet2, 8, 4);

  add_dropout("unet_l0", unet0, 0.05, 8, 4);
  add_dropout("unet_l2", unet2, 0.2, 8, 4);

  // block_five_up: 256 -> 128 channels, 7x7x5 -> 14x14x10; block_eight_up: 32 -> 16 channels,
  // 56x56x40 -> 112x112x80 (bf16 compute copy, and the fp32 network).
  add_transposed_conv("vnet_up5", {4, 256, 7, 7, 5}, 128, true, 20, 10);
  add_transposed_conv("vnet_up8", vnet1, 16, true, 4, 2);
  add_transposed_conv("vnet_up8", vnet1, 16, false, 4, 2);

  // block_one/block_nine's 16 -> 16 3x3x3 at full size, block_two's 32 -> 32 at half, and the
  // first down-sampling 16 -> 32, 2x2x2 stride 2.
  add_conv3d("vnet_l0", vnet0, 16, 3, 1, 1, 2, 1);
  add_conv3d("vnet_l1", vnet1, 32, 3, 1, 1, 2, 1);
  add_conv3d("vnet_dw1", vnet0, 32, 2, 2, 0, 4, 2);

  add_mix_loss("mix_loss_acdc", {6, 4, 256, 256}, bcp::kernels::fused_acdc_mix_loss,
               bcp::train::acdc_mix_loss, 8, 4);
  add_mix_loss("mix_loss_la", {2, 2, 112, 112, 80}, bcp::kernels::fused_la_mix_loss_parts,
               bcp::train::la_mix_loss_parts, 8, 4);
  register_all();
  return true;
}();

}  // namespace
