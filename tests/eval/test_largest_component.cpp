#include <gtest/gtest.h>
#include <torch/torch.h>

#include <deque>

#include "../scoped_threads.h"
#include "bcp/eval/largest_component.h"

using bcp::eval::largest_component;
using bcp::eval::largest_component_per_class;
using torch::indexing::Slice;

namespace {

// Reference: BFS labelling in raster order (skimage's numbering), full connectivity, then the
// first label of maximal size, as np.argmax(np.bincount(labels.flat)[1:]) + 1.
torch::Tensor reference_lcc(const torch::Tensor& mask3) {
  auto m = mask3.to(torch::kUInt8).contiguous();
  const int64_t D = m.size(0), H = m.size(1), W = m.size(2);
  const uint8_t* p = m.data_ptr<uint8_t>();
  std::vector<int> label(static_cast<size_t>(m.numel()), 0);
  std::vector<int64_t> sizes{0};
  for (int64_t i = 0; i < m.numel(); ++i) {
    if (!p[i] || label[i]) continue;
    const int id = static_cast<int>(sizes.size());
    sizes.push_back(0);
    std::deque<int64_t> q{i};
    label[i] = id;
    while (!q.empty()) {
      const int64_t v = q.front();
      q.pop_front();
      ++sizes[id];
      const int64_t z = v / (H * W), y = v / W % H, x = v % W;
      for (int dz = -1; dz <= 1; ++dz)
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const int64_t zz = z + dz, yy = y + dy, xx = x + dx;
            if (zz < 0 || yy < 0 || xx < 0 || zz >= D || yy >= H || xx >= W) continue;
            const int64_t j = (zz * H + yy) * W + xx;
            if (p[j] && !label[j]) {
              label[j] = id;
              q.push_back(j);
            }
          }
    }
  }
  auto out = torch::zeros_like(m);
  if (sizes.size() == 1) return out;
  const int best =
      static_cast<int>(std::max_element(sizes.begin() + 1, sizes.end()) - sizes.begin());
  auto* o = out.data_ptr<uint8_t>();
  for (int64_t i = 0; i < m.numel(); ++i) o[i] = label[i] == best;
  return out;
}

}  // namespace

TEST(LargestComponent, EmptyStaysEmptyAndDtypeIsKept) {
  for (auto type : {torch::kBool, torch::kUInt8, torch::kInt64}) {
    auto m = torch::zeros({4, 5, 6}, type);
    auto r = largest_component(m);
    EXPECT_EQ(r.scalar_type(), type);
    EXPECT_EQ(r.sizes(), m.sizes());
    EXPECT_EQ(r.ne(0).sum().item<int64_t>(), 0);
  }
}

TEST(LargestComponent, DiagonalNeighboursConnect2DAnd3D) {
  // 2D: a diagonal line (8-connected) of 4 beats a 3-pixel bar.
  auto m2 = torch::zeros({8, 8}, torch::kBool);
  for (int i = 0; i < 4; ++i) m2[i][i] = true;
  m2.index_put_({6, Slice(0, 3)}, true);
  auto r2 = largest_component(m2);
  EXPECT_EQ(r2.scalar_type(), torch::kBool);
  EXPECT_EQ(r2.sum().item<int64_t>(), 4);
  EXPECT_TRUE(r2[3][3].item<bool>());
  EXPECT_FALSE(r2[6][0].item<bool>());
  // 3D: corner-touching voxels (26-connectivity) form one component of 3.
  auto m3 = torch::zeros({4, 4, 4}, torch::kUInt8);
  m3[0][0][0] = 1;
  m3[1][1][1] = 1;
  m3[2][2][2] = 1;
  m3[0][3][3] = 1;
  m3[0][3][2] = 1;
  auto r3 = largest_component(m3);
  EXPECT_EQ(r3.sum().item<int64_t>(), 3);
  EXPECT_EQ(r3[2][2][2].item<uint8_t>(), 1);
}

TEST(LargestComponent, TiesGoToTheFirstComponentInRasterOrder) {
  // Two 3-voxel components; A's first voxel (0, 5) precedes B's (1, 0) in raster order although
  // B reaches further left.
  auto m = torch::zeros({6, 8}, torch::kUInt8);
  m.index_put_({Slice(0, 3), 5}, 1);  // A: vertical bar
  m.index_put_({1, Slice(0, 3)}, 1);  // B: horizontal bar, not touching A
  auto r = largest_component(m);
  EXPECT_EQ(r.sum().item<int64_t>(), 3);
  EXPECT_EQ(r[0][5].item<uint8_t>(), 1);
  EXPECT_EQ(r[1][0].item<uint8_t>(), 0);
}

TEST(LargestComponent, MatchesBfsReferenceOnRandomMasks) {
  bcp::test::ScopedThreads two(2);  // cases labelled in parallel
  torch::manual_seed(11);
  for (int trial = 0; trial < 8; ++trial) {
    const double p = 0.2 + 0.05 * trial;
    auto m = torch::rand({6, 13, 17}) < p;
    EXPECT_TRUE(torch::equal(largest_component(m).to(torch::kUInt8), reference_lcc(m)))
        << "trial " << trial;
    auto m2 = torch::rand({23, 19}) < p;
    // A 2D mask is one plane with no z neighbours, so the 3D reference of one plane applies.
    EXPECT_TRUE(torch::equal(largest_component(m2).to(torch::kUInt8),
                             reference_lcc(m2.unsqueeze(0)).squeeze(0)))
        << "trial " << trial;
  }
}

TEST(LargestComponent, PerClassKeepsEachClassSeparately) {
  // Classes never merge across labels, even when touching.
  auto l = torch::zeros({2, 6, 6}, torch::kInt64);
  l.index_put_({0, Slice(0, 2), Slice(0, 2)}, 1);  // class 1: 4 pixels
  l[0][5][5] = 1;                                  // class 1: stray pixel
  l.index_put_({0, 2, Slice(0, 3)}, 2);            // class 2 touching class 1: 3 pixels
  l[0][5][0] = 2;                                  // class 2 stray
  l[1][3][3] = 3;                                  // second sample, single pixel
  auto r = largest_component_per_class(l, 2);
  EXPECT_EQ(r.scalar_type(), torch::kInt64);
  EXPECT_EQ(r[0].eq(1).sum().item<int64_t>(), 4);
  EXPECT_EQ(r[0].eq(2).sum().item<int64_t>(), 3);
  EXPECT_EQ(r[0][5][5].item<int64_t>(), 0);
  EXPECT_EQ(r[0][5][0].item<int64_t>(), 0);
  EXPECT_EQ(r[1][3][3].item<int64_t>(), 3);
  EXPECT_THROW(largest_component_per_class(l, 4), c10::Error);
  EXPECT_THROW(largest_component_per_class(l - 1, 2), c10::Error);
  EXPECT_THROW(largest_component(torch::zeros({5}, torch::kUInt8)), c10::Error);
  EXPECT_THROW(largest_component(torch::zeros({5, 5})), c10::Error);
}
