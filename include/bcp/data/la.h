// Left atrium (2018 LA Segmentation Challenge) in the UA-MT/BCP HDF5 layout:
//   <root>/train.list, val.list, test.list        one volume id a line
//   <root>/2018LA_Seg_Training Set/<id>/mri_norm2.h5
//     `image` float32 (X, Y, Z) z-score normalised, `label` uint8 (X, Y, Z) 0/1
// Axes stay in file order (no transpose): the authors' 112x112x80 patches are taken in it.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "bcp/data/sample.h"

namespace bcp::data {

/// Number of LA classes, background included.
constexpr int kLaNumClasses = 2;

/// Paths inside an LA root folder.
struct LaRoot {
  std::string root;
  explicit LaRoot(std::string root_dir) : root(std::move(root_dir)) {}
  /// <root>/<list_name>
  std::string list_path(const std::string& list_name) const;
  /// <root>/2018LA_Seg_Training Set/<id>/mri_norm2.h5
  std::string volume_path(const std::string& id) const;
  /// read_case_list(list_path(list_name)).
  std::vector<std::string> read_list(const std::string& list_name) const;
};

/// Loads one volume: image float32 (X, Y, Z), label uint8 (X, Y, Z) in 0..1. Throws
/// std::runtime_error, one line naming the file (missing/truncated file, missing dataset, wrong
/// rank/dtype, shape mismatch, NaN/Inf, labels outside `labels`: LA 0..1; a `bcp prepare`d
/// 3D root has its own class count). With `channels` > 1 the image is (channels, X, Y, Z).
Sample load_la_volume(const LaRoot& root, const std::string& id,
                      const LabelValues& labels = kLaNumClasses - 1, int64_t channels = 1);

/// Loads the volumes `ids` in order, each read and validated once.
SampleDataset load_la_volumes(const LaRoot& root, const std::vector<std::string>& ids);

}  // namespace bcp::data
