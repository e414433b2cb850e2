#include "bcp/data/zoom.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

namespace bcp::data {

int64_t zoom_source_index(int64_t o, int64_t in, int64_t out) {
  // scipy (NI_ZoomShift, grid_mode=False): zoom = (in - 1) / (out - 1) in float64, or 1 when
  // out == 1; the coordinate o * zoom is rounded half up, floor(c + 0.5), for order 0. Doing the
  // same double arithmetic keeps the .5 ties (and their float error) identical to scipy's.
  const double zoom = out > 1 ? static_cast<double>(in - 1) / static_cast<double>(out - 1) : 1.0;
  const double c = static_cast<double>(o) * zoom;
  // scipy's map_coordinate for mode="constant": a coordinate outside [0, in - 1] reads cval.
  if (c > static_cast<double>(in - 1)) return -1;
  return static_cast<int64_t>(std::floor(c + 0.5));
}

torch::Tensor zoom_nearest(const torch::Tensor& x, std::vector<int64_t> out_size) {
  TORCH_CHECK(x.dim() == 2 || x.dim() == 3,
              "zoom_nearest: expected a 2D (H, W) or 3D (D, H, W) tensor, got shape ",
              c10::str(x.sizes()));
  TORCH_CHECK(static_cast<int64_t>(out_size.size()) == x.dim(), "zoom_nearest: out_size has ",
              out_size.size(), " entries for a tensor of shape ", c10::str(x.sizes()));
  for (int64_t d = 0; d < x.dim(); ++d) {
    TORCH_CHECK(out_size[d] >= 1, "zoom_nearest: out_size must be >= 1 on every axis, got ",
                c10::str(c10::IntArrayRef(out_size)));
    TORCH_CHECK(x.size(d) >= 1, "zoom_nearest: cannot resize an empty tensor of shape ",
                c10::str(x.sizes()));
  }
  torch::Tensor y = x;
  for (int64_t d = 0; d < x.dim(); ++d) {
    const int64_t in = x.size(d);
    const int64_t out = out_size[d];
    if (in == out) continue;  // zoom factor 1: the identity map
    std::vector<int64_t> idx(static_cast<size_t>(out));
    std::vector<int64_t> outside;
    for (int64_t o = 0; o < out; ++o) {
      const int64_t i = zoom_source_index(o, in, out);
      idx[static_cast<size_t>(o)] = i < 0 ? 0 : i;
      if (i < 0) outside.push_back(o);
    }
    auto index = torch::tensor(idx, torch::kLong).to(x.device());
    y = y.index_select(d, index);
    if (!outside.empty()) y.index_fill_(d, torch::tensor(outside, torch::kLong).to(x.device()), 0);
  }
  // index_select already copied unless every axis was kept; return a fresh tensor either way.
  return y.is_same(x) ? x.clone() : y.contiguous();
}

}  // namespace bcp::data
