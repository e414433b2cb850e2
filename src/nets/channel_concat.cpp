#include "bcp/nets/channel_concat.h"

#include <torch/autograd.h>
#include <torch/torch.h>

namespace bcp::nets {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// The layout to give an input's gradient: channels-last where the input is (and is not also
/// plain contiguous, as one-pixel or one-channel tensors are), else none (keep the slice).
int64_t layout_code(const torch::Tensor& t) {
  if (t.is_contiguous()) return 0;
  if (t.dim() == 4 && t.is_contiguous(torch::MemoryFormat::ChannelsLast)) return 1;
  if (t.dim() == 5 && t.is_contiguous(torch::MemoryFormat::ChannelsLast3d)) return 2;
  return 0;
}

torch::Tensor in_layout(const torch::Tensor& slice, int64_t code) {
  if (code == 1) return slice.contiguous(torch::MemoryFormat::ChannelsLast);
  if (code == 2) return slice.contiguous(torch::MemoryFormat::ChannelsLast3d);
  return slice;
}

struct ConcatChannels : torch::autograd::Function<ConcatChannels> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& a,
                               const torch::Tensor& b) {
    ctx->saved_data["channels_a"] = a.size(1);
    ctx->saved_data["layout_a"] = layout_code(a);
    return torch::cat({a, b}, 1);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const torch::Tensor& g = grads[0];
    const int64_t ca = ctx->saved_data["channels_a"].toInt();
    torch::Tensor ga, gb;
    if (ctx->needs_input_grad(0))
      ga = in_layout(g.narrow(1, 0, ca), ctx->saved_data["layout_a"].toInt());
    if (ctx->needs_input_grad(1)) gb = g.narrow(1, ca, g.size(1) - ca);
    return {ga, gb};
  }
};

}  // namespace

torch::Tensor concat_channels(const torch::Tensor& a, const torch::Tensor& b) {
  TORCH_CHECK(a.defined() && b.defined() && a.dim() >= 2 && a.dim() == b.dim(),
              "concat_channels: needs two tensors of the same rank >= 2");
  return ConcatChannels::apply(a, b);
}

}  // namespace bcp::nets
