// Per-volume intensity normalisation as `bcp prepare` and `bcp predict` apply it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "bcp/data/intensity.h"

using bcp::data::IntensityNorm;
using bcp::data::normalize_intensity;

namespace {
IntensityNorm norm_of(const std::string& kind, double lo = -1000, double hi = 1000) {
  IntensityNorm n;
  n.kind = bcp::util::parse_enum<bcp::data::IntensityKind>(kind);
  n.ct_low = lo;
  n.ct_high = hi;
  return n;
}
}  // namespace

TEST(Intensity, ZscoreHasZeroMeanAndUnitPopulationStd) {
  auto x = torch::randn({6, 7, 8}, torch::kDouble) * 300 + 1200;
  auto y = normalize_intensity(x.to(torch::kShort), norm_of("zscore"));
  EXPECT_EQ(y.scalar_type(), torch::kFloat);
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_NEAR(y.to(torch::kDouble).mean().item<double>(), 0.0, 1e-5);
  EXPECT_NEAR(y.to(torch::kDouble).std(false).item<double>(), 1.0, 1e-5);
  // The same rule as numpy's (x - x.mean()) / x.std(), which made the LA files.
  auto xs = x.to(torch::kShort).to(torch::kDouble);
  auto expect = (xs - xs.mean()) / xs.std(false);
  EXPECT_TRUE(torch::allclose(y.to(torch::kDouble), expect, 1e-6, 1e-6));
}

TEST(Intensity, MinmaxMapsOntoTheUnitInterval) {
  auto x = torch::tensor({-5.0, 0.0, 15.0}).reshape({1, 3});
  auto y = normalize_intensity(x, norm_of("minmax"));
  EXPECT_TRUE(torch::allclose(y, torch::tensor({0.0f, 0.25f, 1.0f}).reshape({1, 3})));
}

TEST(Intensity, CtClipsToTheWindow) {
  auto x = torch::tensor({-2000.0, -100.0, 0.0, 400.0, 3000.0});
  auto y = normalize_intensity(x, norm_of("ct", -100, 400));
  EXPECT_TRUE(torch::allclose(y, torch::tensor({0.0f, 0.0f, 0.2f, 1.0f, 1.0f})));
}

TEST(Intensity, NoneKeepsValuesAndConstantVolumesBecomeZeros) {
  auto x = torch::rand({3, 4});
  EXPECT_TRUE(torch::equal(normalize_intensity(x, norm_of("none")), x));
  auto c = torch::full({4, 4}, 7.0);
  EXPECT_TRUE(torch::equal(normalize_intensity(c, norm_of("zscore")), torch::zeros({4, 4})));
  EXPECT_TRUE(torch::equal(normalize_intensity(c, norm_of("minmax")), torch::zeros({4, 4})));
}

TEST(Intensity, RefusesNanUnknownKindsAndEmptyWindows) {
  auto x = torch::rand({3, 3});
  x[1][1] = std::nan("");
  EXPECT_THROW(normalize_intensity(x, norm_of("zscore")), std::invalid_argument);
  try {
    bcp::util::parse_enum<bcp::data::IntensityKind>("percentile");
    FAIL() << "unknown kind accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("percentile"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("zscore"), std::string::npos) << e.what();
  }
  try {  // "auto" is the dataset's rule: it must be resolved before normalising
    normalize_intensity(torch::rand({2, 2}), norm_of("auto"));
    FAIL() << "unresolved auto accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("auto"), std::string::npos) << e.what();
  }
  EXPECT_THROW(normalize_intensity(torch::rand({2, 2}), norm_of("ct", 10, 10)),
               std::invalid_argument);
}
