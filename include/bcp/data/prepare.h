// `bcp prepare` as a library: an nnU-Net v2 raw dataset (plus optional unlabeled scans) becomes a
// bcp data root in the layout the trainer already reads:
//   2D (slices, the 2D UNet as on ACDC): data/slices/<case>_slice_<z>.h5 for training cases,
//       data/<case>.h5 volumes for validation, train_slices.list, train.list, val.list;
//   3D (volumes, the VNet as on LA): "2018LA_Seg_Training Set"/<case>/mri_norm2.h5 for every
//       case, train.list, val.list.
// Labeled training items come first in the training list, then the unlabeled ones (their label
// datasets are all zero and never read by training). Every case is normalised per volume (each
// channel on its own) as recorded in bcp_dataset.json, which also keeps each case's geometry.
// Multi-channel images get a leading channel axis in `image` (single-channel ones keep the
// authors' layout without one).
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

#include "bcp/data/intensity.h"

namespace bcp::data {

struct PreparedDataset;

struct PrepareOptions {
  std::string nnunet_dir;     ///< nnU-Net raw dataset folder (data/nnunet.h)
  std::string unlabeled_dir;  ///< optional folder of unlabeled images named like imagesTr
  std::string out_dir;        ///< new data root; must not exist or be empty
  int dim = 2;                ///< 2: slice-wise 2D training; 3: volumes
  /// "auto": "ct" when channel 0 is named CT, else "minmax" for 2D and "zscore" for 3D (as the
  /// ACDC and LA files were made); or zscore, minmax, ct, none (data/intensity.h).
  IntensityKind intensity = IntensityKind::kAuto;
  double ct_low = -1000.0, ct_high = 1000.0;
  double val_fraction = 0.2;  ///< share of labeled cases held out for validation (at least one)
  uint64_t seed = 0;          ///< seeds the validation split
  std::vector<std::string> val_cases;  ///< explicit validation cases (overrides the split)
  /// Called with the fingerprint before the lists and bcp_dataset.json are written; returns
  /// further files (name in the root, text) to write first, and may throw to stop the prepare
  /// while its root is still marked unfinished (`bcp prepare` writes its plan, bcp.json).
  std::function<std::vector<std::pair<std::string, std::string>>(const PreparedDataset&)>
      before_lists;
};

/// Raw intensities of one image channel over the labeled training cases (before normalisation),
/// from a regular sample of at most 20,000 voxels per case.
struct ChannelStats {
  double mean = 0, sd = 0, min = 0, max = 0, p005 = 0, p995 = 0;  ///< p005: 0.5th percentile
};

/// What was written and measured: the dataset's fingerprint, from which the plan (train/plan.h)
/// is made. Stored in ROOT/bcp_dataset.json under "fingerprint" (to_json / from_json).
struct PreparedDataset {
  std::string name;  ///< dataset.json's name
  int dim = 2;
  int64_t channels = 1;                  ///< image channels (files CASE_0000, CASE_0001, ...)
  std::vector<std::string> class_names;  ///< index = label value
  /// Labels hold kIgnoreLabel where nobody annotated (dataset.json's "ignore" label).
  bool ignore_label = false;
  IntensityNorm intensity;
  std::vector<std::string> labeled_cases, unlabeled_cases, val_cases;
  std::string train_list;       ///< "train_slices.list" (2D) or "train.list" (3D)
  int64_t labeled_items = 0;    ///< labeled slices (2D) or volumes (3D) at the head of train_list
  int64_t unlabeled_items = 0;  ///< the rest of train_list
  /// Per stored axis over all training cases: 2D (H, W) of the slices, 3D (X, Y, Z).
  std::vector<int64_t> min_shape, median_shape, max_shape;
  /// Median voxel spacing (mm) per stored axis, as the shapes; 2D: in-plane only.
  std::vector<double> median_spacing;
  /// Median spacing between slices (2D) or along the stored z axis (3D), mm.
  double median_slice_spacing = 1.0;
  /// Share of the annotated labeled training voxels per class (index = label value).
  std::vector<double> class_fraction;
  std::vector<ChannelStats> intensity_stats;  ///< one per channel
};

nlohmann::json fingerprint_to_json(const PreparedDataset& p);
/// Throws std::runtime_error naming what is missing or malformed (check_fingerprint included).
PreparedDataset fingerprint_from_json(const nlohmann::json& j);
/// Throws std::runtime_error unless the fingerprint is one a plan can be made from: dim 2 or 3,
/// shapes of that many axes with sides in [1, 100000], finite spacings > 0 (or none), at least
/// one channel and two classes, and per-class and per-channel lists of the right lengths (or
/// empty).
void check_fingerprint(const PreparedDataset& p);

/// Called once per case as it is written.
using PrepareProgress =
    std::function<void(const std::string& case_name, size_t index, size_t count)>;

/// Reads, checks and writes everything (see the file comment). Lists and bcp_dataset.json are
/// written last, so a root without them is incomplete. Throws std::runtime_error naming the file
/// or case (unreadable image, label values outside dataset.json's labels, image/label or
/// channel/channel geometry mismatch, too few cases) or std::invalid_argument for bad options.
PreparedDataset prepare_nnunet(const PrepareOptions& options, const PrepareProgress& progress = {});

}  // namespace bcp::data
