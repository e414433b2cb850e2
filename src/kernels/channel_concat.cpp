#include "bcp/kernels/channel_concat.h"

#include <torch/autograd.h>
#include <torch/torch.h>

namespace bcp::kernels {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct ConcatChannels : torch::autograd::Function<ConcatChannels> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& a,
                               const torch::Tensor& b) {
    ctx->saved_data["channels_a"] = a.size(1);
    ctx->saved_data["format_a"] = static_cast<int64_t>(a.suggest_memory_format());
    return torch::cat({a, b}, 1);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const torch::Tensor& g = grads[0];
    const int64_t ca = ctx->saved_data["channels_a"].toInt();
    torch::Tensor ga, gb;
    if (ctx->needs_input_grad(0)) {
      // A channels-last skip gets a dense gradient; a plain one keeps torch::cat's slice, whose
      // sum with another gradient is fast already.
      const auto format = static_cast<torch::MemoryFormat>(ctx->saved_data["format_a"].toInt());
      ga = g.narrow(1, 0, ca);
      if (format != torch::MemoryFormat::Contiguous) ga = ga.contiguous(format);
    }
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

}  // namespace bcp::kernels
