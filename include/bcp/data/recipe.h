// A recipe: everything that differs between bcp's two ways of training, in one table that generic
// code reads instead of branching on a dataset's name (as nnU-Net's plans hold what its trainer
// does not hard-code). Two recipes exist, named after the experiments they reproduce bit for bit:
//   "acdc": 2-D slices, UNet, the SSL4MIS losses, slice-wise evaluation (any class count);
//   "la":   3-D volumes, VNet, the UA-MT losses, sliding-window evaluation (any class count).
// A user's dataset gets one of the two from `bcp prepare --dim`, with its own classes, channels,
// patch, batches and schedule in the plan (train/plan.h); the recipe stays the method's.
#pragma once
#include <cstdint>
#include <string>

#include "bcp/data/dataset_kind.h"
#include "bcp/data/intensity.h"
#include "bcp/data/sample.h"

namespace bcp::data {

/// The supervised and mixed losses (train/losses.h): the SSL4MIS DiceLoss on probabilities,
/// 0.5 (CE + Dice), or BCP's LA mask_DiceLoss on logits, (CE + Dice) / 2.
enum class LossFamily { kSsl4mis, kUamt };

/// How the teacher's logits become hard pseudo-labels before the largest-component step: the
/// argmax, or (two classes only) foreground where its probability is >= 0.5, as LA's code does;
/// with more classes the threshold rule takes the argmax (as la_predict_volume does).
enum class PseudoLabelRule { kArgmax, kForegroundHalf };

/// Where a root keeps its files and how a case is read: training slices and evaluation volumes
/// (ACDC: data/slices/*.h5, data/*.h5), or volumes for both ("2018LA_Seg_Training Set"/ID/...).
enum class FileLayout { kSlices, kVolumes };

/// How a volume is evaluated: slice by slice at the training resolution, or by a sliding window.
enum class EvalKind { kSliceWise, kSlidingWindow };

struct Recipe {
  Dataset name;
  int spatial_dims;  ///< of the network and the training patch: 2 (UNet) or 3 (VNet)
  FileLayout layout;
  LossFamily loss;
  PseudoLabelRule pseudo_label;
  /// BCP self-training passes the mixed batches in the authors' order: ACDC the unlabeled-
  /// background batch first, LA the labeled-background one (the order changes the float sums).
  bool unlabeled_pass_first;
  /// BCP pre-training's loss: the mixed loss over both regions (ACDC), or the supervised loss
  /// on the pasted label (LA).
  bool pretrain_mixed_loss;
  EvalKind eval;
  int64_t default_classes;  ///< the reference dataset's (ACDC 4, LA 2)
  /// How the reference files were normalised, which "auto" means for raw scans: ACDC min-max,
  /// LA z-score (per volume).
  IntensityKind reference_intensity;
  const char* protocol_text;  ///< for summaries: "slice-wise 2D" or "sliding window 3D"
};

/// The recipe of a name; the one table of what differs.
const Recipe& recipe_of(Dataset name);
/// The reference dataset whose recipe trains networks of `spatial_dims` (2: acdc, 3: la): what a
/// network without a recorded dataset (an imported or older checkpoint) is taken for.
Dataset reference_dataset(int64_t spatial_dims);

/// The file of evaluation volume `name` in a root of the recipe's layout.
std::string volume_path(Dataset recipe, const std::string& root, const std::string& name);
/// Reads and checks evaluation volume `name` (acdc.h, la.h: label values as `labels`, `channels`
/// image channels); throws std::runtime_error naming the file.
Sample load_volume(Dataset recipe, const std::string& root, const std::string& name,
                   const LabelValues& labels, int64_t channels);
/// Reads and checks training item `name`: a slice (layout kSlices) or a volume.
Sample load_training_item(Dataset recipe, const std::string& root, const std::string& name,
                          const LabelValues& labels, int64_t channels);

}  // namespace bcp::data
