#include "bcp/kernels/loss_inputs.h"

#include <torch/torch.h>

#include <vector>

namespace bcp::kernels {

bool is_soft(const torch::Tensor& target) {
  return at::isFloatingType(target.scalar_type());
}

void check_pair(const torch::Tensor& scores, const torch::Tensor& target, const char* who) {
  TORCH_CHECK(scores.defined() && target.defined(), who, ": scores and target must be defined");
  TORCH_CHECK(scores.dim() >= 3, who, ": expected scores (N, C, spatial...), got shape ",
              c10::str(scores.sizes()));
  TORCH_CHECK(at::isFloatingType(scores.scalar_type()), who, ": scores must be floating, got ",
              scores.scalar_type());
  if (is_soft(target)) {
    TORCH_CHECK(target.sizes() == scores.sizes(), who, ": soft target has shape ",
                c10::str(target.sizes()), " but scores ", c10::str(scores.sizes()));
    return;
  }
  TORCH_CHECK(target.scalar_type() != torch::kBool, who,
              ": target must be an integer label tensor or class probabilities, got ",
              target.scalar_type());
  std::vector<int64_t> want{scores.size(0)};
  for (int64_t d = 2; d < scores.dim(); ++d) want.push_back(scores.size(d));
  TORCH_CHECK(target.sizes() == c10::IntArrayRef(want), who, ": target has shape ",
              c10::str(target.sizes()), " but scores ", c10::str(scores.sizes()), " need ",
              c10::str(c10::IntArrayRef(want)));
  if (target.numel() > 0) {
    const auto mm = torch::aminmax(target);
    const int64_t lo = std::get<0>(mm).item<int64_t>();
    const int64_t hi = std::get<1>(mm).item<int64_t>();
    TORCH_CHECK(lo >= 0 && hi < scores.size(1), who, ": labels must lie in [0, ", scores.size(1),
                "), got values in [", lo, ", ", hi, "]");
  }
}

torch::Tensor expand_mask(const torch::Tensor& mask, const torch::Tensor& scores, const char* who) {
  std::vector<int64_t> shape{scores.size(0)};
  for (int64_t d = 2; d < scores.dim(); ++d) shape.push_back(scores.size(d));
  const int64_t dims = static_cast<int64_t>(shape.size());
  TORCH_CHECK(mask.dim() <= dims, who, ": mask of shape ", c10::str(mask.sizes()),
              " has more axes than the target ", c10::str(c10::IntArrayRef(shape)));
  for (int64_t i = 1; i <= mask.dim(); ++i)
    TORCH_CHECK(mask.size(-i) == 1 || mask.size(-i) == shape[dims - i], who, ": mask of shape ",
                c10::str(mask.sizes()), " does not broadcast to the target's ",
                c10::str(c10::IntArrayRef(shape)));
  return mask.to(scores.options()).expand(shape);
}

}  // namespace bcp::kernels
