#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "../support.h"
#include "bcp/data/la.h"
#include "bcp/io/h5.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_la {

namespace fs = std::filesystem;
using bcp::data::LaRoot;
using bcp::io::H5File;

namespace {

struct TempRoot {
  fs::path path;
  explicit TempRoot(const std::string& tag) {
    path = bcp::test::process_temp_dir() / ("bcp_la_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
  }
  ~TempRoot() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write_case(const LaRoot& root, const std::string& id, const torch::Tensor& image,
                const torch::Tensor& label) {
  fs::create_directories(fs::path(root.volume_path(id)).parent_path());
  H5File f(root.volume_path(id), H5File::Mode::kTruncate);
  f.write("image", image);
  f.write("label", label);
}

void expect_load_error(const LaRoot& root, const std::string& id, const std::string& what) {
  try {
    bcp::data::load_la_volume(root, id);
    FAIL() << "expected an error for " << id;
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(root.volume_path(id)), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

}  // namespace

TEST(La, PathFollowsTheStandardLayout) {
  LaRoot root("/d/LA");
  EXPECT_EQ(root.volume_path("ABC"), "/d/LA/2018LA_Seg_Training Set/ABC/mri_norm2.h5");
  EXPECT_EQ(root.list_path("train.list"), "/d/LA/train.list");
}

TEST(La, KeepsFileAxisOrderAndValidates) {
  TempRoot t("v");
  LaRoot root(t.path.string());
  // X, Y, Z all different so a transpose would show.
  auto img = torch::randn({9, 7, 5});
  auto lab = torch::randint(0, 2, {9, 7, 5}).to(torch::kUInt8);
  write_case(root, "ok", img, lab);
  auto s = bcp::data::load_la_volume(root, "ok");
  EXPECT_EQ(s.image.sizes(), (std::vector<int64_t>{9, 7, 5}));
  EXPECT_TRUE(torch::equal(s.image, img));
  EXPECT_TRUE(torch::equal(s.label, lab));

  expect_load_error(root, "missing", "no such file");
  write_case(root, "label2", img, lab + 1);
  expect_load_error(root, "label2", "0..1");
  write_case(root, "rank2", img[0], lab[0]);
  expect_load_error(root, "rank2", "must be 3D");
  write_case(root, "mismatch", img, lab.slice(2, 0, 4));
  expect_load_error(root, "mismatch", "shape");
  auto nan = img.clone();
  nan[1][1][1] = NAN;
  write_case(root, "nan", nan, lab);
  expect_load_error(root, "nan", "NaN");

  write_case(root, "ok2", img, lab);
  std::ofstream(root.list_path("a.list")) << "ok\nok2\n";
  const auto ds = bcp::data::load_la_volumes(root, root.read_list("a.list"));
  EXPECT_EQ(ds.size(), 2u);
  EXPECT_THROW(ds.get(5), std::out_of_range);
}

TEST(La, LoadsRealVolumes) {
  const auto dir = bcp::test::data_dir("LA");
  BCP_REQUIRE_SHARED(dir / "val.list");
  LaRoot root(dir.string());
  const auto ids = root.read_list("val.list");
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(root.read_list("train.list").size(), 12u);
  const auto ds = bcp::data::load_la_volumes(root, {ids[0], ids[1]});
  ASSERT_EQ(ds.size(), 2u);
  for (size_t i = 0; i < ds.size(); ++i) {
    const auto& s = ds.get(i);
    EXPECT_EQ(s.image.dim(), 3);
    EXPECT_EQ(s.image.sizes(), s.label.sizes());
    EXPECT_EQ(s.label.max().item<int>(), 1);
    // z-score normalised over the uncropped scan, so the crop's values spread around 0..2.
    EXPECT_LT(s.image.min().item<double>(), 0.0);
    EXPECT_GT(s.image.std().item<double>(), 0.3);
  }
  // The first real volume is stored as (183, 140, 88): X, Y, Z, not transposed.
  auto first = bcp::data::load_la_volume(root, "06SR5RBREL16DQ6M8LWS");
  EXPECT_EQ(first.image.sizes(), (std::vector<int64_t>{183, 140, 88}));
}

}  // namespace bcp_test_la
