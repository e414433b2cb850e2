// The softmax is computed as the authors do (rather than thresholding logits) so that values at
// the 0.5 boundary and argmax ties round exactly as theirs; the component step runs on the CPU.
#include "bcp/ssl/pseudo_label.h"

#include <torch/torch.h>

#include "bcp/eval/channel_argmax.h"
#include "bcp/eval/largest_component.h"

namespace bcp::ssl {

torch::Tensor acdc_pseudo_label(const torch::Tensor& logits) {
  TORCH_CHECK(logits.defined() && logits.dim() == 4,
              "acdc_pseudo_label: logits must be (N, C, H, W), got shape ",
              logits.defined() ? logits.sizes() : c10::IntArrayRef{});
  TORCH_CHECK(logits.is_floating_point(), "acdc_pseudo_label: logits must be floating point, got ",
              logits.scalar_type());
  TORCH_CHECK(logits.size(1) >= 2, "acdc_pseudo_label: need at least 2 classes, got ",
              logits.size(1));
  torch::NoGradGuard no_grad;
  const torch::Tensor labels = eval::channel_argmax(torch::softmax(logits, 1)).to(torch::kCPU);
  return eval::largest_component_per_class(labels, 2).to(logits.device());
}

torch::Tensor la_pseudo_label(const torch::Tensor& logits) {
  TORCH_CHECK(logits.defined() && logits.dim() == 5 && logits.size(1) == 2,
              "la_pseudo_label: logits must be (N, 2, D, H, W), got shape ",
              logits.defined() ? logits.sizes() : c10::IntArrayRef{});
  TORCH_CHECK(logits.is_floating_point(), "la_pseudo_label: logits must be floating point, got ",
              logits.scalar_type());
  torch::NoGradGuard no_grad;
  const torch::Tensor fg =
      torch::softmax(logits, 1).select(1, 1).ge(0.5).to(torch::kCPU, torch::kUInt8);
  return eval::largest_component_per_class(fg, 3).to(logits.device(), torch::kInt64);
}

torch::Tensor soft_pseudo_label(const torch::Tensor& logits, double temperature) {
  TORCH_CHECK(logits.defined() && logits.dim() >= 3 && logits.size(1) >= 2,
              "soft_pseudo_label: logits must be (N, C, spatial...) with C >= 2");
  TORCH_CHECK(temperature > 0, "soft_pseudo_label: temperature must be > 0, got ", temperature);
  torch::NoGradGuard no_grad;
  return torch::softmax(logits.to(torch::kFloat32) / temperature, 1);
}

}  // namespace bcp::ssl
