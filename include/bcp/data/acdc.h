// ACDC in the SSL4MIS/BCP HDF5 layout:
//   <root>/train_slices.list, train.list, val.list, test.list   one name a line
//   <root>/data/slices/<name>.h5   2D slice: `image` float32 (H, W), `label` uint8 (H, W)
//   <root>/data/<name>.h5          3D volume: `image` float32 (D, H, W), `label` uint8 (D, H, W)
// Labels: 0 background, 1 right ventricle, 2 myocardium, 3 left ventricle.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

namespace bcp::data {

/// One image and its labels as stored; no resizing or normalisation.
struct Sample {
  /// float32, (H, W) for a slice or (D, H, W) for a volume; finite.
  torch::Tensor image;
  /// uint8, same shape as `image`.
  torch::Tensor label;
  /// Case name as in the list (no folder, no extension).
  std::string name;
};

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
/// shape mismatch, NaN/Inf in the image, label values outside 0..max_label (ACDC: 0..3; a
/// `bcp prepare`d 2D root has its own class count). With `channels` > 1 (a multi-channel
/// `bcp prepare`d root) the image is (channels, H, W).
Sample load_acdc_slice(const AcdcRoot& root, const std::string& name,
                       int64_t max_label = kAcdcNumClasses - 1, int64_t channels = 1);
/// Loads one 3D volume; image (D, H, W) float32 ((channels, D, H, W) for channels > 1), label
/// (D, H, W) uint8. Same validation.
Sample load_acdc_volume(const AcdcRoot& root, const std::string& name,
                        int64_t max_label = kAcdcNumClasses - 1, int64_t channels = 1);

/// Checks an image/label pair read from `path` (spatial rank `rank`, labels in 0..max_label;
/// the image with a leading axis of `channels` when channels > 1) and returns it as a Sample.
/// Shared by the ACDC and LA loaders; throws std::runtime_error naming `path`.
Sample validate_sample(const std::string& path, torch::Tensor image, torch::Tensor label,
                       int64_t rank, int64_t max_label, std::string name, int64_t channels = 1);

/// Reads `image` and `label` from an HDF5 file and validates them (see validate_sample).
Sample load_h5_sample(const std::string& path, int64_t rank, int64_t max_label, std::string name,
                      int64_t channels = 1);

/// A list of ACDC 2D slices held in memory: every file is read and validated once, at
/// construction (the 1,312 real slices take ~150 MB as float32 + uint8).
class AcdcSliceDataset {
 public:
  /// Loads `names` (e.g. root.read_list("train_slices.list")) in order.
  AcdcSliceDataset(const AcdcRoot& root, const std::vector<std::string>& names);
  size_t size() const { return samples_.size(); }
  /// The i-th slice (tensors shared, not copied: clone before modifying in place).
  /// Throws std::out_of_range when i >= size().
  const Sample& get(size_t i) const;
  const std::vector<Sample>& samples() const { return samples_; }

 private:
  std::vector<Sample> samples_;
};

}  // namespace bcp::data
