// ACDC in the SSL4MIS/BCP HDF5 layout:
//   <root>/train_slices.list, train.list, val.list, test.list   one name a line
//   <root>/data/slices/<name>.h5   2D slice: `image` float32 (H, W), `label` uint8 (H, W)
//   <root>/data/<name>.h5          3D volume: `image` float32 (D, H, W), `label` uint8 (D, H, W)
// Labels: 0 background, 1 right ventricle, 2 myocardium, 3 left ventricle.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "bcp/data/sample.h"

namespace bcp::data {

/// Number of ACDC classes, background included.
constexpr int kAcdcNumClasses = 4;

/// Paths inside an ACDC root folder.
struct AcdcRoot {
  std::string root;
  explicit AcdcRoot(std::string root_dir) : root(std::move(root_dir)) {}
  /// <root>/<list_name>, e.g. list_path("val.list").
  std::string list_path(const std::string& list_name) const;
  /// <root>/data/slices/<name>.h5
  std::string slice_path(const std::string& name) const;
  /// <root>/data/<name>.h5
  std::string volume_path(const std::string& name) const;
  /// read_case_list(list_path(list_name)).
  std::vector<std::string> read_list(const std::string& list_name) const;
};

/// Loads one 2D slice; image (H, W) float32, label (H, W) uint8. Throws std::runtime_error, one
/// line naming the file: missing/truncated file, missing dataset, wrong rank or dtype, image/label
/// shape mismatch, NaN/Inf in the image, label values outside `labels` (ACDC: 0..3; a
/// `bcp prepare`d 2D root has its own class count). With `channels` > 1 (a multi-channel
/// `bcp prepare`d root) the image is (channels, H, W).
Sample load_acdc_slice(const AcdcRoot& root, const std::string& name,
                       const LabelValues& labels = kAcdcNumClasses - 1, int64_t channels = 1);
/// Loads one 3D volume; image (D, H, W) float32 ((channels, D, H, W) for channels > 1), label
/// (D, H, W) uint8. Same validation.
Sample load_acdc_volume(const AcdcRoot& root, const std::string& name,
                        const LabelValues& labels = kAcdcNumClasses - 1, int64_t channels = 1);

/// Loads the 2D slices `names` (e.g. root.read_list("train_slices.list")) in order: every file is
/// read and validated once (the 1,312 real slices take ~150 MB as float32 + uint8).
SampleDataset load_acdc_slices(const AcdcRoot& root, const std::vector<std::string>& names);

}  // namespace bcp::data
