// `bcp prepare` as a library: nnU-Net raw data becomes a root the trainer reads, with the
// intensity rule, the split and each case's geometry recorded; bad cases are named.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../support.h"
#include "bcp/data/acdc.h"
#include "bcp/data/case_list.h"
#include "bcp/data/intensity.h"
#include "bcp/data/la.h"
#include "bcp/data/prepare.h"
#include "bcp/data/synth.h"
#include "bcp/io/nifti.h"
#include "bcp/train/plan.h"
#include "nnunet_fixture.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_prepare {

namespace fs = std::filesystem;
using bcp::data::prepare_nnunet;
using bcp::data::PrepareOptions;
using bcp::test::error_of;

namespace {

/// A 3-D fingerprint made by hand: `labeled` labeled and 20 unlabeled volumes of one shape.
bcp::data::PreparedDataset volumes_fingerprint(std::vector<std::string> classes, int64_t labeled,
                                               std::vector<int64_t> shape,
                                               std::vector<double> spacing) {
  bcp::data::PreparedDataset p;
  p.dim = 3;
  p.class_names = std::move(classes);
  p.labeled_items = labeled;
  p.unlabeled_items = 20;
  p.train_list = "train.list";
  p.median_shape = p.min_shape = p.max_shape = std::move(shape);
  p.median_spacing = std::move(spacing);
  return p;
}

int64_t patch_voxels(const bcp::train::TrainConfig& c) {
  int64_t voxels = 1;
  for (auto v : c.data.patch) voxels *= v;
  return voxels;
}

}  // namespace

#ifdef BCP_WITH_ITK
namespace {

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

}  // namespace

/// A 2-D synthetic nnU-Net dataset in DIR/raw (`labeled` + 2 unlabeled cases) and the options
/// that prepare it into DIR/root with synth_002 for validation.
PrepareOptions synth_2d(const fs::path& dir, int labeled, bool partial_labels = false) {
  bcp::data::SynthNnunetOptions so;
  so.dim = 2;
  so.labeled = labeled;
  so.unlabeled = 2;
  so.test = 0;
  so.partial_labels = partial_labels;
  bcp::data::write_synth_nnunet((dir / "raw").string(), so);
  PrepareOptions o;
  o.nnunet_dir = (dir / "raw").string();
  o.unlabeled_dir = (dir / "raw" / "unlabeledTr").string();
  o.out_dir = (dir / "root").string();
  o.dim = 2;
  o.val_cases = {"synth_002"};
  return o;
}

TEST(Prepare, TwoDimensionalRootLoadsAsAcdcWithTheRecordedIntensity) {
  bcp::test::TempDir tmp("prepare_2d");
  const PrepareOptions o = synth_2d(tmp.path, 4);
  std::vector<std::string> seen;
  const auto p =
      prepare_nnunet(o, [&](const std::string& c, size_t, size_t) { seen.push_back(c); });
  EXPECT_EQ(seen.size(), 6u);
  EXPECT_EQ(p.intensity.kind, bcp::data::IntensityKind::kMinmax);  // auto for 2D MRI
  EXPECT_EQ(p.class_names.size(), 4u);
  EXPECT_EQ(p.labeled_cases, (std::vector<std::string>{"synth_001", "synth_003", "synth_004"}));
  EXPECT_EQ(p.unlabeled_cases.size(), 2u);
  EXPECT_EQ(p.val_cases, std::vector<std::string>{"synth_002"});

  bcp::data::AcdcRoot root(o.out_dir);
  const auto slices = root.read_list("train_slices.list");
  ASSERT_EQ(static_cast<int64_t>(slices.size()), p.labeled_items + p.unlabeled_items);
  // Labeled slices first: their labels hold foreground; the unlabeled ones are all zero.
  auto first = bcp::data::load_acdc_slice(root, slices.front(), 3);
  auto last = bcp::data::load_acdc_slice(root, slices.back(), 3);
  EXPECT_EQ(slices.front().rfind("synth_001_slice_", 0), 0u) << slices.front();
  EXPECT_EQ(last.label.max().item<int>(), 0);
  EXPECT_GE(first.image.min().item<float>(), 0.0f);
  EXPECT_LE(first.image.max().item<float>(), 1.0f);

  // The validation volume is the raw scan, min-max normalised, in ITK's (D, H, W) reading.
  auto val = bcp::data::load_acdc_volume(root, "synth_002", 3);
  auto raw =
      bcp::io::read_volume((tmp.path / "raw" / "imagesTr" / "synth_002_0000.nii.gz").string());
  auto raw_label =
      bcp::io::read_volume((tmp.path / "raw" / "labelsTr" / "synth_002.nii.gz").string());
  bcp::data::IntensityNorm mm;
  mm.kind = bcp::data::IntensityKind::kMinmax;
  EXPECT_TRUE(torch::allclose(val.image, bcp::data::normalize_intensity(raw.data, mm)));
  EXPECT_TRUE(torch::equal(val.label, raw_label.data.to(torch::kUInt8)));

  const auto manifest = read_json(tmp.path / "root" / "bcp_dataset.json");
  EXPECT_EQ(manifest["intensity"]["kind"], "minmax");
  EXPECT_EQ(manifest["cases"]["synth_002"]["role"], "val");
  EXPECT_EQ(manifest["cases"]["synth_002"]["spacing"].get<std::vector<double>>(), raw.spacing);
  EXPECT_EQ(manifest["cases"]["synth_002"]["direction"].get<std::vector<double>>(), raw.direction);

  const auto config = bcp::train::config_for_prepared(p);
  EXPECT_EQ(config.dataset, bcp::data::Dataset::kAcdc);
  EXPECT_EQ(config.method, bcp::train::Method::kBcp);
  EXPECT_EQ(config.data.num_classes, 4);
  EXPECT_EQ(config.data.labeled, p.labeled_items);
  EXPECT_EQ(config.data.intensity, bcp::data::IntensityKind::kMinmax);
  ASSERT_EQ(config.data.patch.size(), 2u);
  EXPECT_EQ(config.data.patch[0] % 16, 0);
  EXPECT_GE(config.data.patch[0], 64);
  EXPECT_LE(config.data.patch[0], 256);
}

// nnU-Net v2's "ignore" label (partial annotations): stored as kIgnoreLabel, recorded in the
// fingerprint and the plan, and readable only by loaders told so.
TEST(Prepare, AnIgnoreLabelIsStoredAsNotAnnotatedAndRecorded) {
  bcp::test::TempDir tmp("prepare_ignore");
  const PrepareOptions o = synth_2d(tmp.path, 3, true);
  EXPECT_EQ(read_json(tmp.path / "raw" / "dataset.json")["labels"]["ignore"], 4);
  const auto p = prepare_nnunet(o);
  EXPECT_TRUE(p.ignore_label);
  EXPECT_EQ(p.class_names.size(), 4u);  // "ignore" is not a class
  double fractions = 0;
  for (double f : p.class_fraction) fractions += f;
  EXPECT_NEAR(fractions, 1.0, 1e-9);  // of the annotated voxels

  bcp::data::AcdcRoot root(o.out_dir);
  const bcp::data::LabelValues partial{3, true};
  const auto val = bcp::data::load_acdc_volume(root, "synth_002", partial);
  const auto raw_label =
      bcp::io::read_volume((tmp.path / "raw" / "labelsTr" / "synth_002.nii.gz").string());
  const torch::Tensor unknown = raw_label.data.to(torch::kLong) == 4;
  ASSERT_GT(unknown.sum().item<int64_t>(), 0);
  EXPECT_TRUE(torch::equal(val.label == bcp::data::kIgnoreLabel, unknown));
  EXPECT_TRUE(torch::equal(val.label.masked_select(~unknown),
                           raw_label.data.masked_select(~unknown).to(torch::kUInt8)));
  // A loader that expects full annotations names the file and the values.
  const std::string err =
      error_of([&] { bcp::data::load_acdc_volume(root, "synth_002", bcp::data::LabelValues(3)); });
  EXPECT_NE(err.find("synth_002.h5: 'label' values must be 0..3, found 0..255"), std::string::npos)
      << err;

  // Slices nobody annotated serve as unlabeled images; every labeled one holds annotation.
  const auto slices = root.read_list("train_slices.list");
  int64_t moved = 0;
  for (size_t i = 0; i < slices.size(); ++i) {
    const auto slice = bcp::data::load_acdc_slice(root, slices[i], partial);
    const bool annotated = bcp::data::annotated(slice.label).any().item<bool>();
    if (static_cast<int64_t>(i) < p.labeled_items)
      EXPECT_TRUE(annotated) << slices[i];
    else if (slices[i].rfind("synth_001_", 0) == 0 || slices[i].rfind("synth_003_", 0) == 0)
      ++moved;
  }
  EXPECT_GT(moved, 0);
  EXPECT_EQ(p.unlabeled_items, static_cast<int64_t>(slices.size()) - p.labeled_items);

  const auto manifest = read_json(tmp.path / "root" / "bcp_dataset.json");
  EXPECT_EQ(manifest["fingerprint"]["ignore_label"], true);
  EXPECT_TRUE(bcp::data::fingerprint_from_json(manifest["fingerprint"]).ignore_label);
  const auto plan = bcp::train::plan_for(p);
  EXPECT_TRUE(plan.config.data.ignore_label);
  EXPECT_EQ(plan.config.data.foreground_oversample, 0.0);  // 2-D plans draw slices uniformly
  EXPECT_NE(bcp::train::plan_text(p, plan).find("partial"), std::string::npos);
}

TEST(Prepare, ThreeDimensionalRootKeepsItkIndexOrderAndZscore) {
  bcp::test::TempDir tmp("prepare_3d");
  bcp::data::SynthNnunetOptions so;
  so.dim = 3;
  so.labeled = 3;
  so.unlabeled = 1;
  so.test = 0;
  so.size_x = 40;
  so.size_y = 36;
  so.size_z = 32;
  bcp::data::write_synth_nnunet((tmp.path / "raw").string(), so);
  PrepareOptions o;
  o.nnunet_dir = (tmp.path / "raw").string();
  o.unlabeled_dir = (tmp.path / "raw" / "unlabeledTr").string();
  o.out_dir = (tmp.path / "root").string();
  o.dim = 3;
  o.seed = 5;
  const auto p = prepare_nnunet(o);
  EXPECT_EQ(p.intensity.kind, bcp::data::IntensityKind::kZscore);
  EXPECT_EQ(p.val_cases.size(), 1u);  // 20% of 3, at least one
  EXPECT_EQ(p.labeled_items, 2);
  EXPECT_EQ(p.unlabeled_items, 1);
  EXPECT_EQ(p.min_shape, (std::vector<int64_t>{40, 36, 32}));

  bcp::data::LaRoot root(o.out_dir);
  const auto train = root.read_list("train.list");
  ASSERT_EQ(train.size(), 3u);
  const auto& name = p.labeled_cases.front();
  auto vol = bcp::data::load_la_volume(root, name);
  auto raw =
      bcp::io::read_volume((tmp.path / "raw" / "imagesTr" / (name + "_0000.nii.gz")).string());
  auto raw_label =
      bcp::io::read_volume((tmp.path / "raw" / "labelsTr" / (name + ".nii.gz")).string());
  ASSERT_EQ(vol.image.sizes(), (std::vector<int64_t>{40, 36, 32}));  // (X, Y, Z)
  bcp::data::IntensityNorm z;
  z.kind = bcp::data::IntensityKind::kZscore;
  EXPECT_TRUE(
      torch::allclose(vol.image, bcp::data::normalize_intensity(raw.data, z).permute({2, 1, 0})));
  EXPECT_TRUE(torch::equal(vol.label, raw_label.data.to(torch::kUInt8).permute({2, 1, 0})));
  EXPECT_EQ(bcp::data::load_la_volume(root, train.back()).label.max().item<int>(), 0);

  const auto config = bcp::train::config_for_prepared(p);
  EXPECT_EQ(config.dataset, bcp::data::Dataset::kLa);
  EXPECT_EQ(config.data.num_classes, 2);
  // The plan covers the median volume (40 x 36 x 32 at about 0.7 x 0.75 x 1.25 mm): three
  // halvings of every axis keep each >= 4 voxels, so each axis is a multiple of 8.
  EXPECT_EQ(config.data.patch, (std::vector<int64_t>{40, 40, 32}));
  EXPECT_EQ(config.net.strides,
            (std::vector<std::vector<int64_t>>{{2, 2, 2}, {2, 2, 2}, {2, 2, 2}, {1, 1, 1}}));
  EXPECT_EQ(config.eval.stride, (std::vector<int64_t>{20, 20, 16}));
  EXPECT_EQ(config.data.foreground_oversample, bcp::train::kPlanForegroundOversample);
  EXPECT_EQ(config.batch.labeled % 2, 0);
  EXPECT_EQ(p.median_shape, (std::vector<int64_t>{40, 36, 32}));
  ASSERT_EQ(p.median_spacing.size(), 3u);
  EXPECT_NEAR(p.median_spacing[2], 1.25, 1e-6);
  ASSERT_EQ(p.class_fraction.size(), 2u);
  EXPECT_GT(p.class_fraction[1], 0.0);
  EXPECT_NEAR(p.class_fraction[0] + p.class_fraction[1], 1.0, 1e-9);
  ASSERT_EQ(p.intensity_stats.size(), 1u);
  EXPECT_GT(p.intensity_stats[0].max, p.intensity_stats[0].min);  // raw int16 counts
  // The fingerprint is stored with the root and reads back the same.
  const auto stored = bcp::data::fingerprint_from_json(
      read_json(tmp.path / "root" / "bcp_dataset.json")["fingerprint"]);
  EXPECT_EQ(bcp::train::config_to_json(bcp::train::config_for_prepared(stored)),
            bcp::train::config_to_json(config));
}

TEST(Prepare, FewUnlabeledItemsMeanSupervisedTraining) {
  bcp::data::PreparedDataset p;
  p.dim = 2;
  p.class_names = {"bg", "fg"};
  p.labeled_items = 40;
  p.unlabeled_items = 0;
  p.train_list = "train_slices.list";
  p.min_shape = {96, 80};
  p.median_shape = {100, 90};
  const auto c = bcp::train::config_for_prepared(p);
  EXPECT_EQ(c.method, bcp::train::Method::kSupervised);
  EXPECT_EQ(c.data.patch, (std::vector<int64_t>{112, 112}));
  p.dim = 3;
  p.train_list = "train.list";
  p.min_shape = {64, 64, 12};
  p.median_shape = {64, 64, 12};
  p.max_shape = {64, 64, 12};
  p.median_spacing = {1.0, 1.0, 1.0};
  // A thin volume: z is halved once (12 -> 6 keeps >= 4), x and y four times; nothing is cut.
  const auto thin = bcp::train::config_for_prepared(p);
  EXPECT_EQ(thin.data.patch, (std::vector<int64_t>{64, 64, 12}));
  EXPECT_EQ(thin.net.strides,
            (std::vector<std::vector<int64_t>>{{2, 2, 2}, {2, 2, 1}, {2, 2, 1}, {2, 2, 1}}));
}

TEST(Prepare, LabelOutsideTheClassesIsNamedAndNothingLooksComplete) {
  bcp::test::TempDir tmp("prepare_range");
  bcp::test::NnunetFixture fx(tmp.path / "raw");
  for (const char* c : {"a", "b", "c"}) fx.add_case(c);
  auto bad = torch::zeros({6, 24, 20}, torch::kUInt8);
  bad[2][3][4] = 7;
  fx.write_label("b", bad);
  PrepareOptions o;
  o.nnunet_dir = fx.dir.string();
  o.out_dir = (tmp.path / "root").string();
  const std::string msg = error_of([&] { prepare_nnunet(o); });
  EXPECT_NE(msg.find("b.nii.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("outside"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(tmp.path / "root" / "bcp_dataset.json"));
  EXPECT_FALSE(fs::exists(tmp.path / "root" / "train_slices.list"));
}

// Issue 28 item 17: 3-D volumes too small for a network used to fail after the lists and
// bcp_dataset.json were written and the marker removed, so the root looked complete and a rerun
// was refused. Whatever prepare makes of them now, a root is complete only when it succeeded.
TEST(Prepare, TinyThreeDimensionalVolumesNeverLeaveARootThatLooksComplete) {
  bcp::test::TempDir tmp("prepare_tiny3d");
  bcp::test::NnunetFixture fx(tmp.path / "raw", R"({"background": 0, "a": 1})");
  for (const char* c : {"a", "b", "c", "d"}) {
    auto label = torch::zeros({3, 4, 5}, torch::kUInt8);
    label[1][1][2] = 1;
    bcp::io::write_volume((fx.dir / "imagesTr" / (std::string(c) + "_0000.nii.gz")).string(),
                          label.to(torch::kShort) * 100 + 7, fx.spacing, fx.origin);
    fx.write_label(c, label);
  }
  const fs::path root = tmp.path / "root";
  const std::string prepare = "prepare --nnunet " + bcp::test::quoted(fx.dir) + " --dim 3d --out " +
                              bcp::test::quoted(root);
  const auto first = bcp::test::run_cli(prepare);
  if (first.rc == 0) {
    EXPECT_TRUE(fs::exists(root / "bcp_dataset.json")) << first.output;
    EXPECT_TRUE(fs::exists(root / "bcp.json")) << first.output;
    EXPECT_FALSE(fs::exists(root / "PREPARE_INCOMPLETE")) << first.output;
    return;
  }
  EXPECT_FALSE(fs::exists(root / "bcp_dataset.json")) << first.output;
  EXPECT_FALSE(fs::exists(root / "train.list")) << first.output;
  // A rerun is not refused for a root that looks like someone else's: it fails the same way.
  const auto again = bcp::test::run_cli(prepare);
  EXPECT_EQ(again.rc, first.rc);
  EXPECT_EQ(again.output, first.output);
}

TEST(Prepare, LabelGeometryMismatchIsNamed) {
  bcp::test::TempDir tmp("prepare_geometry");
  bcp::test::NnunetFixture fx(tmp.path / "raw");
  for (const char* c : {"a", "b", "c"}) fx.add_case(c);
  fx.write_label("c", torch::zeros({6, 24, 20}, torch::kUInt8), {3.0, 1.5, 2.5});
  PrepareOptions o;
  o.nnunet_dir = fx.dir.string();
  o.out_dir = (tmp.path / "root").string();
  const std::string msg = error_of([&] { prepare_nnunet(o); });
  EXPECT_NE(msg.find("c.nii.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("geometry"), std::string::npos) << msg;
}

TEST(Prepare, RefusesNonEmptyOutputAndUnknownValidationCases) {
  bcp::test::TempDir tmp("prepare_refuse");
  bcp::test::NnunetFixture fx(tmp.path / "raw");
  for (const char* c : {"a", "b", "c"}) fx.add_case(c);
  PrepareOptions o;
  o.nnunet_dir = fx.dir.string();
  o.out_dir = (tmp.path / "root").string();
  fs::create_directories(o.out_dir);
  std::ofstream(fs::path(o.out_dir) / "keep.txt") << "mine";
  EXPECT_NE(error_of([&] { prepare_nnunet(o); }).find("not empty"), std::string::npos);
  EXPECT_TRUE(fs::exists(fs::path(o.out_dir) / "keep.txt"));

  o.out_dir = (tmp.path / "root2").string();
  o.val_cases = {"zzz"};
  EXPECT_NE(error_of([&] { prepare_nnunet(o); }).find("zzz"), std::string::npos);

  // A root an interrupted prepare left (marked as such) is replaced by a rerun, not refused: the
  // files its marker lists are removed, and a file it does not list is the user's and kept.
  o.val_cases = {};
  o.out_dir = (tmp.path / "root3").string();
  fs::create_directories(fs::path(o.out_dir) / "data");
  std::ofstream(fs::path(o.out_dir) / "PREPARE_INCOMPLETE")
      << "bcp prepare is writing\ndata/half.h5\n../raw/dataset.json\n";
  std::ofstream(fs::path(o.out_dir) / "data" / "half.h5") << "half-written";
  std::ofstream(fs::path(o.out_dir) / "data" / "notes.txt") << "mine";
  EXPECT_NE(error_of([&] { prepare_nnunet(o); }).find("notes.txt"), std::string::npos);
  EXPECT_TRUE(fs::exists(fs::path(o.out_dir) / "data" / "notes.txt"));
  EXPECT_FALSE(fs::exists(fs::path(o.out_dir) / "data" / "half.h5"));
  EXPECT_TRUE(fs::exists(fx.dir / "dataset.json"));
  fs::remove(fs::path(o.out_dir) / "data" / "notes.txt");
  prepare_nnunet(o);
  EXPECT_FALSE(fs::exists(fs::path(o.out_dir) / "PREPARE_INCOMPLETE"));
  EXPECT_FALSE(fs::exists(fs::path(o.out_dir) / "data" / "half.h5"));
  EXPECT_TRUE(fs::exists(fs::path(o.out_dir) / "bcp_dataset.json"));
}

TEST(Prepare, ChannelsAreNormalisedEachAndStackedFirst) {
  bcp::test::TempDir tmp("prepare_channels");
  bcp::data::SynthNnunetOptions so;
  so.dim = 2;
  so.labeled = 3;
  so.unlabeled = 0;
  so.test = 0;
  so.channels = 2;
  bcp::data::write_synth_nnunet((tmp.path / "raw").string(), so);
  PrepareOptions o;
  o.nnunet_dir = (tmp.path / "raw").string();
  o.out_dir = (tmp.path / "root").string();
  o.val_cases = {"synth_003"};
  const auto p = prepare_nnunet(o);
  EXPECT_EQ(p.channels, 2);
  EXPECT_EQ(bcp::train::config_for_prepared(p).data.channels, 2);
  bcp::data::AcdcRoot root(o.out_dir);
  const auto slices = root.read_list("train_slices.list");
  auto slice = bcp::data::load_acdc_slice(root, slices.front(), 3, 2);
  EXPECT_EQ(slice.image.dim(), 3);
  EXPECT_EQ(slice.image.size(0), 2);
  EXPECT_EQ(slice.image.sizes().slice(1), slice.label.sizes());
  // A single-channel read of a two-channel file is an error naming it.
  try {
    bcp::data::load_acdc_slice(root, slices.front(), 3, 1);
    FAIL() << "two channels read as one";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(slices.front()), std::string::npos) << e.what();
  }
  auto val = bcp::data::load_acdc_volume(root, "synth_003", 3, 2);
  bcp::data::IntensityNorm mm;
  mm.kind = bcp::data::IntensityKind::kMinmax;
  for (int k = 0; k < 2; ++k) {
    auto raw = bcp::io::read_volume(
        (tmp.path / "raw" / "imagesTr" / ("synth_003_000" + std::to_string(k) + ".nii.gz"))
            .string());
    EXPECT_TRUE(torch::allclose(val.image[k], bcp::data::normalize_intensity(raw.data, mm))) << k;
  }
  EXPECT_FALSE(torch::allclose(val.image[0], val.image[1]));
}

TEST(Prepare, ChannelGeometryMismatchIsNamed) {
  bcp::test::TempDir tmp("prepare_channel_geometry");
  bcp::test::NnunetFixture fx(tmp.path / "raw", R"({"background": 0, "a": 1, "b": 2})",
                              R"({"0": "T1", "1": "T2"})");
  for (const char* c : {"a", "b", "c"}) {
    fx.add_case(c);
    bcp::io::write_volume((fx.dir / "imagesTr" / (std::string(c) + "_0001.nii.gz")).string(),
                          torch::rand({6, 24, 20}), fx.spacing, fx.origin);
  }
  bcp::io::write_volume((fx.dir / "imagesTr" / "b_0001.nii.gz").string(), torch::rand({6, 24, 20}),
                        {3.0, 1.5, 1.0}, fx.origin);
  PrepareOptions o;
  o.nnunet_dir = fx.dir.string();
  o.out_dir = (tmp.path / "root").string();
  o.val_cases = {"c"};
  const std::string msg = error_of([&] { prepare_nnunet(o); });
  EXPECT_NE(msg.find("b_0001.nii.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("channel 0"), std::string::npos) << msg;
}
#else
TEST(Prepare, NeedsItk) {
  GTEST_SKIP() << "SKIPPED: built without ITK";
}
#endif

TEST(Plan, StridesFollowSpacingAndPatchesStayWithinTheBudget) {
  // Thick slices (ACDC as volumes: 1.5 mm in-plane, 10 mm apart): z waits until the in-plane
  // spacing comes within a factor 2 of it, then is halved while it keeps >= 4 voxels.
  EXPECT_EQ(bcp::train::plan_strides({224, 256, 10}, {1.5, 1.5, 10.0}),
            (std::vector<std::vector<int64_t>>{{2, 2, 1}, {2, 2, 1}, {2, 2, 2}, {2, 2, 1}}));
  // Isotropic and large: the reference VNet.
  EXPECT_EQ(bcp::train::plan_strides({112, 112, 80}, {1, 1, 1}),
            (std::vector<std::vector<int64_t>>(4, {2, 2, 2})));
  auto p = volumes_fingerprint({"bg", "a", "b"}, 3, {400, 400, 300}, {0.5, 0.5, 2.0});
  const auto big = bcp::train::plan_for(p);
  EXPECT_LE(patch_voxels(big.config), bcp::train::kPlanPatchVoxels);
  // The physically longest axis (z: 600 mm against 200) is shortened first, until the three
  // are about alike: 80 x 80 x 72 mm.
  EXPECT_EQ(big.config.data.patch, (std::vector<int64_t>{160, 160, 36}));
  EXPECT_EQ(big.config.batch.labeled, 2);               // capped by the 3 labeled items
  EXPECT_EQ(big.config.schedule.pretrain_iters, 1000);  // 500 passes of 2 steps
  EXPECT_EQ(big.config.schedule.selftrain_iters, 3000);
  EXPECT_FALSE(big.reasons.empty());
  const std::string text = bcp::train::plan_text(p, big);
  EXPECT_NE(text.find("3 classes"), std::string::npos) << text;
  EXPECT_NE(text.find("VNet strides"), std::string::npos) << text;
  // Slices 4x the in-plane spacing (nnU-Net's anisotropic: 3x or more) get the note that names
  // the 2-D plan; isotropic volumes do not.
  EXPECT_NE(text.find("slices 4x thicker"), std::string::npos) << text;
  auto iso = volumes_fingerprint({"bg", "a"}, 4, {96, 96, 96}, {1.0, 1.0, 1.0});
  EXPECT_EQ(bcp::train::plan_text(iso, bcp::train::plan_for(iso)).find("thicker"),
            std::string::npos);
  auto thick = volumes_fingerprint({"bg", "a", "b", "c"}, 6, {216, 256, 9}, {1.5, 1.5, 10.0});
  const std::string thick_text = bcp::train::plan_text(thick, bcp::train::plan_for(thick));
  EXPECT_NE(thick_text.find("slices 6.7x thicker"), std::string::npos) << thick_text;
  EXPECT_NE(thick_text.find("--dim 2d"), std::string::npos) << thick_text;
}

TEST(Plan, MalformedFingerprintsAreRefusedAndExtremeShapesEnd) {
  auto p = volumes_fingerprint({"bg", "fg"}, 4, {1100, 1100, 2}, {0.05, 0.05, 100.0});
  // A thin, wide volume whose physically longest axis soon cannot shrink: the others do.
  const auto plan = bcp::train::plan_for(p);
  EXPECT_LE(patch_voxels(plan.config), bcp::train::kPlanPatchVoxels);
  p.median_spacing = {0.0, 0.0, 0.0};
  EXPECT_THROW(bcp::train::plan_for(p), std::runtime_error);
  p.median_spacing = {1.0, 1.0, 1.0};
  p.class_fraction = {1.0};  // one value for two classes
  EXPECT_THROW(bcp::train::plan_for(p), std::runtime_error);
  p.class_fraction.clear();
  p.median_shape = {0, 10, 10};
  EXPECT_THROW(bcp::train::plan_for(p), std::runtime_error);
}

}  // namespace bcp_test_prepare
