// oneDNN's convolution primitives (forward, backward data, backward weights) on NDHWC memory, made
// once per shape and kept: creating them (descriptor, implementation choice, JIT code) costs
// milliseconds. Weights go to the layout the primitive prefers by a oneDNN reorder each call (a
// few megabytes in all per pass), as LibTorch's own oneDNN path does.
#include "bcp/kernels/conv3d_channels_last.h"

#include <torch/autograd.h>
#include <torch/torch.h>

#if BCP_WITH_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#if DNNL_VERSION_MAJOR != 2
#error "conv3d_channels_last is written for oneDNN 2.x's API (Debian 12's libdnnl-dev)"
#endif

#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#endif

namespace bcp::kernels {

#if BCP_WITH_DNNL
namespace {

using dnnl::memory;
using Dims = memory::dims;
constexpr auto kChannelsLast3d = torch::MemoryFormat::ChannelsLast3d;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

memory::data_type dnnl_type(const torch::Tensor& t) {
  if (t.scalar_type() == torch::kBFloat16) return memory::data_type::bf16;
  TORCH_CHECK(t.scalar_type() == torch::kFloat32,
              "conv3d_channels_last: bf16 or fp32 expected, got ", t.scalar_type());
  return memory::data_type::f32;
}

Dims dims_of(c10::IntArrayRef a) {
  return Dims(a.begin(), a.end());
}

/// A tensor as it lies in memory (sizes and strides): how the weights and their gradient are given.
memory::desc strided_desc(const torch::Tensor& t) {
  return memory::desc(dims_of(t.sizes()), dnnl_type(t), dims_of(t.strides()));
}

/// An activation: bf16, NDHWC.
memory::desc activation_desc(c10::IntArrayRef sizes) {
  return memory::desc(dims_of(sizes), memory::data_type::bf16, memory::format_tag::ndhwc);
}

memory wrap(const memory::desc& d, const torch::Tensor& t) {
  return memory(d, cpu_engine(), t.data_ptr());
}

/// One convolution's geometry, as the key of its primitives.
struct Geometry {
  std::vector<int64_t> in, weight, weight_strides, out;
  Dims stride, pad_l, pad_r;
  memory::data_type bias_type;

  Geometry(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
           const std::array<int64_t, 3>& s, const std::array<int64_t, 3>& p)
      : in(x.sizes().vec()),
        weight(w.sizes().vec()),
        weight_strides(w.strides().vec()),
        bias_type(dnnl_type(b)) {
    out = {in[0], weight[0]};
    for (size_t k = 0; k < 3; ++k) {
      TORCH_CHECK(in[k + 2] + 2 * p[k] >= weight[k + 2], "conv3d_channels_last: input ", x.sizes(),
                  " with padding ", p[k], " is smaller than kernel ", w.sizes());
      const int64_t o = (in[k + 2] + 2 * p[k] - weight[k + 2]) / s[k] + 1;
      out.push_back(o);
      stride.push_back(s[k]);
      pad_l.push_back(p[k]);
      // What the last window reaches beyond the input (the rest of the padding is never read).
      pad_r.push_back((o - 1) * s[k] + weight[k + 2] - in[k + 2] - p[k]);
      TORCH_CHECK(pad_r.back() >= 0, "conv3d_channels_last: input ", x.sizes(), " with stride ",
                  s[k], " leaves values unread at the end of axis ", k + 2);
    }
  }

  std::string key() const {
    std::ostringstream k;
    for (const auto* v : {&in, &weight, &weight_strides, &out}) {
      for (int64_t e : *v) k << e << ',';
      k << ';';
    }
    for (const Dims* v : {&stride, &pad_l, &pad_r}) {
      for (auto e : *v) k << e << ',';
      k << ';';
    }
    k << static_cast<int>(bias_type);
    return k.str();
  }
};

/// The weights in the layout a primitive wants: the user's memory when it already is, else a
/// reordered copy in `buffer`.
memory weights_as(const memory::desc& want, const torch::Tensor& w, torch::Tensor& buffer,
                  dnnl::stream& stream) {
  const memory::desc have = strided_desc(w);
  if (have == want) return wrap(have, w);
  buffer = torch::empty({static_cast<int64_t>(want.get_size())}, torch::kUInt8);
  memory out(want, cpu_engine(), buffer.data_ptr());
  memory in = wrap(have, w);
  dnnl::reorder(in, out).execute(stream, in, out);
  return out;
}

/// The primitives of one geometry; the backward ones are made on the first backward (a teacher's
/// no-grad passes never need them).
struct Primitives {
  memory::desc src, dst, bias;
  dnnl::convolution_forward::primitive_desc forward_pd;
  dnnl::convolution_forward forward;
  std::optional<dnnl::convolution_backward_data::primitive_desc> data_pd;
  std::optional<dnnl::convolution_backward_data> data;
  std::optional<dnnl::convolution_backward_weights::primitive_desc> weights_pd;
  std::optional<dnnl::convolution_backward_weights> weights;

  explicit Primitives(const Geometry& g)
      : src(activation_desc(g.in)),
        dst(activation_desc(g.out)),
        bias(Dims{g.weight[0]}, g.bias_type, memory::format_tag::a),
        forward_pd(dnnl::convolution_forward::desc(
                       dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src,
                       any_weights(g), bias, dst, g.stride, g.pad_l, g.pad_r),
                   cpu_engine()),
        forward(forward_pd) {}

  static memory::desc any_weights(const Geometry& g) {
    return memory::desc(dims_of(g.weight), memory::data_type::bf16, memory::format_tag::any);
  }

  void make_backward(const Geometry& g) {
    if (weights) return;
    // All four made before any is kept: a failure leaves none half made.
    dnnl::convolution_backward_data::primitive_desc dpd(
        dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, src,
                                              any_weights(g), dst, g.stride, g.pad_l, g.pad_r),
        cpu_engine(), forward_pd);
    dnnl::convolution_backward_weights::primitive_desc wpd(
        dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, src,
                                                 any_weights(g), bias, dst, g.stride, g.pad_l,
                                                 g.pad_r),
        cpu_engine(), forward_pd);
    dnnl::convolution_backward_data d(dpd);
    dnnl::convolution_backward_weights w(wpd);
    data_pd = dpd;
    data = d;
    weights_pd = wpd;
    weights = w;
  }
};

std::mutex primitives_mutex;

/// The process's primitives for `g`, made on first use. The mutex guards the map; running a
/// primitive from two threads at once is not supported (oneDNN's library-owned scratchpad is
/// shared), and bcp runs a network's passes from one thread (data-parallel ranks are processes).
Primitives& primitives_for(const Geometry& g, bool backward) {
  cpu_engine();  // made before the map, so destroyed after the primitives that use it
  static std::unordered_map<std::string, std::unique_ptr<Primitives>> made;
  std::lock_guard<std::mutex> lock(primitives_mutex);
  auto& p = made[g.key()];
  if (!p) p = std::make_unique<Primitives>(g);
  if (backward) p->make_backward(g);
  return *p;
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::array<int64_t, 3> triple(const std::vector<int64_t>& v) {
  return {v.at(0), v.at(1), v.at(2)};
}

struct Conv3dChannelsLast : torch::autograd::Function<Conv3dChannelsLast> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               const std::vector<int64_t>& stride,
                               const std::vector<int64_t>& padding) {
    const torch::Tensor x = input.contiguous(kChannelsLast3d);
    const torch::Tensor b = bias.contiguous();
    const Geometry g(x, weight, b, triple(stride), triple(padding));
    Primitives& p = primitives_for(g, /*backward=*/false);
    torch::Tensor y = torch::empty(g.out, x.options().memory_format(kChannelsLast3d));
    dnnl::stream stream(cpu_engine());
    torch::Tensor weight_buffer;  // kept to stream.wait()
    const memory w = weights_as(p.forward_pd.weights_desc(), weight, weight_buffer, stream);
    p.forward.execute(stream, {{DNNL_ARG_SRC, wrap(p.src, x)},
                               {DNNL_ARG_WEIGHTS, w},
                               {DNNL_ARG_BIAS, wrap(p.bias, b)},
                               {DNNL_ARG_DST, wrap(p.dst, y)}});
    stream.wait();
    ctx->save_for_backward({x, weight, b});
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &weight = saved[1], &b = saved[2];
    const torch::Tensor dy = grads[0].to(torch::kBFloat16).contiguous(kChannelsLast3d);
    const Geometry g(x, weight, b, triple(ctx->saved_data["stride"].toIntVector()),
                     triple(ctx->saved_data["padding"].toIntVector()));
    Primitives& p = primitives_for(g, /*backward=*/true);
    dnnl::stream stream(cpu_engine());
    torch::Tensor dx, dw, db;
    // Kept to the end: oneDNN may still read or write them until stream.wait().
    torch::Tensor weight_buffer, dw_buffer;
    if (ctx->needs_input_grad(0)) {
      dx = torch::empty(g.in, x.options().memory_format(kChannelsLast3d));
      const memory w = weights_as(p.data_pd->weights_desc(), weight, weight_buffer, stream);
      p.data->execute(stream, {{DNNL_ARG_DIFF_DST, wrap(p.dst, dy)},
                               {DNNL_ARG_WEIGHTS, w},
                               {DNNL_ARG_DIFF_SRC, wrap(p.src, dx)}});
    }
    if (ctx->needs_input_grad(1) || ctx->needs_input_grad(2)) {
      // The weights' gradient straight into its own layout where the primitive takes that one,
      // else in the primitive's and reordered.
      dw = torch::empty_like(weight);
      db = torch::empty_like(b);
      const memory::desc own = strided_desc(dw), blocked = p.weights_pd->diff_weights_desc();
      memory dw_own = wrap(own, dw), dw_blocked = dw_own;
      if (own != blocked) {
        dw_buffer = torch::empty({static_cast<int64_t>(blocked.get_size())}, torch::kUInt8);
        dw_blocked = memory(blocked, cpu_engine(), dw_buffer.data_ptr());
      }
      p.weights->execute(stream, {{DNNL_ARG_SRC, wrap(p.src, x)},
                                  {DNNL_ARG_DIFF_DST, wrap(p.dst, dy)},
                                  {DNNL_ARG_DIFF_WEIGHTS, dw_blocked},
                                  {DNNL_ARG_DIFF_BIAS, wrap(p.bias, db)}});
      if (own != blocked) dnnl::reorder(dw_blocked, dw_own).execute(stream, dw_blocked, dw_own);
    }
    stream.wait();
    return {dx, dw, db, {}, {}};
  }
};

}  // namespace

bool conv3d_channels_last_built() {
  return true;
}

bool conv3d_channels_last_runs_here() {
  static const bool here = [] {
    try {
      const Dims in{1, 1, 2, 2, 2}, w{1, 1, 1, 1, 1};
      dnnl::convolution_forward::primitive_desc pd(
          dnnl::convolution_forward::desc(
              dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
              activation_desc(in),
              memory::desc(w, memory::data_type::bf16, memory::format_tag::any), memory::desc(),
              activation_desc(in), {1, 1, 1}, {0, 0, 0}, {0, 0, 0}),
          cpu_engine());
      return true;
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return here;
}

bool conv3d_channels_last_takes(const torch::Tensor& x, const torch::Tensor& weight) {
  return conv3d_channels_last_runs_here() && x.defined() && weight.defined() &&
         x.device().is_cpu() && weight.device().is_cpu() && x.scalar_type() == torch::kBFloat16 &&
         weight.scalar_type() == torch::kBFloat16 && x.dim() == 5 && weight.dim() == 5 &&
         x.is_contiguous(kChannelsLast3d);
}

torch::Tensor conv3d_channels_last(const torch::Tensor& x, const torch::Tensor& weight,
                                   const torch::Tensor& bias, const std::array<int64_t, 3>& stride,
                                   const std::array<int64_t, 3>& padding) {
  TORCH_CHECK(conv3d_channels_last_takes(x, weight),
              "conv3d_channels_last: needs bf16 5-D channels-last input and bf16 weights on the "
              "CPU, got ",
              x.scalar_type(), " ", x.sizes(), " and ", weight.scalar_type(), " ", weight.sizes());
  TORCH_CHECK(x.size(1) == weight.size(1), "conv3d_channels_last: input has ", x.size(1),
              " channels, the weight expects ", weight.size(1));
  TORCH_CHECK(
      bias.defined() && bias.dim() == 1 && bias.size(0) == weight.size(0) && bias.device().is_cpu(),
      "conv3d_channels_last: bias of ", weight.size(0), " values on the CPU required");
  for (size_t k = 0; k < 3; ++k)
    TORCH_CHECK(stride[k] >= 1 && padding[k] >= 0, "conv3d_channels_last: stride ", stride[k],
                " and padding ", padding[k], " out of range");
  return Conv3dChannelsLast::apply(x, weight, bias,
                                   std::vector<int64_t>(stride.begin(), stride.end()),
                                   std::vector<int64_t>(padding.begin(), padding.end()));
}

#else  // LibTorch's own convolution runs (conv3d_channels_last_takes is false)

bool conv3d_channels_last_built() {
  return false;
}

bool conv3d_channels_last_runs_here() {
  return false;
}

bool conv3d_channels_last_takes(const torch::Tensor&, const torch::Tensor&) {
  return false;
}

torch::Tensor conv3d_channels_last(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                   const std::array<int64_t, 3>&, const std::array<int64_t, 3>&) {
  TORCH_CHECK(false,
              "conv3d_channels_last: this build has no oneDNN of its own (see "
              "conv3d_channels_last.h)");
}

#endif

}  // namespace bcp::kernels
