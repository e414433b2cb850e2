#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../support.h"
#include "bcp/io/h5.h"

namespace fs = std::filesystem;
using bcp::io::H5File;

TEST(H5, RoundTripsTensorsAndAttributes) {
  fs::path p = bcp::test::process_temp_dir() / "bcp_test_h5_roundtrip.h5";
  auto f = torch::randn({3, 4, 5});
  auto u = torch::randint(0, 4, {2, 7}).to(torch::kUInt8);
  {
    H5File out(p.string(), H5File::Mode::kTruncate);
    out.write("a/b/f", f);
    out.write("u", u);
    out.write("scalar", torch::tensor(3.5, torch::kFloat64));
    out.set_attr("/", "name", std::string("hello"));
    out.set_attr("a/b/f", "scale", 2.5);
  }
  H5File in(p.string());
  EXPECT_TRUE(in.has("a/b/f"));
  EXPECT_FALSE(in.has("a/c/f"));
  EXPECT_TRUE(torch::equal(in.read("a/b/f"), f));
  EXPECT_TRUE(torch::equal(in.read("u"), u));
  EXPECT_EQ(in.read("u").scalar_type(), torch::kUInt8);
  EXPECT_DOUBLE_EQ(in.read("scalar").item<double>(), 3.5);
  EXPECT_EQ(in.attr_string("/", "name"), "hello");
  EXPECT_DOUBLE_EQ(in.attr_number("a/b/f", "scale"), 2.5);
  EXPECT_EQ(in.list("a"), std::vector<std::string>{"b"});
  fs::remove(p);
}

TEST(H5, ErrorsNameTheFileAndObject) {
  fs::path missing = bcp::test::process_temp_dir() / "bcp_no_such_file.h5";
  try {
    H5File f(missing.string());
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
  fs::path junk = bcp::test::process_temp_dir() / "bcp_junk.h5";
  std::ofstream(junk) << "not hdf5";
  EXPECT_THROW(H5File f(junk.string()), std::runtime_error);
  fs::path p = bcp::test::process_temp_dir() / "bcp_test_h5_missing_key.h5";
  {
    H5File out(p.string(), H5File::Mode::kTruncate);
    out.write("x", torch::zeros({2}));
  }
  try {
    bcp::io::read_h5(p.string(), "label");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("label"), std::string::npos) << e.what();
  }
  fs::remove(p);
  fs::remove(junk);
}

TEST(H5, ReadsRealAcdcSlice) {
  fs::path slice = bcp::test::data_dir("ACDC") / "data/slices/patient003_frame01_slice_1.h5";
  BCP_REQUIRE_SHARED(slice);
  auto img = bcp::io::read_h5(slice.string(), "image");
  auto lab = bcp::io::read_h5(slice.string(), "label");
  EXPECT_EQ(img.dim(), 2);
  EXPECT_EQ(img.scalar_type(), torch::kFloat32);
  EXPECT_EQ(lab.scalar_type(), torch::kUInt8);
  EXPECT_EQ(img.sizes(), lab.sizes());
  EXPECT_LE(lab.max().item<int>(), 3);
}
