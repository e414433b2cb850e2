// Reading nnU-Net v2 raw dataset folders: pairing, classes and one-line errors naming the file.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "../support.h"
#include "bcp/data/nnunet.h"
#include "nnunet_fixture.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_nnunet {

namespace fs = std::filesystem;
using bcp::data::read_nnunet_dataset;

namespace {

/// Runs `fn`, expecting a one-line error that contains every fragment.
template <typename Fn>
void expect_error(Fn fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    FAIL() << "no error";
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

}  // namespace

#ifdef BCP_WITH_ITK
TEST(Nnunet, PairsImagesWithLabelsAndReadsClasses) {
  bcp::test::TempDir tmp("nnunet_read");
  bcp::test::NnunetFixture fx(tmp.path / "Dataset001");
  fx.add_case("case_b");
  fx.add_case("case_a");
  const auto ds = read_nnunet_dataset(fx.dir.string());
  EXPECT_EQ(ds.name, "Fixture");
  EXPECT_EQ(ds.file_ending, ".nii.gz");
  ASSERT_EQ(ds.channel_names, std::vector<std::string>{"MRI"});
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"background", "a", "b"}));
  ASSERT_EQ(ds.training.size(), 2u);
  EXPECT_EQ(ds.training[0].name, "case_a");  // sorted
  EXPECT_EQ(fs::path(ds.training[0].images.at(0)).filename(), "case_a_0000.nii.gz");
  EXPECT_EQ(fs::path(ds.training[0].label).filename(), "case_a.nii.gz");
}

TEST(Nnunet, ImageWithoutLabelIsNamed) {
  bcp::test::TempDir tmp("nnunet_nolabel");
  bcp::test::NnunetFixture fx(tmp.path / "ds");
  fx.add_case("one");
  fx.add_case("two", {6, 24, 20}, /*with_label=*/false);
  expect_error([&] { read_nnunet_dataset(fx.dir.string()); },
               {"labelsTr", "two.nii.gz", "missing"});
}

TEST(Nnunet, LabelWithoutImageIsNamed) {
  bcp::test::TempDir tmp("nnunet_noimage");
  bcp::test::NnunetFixture fx(tmp.path / "ds");
  fx.add_case("one");
  fx.write_label("ghost", torch::zeros({6, 24, 20}, torch::kUInt8));
  expect_error([&] { read_nnunet_dataset(fx.dir.string()); }, {"ghost.nii.gz", "without an image"});
}

TEST(Nnunet, MissingChannelIsNamed) {
  bcp::test::TempDir tmp("nnunet_channel");
  bcp::test::NnunetFixture fx(tmp.path / "ds", R"({"background": 0, "a": 1})",
                              R"({"0": "T1", "1": "T2"})");
  fx.add_case("one");
  expect_error([&] { read_nnunet_dataset(fx.dir.string()); }, {"one_0001.nii.gz", "channel 1"});
}

TEST(Nnunet, RefusesBadDatasetJson) {
  bcp::test::TempDir tmp("nnunet_json");
  expect_error([&] { read_nnunet_dataset((tmp.path / "nothing").string()); },
               {"dataset.json", "not found"});
  {
    bcp::test::NnunetFixture fx(tmp.path / "gap", R"({"background": 0, "a": 2})");
    fx.add_case("one");
    expect_error([&] { read_nnunet_dataset(fx.dir.string()); }, {"dataset.json", "value 1"});
  }
  {
    bcp::test::NnunetFixture fx(tmp.path / "regions", R"({"background": 0, "whole": [1, 2]})");
    expect_error([&] { read_nnunet_dataset(fx.dir.string()); }, {"dataset.json", "region"});
  }
  fs::create_directories(tmp.path / "broken");
  std::ofstream(tmp.path / "broken" / "dataset.json") << "{\"labels\": ";
  expect_error([&] { read_nnunet_dataset((tmp.path / "broken").string()); },
               {"dataset.json", "not valid JSON"});
}

TEST(Nnunet, FindsUnlabeledImagesAndNamesBadFileNames) {
  bcp::test::TempDir tmp("nnunet_find");
  fs::create_directories(tmp.path / "u");
  bcp::io::write_volume((tmp.path / "u" / "scan1_0000.nii.gz").string(), torch::rand({4, 8, 8}));
  bcp::io::write_volume((tmp.path / "u" / "scan0_0000.nii.gz").string(), torch::rand({4, 8, 8}));
  const auto found = bcp::data::find_nnunet_images((tmp.path / "u").string(), ".nii.gz", 1);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].name, "scan0");
  EXPECT_TRUE(found[0].label.empty());
  bcp::io::write_volume((tmp.path / "u" / "nochannel.nii.gz").string(), torch::rand({4, 8, 8}));
  expect_error([&] { bcp::data::find_nnunet_images((tmp.path / "u").string(), ".nii.gz", 1); },
               {"nochannel.nii.gz", "_XXXX"});
}
#else
TEST(Nnunet, NeedsItk) {
  GTEST_SKIP() << "SKIPPED: built without ITK";
}
#endif

}  // namespace bcp_test_nnunet
