#include "bcp/data/augment.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <utility>

#include "bcp/data/zoom.h"
#include "bcp/util/rng.h"

namespace bcp::data {
namespace {

using util::uniform01;
using util::uniform_int;

void check_pair(const torch::Tensor& image, const torch::Tensor& label, int64_t rank,
                const char* who) {
  TORCH_CHECK(image.defined() && label.defined(), who, ": image and label must be defined");
  TORCH_CHECK(image.dim() == rank, who, ": expected a ", rank, "D image, got shape ",
              c10::str(image.sizes()));
  TORCH_CHECK(image.sizes() == label.sizes(), who, ": image shape ", c10::str(image.sizes()),
              " differs from label shape ", c10::str(label.sizes()));
  TORCH_CHECK(at::isFloatingType(image.scalar_type()), who, ": image must be floating, got ",
              image.scalar_type());
  TORCH_CHECK(!at::isFloatingType(label.scalar_type()), who,
              ": label must be an integer tensor, got ", label.scalar_type());
}

// cos and sin of an angle in degrees, exact at multiples of 90 as scipy's cosdg/sindg are.
std::pair<double, double> cos_sin_deg(double deg) {
  const double r = std::fmod(deg, 360.0);
  const double q = r / 90.0;
  if (q == std::floor(q)) {
    const int k = ((static_cast<int>(q) % 4) + 4) % 4;
    static const double kCos[] = {1.0, 0.0, -1.0, 0.0};
    static const double kSin[] = {0.0, 1.0, 0.0, -1.0};
    return {kCos[k], kSin[k]};
  }
  const double rad = deg * M_PI / 180.0;
  return {std::cos(rad), std::sin(rad)};
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

torch::Tensor rot90_flip(const torch::Tensor& x, int64_t k, int64_t axis) {
  TORCH_CHECK(x.dim() >= 2, "rot90_flip: expected at least 2 axes, got shape ",
              c10::str(x.sizes()));
  TORCH_CHECK(axis == 0 || axis == 1, "rot90_flip: flip axis must be 0 or 1, got ", axis);
  return torch::flip(torch::rot90(x, k, {0, 1}), {axis}).contiguous();
}

torch::Tensor rotate_nearest(const torch::Tensor& x, double angle_deg) {
  TORCH_CHECK(x.dim() == 2, "rotate_nearest: expected a 2D (H, W) tensor, got shape ",
              c10::str(x.sizes()));
  TORCH_CHECK(std::isfinite(angle_deg), "rotate_nearest: angle must be finite, got ", angle_deg);
  const int64_t h = x.size(0), w = x.size(1);
  const auto [c, s] = cos_sin_deg(angle_deg);
  // scipy.ndimage.rotate: matrix [[c, s], [-s, c]], offset = in_centre - matrix @ out_centre,
  // then affine_transform sums o0*m0 + o1*m1 before adding the offset; same order here.
  const double h0 = (static_cast<double>(h) - 1) / 2, h1 = (static_cast<double>(w) - 1) / 2;
  const double off0 = h0 - (c * h0 + s * h1);
  const double off1 = h1 - (-s * h0 + c * h1);
  auto index = torch::empty({h * w}, torch::kInt64);
  auto valid = torch::empty({h * w}, torch::kBool);
  auto* ip = index.data_ptr<int64_t>();
  auto* vp = valid.data_ptr<bool>();
  for (int64_t o0 = 0; o0 < h; ++o0) {
    for (int64_t o1 = 0; o1 < w; ++o1) {
      const double a = static_cast<double>(o0), b = static_cast<double>(o1);
      double i0 = 0.0, i1 = 0.0;
      i0 += a * c;
      i0 += b * s;
      i0 += off0;
      i1 += a * -s;
      i1 += b * c;
      i1 += off1;
      const int64_t at = o0 * w + o1;
      // mode='constant': a coordinate outside [0, n - 1] reads cval, before any rounding.
      const bool inside = i0 >= 0 && i0 <= h - 1 && i1 >= 0 && i1 <= w - 1;
      vp[at] = inside;
      if (inside) {
        auto r0 = std::min(static_cast<int64_t>(std::floor(i0 + 0.5)), h - 1);
        auto r1 = std::min(static_cast<int64_t>(std::floor(i1 + 0.5)), w - 1);
        ip[at] = r0 * w + r1;
      } else {
        ip[at] = 0;
      }
    }
  }
  auto out = x.contiguous().reshape({-1}).index_select(0, index.to(x.device()));
  out.masked_fill_(valid.logical_not().to(x.device()), 0);
  return out.reshape({h, w});
}

AugmentedPair acdc_augment(const torch::Tensor& image, const torch::Tensor& label, Rng& rng,
                           const AcdcAugmentOptions& opt) {
  check_pair(image, label, 2, "acdc_augment");
  TORCH_CHECK(opt.patch_size.size() == 2, "acdc_augment: patch_size must have 2 entries, got ",
              opt.patch_size.size());
  TORCH_CHECK(opt.max_angle >= 1, "acdc_augment: max_angle must be >= 1, got ", opt.max_angle);
  torch::Tensor img = image, lab = label;
  if (uniform01(rng) > 1.0 - opt.rot_flip_prob) {
    const int64_t k = uniform_int(rng, 0, 4);
    const int64_t axis = uniform_int(rng, 0, 2);
    img = rot90_flip(img, k, axis);
    lab = rot90_flip(lab, k, axis);
  } else if (uniform01(rng) > 1.0 - opt.rotate_prob) {
    const int64_t angle = uniform_int(rng, -opt.max_angle, opt.max_angle);
    img = rotate_nearest(img, static_cast<double>(angle));
    lab = rotate_nearest(lab, static_cast<double>(angle));
  }
  AugmentedPair out;
  out.image = zoom_nearest(img, opt.patch_size).to(torch::kFloat32);
  out.label = zoom_nearest(lab, opt.patch_size);
  return out;
}

namespace {

/// random_crop's checks and zero padding, shared by both crops.
std::pair<torch::Tensor, torch::Tensor> pad_for_crop(const torch::Tensor& image,
                                                     const torch::Tensor& label,
                                                     const std::vector<int64_t>& patch_size,
                                                     const char* who) {
  check_pair(image, label, 3, who);
  TORCH_CHECK(patch_size.size() == 3, who, ": patch_size must have 3 entries, got ",
              patch_size.size());
  for (int64_t p : patch_size)
    TORCH_CHECK(p >= 1, who, ": patch_size entries must be >= 1, got ",
                c10::str(c10::IntArrayRef(patch_size)));
  bool pad = false;
  for (int d = 0; d < 3; ++d) pad = pad || image.size(d) <= patch_size[d];
  if (!pad) return {image, label};
  std::vector<int64_t> p(6);  // torch pad order: last axis first, (before, after) pairs
  for (int d = 0; d < 3; ++d) {
    const int64_t amount = std::max<int64_t>(floor_div(patch_size[d] - image.size(d), 2) + 3, 0);
    p[2 * (2 - d)] = amount;
    p[2 * (2 - d) + 1] = amount;
  }
  return {torch::constant_pad_nd(image, p, 0), torch::constant_pad_nd(label, p, 0)};
}

AugmentedPair crop_at(const torch::Tensor& img, const torch::Tensor& lab,
                      const std::vector<int64_t>& start, const std::vector<int64_t>& patch_size) {
  using torch::indexing::Slice;
  std::vector<torch::indexing::TensorIndex> crop;
  for (int d = 0; d < 3; ++d) crop.emplace_back(Slice(start[d], start[d] + patch_size[d]));
  return {img.index(crop).contiguous(), lab.index(crop).contiguous()};
}

std::vector<int64_t> random_start(const torch::Tensor& img, const std::vector<int64_t>& patch_size,
                                  Rng& rng) {
  std::vector<int64_t> start(3, 0);
  for (int d = 0; d < 3; ++d) {
    const int64_t room = img.size(d) - patch_size[d];
    start[d] = room > 0 ? uniform_int(rng, 0, room) : 0;
  }
  return start;
}

}  // namespace

AugmentedPair random_crop(const torch::Tensor& image, const torch::Tensor& label,
                          const std::vector<int64_t>& patch_size, Rng& rng) {
  const auto [img, lab] = pad_for_crop(image, label, patch_size, "random_crop");
  return crop_at(img, lab, random_start(img, patch_size, rng), patch_size);
}

AugmentedPair foreground_crop(const torch::Tensor& image, const torch::Tensor& label,
                              const std::vector<int64_t>& patch_size, int64_t value, Rng& rng) {
  const auto [img, lab] = pad_for_crop(image, label, patch_size, "foreground_crop");
  const torch::Tensor voxels = torch::nonzero(lab == value);  // (n, 3), in memory order
  if (voxels.size(0) == 0) return crop_at(img, lab, random_start(img, patch_size, rng), patch_size);
  const torch::Tensor at = voxels[uniform_int(rng, 0, voxels.size(0))];
  std::vector<int64_t> start(3, 0);
  for (int d = 0; d < 3; ++d) {
    const int64_t room = std::max<int64_t>(img.size(d) - patch_size[d], 0);
    start[d] = std::clamp<int64_t>(at[d].item<int64_t>() - patch_size[d] / 2, 0, room);
  }
  return crop_at(img, lab, start, patch_size);
}

AugmentedPair la_augment(const torch::Tensor& image, const torch::Tensor& label, Rng& rng,
                         const LaAugmentOptions& opt) {
  check_pair(image, label, 3, "la_augment");
  const int64_t k = uniform_int(rng, 0, 4);
  const int64_t axis = uniform_int(rng, 0, 2);
  const torch::Tensor img = rot90_flip(image, k, axis), lab = rot90_flip(label, k, axis);
  auto out = opt.centre_on >= 1 ? foreground_crop(img, lab, opt.patch_size, opt.centre_on, rng)
                                : random_crop(img, lab, opt.patch_size, rng);
  out.image = out.image.to(torch::kFloat32);
  return out;
}

}  // namespace bcp::data
