#include "bcp/data/intensity.h"

#include <torch/torch.h>

#include <stdexcept>

namespace bcp::data {

void validate(const IntensityNorm& norm) {
  if (norm.kind == IntensityKind::kAuto)
    throw std::invalid_argument(
        "intensity normalisation \"auto\" must be resolved to the dataset's rule first");
  if (norm.kind == IntensityKind::kCt && !(norm.ct_low < norm.ct_high))
    throw std::invalid_argument("CT window must have low < high, got [" +
                                std::to_string(norm.ct_low) + ", " + std::to_string(norm.ct_high) +
                                "]");
}

torch::Tensor normalize_intensity(const torch::Tensor& image, const IntensityNorm& norm) {
  validate(norm);
  // Statistics in double: a 20-million-voxel LA volume summed in float32 loses digits.
  auto x = image.to(torch::kDouble);
  if (!torch::isfinite(x).all().item<bool>())
    throw std::invalid_argument("image holds NaN or Inf values");
  if (norm.kind == IntensityKind::kZscore) {
    const double mean = x.mean().item<double>();
    const double std = x.std(/*unbiased=*/false).item<double>();
    x = std > 0 ? (x - mean) / std : torch::zeros_like(x);
  } else if (norm.kind == IntensityKind::kMinmax) {
    const double lo = x.min().item<double>(), hi = x.max().item<double>();
    x = hi > lo ? (x - lo) / (hi - lo) : torch::zeros_like(x);
  } else if (norm.kind == IntensityKind::kCt) {
    x = (x.clamp(norm.ct_low, norm.ct_high) - norm.ct_low) / (norm.ct_high - norm.ct_low);
  }
  return x.to(torch::kFloat).contiguous();
}

}  // namespace bcp::data
