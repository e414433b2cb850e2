#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "../support.h"

#include "bcp/io/h5.h"
#include "bcp/io/label_volume.h"
#include "bcp/io/nifti.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_label_volume {

namespace fs = std::filesystem;
using bcp::io::H5File;
using bcp::io::read_label_volume;

namespace {

using bcp::test::TempDir;

void write_h5(const std::string& path, const std::string& name, const torch::Tensor& t) {
  H5File f(path, H5File::Mode::kTruncate);
  f.write(name, t);
}

void expect_error(const std::string& path, const std::string& what) {
  try {
    read_label_volume(path);
    FAIL() << "expected an error for " << path;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

}  // namespace

TEST(LabelVolume, ReadsHdf5LabelThenPred) {
  TempDir dir("labelvol_h5");
  auto label = torch::randint(0, 4, {3, 5, 6}).to(torch::kUInt8);
  auto pred = torch::randint(0, 4, {3, 5, 6}).to(torch::kInt32);
  {
    H5File f(dir / "both.h5", H5File::Mode::kTruncate);
    f.write("label", label);
    f.write("pred", pred);
  }
  auto v = read_label_volume(dir / "both.h5");
  EXPECT_EQ(v.labels.scalar_type(), torch::kInt64);
  EXPECT_TRUE(torch::equal(v.labels, label.to(torch::kInt64)));
  EXPECT_EQ(v.spacing, (std::vector<double>{1.0, 1.0, 1.0}));
  EXPECT_FALSE(v.spacing_from_header);

  write_h5(dir / "pred.hdf5", "pred", pred);
  auto p = read_label_volume(dir / "pred.hdf5");
  EXPECT_TRUE(torch::equal(p.labels, pred.to(torch::kInt64)));

  // A float prediction holding whole numbers is accepted (numpy argmax saved as float).
  write_h5(dir / "float.h5", "pred", pred.to(torch::kFloat32));
  EXPECT_TRUE(torch::equal(read_label_volume(dir / "float.h5").labels, pred.to(torch::kInt64)));
}

TEST(LabelVolume, ReadsHdf5SpacingDataset) {
  TempDir dir("labelvol_sp");
  {
    H5File f(dir / "s.h5", H5File::Mode::kTruncate);
    f.write("label", torch::zeros({2, 3, 4}, torch::kUInt8));
    f.write("spacing", torch::tensor({10.0, 1.5, 1.5}, torch::kFloat64));
  }
  auto v = read_label_volume(dir / "s.h5");
  EXPECT_TRUE(v.spacing_from_header);
  EXPECT_EQ(v.spacing, (std::vector<double>{10.0, 1.5, 1.5}));

  {
    H5File f(dir / "bad_sp.h5", H5File::Mode::kTruncate);
    f.write("label", torch::zeros({2, 3, 4}, torch::kUInt8));
    f.write("spacing", torch::tensor({1.5, 1.5}, torch::kFloat64));
  }
  expect_error(dir / "bad_sp.h5", "spacing");
}

#ifdef BCP_WITH_ITK
TEST(LabelVolume, ReadsNiftiWithHeaderSpacing) {
  TempDir dir("labelvol_nii");
  auto label = torch::randint(0, 3, {4, 6, 5}).to(torch::kUInt8);
  bcp::io::write_volume(dir / "gt.nii.gz", label, {5.0, 1.25, 1.5});
  auto v = read_label_volume(dir / "gt.nii.gz");
  EXPECT_TRUE(torch::equal(v.labels, label.to(torch::kInt64)));
  EXPECT_TRUE(v.spacing_from_header);
  ASSERT_EQ(v.spacing.size(), 3u);
  EXPECT_NEAR(v.spacing[0], 5.0, 1e-6);
  EXPECT_NEAR(v.spacing[1], 1.25, 1e-6);
  EXPECT_NEAR(v.spacing[2], 1.5, 1e-6);

  bcp::io::write_volume(dir / "neg.nrrd", torch::full({3, 3}, -1, torch::kInt16));
  expect_error(dir / "neg.nrrd", ">= 0");
}
#endif

TEST(LabelVolume, ValidationErrorsNameTheFile) {
  TempDir dir("labelvol_err");
  expect_error(dir / "missing.h5", "no such file");

  std::ofstream(dir / "x.png") << "x";
  expect_error(dir / "x.png", "unsupported");

  write_h5(dir / "nokey.h5", "image", torch::zeros({3, 3}));
  expect_error(dir / "nokey.h5", "neither");

  write_h5(dir / "neg.h5", "label", torch::tensor({{0, -2}, {1, 1}}, torch::kInt32));
  expect_error(dir / "neg.h5", "-2");

  write_h5(dir / "frac.h5", "label", torch::tensor({{0.0f, 0.5f}, {1.0f, 1.0f}}));
  expect_error(dir / "frac.h5", "non-integer");

  write_h5(dir / "nan.h5", "label", torch::tensor({{0.0f, NAN}, {1.0f, 1.0f}}));
  expect_error(dir / "nan.h5", "NaN");

  write_h5(dir / "rank1.h5", "label", torch::zeros({5}, torch::kUInt8));
  expect_error(dir / "rank1.h5", "rank 1");

  write_h5(dir / "rank4.h5", "label", torch::zeros({1, 2, 2, 2}, torch::kUInt8));
  expect_error(dir / "rank4.h5", "rank 4");

  std::ofstream(dir / "trunc.h5") << "not an hdf5 file";
  expect_error(dir / "trunc.h5", "trunc.h5");
}

}  // namespace bcp_test_label_volume
