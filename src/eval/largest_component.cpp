// Two-pass union-find labelling. Every class of a sample is labelled in one raster sweep: a voxel
// joins its already-visited neighbours of the same label, and a tree's root is always its
// smallest flat index, i.e. the component's first voxel in raster order, as in skimage, whose
// label numbers follow that order.
#include "bcp/eval/largest_component.h"

#include <ATen/Dispatch.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "bcp/util/parallel.h"

namespace bcp::eval {
namespace {

// Root of i with path halving.
inline int32_t find_root(int32_t* parent, int32_t i) {
  while (parent[i] != i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

// Scratch reused across the samples of one worker, so nothing is allocated per voxel.
struct Scratch {
  std::vector<int32_t> parent;
  std::vector<int32_t> size;
  std::vector<int32_t> best_root;
  std::vector<int32_t> best_size;
};

// One sample of shape (d, h, w); d == 1 for 2D. `planar` drops the z neighbours.
template <typename T>
void keep_largest(const T* in, T* out, int64_t d, int64_t h, int64_t w, bool planar, Scratch& s) {
  const int64_t n = d * h * w;
  s.parent.resize(static_cast<size_t>(n));
  int32_t* parent = s.parent.data();
  // The half of the full neighbourhood that a raster sweep has already visited.
  std::vector<std::array<int64_t, 3>> back;
  for (int64_t dz = -1; dz <= 0; ++dz)
    for (int64_t dy = -1; dy <= 1; ++dy)
      for (int64_t dx = -1; dx <= 1; ++dx) {
        if (planar && dz != 0) continue;
        if (dz == 0 && (dy > 0 || (dy == 0 && dx >= 0))) continue;
        back.push_back({dz, dy, dx});
      }
  // The back neighbour next to all the others: the voxel above in 3-D, the pixel above in 2-D.
  // Any two neighbours of the same label were joined when the later of them was visited, so
  // where that one has this voxel's label the others of its label are in its tree already, and
  // joining it is all there is to do (most foreground voxels; same components, same roots).
  const int64_t above = planar ? w : h * w;
  int64_t max_label = 0;
  for (int64_t z = 0; z < d; ++z)
    for (int64_t y = 0; y < h; ++y) {
      const int64_t row = (z * h + y) * w;
      const bool has_above = planar ? y > 0 : z > 0;
      for (int64_t x = 0; x < w; ++x) {
        const int64_t i = row + x;
        const T c = in[i];
        if (c == 0) continue;
        TORCH_CHECK(c > 0, "largest_component: labels must be >= 0, got ", static_cast<int64_t>(c));
        max_label = std::max<int64_t>(max_label, static_cast<int64_t>(c));
        if (has_above && in[i - above] == c) {
          parent[i] = static_cast<int32_t>(i - above);  // roots stay each tree's smallest index
          continue;
        }
        parent[i] = static_cast<int32_t>(i);
        for (const auto& o : back) {
          const int64_t zz = z + o[0], yy = y + o[1], xx = x + o[2];
          if (zz < 0 || yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          const int64_t j = (zz * h + yy) * w + xx;
          if (in[j] != c) continue;
          const int32_t ri = find_root(parent, static_cast<int32_t>(i));
          const int32_t rj = find_root(parent, static_cast<int32_t>(j));
          if (ri < rj) {
            parent[rj] = ri;
          } else if (rj < ri) {
            parent[ri] = rj;
          }
        }
      }
    }
  if (max_label == 0) {
    std::fill(out, out + n, T(0));
    return;
  }
  s.size.assign(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i)
    if (in[i] != 0) {
      parent[i] = find_root(parent, static_cast<int32_t>(i));
      ++s.size[static_cast<size_t>(parent[i])];
    }
  // Visiting roots in raster order with a strict '>' keeps the earliest of equal sizes.
  s.best_root.assign(static_cast<size_t>(max_label + 1), -1);
  s.best_size.assign(static_cast<size_t>(max_label + 1), 0);
  for (int64_t i = 0; i < n; ++i) {
    if (in[i] == 0 || parent[i] != i) continue;
    const auto c = static_cast<size_t>(in[i]);
    if (s.size[static_cast<size_t>(i)] > s.best_size[c]) {
      s.best_size[c] = s.size[static_cast<size_t>(i)];
      s.best_root[c] = static_cast<int32_t>(i);
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    const T c = in[i];
    out[i] = (c != 0 && parent[i] == s.best_root[static_cast<size_t>(c)]) ? c : T(0);
  }
}

}  // namespace

torch::Tensor largest_component_per_class(const torch::Tensor& labels, int64_t spatial_dims) {
  TORCH_CHECK(labels.defined(), "largest_component: labels are undefined");
  TORCH_CHECK(spatial_dims == 2 || spatial_dims == 3,
              "largest_component: spatial_dims must be 2 or 3, got ", spatial_dims);
  TORCH_CHECK(labels.dim() >= spatial_dims, "largest_component: labels of shape ", labels.sizes(),
              " have fewer than ", spatial_dims, " axes");
  const auto type = labels.scalar_type();
  TORCH_CHECK(type == torch::kBool || c10::isIntegralType(type, /*includeBool=*/false),
              "largest_component: labels must be bool or integer, got ", type);
  torch::Tensor in = labels.to(torch::kCPU);
  if (type == torch::kBool) in = in.to(torch::kUInt8);
  in = in.contiguous();

  const int64_t nd = in.dim();
  const int64_t w = in.size(nd - 1), h = in.size(nd - 2);
  const int64_t d = spatial_dims == 3 ? in.size(nd - 3) : 1;
  const int64_t per_sample = d * h * w;
  TORCH_CHECK(per_sample < std::numeric_limits<int32_t>::max(), "largest_component: a sample of ",
              per_sample, " voxels is too large (max 2^31-1)");
  const int64_t samples = per_sample == 0 ? 0 : in.numel() / per_sample;
  torch::Tensor out = torch::empty_like(in);
  AT_DISPATCH_INTEGRAL_TYPES(in.scalar_type(), "largest_component", [&] {
    const scalar_t* src = in.data_ptr<scalar_t>();
    scalar_t* dst = out.data_ptr<scalar_t>();
    util::parallel_for(0, samples, 1, [&](int64_t begin, int64_t end) {
      Scratch scratch;
      for (int64_t k = begin; k < end; ++k)
        keep_largest(src + k * per_sample, dst + k * per_sample, d, h, w, spatial_dims == 2,
                     scratch);
    });
  });
  if (type == torch::kBool) out = out.to(torch::kBool);
  return out.to(labels.device());
}

torch::Tensor largest_component(const torch::Tensor& mask) {
  TORCH_CHECK(mask.defined() && (mask.dim() == 2 || mask.dim() == 3),
              "largest_component: mask must be (H, W) or (D, H, W), got shape ",
              mask.defined() ? mask.sizes() : c10::IntArrayRef{});
  const auto type = mask.scalar_type();
  TORCH_CHECK(type == torch::kBool || c10::isIntegralType(type, /*includeBool=*/false),
              "largest_component: mask must be bool or integer, got ", type);
  const torch::Tensor binary = mask.to(torch::kCPU).ne(0).to(torch::kUInt8);
  return largest_component_per_class(binary, mask.dim()).to(mask.device(), type);
}

}  // namespace bcp::eval
