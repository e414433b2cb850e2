// One table of scan and mask extensions for every reader, writer and folder scan.
#include <gtest/gtest.h>

#include <filesystem>

#include "../support.h"
#include "bcp/io/atomic_file.h"
#include "bcp/io/volume_format.h"

namespace {

using bcp::io::VolumeFormat;

TEST(VolumeFormat, ToldByTheExtensionInAnyCase) {
  EXPECT_EQ(bcp::io::volume_format("a/b.NII.GZ"), VolumeFormat::kNiftiGz);
  EXPECT_EQ(bcp::io::volume_format("b.nii"), VolumeFormat::kNifti);
  EXPECT_EQ(bcp::io::volume_format("b.nhdr"), VolumeFormat::kNhdr);
  EXPECT_EQ(bcp::io::volume_format("b.mhd"), VolumeFormat::kMhd);
  EXPECT_EQ(bcp::io::volume_format("b.hdf5"), VolumeFormat::kHdf5);
  EXPECT_EQ(bcp::io::volume_format("b.H5"), VolumeFormat::kHdf5);
  EXPECT_EQ(bcp::io::volume_format("b.raw"), VolumeFormat::kUnknown);
  EXPECT_EQ(bcp::io::volume_format(".nii"), VolumeFormat::kUnknown);  // only an extension
  EXPECT_EQ(bcp::io::volume_format("x.nii/b.txt"), VolumeFormat::kUnknown);
  EXPECT_TRUE(bcp::io::is_h5_path("dir/case.h5"));
  EXPECT_FALSE(bcp::io::is_itk_format(VolumeFormat::kHdf5));
  EXPECT_TRUE(bcp::io::is_itk_format(VolumeFormat::kMha));
}

TEST(VolumeFormat, SplitsStemAndExtension) {
  EXPECT_EQ(bcp::io::volume_extension("d/Case_0000.Nii.Gz"), ".Nii.Gz");
  EXPECT_EQ(bcp::io::volume_stem("d/Case_0000.Nii.Gz"), "Case_0000");
  EXPECT_EQ(bcp::io::volume_stem("patient002_frame01.h5"), "patient002_frame01");
  EXPECT_EQ(bcp::io::volume_extension("notes.txt"), "");
  EXPECT_EQ(bcp::io::volume_stem("notes.txt"), "notes.txt");
}

TEST(AtomicFile, CommitsAFolderWhole) {
  namespace fs = std::filesystem;
  bcp::test::TempDir dir("commit_directory");
  const fs::path staged = dir.path / "out.incomplete";
  const fs::path target = dir.path / "out";
  fs::create_directories(staged);
  bcp::io::write_file_atomically((staged / "a.txt").string(), "a");
  bcp::io::commit_directory(staged.string(), target.string());
  EXPECT_TRUE(fs::exists(target / "a.txt"));
  EXPECT_FALSE(fs::exists(staged));
  // A target that holds files is not replaced.
  fs::create_directories(staged);
  EXPECT_THROW(bcp::io::commit_directory(staged.string(), target.string()), std::runtime_error);
  EXPECT_TRUE(fs::exists(target / "a.txt"));
}

}  // namespace
