// Label volumes to score: a prediction or ground truth from HDF5 or an ITK format (NIfTI, NRRD,
// MHA), with the voxel spacing when the file carries one (HD95/ASD need it in mm).
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

namespace bcp::io {

/// Integer labels and their spacing.
struct LabelVolume {
  /// int64, (D, H, W) or (H, W); values >= 0. Axis order as read: for HDF5 the file's order, for
  /// ITK formats torch order = ITK index order reversed (see nifti.h).
  torch::Tensor labels;
  /// One entry per axis of `labels`, mm; all 1.0 when the file has none (HDF5 without attribute).
  std::vector<double> spacing;
  /// True when `spacing` came from the file (ITK header, or an HDF5 `spacing` dataset), false
  /// when it is the 1.0 default.
  bool spacing_from_header = false;
  /// Position of voxel 0 and direction cosines (torch order, as nifti.h) from an ITK header;
  /// empty for HDF5 files, which carry no orientation.
  std::vector<double> origin;
  std::vector<double> direction;
};

/// Reads `path`: .h5/.hdf5 -> dataset `label`, else `pred` (spacing 1.0 unless the file also
/// holds a 1-D dataset `spacing` with one value per axis); .nii/.nii.gz/.nrrd/.nhdr/.mha/.mhd ->
/// voxels and header spacing (needs a build with ITK).
/// Validates: integer dtype (or floats that all hold integers), no negative values, rank 2 or 3.
/// Throws std::runtime_error (file unreadable/missing dataset) or std::invalid_argument (content),
/// the message naming the file and the problem.
LabelVolume read_label_volume(const std::string& path);

}  // namespace bcp::io
