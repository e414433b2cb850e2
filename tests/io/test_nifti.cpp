#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../support.h"

#include "bcp/io/nifti.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_nifti {

namespace fs = std::filesystem;
using bcp::io::read_volume;
using bcp::io::write_volume;

#ifdef BCP_WITH_ITK
namespace {

// A per-process temp folder so parallel ctest runs do not collide.
using bcp::test::TempDir;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Hand-made NIfTI-1 file (348-byte header, 4 zero extension bytes, float32 voxels), to test what
// our writer never produces (4D).
void write_raw_nifti(const std::string& path, std::vector<int16_t> dims, int64_t n_voxels) {
  std::vector<char> hdr(352, 0);
  auto put_i32 = [&](size_t off, int32_t v) { std::memcpy(&hdr[off], &v, 4); };
  auto put_i16 = [&](size_t off, int16_t v) { std::memcpy(&hdr[off], &v, 2); };
  auto put_f32 = [&](size_t off, float v) { std::memcpy(&hdr[off], &v, 4); };
  put_i32(0, 348);
  put_i16(40, static_cast<int16_t>(dims.size()));
  for (size_t i = 0; i < dims.size(); ++i) put_i16(42 + 2 * i, dims[i]);
  put_i16(70, 16);  // DT_FLOAT32
  put_i16(72, 32);  // bitpix
  for (int i = 0; i < 8; ++i) put_f32(76 + 4 * i, 1.0f);
  put_f32(108, 352.0f);  // vox_offset
  std::memcpy(&hdr[344], "n+1\0", 4);
  std::ofstream out(path, std::ios::binary);
  out.write(hdr.data(), static_cast<std::streamsize>(hdr.size()));
  std::vector<float> data(static_cast<size_t>(n_voxels), 1.0f);
  out.write(reinterpret_cast<const char*>(data.data()),
            static_cast<std::streamsize>(data.size() * sizeof(float)));
}

void expect_error_naming(const std::function<void()>& fn, const std::string& file,
                         const std::string& what) {
  try {
    fn();
    FAIL() << "expected an error for " << file;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
}

}  // namespace

TEST(Nifti, RoundTripsFloatVolumeWithGeometryInEveryFormat) {
  TempDir dir("nifti_rt");
  auto data = torch::rand({5, 7, 9});
  const std::vector<double> spacing{5.0, 1.25, 1.5};  // (D, H, W)
  const std::vector<double> origin{-3.0, 10.0, 2.5};
  for (const char* name : {"v.nii", "v.nii.gz", "v.nrrd", "v.mha"}) {
    const std::string p = dir / name;
    write_volume(p, data, spacing, origin);
    auto v = read_volume(p);
    EXPECT_EQ(v.data.scalar_type(), torch::kFloat32) << name;
    ASSERT_EQ(v.data.sizes(), data.sizes()) << name;
    EXPECT_TRUE(torch::equal(v.data, data)) << name;
    ASSERT_EQ(v.spacing.size(), 3u) << name;
    for (int i = 0; i < 3; ++i) {
      EXPECT_NEAR(v.spacing[i], spacing[i], 1e-6) << name << " axis " << i;
      EXPECT_NEAR(v.origin[i], origin[i], 1e-5) << name << " axis " << i;
    }
    ASSERT_EQ(v.direction.size(), 9u);
    for (int i = 0; i < 9; ++i) EXPECT_NEAR(v.direction[i], i % 4 == 0 ? 1.0 : 0.0, 1e-6) << name;
  }
  // Nothing but the four files: the temporaries were renamed away.
  int count = 0;
  for (auto& e : fs::directory_iterator(dir.path)) {
    (void)e;
    ++count;
  }
  EXPECT_EQ(count, 4);
}

TEST(Nifti, TorchAxesAreItkAxesReversed) {
  TempDir dir("nifti_axes");
  // (D, H, W) = (2, 3, 4): ITK/NIfTI sees x = W = 4 fastest, z = D = 2 slowest.
  auto data = torch::arange(24, torch::kFloat32).reshape({2, 3, 4});
  const std::string mha = dir / "a.mha";
  write_volume(mha, data, {3.0, 2.0, 0.5});
  const std::string header = read_text(mha);
  EXPECT_NE(header.find("DimSize = 4 3 2"), std::string::npos) << header.substr(0, 400);
  EXPECT_NE(header.find("ElementSpacing = 0.5 2 3"), std::string::npos) << header.substr(0, 400);

  const std::string nii = dir / "a.nii";
  write_volume(nii, data, {3.0, 2.0, 0.5});
  const std::string bytes = read_text(nii);
  ASSERT_GE(bytes.size(), 352u + 24 * 4);
  int16_t dim[8];
  float pixdim[8], vox_offset;
  std::memcpy(dim, bytes.data() + 40, sizeof dim);
  std::memcpy(pixdim, bytes.data() + 76, sizeof pixdim);
  std::memcpy(&vox_offset, bytes.data() + 108, 4);
  EXPECT_EQ(dim[0], 3);
  EXPECT_EQ(dim[1], 4);
  EXPECT_EQ(dim[2], 3);
  EXPECT_EQ(dim[3], 2);
  EXPECT_FLOAT_EQ(pixdim[1], 0.5f);
  EXPECT_FLOAT_EQ(pixdim[2], 2.0f);
  EXPECT_FLOAT_EQ(pixdim[3], 3.0f);
  // Memory order is shared: the file's voxels are data.flatten() in order.
  std::vector<float> voxels(24);
  std::memcpy(voxels.data(), bytes.data() + static_cast<size_t>(vox_offset), 24 * 4);
  for (int i = 0; i < 24; ++i) EXPECT_EQ(voxels[i], static_cast<float>(i));
}

TEST(Nifti, DirectionRoundTripsInTorchOrder) {
  TempDir dir("nifti_dir");
  auto data = torch::zeros({2, 3, 4});
  // Torch-order direction: a permutation with a flip, so a transposition bug shows.
  const std::vector<double> direction{0, 1, 0, -1, 0, 0, 0, 0, 1};
  for (const char* name : {"d.nii.gz", "d.nrrd", "d.mha"}) {
    write_volume(dir / name, data, {}, {}, direction);
    auto v = read_volume(dir / name);
    for (int i = 0; i < 9; ++i) EXPECT_NEAR(v.direction[i], direction[i], 1e-6) << name << " " << i;
  }
}

TEST(Nifti, KeepsIntegerTypesAnd2D) {
  TempDir dir("nifti_int");
  auto labels = torch::randint(0, 4, {6, 5, 4}).to(torch::kUInt8);
  write_volume(dir / "l.nii.gz", labels, {2.0, 1.0, 1.0});
  auto v = read_volume(dir / "l.nii.gz");
  EXPECT_EQ(v.data.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(torch::equal(v.data, labels));

  auto s16 = torch::randint(-300, 300, {4, 4}).to(torch::kInt16);
  write_volume(dir / "s.nrrd", s16, {0.7, 0.9});
  auto w = read_volume(dir / "s.nrrd");
  EXPECT_EQ(w.data.scalar_type(), torch::kInt16);
  ASSERT_EQ(w.data.dim(), 2);
  EXPECT_TRUE(torch::equal(w.data, s16));
  EXPECT_NEAR(w.spacing[0], 0.7, 1e-6);
  EXPECT_NEAR(w.spacing[1], 0.9, 1e-6);

  auto mask = torch::rand({3, 4, 5}) > 0.5;
  write_volume(dir / "b.mha", mask);
  auto b = read_volume(dir / "b.mha");
  EXPECT_EQ(b.data.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(torch::equal(b.data, mask.to(torch::kUInt8)));

  auto d64 = torch::rand({3, 4, 5}, torch::kFloat64);
  write_volume(dir / "d.nii", d64);
  EXPECT_EQ(read_volume(dir / "d.nii").data.scalar_type(), torch::kFloat32);
}

TEST(Nifti, ScaledVoxelsAreReadScaledNotRefusedAsTruncated) {
  // Scanners often store int16 voxels with scl_slope/scl_inter; ITK returns them as float, whose
  // size is not that of the voxels on disk.
  TempDir dir("nifti_scaled");
  const auto raw = torch::randint(-300, 300, {4, 5, 6}).to(torch::kInt16);
  const std::string path = dir / "scaled.nii";
  write_volume(path, raw);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    const float slope = 0.5f, inter = 10.0f;
    f.seekp(112);
    f.write(reinterpret_cast<const char*>(&slope), 4);
    f.write(reinterpret_cast<const char*>(&inter), 4);
  }
  const auto v = read_volume(path);
  EXPECT_EQ(v.data.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(v.data, raw.to(torch::kFloat32) * 0.5 + 10.0));
  // A short file is still refused, by the bytes the header promises on disk.
  fs::resize_file(path, fs::file_size(path) - 20);
  const std::string e = bcp::test::error_of([&] { read_volume(path); });
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  EXPECT_NE(e.find("240"), std::string::npos) << e;  // 4 x 5 x 6 int16 voxels
}

TEST(Nifti, DropsTrailingSingletonTimeAxis) {
  TempDir dir("nifti_t1");
  write_raw_nifti(dir / "t1.nii", {4, 3, 2, 1}, 24);
  auto v = read_volume(dir / "t1.nii");
  EXPECT_EQ(v.data.sizes(), (std::vector<int64_t>{2, 3, 4}));
}

TEST(Nifti, ErrorsNameTheFile) {
  TempDir dir("nifti_err");
  const std::string missing = dir / "missing.nii.gz";
  expect_error_naming([&] { read_volume(missing); }, missing, "no such file");

  const std::string png = dir / "x.png";
  std::ofstream(png) << "x";
  expect_error_naming([&] { read_volume(png); }, png, "unsupported extension");
  expect_error_naming(
      [&] {
        write_volume(png, torch::zeros({2, 2}));
      },
      png, "unsupported extension");

  const std::string four_d = dir / "four.nii";
  write_raw_nifti(four_d, {2, 2, 2, 3}, 24);
  expect_error_naming([&] { read_volume(four_d); }, four_d, "4D");

  for (const char* name : {"trunc.nii", "trunc.nii.gz", "trunc.nrrd", "trunc.mha"}) {
    const std::string truncated = dir / name;
    write_volume(truncated, torch::rand({16, 16, 16}));
    fs::resize_file(truncated, fs::file_size(truncated) - 4000);
    expect_error_naming([&] { read_volume(truncated); }, truncated, "truncated");
  }

  const std::string garbage = dir / "garbage.nii";
  std::ofstream(garbage) << "this is not a nifti file at all";
  expect_error_naming([&] { read_volume(garbage); }, garbage, "unreadable");

  const std::string out = dir / "o.nii";
  expect_error_naming([&] { write_volume(out, torch::zeros({2, 2, 2, 2})); }, out, "4D");
  expect_error_naming(
      [&] {
        write_volume(out, torch::zeros({2, 2, 2}), {1.0, 1.0});
      },
      out, "spacing");
  EXPECT_FALSE(fs::exists(out));
}

TEST(Nifti, RecognisesExtensions) {
  EXPECT_TRUE(bcp::io::is_itk_volume_path("a/b.NII.GZ"));
  EXPECT_TRUE(bcp::io::is_itk_volume_path("b.nii"));
  EXPECT_TRUE(bcp::io::is_itk_volume_path("b.mhd"));
  EXPECT_FALSE(bcp::io::is_itk_volume_path("b.h5"));
  EXPECT_FALSE(bcp::io::is_itk_volume_path(".nii"));
}

#else
TEST(Nifti, WithoutItkSaysSo) {
  EXPECT_THROW(read_volume("x.nii.gz"), std::runtime_error);
}
#endif

}  // namespace bcp_test_nifti
