#include "bcp/analysis/overlay.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace bcp::analysis {

std::array<uint8_t, 3> class_color(int64_t cls) {
  static const std::array<uint8_t, 3> kColors[] = {{230, 25, 75},  {60, 220, 75},  {0, 130, 200},
                                                   {255, 225, 25}, {245, 130, 48}, {145, 30, 180},
                                                   {70, 240, 240}, {240, 50, 230}};
  const int64_t n = sizeof kColors / sizeof kColors[0];
  return kColors[((cls - 1) % n + n) % n];
}

std::string class_color_hex(int64_t cls) {
  const auto c = class_color(cls);
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c[0], c[1], c[2]);
  return buf;
}

RgbImage contour_overlay(const torch::Tensor& image, const torch::Tensor& labels, int scale) {
  if (image.dim() != 2 || labels.dim() != 2 || image.sizes() != labels.sizes())
    throw std::invalid_argument("contour_overlay: expected an image and labels of the same (H, W)");
  if (scale < 1) throw std::invalid_argument("contour_overlay: scale must be >= 1");
  const int64_t h = image.size(0), w = image.size(1);
  auto img = image.to(torch::kFloat32).contiguous();
  const auto flat = img.reshape({-1});
  const float lo = torch::quantile(flat, 0.01).item<float>();
  const float hi = torch::quantile(flat, 0.99).item<float>();
  const auto grey =
      ((img - lo) / std::max(hi - lo, 1e-6f) * 255).clamp(0, 255).to(torch::kUInt8).contiguous();
  // A pixel is on a class's boundary when a 4-neighbour (or the image edge) holds another label.
  const auto lab = labels.to(torch::kInt64).contiguous();
  auto padded = torch::constant_pad_nd(lab, {1, 1, 1, 1}, -1);
  const auto centre = padded.slice(0, 1, h + 1).slice(1, 1, w + 1);
  const auto edge = (padded.slice(0, 0, h).slice(1, 1, w + 1) != centre) |
                    (padded.slice(0, 2, h + 2).slice(1, 1, w + 1) != centre) |
                    (padded.slice(0, 1, h + 1).slice(1, 0, w) != centre) |
                    (padded.slice(0, 1, h + 1).slice(1, 2, w + 2) != centre);
  const auto boundary = (edge & (lab > 0)).contiguous();
  const uint8_t* g = grey.data_ptr<uint8_t>();
  const int64_t* l = lab.data_ptr<int64_t>();
  const bool* b = boundary.data_ptr<bool>();
  RgbImage out(static_cast<int>(w * scale), static_cast<int>(h * scale));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t i = y * w + x;
      std::array<uint8_t, 3> rgb{g[i], g[i], g[i]};
      if (b[i]) rgb = class_color(l[i]);
      for (int dy = 0; dy < scale; ++dy)
        for (int dx = 0; dx < scale; ++dx)
          std::copy(rgb.begin(), rgb.end(),
                    out.at(static_cast<int>(x * scale + dx), static_cast<int>(y * scale + dy)));
    }
  return out;
}

std::vector<int64_t> pick_slices(const torch::Tensor& labels, int count) {
  if (labels.dim() != 3) throw std::invalid_argument("pick_slices: expected labels (D, H, W)");
  std::vector<int64_t> candidates;
  const auto any = (labels > 0).flatten(1).any(1).contiguous();
  const bool* a = any.data_ptr<bool>();
  for (int64_t d = 0; d < labels.size(0); ++d)
    if (a[d]) candidates.push_back(d);
  if (candidates.empty())
    for (int64_t d = 0; d < labels.size(0); ++d) candidates.push_back(d);
  std::vector<int64_t> picked;
  const int64_t n = static_cast<int64_t>(candidates.size());
  if (count <= 0 || n == 0) return picked;
  if (count >= n) return candidates;
  // The centres of `count` equal parts of the candidates.
  for (int k = 0; k < count; ++k) picked.push_back(candidates[(2 * k + 1) * n / (2 * count)]);
  return picked;
}

}  // namespace bcp::analysis
