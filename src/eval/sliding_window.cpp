#include "bcp/eval/sliding_window.h"

#include <torch/torch.h>

#include <sstream>
#include <stdexcept>
#include <string>

namespace bcp::eval {
namespace {

std::string str(const Shape3& s) {
  std::ostringstream os;
  os << "(" << s[0] << ", " << s[1] << ", " << s[2] << ")";
  return os.str();
}

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

SlidingWindowGrid sliding_window_grid(Shape3 shape, Shape3 patch, Shape3 stride) {
  for (int a = 0; a < 3; ++a) {
    if (shape[a] < 1 || patch[a] < 1 || stride[a] < 1 || stride[a] > patch[a]) {
      throw std::invalid_argument(
          "sliding_window_grid: need shape >= 1 and 1 <= stride <= patch on every axis, got "
          "shape " +
          str(shape) + ", patch " + str(patch) + ", stride " + str(stride));
    }
  }
  SlidingWindowGrid grid;
  grid.shape = shape;
  grid.patch = patch;
  std::array<std::vector<int64_t>, 3> axis_starts;
  for (int a = 0; a < 3; ++a) {
    const int64_t pad = shape[a] < patch[a] ? patch[a] - shape[a] : 0;
    grid.pad_left[a] = pad / 2;
    grid.pad_right[a] = pad - pad / 2;
    grid.padded_shape[a] = shape[a] + pad;
    const int64_t last = grid.padded_shape[a] - patch[a];
    const int64_t n = ceil_div(last, stride[a]) + 1;
    for (int64_t i = 0; i < n; ++i) axis_starts[a].push_back(std::min(stride[a] * i, last));
  }
  for (int64_t x : axis_starts[0])
    for (int64_t y : axis_starts[1])
      for (int64_t z : axis_starts[2]) grid.starts.push_back({x, y, z});
  return grid;
}

torch::Tensor sliding_window_probability(const torch::Tensor& volume, const Predictor& predictor,
                                         int64_t num_classes, const SlidingWindowOptions& options) {
  TORCH_CHECK(
      volume.dim() == 3 || volume.dim() == 4,
      "sliding_window_probability: expected an (X, Y, Z) or (C, X, Y, Z) volume, got shape ",
      volume.sizes());
  TORCH_CHECK(volume.is_floating_point(),
              "sliding_window_probability: expected a floating-point volume, got ", volume.dtype());
  TORCH_CHECK(num_classes >= 1, "sliding_window_probability: num_classes must be >= 1, got ",
              num_classes);
  TORCH_CHECK(options.window_batch >= 1,
              "sliding_window_probability: window_batch must be >= 1, got ", options.window_batch);
  TORCH_CHECK(static_cast<bool>(predictor), "sliding_window_probability: empty predictor");
  TORCH_CHECK(torch::isfinite(volume).all().item<bool>(),
              "sliding_window_probability: the volume holds NaN or infinite values");

  SlidingWindowGrid grid;
  try {
    grid = sliding_window_grid({volume.size(-3), volume.size(-2), volume.size(-1)}, options.patch,
                               options.stride);
  } catch (const std::invalid_argument& e) {
    TORCH_CHECK(false, "sliding_window_probability: ", e.what());
  }
  const Shape3& p = grid.patch;
  const Shape3& l = grid.pad_left;
  const Shape3& r = grid.pad_right;
  auto padded =
      torch::constant_pad_nd(volume.to(torch::kFloat), {l[2], r[2], l[1], r[1], l[0], r[0]}, 0);

  const auto fopt = torch::TensorOptions().dtype(torch::kFloat).device(volume.device());
  auto score = torch::zeros(
      {num_classes, grid.padded_shape[0], grid.padded_shape[1], grid.padded_shape[2]}, fopt);
  auto count =
      torch::zeros({grid.padded_shape[0], grid.padded_shape[1], grid.padded_shape[2]}, fopt);
  using torch::indexing::Slice;
  // Channels first, or one channel added: windows are (C, px, py, pz).
  if (padded.dim() == 3) padded = padded.unsqueeze(0);

  const auto n_windows = static_cast<int64_t>(grid.starts.size());
  for (int64_t first = 0; first < n_windows; first += options.window_batch) {
    const int64_t last = std::min(first + options.window_batch, n_windows);
    std::vector<torch::Tensor> patches;
    patches.reserve(static_cast<size_t>(last - first));
    for (int64_t w = first; w < last; ++w) {
      const Shape3& s = grid.starts[static_cast<size_t>(w)];
      patches.push_back(padded.index(
          {Slice(), Slice(s[0], s[0] + p[0]), Slice(s[1], s[1] + p[1]), Slice(s[2], s[2] + p[2])}));
    }
    auto batch = torch::stack(patches);  // (B, C, px, py, pz)
    auto logits = predictor(batch);
    TORCH_CHECK(logits.dim() == 5 && logits.size(0) == last - first &&
                    logits.size(1) == num_classes && logits.size(2) == p[0] &&
                    logits.size(3) == p[1] && logits.size(4) == p[2],
                "sliding_window_probability: the predictor returned shape ", logits.sizes(),
                " for input ", batch.sizes(), "; expected (", last - first, ", ", num_classes, ", ",
                p[0], ", ", p[1], ", ", p[2], ")");
    auto prob = torch::softmax(logits.to(torch::kFloat), 1).to(volume.device());
    // Added one window at a time in grid order, as the authors do, so the float sums do not
    // depend on window_batch.
    for (int64_t w = first; w < last; ++w) {
      const Shape3& s = grid.starts[static_cast<size_t>(w)];
      score
          .index({Slice(), Slice(s[0], s[0] + p[0]), Slice(s[1], s[1] + p[1]),
                  Slice(s[2], s[2] + p[2])})
          .add_(prob[w - first]);
      count.index({Slice(s[0], s[0] + p[0]), Slice(s[1], s[1] + p[1]), Slice(s[2], s[2] + p[2])})
          .add_(1.0);
    }
  }
  score.div_(count.unsqueeze(0));
  return score
      .index({Slice(), Slice(l[0], l[0] + volume.size(-3)), Slice(l[1], l[1] + volume.size(-2)),
              Slice(l[2], l[2] + volume.size(-1))})
      .contiguous();
}

}  // namespace bcp::eval
