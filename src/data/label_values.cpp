#include "bcp/data/label_values.h"

#include <torch/torch.h>

namespace bcp::data {

std::string LabelValues::text() const {
  std::string t = "0.." + std::to_string(max_label);
  if (ignore) t += " and " + std::to_string(kIgnoreLabel) + " (not annotated)";
  return t;
}

bool has_foreign_label(const torch::Tensor& labels, const LabelValues& values) {
  const torch::Tensor wide = labels.to(torch::kLong);
  torch::Tensor outside = (wide < 0) | (wide > values.max_label);
  if (values.ignore) outside &= wide != kIgnoreLabel;
  return outside.any().item<bool>();
}

torch::Tensor annotated(const torch::Tensor& labels) {
  return labels != kIgnoreLabel;
}

}  // namespace bcp::data
