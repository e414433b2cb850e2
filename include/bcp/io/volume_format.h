// The file formats of scans and masks, told by their extension in one table: HDF5 (.h5, .hdf5)
// and the ITK formats (.nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd), case-insensitive, ".nii.gz"
// counting as one extension. Every reader, writer and folder scan matches names through it.
#pragma once
#include <string>

namespace bcp::io {

enum class VolumeFormat { kUnknown, kHdf5, kNifti, kNiftiGz, kNrrd, kNhdr, kMha, kMhd };

/// The format of `path`'s file name; kUnknown for other extensions and for a name that is
/// nothing but an extension (".nii").
VolumeFormat volume_format(const std::string& path);

/// The extension of `path` as written there (".nii.gz", ".H5"), "" when volume_format is kUnknown.
std::string volume_extension(const std::string& path);

/// The file name of `path` without volume_extension: "dir/case_0000.nii.gz" -> "case_0000".
std::string volume_stem(const std::string& path);

/// Read through ITK (nifti.h): NIfTI, NRRD, MetaImage.
bool is_itk_format(VolumeFormat format);
/// .h5 or .hdf5.
inline bool is_h5_path(const std::string& path) {
  return volume_format(path) == VolumeFormat::kHdf5;
}

}  // namespace bcp::io
