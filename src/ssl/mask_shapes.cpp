#include "bcp/ssl/mask_shapes.h"

#include <torch/torch.h>

#include <stdexcept>

#include "bcp/util/rng.h"

namespace bcp::ssl {

using torch::indexing::Slice;
using util::uniform_int;

namespace {

/// np.random.randint(lo, hi), refusing an empty range with the shape that caused it.
int64_t randint(Rng& rng, int64_t lo, int64_t hi, const char* what) {
  TORCH_CHECK(lo < hi, what, ": the patch is too small for this mask (empty range [", lo, ", ", hi,
              "))");
  return uniform_int(rng, lo, hi);
}

}  // namespace

torch::Tensor small_boxes_mask(const std::vector<int64_t>& shape, double beta, Rng& rng) {
  TORCH_CHECK(shape.size() == 2 || shape.size() == 3,
              "small_boxes_mask: shape must have 2 or 3 axes");
  const bool three_d = shape.size() == 3;
  std::vector<int64_t> side(shape.size()), split(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    split[d] = shape[d] / 3;
    if (!three_d) {
      side[d] = zero_box_side(shape[d], beta / 3.0);
    } else {
      side[d] = zero_box_side(shape[d], beta) / 3 + (d < 2 ? 1 : 0);
    }
  }
  const int64_t margin = three_d ? 1 : 0;  // the LA code's extra "- 1"
  auto mask = torch::ones(shape, torch::kFloat32);
  const int64_t cells_z = three_d ? 3 : 1;
  for (int64_t cx = 0; cx < 3; ++cx)
    for (int64_t cy = 0; cy < 3; ++cy)
      for (int64_t cz = 0; cz < cells_z; ++cz) {
        const int64_t cell[3] = {cx, cy, cz};
        std::vector<torch::indexing::TensorIndex> box;
        for (size_t d = 0; d < shape.size(); ++d) {
          const int64_t lo = cell[d] * split[d];
          const int64_t start =
              randint(rng, lo, lo + split[d] - side[d] - margin, "small_boxes_mask");
          box.emplace_back(Slice(start, start + side[d]));
        }
        mask.index_put_(box, 0.0);
      }
  return mask;
}

torch::Tensor contact_mask(const std::vector<int64_t>& shape, double beta, Rng& rng) {
  TORCH_CHECK(shape.size() == 2 || shape.size() == 3, "contact_mask: shape must have 2 or 3 axes");
  auto mask = torch::ones(shape, torch::kFloat32);
  if (shape.size() == 2) {
    const int64_t w = shape[1];
    const int64_t length = zero_box_side(w, beta * beta);
    const int64_t start = randint(rng, 0, w - length, "contact_mask");
    mask.index_put_({Slice(start, start + length)}, 0.0);
  } else {
    const int64_t z = shape[2];
    const int64_t length = zero_box_side(z, beta * beta * beta);
    const int64_t start = randint(rng, 0, z - length - 1, "contact_mask");
    mask.index_put_({Slice(), Slice(), Slice(start, start + length)}, 0.0);
  }
  return mask;
}

torch::Tensor copy_paste_mask(MaskShape kind, const std::vector<int64_t>& shape, double beta,
                              Rng& rng) {
  switch (kind) {
    case MaskShape::kSmallBoxes:
      return small_boxes_mask(shape, beta, rng);
    case MaskShape::kContact:
      return contact_mask(shape, beta, rng);
    case MaskShape::kBox:
      break;
  }
  return zero_box_mask(shape, beta, rng);
}

}  // namespace bcp::ssl
