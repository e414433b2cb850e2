// The softmax is computed as the authors do (rather than thresholding logits) so that values at
// the 0.5 boundary and argmax ties round exactly as theirs; the component step runs on the CPU.
#include "bcp/ssl/pseudo_label.h"

#include <torch/torch.h>

#include "bcp/eval/channel_argmax.h"
#include "bcp/eval/largest_component.h"

namespace bcp::ssl {

torch::Tensor hard_pseudo_label(const torch::Tensor& logits, data::PseudoLabelRule rule) {
  TORCH_CHECK(logits.defined() && (logits.dim() == 4 || logits.dim() == 5),
              "pseudo_label: logits must be (N, C, H, W) or (N, C, D, H, W), got shape ",
              logits.defined() ? logits.sizes() : c10::IntArrayRef{});
  TORCH_CHECK(logits.is_floating_point(), "pseudo_label: logits must be floating point, got ",
              logits.scalar_type());
  TORCH_CHECK(logits.size(1) >= 2, "pseudo_label: need at least 2 classes, got ", logits.size(1));
  torch::NoGradGuard no_grad;
  const int64_t spatial_dims = logits.dim() - 2;
  const torch::Tensor probs = torch::softmax(logits, 1);
  if (rule == data::PseudoLabelRule::kForegroundHalf && logits.size(1) == 2) {
    const torch::Tensor fg = probs.select(1, 1).ge(0.5).to(torch::kCPU, torch::kUInt8);
    return eval::largest_component_per_class(fg, spatial_dims).to(logits.device(), torch::kInt64);
  }
  const torch::Tensor labels = eval::channel_argmax(probs).to(torch::kCPU);
  return eval::largest_component_per_class(labels, spatial_dims).to(logits.device());
}

torch::Tensor soft_pseudo_label(const torch::Tensor& logits, double temperature) {
  TORCH_CHECK(logits.defined() && logits.dim() >= 3 && logits.size(1) >= 2,
              "soft_pseudo_label: logits must be (N, C, spatial...) with C >= 2");
  TORCH_CHECK(temperature > 0, "soft_pseudo_label: temperature must be > 0, got ", temperature);
  torch::NoGradGuard no_grad;
  return torch::softmax(logits.to(torch::kFloat32) / temperature, 1);
}

}  // namespace bcp::ssl
