// Which values a label file may hold. A mask holds the classes 0..K-1; a dataset with partial
// annotations (nnU-Net v2's "ignore" label) also holds kIgnoreLabel on the voxels nobody
// annotated, which get no loss and no score (as in nnU-Net) and are never predicted.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>

namespace bcp::data {

/// The stored value of an unannotated voxel: bcp stores masks as uint8, so a dataset with an
/// ignore label has at most 255 classes (0..254).
constexpr int64_t kIgnoreLabel = 255;

struct LabelValues {
  int64_t max_label = 0;  ///< the largest class value (classes - 1)
  bool ignore = false;    ///< kIgnoreLabel may occur as well
  /// Implicit: a plain class range is what most loaders are given.
  LabelValues(int64_t max_label) : max_label(max_label) {}  // NOLINT(google-explicit-constructor)
  LabelValues(int64_t max_label, bool ignore) : max_label(max_label), ignore(ignore) {}
  /// "0..3", or "0..3 and 255 (not annotated)".
  std::string text() const;
};

/// Whether `labels` (integer, any shape) hold a value outside `values`.
bool has_foreign_label(const torch::Tensor& labels, const LabelValues& values);

/// Where labels are annotated: labels != kIgnoreLabel, as bool.
torch::Tensor annotated(const torch::Tensor& labels);

}  // namespace bcp::data
