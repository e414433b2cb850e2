#include "bcp/ssl/zero_box_mask.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "bcp/util/rng.h"

namespace bcp::ssl {

using util::uniform_int;

int64_t zero_box_side(int64_t n, double beta) {
  TORCH_CHECK(n >= 1, "zero_box_side: axis length must be >= 1, got ", n);
  TORCH_CHECK(std::isfinite(beta) && beta >= 0.0 && beta <= 1.0,
              "zero_box_side: beta must be in [0, 1], got ", beta);
  auto side = static_cast<int64_t>(std::floor(static_cast<double>(n) * beta + 1e-9));
  return std::min(side, n);
}

torch::Tensor zero_box_mask(const std::vector<int64_t>& shape, double beta, Rng& rng) {
  TORCH_CHECK(!shape.empty(), "zero_box_mask: shape must have at least one axis");
  auto mask = torch::ones(shape, torch::kFloat32);
  std::vector<int64_t> side(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) side[d] = zero_box_side(shape[d], beta);
  for (int64_t s : side)
    if (s == 0) return mask;  // an empty box: nothing to zero, and nothing to draw
  using torch::indexing::Slice;
  std::vector<torch::indexing::TensorIndex> box;
  for (size_t d = 0; d < shape.size(); ++d) {
    const int64_t room = shape[d] - side[d];
    const int64_t start = room > 0 ? uniform_int(rng, 0, room) : 0;
    box.emplace_back(Slice(start, start + side[d]));
  }
  mask.index_put_(box, 0.0);
  return mask;
}

torch::Tensor zero_box_mask_2d(int64_t h, int64_t w, double beta, Rng& rng) {
  return zero_box_mask({h, w}, beta, rng);
}

torch::Tensor zero_box_mask_3d(int64_t x, int64_t y, int64_t z, double beta, Rng& rng) {
  return zero_box_mask({x, y, z}, beta, rng);
}

torch::Tensor batch_mask(const torch::Tensor& mask, int64_t n) {
  TORCH_CHECK(n >= 1, "batch_mask: batch size must be >= 1, got ", n);
  std::vector<int64_t> shape{n};
  for (int64_t s : mask.sizes()) shape.push_back(s);
  return mask.unsqueeze(0).expand(shape).contiguous();
}

}  // namespace bcp::ssl
