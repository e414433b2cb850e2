// Per-case scores and their summary as the paper reports them (mean over cases per class, then
// over classes), in JSON, CSV and a printed table; plus scoring two folders of label files.
#pragma once
#include <torch/types.h>

#include <nlohmann/json_fwd.hpp>

#include <map>
#include <string>
#include <vector>

#include "bcp/eval/binary_metrics.h"

namespace bcp::eval {

/// The four metrics of one class of one case.
struct CaseScore {
  /// Case name, e.g. "patient002_frame01".
  std::string case_name;
  /// Class label, >= 1.
  int cls = 1;
  /// Dice and Jaccard as fractions; hd95 and asd in the report's unit.
  BinaryScores scores;
  /// The class is absent from the prediction / the reference of this case. BCP then scores all
  /// four metrics 0, so 95HD 0 and ASD 0 there mean "nothing to measure", not a perfect match.
  bool pred_empty = false;
  bool ref_empty = false;
};

struct ScoreReport {
  /// Unit of hd95 and asd: "voxels" or "mm".
  std::string unit = "voxels";
  /// One entry per (case, class), in the order they were scored.
  std::vector<CaseScore> cases;
  /// Where the predictions came from (`evaluate`: model, data_root, list, dataset), written as
  /// "source" so a report can find the images again; empty: not written.
  std::map<std::string, std::string> source;
  /// Reference files that had no prediction to score (`score`: a folder of references may hold
  /// more cases than were predicted; a half-finished prediction folder shows here).
  std::vector<std::string> unscored_references;
};

/// The scores of one case, classes 1..num_classes-1, with their emptiness flags
/// (per_class_scores plus the flags). `unannotated` (bool, the labels' shape; undefined: none)
/// marks reference voxels nobody annotated: they are background in both masks, so they count for
/// no class, and a class that neither the annotated reference nor the prediction there holds is
/// left out (nnU-Net's NaN) where BCP's convention for full annotations scores it 0; a class
/// predicted where the annotation has none still scores 0 (false positives).
std::vector<CaseScore> case_scores(const std::string& case_name, const torch::Tensor& pred_labels,
                                   const torch::Tensor& ref_labels, int num_classes,
                                   const std::vector<double>& spacing = {},
                                   const torch::Tensor& unannotated = {});

/// How many (case, class) entries have an empty prediction and an empty reference.
struct EmptyCounts {
  int pred = 0;
  int ref = 0;
};
EmptyCounts count_empty(const ScoreReport& report);

/// Mean of each metric over the cases of each class, keyed by class (ascending).
std::map<int, BinaryScores> per_class_mean(const ScoreReport& report);

/// Mean over classes of per_class_mean: the paper's headline numbers. All 0 for an empty report.
BinaryScores overall_mean(const ScoreReport& report);

/// {"unit": U, "cases": [{"case", "class", "dice", "jaccard", "hd95", "asd", "pred_empty",
///  "ref_empty"}, ...], "per_class": {"1": {"dice", "jaccard", "hd95", "asd"}, ...},
///  "mean": {...}, "empty": {"pred": n, "ref": n, "convention": "..."}}; Dice and Jaccard as
/// fractions.
nlohmann::json report_to_json(const ScoreReport& report);

/// Writes report_to_json to `json_path` and the cases as CSV
/// (case,class,dice,jaccard,hd95,asd,pred_empty,ref_empty)
/// beside it with the extension .csv. Each file is written under a temporary name and then
/// renamed, so readers never see half-written output; missing parent folders are created.
/// Throws std::invalid_argument when json_path ends in .csv, std::runtime_error on IO errors.
void write_report(const ScoreReport& report, const std::string& json_path);

/// The paper-style table: one row per class and a mean row, Dice %, Jaccard %, 95HD, ASD, with
/// the unit and the number of cases in the heading, and a note when some cases were empty. Ends
/// with a newline.
std::string format_table(const ScoreReport& report);

/// What `bcp score` scores.
struct ScoreDirsOptions {
  /// Folder of predicted label files (.h5/.hdf5 with dataset `label` or `pred`, or
  /// .nii/.nii.gz/.nrrd/.nhdr/.mha/.mhd).
  std::string pred_dir;
  /// Folder holding a reference file of the same name for every prediction.
  std::string ref_dir;
  /// Voxel spacing per axis (torch order, e.g. z,y,x), overriding the files'; empty = take it
  /// from the reference file's header if it has one (unit mm), else voxel units.
  std::vector<double> spacing;
  /// Number of classes K including background; classes 1..K-1 are scored. 0 = the number of
  /// "labels" in an nnU-Net dataset.json in ref_dir or its parent; without one it is an error
  /// (the largest voxel value is no class count: a 0/255 mask is two classes, not 256).
  int num_classes = 0;
};

/// Scores every label file of options.pred_dir against its namesake in options.ref_dir, per
/// class (a class absent from the prediction or the reference scores 0, as in BCP, and is
/// flagged). Files are taken in name order; the case name is the file name without its extension.
/// Throws std::invalid_argument / std::runtime_error with a one-line message naming the file:
/// missing folder, no label files, missing reference, unknown class count, shape mismatch,
/// geometry mismatch (spacing, origin or direction, when both files carry them), labels outside
/// [0, K-1], spacing of the wrong length or non-positive, or a mix of mm and voxel cases.
ScoreReport score_mask_dirs(const ScoreDirsOptions& options);

}  // namespace bcp::eval
