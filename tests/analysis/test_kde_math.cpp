// The statistics of `bcp kde`: Scott's bandwidth, the Gaussian KDE, the overlap coefficient and
// the Kolmogorov-Smirnov statistic, against values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "bcp/analysis/feature_kde.h"

using namespace bcp::analysis;

TEST(KdeMath, ScottBandwidthIsScipysRuleTimesTheAdjustment) {
  // std (ddof 1) of 1..5 is sqrt(2.5); scipy's Scott factor in 1D is n^(-1/5).
  const double want = std::sqrt(2.5) * std::pow(5.0, -0.2);
  EXPECT_NEAR(scott_bandwidth({1, 2, 3, 4, 5}), want, 1e-12);
  EXPECT_NEAR(scott_bandwidth({1, 2, 3, 4, 5}, 0.5), want / 2, 1e-12);
  EXPECT_THROW(scott_bandwidth({1}), std::invalid_argument);
  EXPECT_THROW(scott_bandwidth({2, 2, 2}), std::invalid_argument);
}

TEST(KdeMath, KernelDensityIsANormalisedMixtureOfGaussians) {
  EXPECT_NEAR(gaussian_kde({0.0}, 1.0, {0.0})[0], 1 / std::sqrt(2 * M_PI), 1e-12);
  EXPECT_NEAR(gaussian_kde({0.0}, 2.0, {2.0})[0], std::exp(-0.5) / (2 * std::sqrt(2 * M_PI)),
              1e-12);
  std::vector<double> grid;
  for (int i = 0; i <= 4000; ++i) grid.push_back(-20 + i * 0.01);
  const auto d = gaussian_kde({-1, 0.5, 3}, 0.7, grid);
  double area = 0;
  for (size_t i = 1; i < grid.size(); ++i) area += 0.5 * (d[i - 1] + d[i]) * 0.01;
  EXPECT_NEAR(area, 1.0, 1e-6);
}

TEST(KdeMath, OverlapOfTwoUnitNormalsThreeApartIsTwicePhiOfMinusOneAndAHalf) {
  std::vector<double> grid;
  for (int i = 0; i <= 20000; ++i) grid.push_back(-10 + i * 0.001);
  const auto f = gaussian_kde({0.0}, 1.0, grid);
  const auto g = gaussian_kde({3.0}, 1.0, grid);
  EXPECT_NEAR(overlap_coefficient(f, g, grid), std::erfc(1.5 / std::sqrt(2.0)), 1e-6);
  EXPECT_NEAR(overlap_coefficient(f, f, grid), 1.0, 1e-6);
  EXPECT_THROW(overlap_coefficient(f, {1.0}, grid), std::invalid_argument);
}

TEST(KdeMath, KolmogorovSmirnovIsTheLargestGapOfTheEmpiricalCdfs) {
  EXPECT_DOUBLE_EQ(ks_statistic({1, 2, 3}, {3, 1, 2}), 0.0);
  EXPECT_DOUBLE_EQ(ks_statistic({1, 2, 3}, {4, 5}), 1.0);
  EXPECT_DOUBLE_EQ(ks_statistic({1, 2, 3, 4}, {3, 4, 5, 6}), 0.5);
  // Ties step together: at 1 the CDFs are 2/3 and 1/3.
  EXPECT_NEAR(ks_statistic({1, 1, 2}, {1, 2, 2}), 1.0 / 3, 1e-15);
  EXPECT_THROW(ks_statistic({}, {1}), std::invalid_argument);
}
