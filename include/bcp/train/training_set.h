// What a training run reads: the labeled and unlabeled cases of the train list, held in
// memory, and the validation volumes; and how a step's batch is drawn from them.
#pragma once
#include <torch/types.h>

#include <random>
#include <string>
#include <vector>

#include "bcp/data/sample.h"
#include "bcp/train/config.h"

namespace bcp::train {

/// Training cases in list order: the first `labeled` carry usable labels.
struct TrainingSet {
  std::vector<std::string> names;
  std::vector<torch::Tensor> images;  ///< ACDC (H, W) / LA (X, Y, Z) float32; channels first if > 1
  std::vector<torch::Tensor> labels;  ///< same shapes, uint8 (unlabeled cases' labels unused)
  int64_t labeled = 0;
  /// Per foreground class k (entry k - 1): the labeled items whose label holds it, ascending;
  /// what foreground oversampling draws from (filled by index_foreground).
  std::vector<std::vector<int64_t>> labeled_with_class;
  int64_t size() const { return static_cast<int64_t>(images.size()); }
};

/// What a resume checks it trains on the same cases: their number, the labeled count and a hash of
/// the names in order (a reordered list changes which cases are labeled).
std::string cases_fingerprint(const TrainingSet& set);

/// Validation volumes (image float32, label uint8) with their names.
using ValidationSet = std::vector<data::Sample>;

/// Fills set.labeled_with_class for classes 1..num_classes-1 (only labeled items are read: the
/// labels of unlabeled items are never used).
void index_foreground(TrainingSet& set, int64_t num_classes);

/// Loads `config.data.train_list` of `root`: the first `data.labeled` names are labeled, the
/// next `data.unlabeled` (all when -1) unlabeled; indexes their foreground when
/// data.foreground_oversample asks for it. Errors name the file.
TrainingSet load_training_set(const TrainConfig& config, const std::string& root);
/// Loads `config.data.val_list` (at most eval.max_cases cases).
ValidationSet load_validation_set(const TrainConfig& config, const std::string& root);

/// One step's input: images (N, 1, spatial...) float32 and labels (N, spatial...) int64.
struct Batch {
  torch::Tensor images;
  torch::Tensor labels;
};

/// How many of `labeled_entries` labeled batch entries oversampling draws to hold foreground:
/// those at labeled position >= round(n * (1 - share)) (nnU-Net's rule), the last ones.
int64_t oversampled_entries(int64_t labeled_entries, double share);

/// Augments (dataset's training transform, to data.patch) and stacks the cases `indices`. With
/// data.foreground_oversample > 0 the last oversampled_entries() labeled entries are drawn to
/// hold foreground: a class uniformly among the foreground classes present (in the item for 3-D,
/// in any labeled item for 2-D), then a 3-D crop centred on one of its voxels, or in 2-D the item
/// itself if it holds the class, else a labeled item drawn uniformly among those that do.
Batch make_batch(const TrainingSet& set, const std::vector<int64_t>& indices,
                 const TrainConfig& config, std::mt19937_64& rng);

}  // namespace bcp::train
