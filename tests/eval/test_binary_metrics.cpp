#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "../scoped_threads.h"
#include "../support.h"
#include "bcp/eval/binary_metrics.h"
#include "bcp/io/h5.h"

using bcp::eval::binary_scores;
using bcp::eval::BinaryScores;
using bcp::eval::BinaryScoresOptions;
using bcp::eval::per_class_scores;

namespace {

torch::Tensor zeros3(int64_t d, int64_t h, int64_t w) {
  return torch::zeros({d, h, w}, torch::kUInt8);
}

// Brute force medpy: surface by 6/4-neighbour erosion, nearest surface voxel by exhaustive search.
std::vector<double> brute_directed(const torch::Tensor& a, const torch::Tensor& b,
                                   std::array<double, 3> sp) {
  auto surf = [](const torch::Tensor& m) {
    auto acc = m.accessor<uint8_t, 3>();
    std::vector<std::array<int64_t, 3>> out;
    const int64_t D = m.size(0), H = m.size(1), W = m.size(2);
    for (int64_t z = 0; z < D; ++z)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          if (!acc[z][y][x]) continue;
          const int64_t nb[6][3] = {{z - 1, y, x}, {z + 1, y, x}, {z, y - 1, x},
                                    {z, y + 1, x}, {z, y, x - 1}, {z, y, x + 1}};
          bool border = false;
          for (auto& n : nb)
            if (n[0] < 0 || n[1] < 0 || n[2] < 0 || n[0] >= D || n[1] >= H || n[2] >= W ||
                !acc[n[0]][n[1]][n[2]])
              border = true;
          if (border) out.push_back({z, y, x});
        }
    return out;
  };
  auto sa = surf(a), sb = surf(b);
  std::vector<double> d;
  for (auto& p : sa) {
    double best = INFINITY;
    for (auto& q : sb) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += std::pow((p[k] - q[k]) * sp[k], 2);
      best = std::min(best, s);
    }
    d.push_back(std::sqrt(best));
  }
  return d;
}

}  // namespace

TEST(BinaryMetrics, MatchesMedpyFixtureOnEveryCase) {
  const auto path = bcp::test::parity_file("metrics.h5");
  BCP_REQUIRE_SHARED(path);
  bcp::io::H5File f(path.string());
  const auto cases = f.list("/");
  ASSERT_GT(cases.size(), 10u);
  int checked = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c + " (" + f.attr_string(c, "perturbation") + ")");
    const auto pred = f.read(c + "/pred"), gt = f.read(c + "/gt");
    const auto want = f.read(c + "/dc_jc_hd95_asd").to(torch::kFloat64);
    const auto want_mm = f.read(c + "/hd95_asd_spacing_10_1.5_1.25").to(torch::kFloat64);
    const BinaryScores got = binary_scores(pred, gt);
    EXPECT_NEAR(got.dice, want[0].item<double>(), 1e-6);
    EXPECT_NEAR(got.jaccard, want[1].item<double>(), 1e-6);
    EXPECT_NEAR(got.hd95, want[2].item<double>(), 1e-3);
    EXPECT_NEAR(got.asd, want[3].item<double>(), 1e-3);
    const BinaryScores mm = binary_scores(pred, gt, {10.0, 1.5, 1.25});
    EXPECT_NEAR(mm.hd95, want_mm[0].item<double>(), 1e-3);
    EXPECT_NEAR(mm.asd, want_mm[1].item<double>(), 1e-3);
    EXPECT_DOUBLE_EQ(mm.dice, got.dice);
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(cases.size()));
}

TEST(BinaryMetrics, FullConnectivitySurfaceDoesNotMatchMedpy) {
  // medpy erodes with generate_binary_structure(ndim, 1); the fixture tells the two apart.
  const auto path = bcp::test::parity_file("metrics.h5");
  BCP_REQUIRE_SHARED(path);
  bcp::io::H5File f(path.string());
  int differing = 0;
  for (const auto& c : f.list("/")) {
    const auto want = f.read(c + "/dc_jc_hd95_asd").to(torch::kFloat64);
    BinaryScoresOptions full;
    full.connectivity = 3;
    const BinaryScores got = binary_scores(f.read(c + "/pred"), f.read(c + "/gt"), full);
    if (std::abs(got.asd - want[3].item<double>()) > 1e-3 ||
        std::abs(got.hd95 - want[2].item<double>()) > 1e-3)
      ++differing;
  }
  EXPECT_GT(differing, 0);
}

TEST(BinaryMetrics, EmptyPredOrRefScoresZero) {
  auto a = zeros3(5, 6, 7), b = zeros3(5, 6, 7);
  b[2][3][3] = 1;
  for (const auto& [p, r] : {std::pair{a, b}, std::pair{b, a}, std::pair{a, a}}) {
    const auto s = binary_scores(p, r);
    EXPECT_EQ(s.dice, 0.0);
    EXPECT_EQ(s.jaccard, 0.0);
    EXPECT_EQ(s.hd95, 0.0);
    EXPECT_EQ(s.asd, 0.0);
  }
}

TEST(BinaryMetrics, SingleVoxels) {
  auto a = zeros3(4, 9, 9), b = zeros3(4, 9, 9);
  a[1][2][2] = 1;
  b[1][2][2] = 1;
  auto s = binary_scores(a, b);
  EXPECT_DOUBLE_EQ(s.dice, 1.0);
  EXPECT_DOUBLE_EQ(s.jaccard, 1.0);
  EXPECT_DOUBLE_EQ(s.hd95, 0.0);
  EXPECT_DOUBLE_EQ(s.asd, 0.0);
  b[1][2][2] = 0;
  b[3][6][5] = 1;  // offset (2, 4, 3)
  s = binary_scores(a, b);
  EXPECT_DOUBLE_EQ(s.dice, 0.0);
  EXPECT_DOUBLE_EQ(s.jaccard, 0.0);
  EXPECT_NEAR(s.hd95, std::sqrt(4.0 + 16.0 + 9.0), 1e-12);
  EXPECT_NEAR(s.asd, std::sqrt(29.0), 1e-12);
  s = binary_scores(a, b, {2.0, 0.5, 3.0});
  EXPECT_NEAR(s.hd95, std::sqrt(16.0 + 4.0 + 81.0), 1e-12);
}

TEST(BinaryMetrics, AnisotropicSpacingAndAsdDirection) {
  // pred: a 3x3x3 cube; ref: the same cube plus a far voxel. asd(pred->ref) stays 0 while the
  // ref->pred direction (hd95's union) sees the far voxel.
  auto p = zeros3(8, 8, 12), r = zeros3(8, 8, 12);
  using torch::indexing::Slice;
  p.index_put_({Slice(1, 4), Slice(1, 4), Slice(1, 4)}, 1);
  r.index_put_({Slice(1, 4), Slice(1, 4), Slice(1, 4)}, 1);
  r[2][2][11] = 1;
  const auto s = binary_scores(p, r, {3.0, 2.0, 0.5});
  EXPECT_DOUBLE_EQ(s.asd, 0.0);
  EXPECT_NEAR(s.dice, 2.0 * 27 / 55.0, 1e-12);
  EXPECT_NEAR(s.jaccard, 27.0 / 28.0, 1e-12);
  // 26 surface voxels per side at distance 0, one at 8 voxels * 0.5 = 4 -> 95th percentile of
  // 53 values: index 0.95 * 52 = 49.4, all zero but the last.
  EXPECT_DOUBLE_EQ(s.hd95, 0.0);
}

TEST(BinaryMetrics, MatchesBruteForceOnRandomShapes) {
  torch::manual_seed(3);
  const std::array<double, 3> sp{2.5, 1.0, 0.75};
  for (int trial = 0; trial < 5; ++trial) {
    auto p = (torch::rand({7, 11, 13}) > 0.6).to(torch::kUInt8);
    auto r = (torch::rand({7, 11, 13}) > 0.7).to(torch::kUInt8);
    auto d1 = brute_directed(p, r, sp), d2 = brute_directed(r, p, sp);
    double mean = 0;
    for (double v : d1) mean += v;
    mean /= static_cast<double>(d1.size());
    std::vector<double> all = d1;
    all.insert(all.end(), d2.begin(), d2.end());
    std::sort(all.begin(), all.end());
    const double idx = 0.95 * static_cast<double>(all.size() - 1);
    const size_t lo = static_cast<size_t>(idx);
    const double hd95 = all[lo] + (all[std::min(lo + 1, all.size() - 1)] - all[lo]) * (idx - lo);
    const auto s = binary_scores(p, r, {sp[0], sp[1], sp[2]});
    EXPECT_NEAR(s.asd, mean, 1e-9);
    EXPECT_NEAR(s.hd95, hd95, 1e-9);
  }
}

TEST(BinaryMetrics, TwoDimensionalInputUsesPlaneNeighbours) {
  // A 2D square: its interior is not surface, unlike the same square as a one-plane 3D volume
  // where every voxel touches the array border along z.
  auto p2 = torch::zeros({10, 10}, torch::kBool), r2 = torch::zeros({10, 10}, torch::kBool);
  using torch::indexing::Slice;
  p2.index_put_({Slice(2, 7), Slice(2, 7)}, true);
  r2.index_put_({Slice(2, 7), Slice(3, 8)}, true);  // shifted by one column
  const auto s2 = binary_scores(p2, r2);
  EXPECT_NEAR(s2.dice, 2.0 * 20 / 50.0, 1e-12);
  // pred surface: the 16-voxel ring. Its left column (5) is 1 from ref's left column; rows 3-5
  // of its right column lie inside ref, 1 from ref's right column; the rest are on ref's ring.
  EXPECT_NEAR(s2.asd, 8.0 / 16.0, 1e-12);
  const auto s3 = binary_scores(p2.unsqueeze(0), r2.unsqueeze(0));
  EXPECT_NEAR(s3.asd, 5.0 / 25.0, 1e-12);  // all 25 voxels are surface
  // y spacing 2, x spacing 3: left column 5 * 3; right column rows 3, 4, 5: min(3, rows to the
  // top/bottom row * 2) = 2, 3, 2.
  EXPECT_NEAR(binary_scores(p2, r2, {2.0, 3.0}).asd, 22.0 / 16.0, 1e-12);
}

TEST(BinaryMetrics, RejectsBadInput) {
  auto a = zeros3(3, 4, 5);
  EXPECT_THROW(binary_scores(a, zeros3(3, 4, 6)), c10::Error);
  EXPECT_THROW(binary_scores(a, a, {1.0, 1.0}), c10::Error);
  EXPECT_THROW(binary_scores(a, a, {1.0, 0.0, 1.0}), c10::Error);
  EXPECT_THROW(binary_scores(torch::zeros({3, 4, 5}), a), c10::Error);
  EXPECT_THROW(binary_scores(torch::zeros({4}, torch::kUInt8), torch::zeros({4}, torch::kUInt8)),
               c10::Error);
  try {
    binary_scores(a, zeros3(3, 4, 6));
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("same shape"), std::string::npos);
  }
}

TEST(BinaryMetrics, PerClassScoresAndLabelRange) {
  auto p = torch::zeros({2, 6, 6}, torch::kInt64), r = torch::zeros({2, 6, 6}, torch::kInt64);
  p[0][1][1] = 1;
  r[0][1][1] = 1;
  p[1][4][4] = 2;  // class 2 only in pred
  const auto s = per_class_scores(p, r, 4);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_DOUBLE_EQ(s[0].dice, 1.0);
  EXPECT_DOUBLE_EQ(s[1].dice, 0.0);
  EXPECT_DOUBLE_EQ(s[2].dice, 0.0);
  EXPECT_THROW(per_class_scores(p, r, 2), c10::Error);  // label 2 >= K
  EXPECT_THROW(per_class_scores(p - 1, r, 4), c10::Error);
  EXPECT_THROW(per_class_scores(p, r, 1), c10::Error);
}

TEST(BinaryMetrics, DeterministicAcrossThreadCounts) {
  const auto path = bcp::test::parity_file("metrics.h5");
  BCP_REQUIRE_SHARED(path);
  bcp::io::H5File f(path.string());
  const auto pred = f.read("case_003/pred"), gt = f.read("case_003/gt");
  bcp::test::ScopedThreads two(2);
  const auto a = binary_scores(pred, gt, {10.0, 1.5, 1.25});
  bcp::test::ScopedThreads one(1);
  const auto b = binary_scores(pred, gt, {10.0, 1.5, 1.25});
  EXPECT_EQ(a.hd95, b.hd95);
  EXPECT_EQ(a.asd, b.asd);
}
