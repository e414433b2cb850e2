// medpy-compatible binary metrics. The surface distances use an exact separable Euclidean distance
// transform (Felzenszwalb & Huttenlocher) on the bounding box of both objects only: every feature
// (surface voxel) lies inside that box, so the transform restricted to it is still exact there,
// and the box is usually a small fraction of the volume. Lines are independent, so the passes run
// in parallel without changing any result.
#include "bcp/eval/binary_metrics.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <vector>

#include "bcp/util/parallel.h"

namespace bcp::eval {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Bool or integer, rank 2 or 3, on the CPU, contiguous, one byte per voxel (nonzero = object).
torch::Tensor as_byte_mask(const torch::Tensor& t, const char* name) {
  TORCH_CHECK(t.defined(), "binary_scores: ", name, " is undefined");
  TORCH_CHECK(t.dim() == 2 || t.dim() == 3, "binary_scores: ", name,
              " must be (H, W) or (D, H, W), got shape ", t.sizes());
  const auto type = t.scalar_type();
  TORCH_CHECK(type == torch::kBool || c10::isIntegralType(type, /*includeBool=*/false),
              "binary_scores: ", name, " must be bool or integer, got ", type);
  torch::Tensor m = t.to(torch::kCPU);
  if (type != torch::kBool && type != torch::kUInt8) m = m.ne(0);
  return m.contiguous();
}

// The array seen as (D, H, W); a 2D array is one plane.
struct GridSize3 {
  int64_t d, h, w;
};

// Bounding box [lo, hi] (inclusive) of the union of both objects, plus the counts Dice needs.
struct Overlap {
  int64_t n_pred = 0, n_ref = 0, n_both = 0;
  std::array<int64_t, 3> lo{std::numeric_limits<int64_t>::max(),
                            std::numeric_limits<int64_t>::max(),
                            std::numeric_limits<int64_t>::max()};
  std::array<int64_t, 3> hi{-1, -1, -1};
};

Overlap count_overlap(const uint8_t* p, const uint8_t* r, GridSize3 s) {
  Overlap total;
  std::mutex mutex;
  // Integer sums and min/max are order independent, so merging chunks is deterministic.
  util::parallel_for(0, s.d * s.h, 16, [&](int64_t begin, int64_t end) {
    Overlap local;
    for (int64_t row = begin; row < end; ++row) {
      const uint8_t* pr = p + row * s.w;
      const uint8_t* rr = r + row * s.w;
      int64_t first = -1, last = -1;
      for (int64_t x = 0; x < s.w; ++x) {
        const bool a = pr[x] != 0, b = rr[x] != 0;
        local.n_pred += a;
        local.n_ref += b;
        local.n_both += a && b;
        if (a || b) {
          if (first < 0) first = x;
          last = x;
        }
      }
      if (first >= 0) {
        const int64_t z = row / s.h, y = row % s.h;
        local.lo = {std::min(local.lo[0], z), std::min(local.lo[1], y),
                    std::min(local.lo[2], first)};
        local.hi = {std::max(local.hi[0], z), std::max(local.hi[1], y),
                    std::max(local.hi[2], last)};
      }
    }
    std::lock_guard<std::mutex> lock(mutex);
    total.n_pred += local.n_pred;
    total.n_ref += local.n_ref;
    total.n_both += local.n_both;
    for (int k = 0; k < 3; ++k) {
      total.lo[k] = std::min(total.lo[k], local.lo[k]);
      total.hi[k] = std::max(total.hi[k], local.hi[k]);
    }
  });
  return total;
}

// The box both objects live in, with its offset in the full array.
struct Box {
  int64_t z0, y0, x0;
  int64_t d, h, w;
  int64_t size() const { return d * h * w; }
};

// Surface voxels of `m` inside `box`: object voxels with at least one neighbour (in the
// structuring element) outside the object. Neighbours outside the box are background, since the
// box holds every object voxel, and outside the array they are background as in scipy's
// binary_erosion (border_value=0).
std::vector<uint8_t> surface(const uint8_t* m, GridSize3 s, const Box& box, int ndim,
                             int connectivity) {
  // Offsets (dz, dy, dx) whose squared length is at most `connectivity`, as
  // generate_binary_structure; a 2D array has no z neighbours.
  std::vector<std::array<int64_t, 3>> offsets;
  for (int64_t dz = -1; dz <= 1; ++dz)
    for (int64_t dy = -1; dy <= 1; ++dy)
      for (int64_t dx = -1; dx <= 1; ++dx) {
        const int64_t n = std::abs(dz) + std::abs(dy) + std::abs(dx);
        if (n == 0 || n > connectivity || (ndim == 2 && dz != 0)) continue;
        offsets.push_back({dz, dy, dx});
      }
  std::vector<uint8_t> out(static_cast<size_t>(box.size()), 0);
  util::parallel_for(0, box.d * box.h, 8, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t bz = row / box.h, by = row % box.h;
      const int64_t z = box.z0 + bz, y = box.y0 + by;
      const uint8_t* line = m + (z * s.h + y) * s.w;
      uint8_t* dst = out.data() + row * box.w;
      for (int64_t bx = 0; bx < box.w; ++bx) {
        const int64_t x = box.x0 + bx;
        if (!line[x]) continue;
        bool border = false;
        for (const auto& o : offsets) {
          const int64_t nz = bz + o[0], ny = by + o[1], nx = bx + o[2];
          if (nz < 0 || ny < 0 || nx < 0 || nz >= box.d || ny >= box.h || nx >= box.w ||
              !m[((z + o[0]) * s.h + (y + o[1])) * s.w + (x + o[2])]) {
            border = true;
            break;
          }
        }
        dst[bx] = border;
      }
    }
  });
  return out;
}

// Lower envelope of the parabolas w*(p-q)^2 + f[q] over the finite f[q] (Felzenszwalb &
// Huttenlocher 2012), for the line f[0], f[step], ..., evaluated in place at the positions p where
// want(p) holds. Intersections are compared by cross-multiplication instead of division: faster,
// and exact in voxel units, where every value is an integer. v, h, fv: scratch of n entries.
template <typename Want>
void envelope_1d(double* f, int64_t step, int64_t n, double w, int64_t* v, double* h, double* fv,
                 Want&& want) {
  // h[k] = fv[k] + w v[k]^2 with fv[k] = f[v[k]]: parabola k at p is h[k] - 2 w p v[k] + w p^2.
  int64_t k = -1;
  for (int64_t q = 0; q < n; ++q) {
    const double fq = f[q * step];
    if (fq == kInf) continue;
    const double hq = fq + w * static_cast<double>(q * q);
    // Drop the top parabola while it is nowhere the lowest: its intersection with q comes no
    // later than its intersection with the one below it.
    while (k >= 1 && (h[k] - h[k - 1]) * static_cast<double>(q - v[k]) >=
                         (hq - h[k]) * static_cast<double>(v[k] - v[k - 1]))
      --k;
    ++k;
    v[k] = q;
    h[k] = hq;
    fv[k] = fq;
  }
  if (k < 0) return;  // no feature on this line: everything stays infinite
  const int64_t top = k;
  int64_t j = 0;
  for (int64_t p = 0; p < n; ++p) {
    // Move on while the next parabola starts before p: (h[j+1]-h[j]) / (2w(v[j+1]-v[j])) < p.
    while (j < top && h[j + 1] - h[j] <
                          2.0 * w * static_cast<double>(p) * static_cast<double>(v[j + 1] - v[j]))
      ++j;
    if (!want(p)) continue;
    const double dp = static_cast<double>(p - v[j]);
    f[p * step] = w * dp * dp + fv[j];
  }
}

// Distances from each voxel of `from` (raster order) to the nearest voxel of `to`, through the
// squared Euclidean distance transform of `to` (scaled by spacing) over the box. g: scratch of
// box.size() entries. The last pass only evaluates lines and positions where `from` is set.
std::vector<double> directed_distances(const std::vector<uint8_t>& from,
                                       const std::vector<uint8_t>& to, const Box& box,
                                       const std::array<double, 3>& spacing,
                                       std::vector<double>& g) {
  g.resize(static_cast<size_t>(box.size()));
  const double wx = spacing[2] * spacing[2];
  // x: distance to the nearest feature along the row, by two sweeps.
  util::parallel_for(0, box.d * box.h, 16, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const uint8_t* f = to.data() + row * box.w;
      double* dst = g.data() + row * box.w;
      int64_t last = -1;
      for (int64_t x = 0; x < box.w; ++x) {
        if (f[x]) last = x;
        dst[x] = last < 0 ? kInf : static_cast<double>(x - last);
      }
      last = -1;
      for (int64_t x = box.w - 1; x >= 0; --x) {
        if (f[x]) last = x;
        double d = dst[x];
        if (last >= 0) d = std::min(d, static_cast<double>(last - x));
        dst[x] = d == kInf ? kInf : d * d * wx;
      }
    }
  });
  // y then z: envelope passes over strided lines, in place. Lines come in groups ("rows") of
  // `row_len` lines starting at consecutive addresses (row_start(r) + j), so neighbouring lines
  // share cache lines; each line has `length` values `stride` apart.
  auto pass = [&](int64_t rows, int64_t row_len, int64_t length, int64_t stride, double w,
                  bool last_pass, auto&& row_start) {
    util::parallel_for(0, rows * row_len, 8, [&](int64_t begin, int64_t end) {
      std::vector<double> h(length), fv(length);
      std::vector<int64_t> v(length);
      for (int64_t line = begin; line < end; ++line) {
        const int64_t first = row_start(line / row_len) + line % row_len;
        double* base = g.data() + first;
        const uint8_t* query = from.data() + first;
        if (last_pass) {
          bool any = false;
          for (int64_t i = 0; i < length && !any; ++i) any = query[i * stride] != 0;
          if (!any) continue;
          envelope_1d(base, stride, length, w, v.data(), h.data(), fv.data(),
                      [&](int64_t p) { return query[p * stride] != 0; });
        } else {
          envelope_1d(base, stride, length, w, v.data(), h.data(), fv.data(),
                      [](int64_t) { return true; });
        }
      }
    });
  };
  const bool z_pass = box.d > 1;
  if (box.h > 1) {
    pass(box.d, box.w, box.h, box.w, spacing[1] * spacing[1], !z_pass,
         [&](int64_t r) { return r * box.h * box.w; });
  }
  if (z_pass) {
    pass(1, box.h * box.w, box.d, box.h * box.w, spacing[0] * spacing[0], true,
         [](int64_t) { return int64_t{0}; });
  }
  std::vector<double> out;
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i]) out.push_back(std::sqrt(g[i]));
  return out;
}

// numpy.percentile(values, q) with the default linear interpolation.
double percentile(std::vector<double> values, double q) {
  const size_t n = values.size();
  const double index = q / 100.0 * static_cast<double>(n - 1);
  const size_t lo = static_cast<size_t>(std::floor(index));
  const double t = index - static_cast<double>(lo);
  std::nth_element(values.begin(), values.begin() + lo, values.end());
  const double a = values[lo];
  if (lo + 1 >= n) return a;
  const double b = *std::min_element(values.begin() + lo + 1, values.end());
  // numpy's _lerp: interpolate from the nearer end for accuracy.
  const double diff = b - a;
  return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

}  // namespace

BinaryScores binary_scores(const torch::Tensor& pred, const torch::Tensor& ref,
                           const BinaryScoresOptions& options) {
  const torch::Tensor p = as_byte_mask(pred, "pred");
  const torch::Tensor r = as_byte_mask(ref, "ref");
  TORCH_CHECK(p.sizes() == r.sizes(), "binary_scores: pred and ref must have the same shape, got ",
              p.sizes(), " and ", r.sizes());
  const int ndim = static_cast<int>(p.dim());
  TORCH_CHECK(options.spacing.empty() || static_cast<int>(options.spacing.size()) == ndim,
              "binary_scores: spacing needs one value per axis (", ndim, "), got ",
              options.spacing.size());
  for (double v : options.spacing)
    TORCH_CHECK(std::isfinite(v) && v > 0,
                "binary_scores: spacing must be positive and finite, got ", v);
  TORCH_CHECK(options.connectivity >= 1 && options.connectivity <= ndim,
              "binary_scores: connectivity must be in [1, ", ndim, "], got ", options.connectivity);

  const GridSize3 s =
      ndim == 3 ? GridSize3{p.size(0), p.size(1), p.size(2)} : GridSize3{1, p.size(0), p.size(1)};
  std::array<double, 3> spacing{1.0, 1.0, 1.0};
  for (int k = 0; k < static_cast<int>(options.spacing.size()); ++k)
    spacing[3 - ndim + k] = options.spacing[k];

  const auto* pd = static_cast<const uint8_t*>(p.data_ptr());
  const auto* rd = static_cast<const uint8_t*>(r.data_ptr());
  const Overlap o = count_overlap(pd, rd, s);
  BinaryScores out;
  if (o.n_pred == 0 || o.n_ref == 0) return out;  // BCP: all four are 0

  out.dice = 2.0 * static_cast<double>(o.n_both) / static_cast<double>(o.n_pred + o.n_ref);
  out.jaccard = static_cast<double>(o.n_both) / static_cast<double>(o.n_pred + o.n_ref - o.n_both);

  const Box box{o.lo[0],
                o.lo[1],
                o.lo[2],
                o.hi[0] - o.lo[0] + 1,
                o.hi[1] - o.lo[1] + 1,
                o.hi[2] - o.lo[2] + 1};
  const std::vector<uint8_t> sp = surface(pd, s, box, ndim, options.connectivity);
  const std::vector<uint8_t> sr = surface(rd, s, box, ndim, options.connectivity);
  std::vector<double> scratch;
  const std::vector<double> pred_to_ref = directed_distances(sp, sr, box, spacing, scratch);
  const std::vector<double> ref_to_pred = directed_distances(sr, sp, box, spacing, scratch);

  double sum = 0.0;
  for (double v : pred_to_ref) sum += v;
  out.asd = sum / static_cast<double>(pred_to_ref.size());

  std::vector<double> both;
  both.reserve(pred_to_ref.size() + ref_to_pred.size());
  both.insert(both.end(), pred_to_ref.begin(), pred_to_ref.end());
  both.insert(both.end(), ref_to_pred.begin(), ref_to_pred.end());
  out.hd95 = percentile(std::move(both), 95.0);
  return out;
}

BinaryScores binary_scores(const torch::Tensor& pred, const torch::Tensor& ref,
                           const std::vector<double>& spacing) {
  BinaryScoresOptions options;
  options.spacing = spacing;
  return binary_scores(pred, ref, options);
}

std::vector<BinaryScores> per_class_scores(const torch::Tensor& pred_labels,
                                           const torch::Tensor& ref_labels, int num_classes,
                                           const std::vector<double>& spacing) {
  TORCH_CHECK(num_classes >= 2, "per_class_scores: num_classes must be at least 2, got ",
              num_classes);
  for (const auto* t : {&pred_labels, &ref_labels}) {
    const char* name = t == &pred_labels ? "pred_labels" : "ref_labels";
    TORCH_CHECK(t->defined() && c10::isIntegralType(t->scalar_type(), /*includeBool=*/false),
                "per_class_scores: ", name, " must be an integer tensor");
    TORCH_CHECK(pred_labels.sizes() == ref_labels.sizes(),
                "per_class_scores: pred_labels and ref_labels must have the same shape, got ",
                pred_labels.sizes(), " and ", ref_labels.sizes());
    if (t->numel() > 0) {
      const int64_t lo = t->min().item<int64_t>(), hi = t->max().item<int64_t>();
      TORCH_CHECK(lo >= 0 && hi < num_classes, "per_class_scores: ", name, " has values in [", lo,
                  ", ", hi, "], outside [0, ", num_classes - 1, "]");
    }
  }
  const torch::Tensor pl = pred_labels.to(torch::kCPU), rl = ref_labels.to(torch::kCPU);
  std::vector<BinaryScores> out;
  out.reserve(static_cast<size_t>(num_classes - 1));
  for (int k = 1; k < num_classes; ++k) out.push_back(binary_scores(pl == k, rl == k, spacing));
  return out;
}

}  // namespace bcp::eval
