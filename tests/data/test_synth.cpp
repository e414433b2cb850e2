#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../support.h"

#include "bcp/data/acdc.h"
#include "bcp/data/case_list.h"
#include "bcp/data/la.h"
#include "bcp/data/synth.h"
#include "bcp/io/h5.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_synth {

namespace fs = std::filesystem;
using namespace bcp::data;

namespace {

using bcp::test::TempDir;

SynthAcdcOptions small_acdc(uint64_t seed) {
  SynthAcdcOptions o;
  o.seed = seed;
  o.train_patients = 2;
  o.val_patients = 1;
  o.test_patients = 1;
  return o;
}

SynthLaOptions small_la(uint64_t seed) {
  SynthLaOptions o;
  o.seed = seed;
  o.train_cases = 2;
  o.val_cases = 1;
  o.test_cases = 1;
  o.size_x = 40;
  o.size_y = 36;
  o.size_z = 24;
  return o;
}

/// Dice of class c between two label maps (to compare frames/patients).
double dice(const torch::Tensor& a, const torch::Tensor& b, int c) {
  auto x = a == c, y = b == c;
  const double inter = (x & y).sum().item<double>();
  const double total = x.sum().item<double>() + y.sum().item<double>();
  return total > 0 ? 2 * inter / total : 1.0;
}

}  // namespace

TEST(SynthAcdc, VolumeHasTheRealTypesShapesAndClasses) {
  const auto s = synth_acdc_volume(small_acdc(7), 1, 1);
  EXPECT_EQ(s.name, "patient001_frame01");
  ASSERT_EQ(s.image.dim(), 3);
  EXPECT_EQ(s.image.scalar_type(), torch::kFloat32);
  EXPECT_EQ(s.label.scalar_type(), torch::kUInt8);
  EXPECT_EQ(s.image.sizes(), s.label.sizes());
  EXPECT_GE(s.image.size(0), 8);
  EXPECT_LE(s.image.size(0), 10);
  for (int d = 1; d <= 2; ++d) {
    EXPECT_GE(s.image.size(d), 112);
    EXPECT_LE(s.image.size(d), 144);
  }
  EXPECT_GE(s.image.min().item<float>(), 0.0f);
  EXPECT_LE(s.image.max().item<float>(), 1.0f);
  EXPECT_TRUE(torch::isfinite(s.image).all().item<bool>());
  // All three structures are present in the basal slice, in plausible proportions.
  const auto base = s.label[0];
  const double n = static_cast<double>(base.numel());
  for (int c = 1; c <= 3; ++c) {
    const double frac = (base == c).sum().item<double>() / n;
    EXPECT_GT(frac, 0.003) << "class " << c;
    EXPECT_LT(frac, 0.15) << "class " << c;
  }
  EXPECT_EQ(s.label.max().item<int>(), 3);
}

TEST(SynthAcdc, StructuresAreRingAroundDiskWithIntensityContrast) {
  const auto s = synth_acdc_volume(small_acdc(3), 2, 1);
  const auto img = s.image[0], lab = s.label[0];
  // The LV disk is enclosed by myocardium: every LV pixel's 3-pixel-away neighbours along
  // rows are LV or myocardium, never background.
  auto lv = (lab == 3).nonzero();
  ASSERT_GT(lv.size(0), 20);
  auto mean_of = [&](int c) { return img.masked_select(lab == c).mean().item<double>(); };
  // Blood pools brighter than the myocardium, on average, for every patient.
  EXPECT_GT(mean_of(3), mean_of(2) + 0.1);
  EXPECT_GT(mean_of(1), mean_of(2) + 0.05);
  // The LV centroid lies inside the myocardial ring's hull: myocardium on both sides of it.
  auto c = lv.to(torch::kFloat64).mean(0);
  const int64_t cy = static_cast<int64_t>(c[0].item<double>());
  const int64_t cx = static_cast<int64_t>(c[1].item<double>());
  auto row = lab[cy];
  auto myo_cols = (row == 2).nonzero().flatten();
  ASSERT_GT(myo_cols.numel(), 0);
  EXPECT_LT(myo_cols.min().item<int64_t>(), cx);
  EXPECT_GT(myo_cols.max().item<int64_t>(), cx);
}

TEST(SynthAcdc, DeterministicPerSeedAndVariedAcrossCases) {
  const auto a = synth_acdc_volume(small_acdc(11), 1, 2);
  const auto b = synth_acdc_volume(small_acdc(11), 1, 2);
  EXPECT_TRUE(torch::equal(a.image, b.image));
  EXPECT_TRUE(torch::equal(a.label, b.label));
  // A case does not depend on how many cases are generated.
  auto more = small_acdc(11);
  more.train_patients = 9;
  EXPECT_TRUE(torch::equal(synth_acdc_volume(more, 1, 2).image, a.image));

  const auto other_seed = synth_acdc_volume(small_acdc(12), 1, 2);
  EXPECT_FALSE(a.image.sizes() == other_seed.image.sizes() &&
               torch::equal(a.image, other_seed.image));
  // End-systole has a smaller LV than end-diastole of the same patient.
  const auto ed = synth_acdc_volume(small_acdc(11), 1, 1);
  EXPECT_LT((a.label == 3).sum().item<int64_t>(), (ed.label == 3).sum().item<int64_t>());
  // Two patients differ in size or shape.
  const auto p2 = synth_acdc_volume(small_acdc(11), 2, 1);
  if (p2.label.sizes() == ed.label.sizes()) {
    EXPECT_LT(dice(p2.label, ed.label, 3), 0.9);
  }
}

TEST(SynthAcdc, WritesTheRealLayoutLoadableByTheLoaders) {
  TempDir t("acdc_layout");
  write_synth_acdc(t.path.string(), small_acdc(5));
  AcdcRoot root(t.path.string());
  EXPECT_EQ(root.read_list("train.list"),
            (std::vector<std::string>{"patient001_frame01", "patient001_frame02",
                                      "patient002_frame01", "patient002_frame02"}));
  EXPECT_EQ(root.read_list("val.list"),
            (std::vector<std::string>{"patient003_frame01", "patient003_frame02"}));
  EXPECT_EQ(root.read_list("test.list"),
            (std::vector<std::string>{"patient004_frame01", "patient004_frame02"}));
  const auto slices = root.read_list("train_slices.list");
  ASSERT_GE(slices.size(), 4u * 8);
  EXPECT_EQ(slices[0], "patient001_frame01_slice_1");
  const auto ds = load_acdc_slices(root, slices);
  EXPECT_EQ(ds.size(), slices.size());
  // Slices are the training volume's slices, in order.
  const auto vol = synth_acdc_volume(small_acdc(5), 1, 1);
  EXPECT_TRUE(torch::equal(ds.get(0).image, vol.image[0]));
  EXPECT_TRUE(torch::equal(ds.get(1).label, vol.label[1]));
  for (const auto& name : root.read_list("val.list")) {
    auto v = load_acdc_volume(root, name);
    EXPECT_EQ(v.image.dim(), 3);
  }
  // Training volumes are shipped as slices only, like the real dataset.
  EXPECT_FALSE(fs::exists(root.volume_path("patient001_frame01")));
  // No temporaries left behind.
  for (auto& e : fs::recursive_directory_iterator(t.path))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(SynthAcdc, SameSeedGivesSameFiles) {
  TempDir a("acdc_a"), b("acdc_b");
  write_synth_acdc(a.path.string(), small_acdc(42));
  write_synth_acdc(b.path.string(), small_acdc(42));
  size_t compared = 0;
  for (auto& e : fs::recursive_directory_iterator(a.path)) {
    if (!e.is_regular_file()) continue;
    const fs::path rel = fs::relative(e.path(), a.path);
    ASSERT_TRUE(fs::exists(b.path / rel)) << rel;
    if (e.path().extension() == ".h5") {
      bcp::io::H5File fa(e.path().string()), fb((b.path / rel).string());
      EXPECT_TRUE(torch::equal(fa.read("image"), fb.read("image"))) << rel;
      EXPECT_TRUE(torch::equal(fa.read("label"), fb.read("label"))) << rel;
    } else {
      std::ifstream ia(e.path()), ib(b.path / rel);
      std::stringstream sa, sb;
      sa << ia.rdbuf();
      sb << ib.rdbuf();
      EXPECT_EQ(sa.str(), sb.str()) << rel;
    }
    ++compared;
  }
  EXPECT_GT(compared, 30u);
}

TEST(SynthAcdc, RejectsBadOptions) {
  TempDir t("acdc_bad");
  auto o = small_acdc(1);
  o.train_patients = 0;
  EXPECT_THROW(write_synth_acdc(t.path.string(), o), std::invalid_argument);
  o = small_acdc(1);
  o.min_side = 150;
  EXPECT_THROW(synth_acdc_volume(o, 1, 1), std::invalid_argument);
  EXPECT_THROW(synth_acdc_volume(small_acdc(1), 1, 3), std::invalid_argument);
  EXPECT_THROW(synth_acdc_volume(small_acdc(1), 0, 1), std::invalid_argument);
}

TEST(SynthLa, VolumeIsAnAtriumBlobZScored) {
  const auto s = synth_la_volume(small_la(3), 0);
  EXPECT_EQ(s.name, "SYNTHLA000");
  EXPECT_EQ(s.image.sizes(), (std::vector<int64_t>{40, 36, 24}));
  EXPECT_EQ(s.label.scalar_type(), torch::kUInt8);
  EXPECT_NEAR(s.image.mean().item<double>(), 0.0, 1e-3);
  EXPECT_NEAR(s.image.std().item<double>(), 1.0, 1e-3);
  const double frac = s.label.to(torch::kFloat64).mean().item<double>();
  EXPECT_GT(frac, 0.01);
  EXPECT_LT(frac, 0.35);
  EXPECT_EQ(s.label.max().item<int>(), 1);
  // Atrial blood brighter than the rest on average.
  EXPECT_GT(s.image.masked_select(s.label == 1).mean().item<double>(),
            s.image.masked_select(s.label == 0).mean().item<double>() + 0.3);
  // The blob is away from the borders (patches around it fit).
  EXPECT_EQ(s.label.select(0, 0).sum().item<int64_t>(), 0);
  EXPECT_EQ(s.label.select(0, 39).sum().item<int64_t>(), 0);
}

TEST(SynthLa, DeterministicAndWritesTheLayout) {
  const auto a = synth_la_volume(small_la(9), 1);
  const auto b = synth_la_volume(small_la(9), 1);
  EXPECT_TRUE(torch::equal(a.image, b.image));
  EXPECT_TRUE(torch::equal(a.label, b.label));
  EXPECT_FALSE(torch::equal(a.label, synth_la_volume(small_la(9), 2).label));

  TempDir t("la_layout");
  write_synth_la(t.path.string(), small_la(9));
  LaRoot root(t.path.string());
  EXPECT_EQ(root.read_list("train.list"), (std::vector<std::string>{"SYNTHLA000", "SYNTHLA001"}));
  EXPECT_EQ(root.read_list("val.list"), (std::vector<std::string>{"SYNTHLA002"}));
  EXPECT_EQ(root.read_list("test.list"), (std::vector<std::string>{"SYNTHLA003"}));
  const auto ds = load_la_volumes(root, root.read_list("train.list"));
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_TRUE(torch::equal(ds.get(1).image, a.image));
}

TEST(SynthLa, RejectsBadOptions) {
  auto o = small_la(1);
  o.size_z = 2;
  EXPECT_THROW(synth_la_volume(o, 0), std::invalid_argument);
  o = small_la(1);
  o.train_cases = 0;
  TempDir t("la_bad");
  EXPECT_THROW(write_synth_la(t.path.string(), o), std::invalid_argument);
}

}  // namespace bcp_test_synth
