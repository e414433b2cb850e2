// One image with its labels, as every dataset holds it (ACDC slices and volumes, LA volumes,
// prepared roots), and the checks every loader applies to a pair read from a file.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bcp/data/label_values.h"

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

/// Checks an image/label pair read from `path` (spatial rank `rank`, label values as `labels`;
/// the image with a leading axis of `channels` when channels > 1) and returns it as a Sample.
/// Shared by the ACDC and LA loaders; throws std::runtime_error naming `path`.
Sample validate_sample(const std::string& path, torch::Tensor image, torch::Tensor label,
                       int64_t rank, const LabelValues& labels, std::string name,
                       int64_t channels = 1);

/// Reads `image` and `label` from an HDF5 file and validates them (see validate_sample).
Sample load_h5_sample(const std::string& path, int64_t rank, const LabelValues& labels,
                      std::string name, int64_t channels = 1);

/// Cases held in memory (ACDC slices or volumes, LA volumes), each read and validated once, in
/// list order: what the dataset loaders (load_acdc_slices, load_la_volumes) return.
class SampleDataset {
 public:
  SampleDataset() = default;
  explicit SampleDataset(std::vector<Sample> samples) : samples_(std::move(samples)) {}
  size_t size() const { return samples_.size(); }
  /// The i-th case (tensors shared, not copied: clone before modifying in place).
  /// Throws std::out_of_range when i >= size().
  const Sample& get(size_t i) const;
  const std::vector<Sample>& samples() const { return samples_; }

 private:
  std::vector<Sample> samples_;
};

}  // namespace bcp::data
