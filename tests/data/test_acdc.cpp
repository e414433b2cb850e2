#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "../support.h"
#include "bcp/data/acdc.h"
#include "bcp/io/h5.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_acdc {

namespace fs = std::filesystem;
using bcp::data::AcdcRoot;
using bcp::io::H5File;

namespace {

struct TempRoot {
  fs::path path;
  explicit TempRoot(const std::string& tag) {
    path = bcp::test::process_temp_dir() / ("bcp_acdc_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path / "data" / "slices");
  }
  ~TempRoot() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write_pair(const std::string& path, const torch::Tensor& image, const torch::Tensor& label) {
  H5File f(path, H5File::Mode::kTruncate);
  if (image.defined()) f.write("image", image);
  if (label.defined()) f.write("label", label);
}

void expect_load_error(const AcdcRoot& root, const std::string& name, const std::string& what,
                       bool volume = false) {
  const std::string path = volume ? root.volume_path(name) : root.slice_path(name);
  try {
    if (volume) {
      bcp::data::load_acdc_volume(root, name);
    } else {
      bcp::data::load_acdc_slice(root, name);
    }
    FAIL() << "expected an error for " << path;
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
}

}  // namespace

TEST(Acdc, PathsFollowTheStandardLayout) {
  AcdcRoot root("/x/ACDC");
  EXPECT_EQ(root.list_path("val.list"), "/x/ACDC/val.list");
  EXPECT_EQ(root.slice_path("patient001_frame01_slice_1"),
            "/x/ACDC/data/slices/patient001_frame01_slice_1.h5");
  EXPECT_EQ(root.volume_path("patient001_frame01"), "/x/ACDC/data/patient001_frame01.h5");
}

TEST(Acdc, LoadsValidSliceAndVolume) {
  TempRoot t("ok");
  AcdcRoot root(t.path.string());
  auto img = torch::rand({12, 10});
  auto lab = torch::randint(0, 4, {12, 10}).to(torch::kUInt8);
  write_pair(root.slice_path("s"), img, lab);
  auto s = bcp::data::load_acdc_slice(root, "s");
  EXPECT_EQ(s.name, "s");
  EXPECT_TRUE(torch::equal(s.image, img));
  EXPECT_TRUE(torch::equal(s.label, lab));
  EXPECT_EQ(s.label.scalar_type(), torch::kUInt8);

  auto vimg = torch::rand({3, 12, 10});
  auto vlab = torch::randint(0, 4, {3, 12, 10}).to(torch::kUInt8);
  write_pair(root.volume_path("v"), vimg, vlab);
  auto v = bcp::data::load_acdc_volume(root, "v");
  EXPECT_TRUE(torch::equal(v.image, vimg));
  EXPECT_TRUE(torch::equal(v.label, vlab));

  write_pair(root.slice_path("t"), img, lab);
  std::ofstream(root.list_path("two.list")) << "s\r\nt\n";
  const auto ds = bcp::data::load_acdc_slices(root, root.read_list("two.list"));
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_TRUE(torch::equal(ds.get(1).image, img));
  EXPECT_THROW(ds.get(2), std::out_of_range);
}

TEST(Acdc, EveryValidationErrorNamesTheFile) {
  TempRoot t("bad");
  AcdcRoot root(t.path.string());
  const auto img = torch::rand({8, 8});
  const auto lab = torch::zeros({8, 8}, torch::kUInt8);

  expect_load_error(root, "missing", "no such file");

  std::ofstream(root.slice_path("truncated"), std::ios::binary) << "\x89HDF\r\n\x1a\n garbage";
  expect_load_error(root, "truncated", "truncated.h5");

  write_pair(root.slice_path("no_label"), img, {});
  expect_load_error(root, "no_label", "missing dataset 'label'");
  write_pair(root.slice_path("no_image"), {}, lab);
  expect_load_error(root, "no_image", "missing dataset 'image'");

  write_pair(root.slice_path("rank3"), torch::rand({1, 8, 8}),
             torch::zeros({1, 8, 8}, torch::kUInt8));
  expect_load_error(root, "rank3", "must be 2D");
  write_pair(root.volume_path("rank2"), img, lab);
  expect_load_error(root, "rank2", "must be 3D", /*volume=*/true);

  write_pair(root.slice_path("int_image"), torch::zeros({8, 8}, torch::kInt32), lab);
  expect_load_error(root, "int_image", "'image' must be float32");
  write_pair(root.slice_path("float_label"), img, torch::zeros({8, 8}));
  expect_load_error(root, "float_label", "'label' must be uint8");

  write_pair(root.slice_path("mismatch"), img, torch::zeros({8, 7}, torch::kUInt8));
  expect_load_error(root, "mismatch", "shape");

  auto nan_img = img.clone();
  nan_img[2][3] = NAN;
  write_pair(root.slice_path("nan"), nan_img, lab);
  expect_load_error(root, "nan", "NaN");
  auto inf_img = img.clone();
  inf_img[0][0] = INFINITY;
  write_pair(root.slice_path("inf"), inf_img, lab);
  expect_load_error(root, "inf", "Inf");

  auto bad_lab = lab.clone();
  bad_lab[1][1] = 4;
  write_pair(root.slice_path("label4"), img, bad_lab);
  expect_load_error(root, "label4", "0..3");

  // The in-memory dataset stops at the first bad file and names it.
  std::ofstream(root.list_path("mixed.list")) << "nan\n";
  EXPECT_THROW(bcp::data::load_acdc_slices(root, root.read_list("mixed.list")), std::runtime_error);
}

TEST(Acdc, LoadsRealSlicesAndVolumes) {
  const auto dir = bcp::test::data_dir("ACDC");
  BCP_REQUIRE_SHARED(dir / "train_slices.list");
  AcdcRoot root(dir.string());
  const auto slices = root.read_list("train_slices.list");
  ASSERT_EQ(slices.size(), 1312u);
  // A few slices (the whole list is loaded by the dataset test below, once).
  for (size_t i : {size_t{0}, size_t{500}, size_t{1311}}) {
    auto s = bcp::data::load_acdc_slice(root, slices[i]);
    EXPECT_EQ(s.image.dim(), 2);
    EXPECT_EQ(s.image.scalar_type(), torch::kFloat32);
    EXPECT_EQ(s.label.scalar_type(), torch::kUInt8);
    EXPECT_GE(s.image.min().item<float>(), 0.0f);
    EXPECT_LE(s.image.max().item<float>(), 1.0f);
  }
  const auto val = root.read_list("val.list");
  ASSERT_EQ(val.size(), 20u);
  auto v = bcp::data::load_acdc_volume(root, val[0]);
  EXPECT_EQ(v.image.dim(), 3);
  EXPECT_EQ(v.image.sizes(), v.label.sizes());
  EXPECT_EQ(v.label.max().item<int>(), 3);
}

TEST(Acdc, SliceDatasetHoldsAllRealTrainingSlices) {
  const auto dir = bcp::test::data_dir("ACDC");
  BCP_REQUIRE_SHARED(dir / "train_slices.list");
  AcdcRoot root(dir.string());
  const auto ds = bcp::data::load_acdc_slices(root, root.read_list("train_slices.list"));
  ASSERT_EQ(ds.size(), 1312u);
  EXPECT_EQ(ds.get(0).name, "patient099_frame01_slice_15");
  int64_t labelled = 0;
  for (size_t i = 0; i < ds.size(); ++i) labelled += ds.get(i).label.max().item<int64_t>() > 0;
  EXPECT_GT(labelled, 1000);
}

}  // namespace bcp_test_acdc
