// `bcp evaluate` as a library: a trained network, a split of ACDC or LA, the dataset's evaluation
// protocol on every case, per-class scores as the paper reports them, optional saved predictions.
#pragma once
#include <torch/types.h>

#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bcp/data/sample.h"
#include "bcp/eval/acdc_protocol.h"
#include "bcp/eval/eval_protocol.h"
#include "bcp/eval/la_protocol.h"
#include "bcp/eval/score_report.h"
#include "bcp/nets/precision.h"
#include "bcp/nets/segmentation_net.h"

namespace bcp::eval {

/// Saved masks: "h5" (dataset `pred`, uint8, the image's axis order) or "nii.gz" (see
/// write_prediction).
enum class MaskFormat { kH5, kNiiGz };
BCP_ENUM_NAMES(MaskFormat, {MaskFormat::kH5, "h5"}, {MaskFormat::kNiiGz, "nii.gz"})

/// Called after each case with the case name, its 0-based index and the number of cases.
using EvaluateProgress =
    std::function<void(const std::string& case_name, size_t index, size_t count)>;

/// What `evaluate` does with an already-built network (e.g. the trainer's validation).
struct ModelEvaluateOptions {
  /// acdc (slice-wise protocol, needs a 2D network) or la (sliding window, 3D network).
  data::Dataset dataset = data::Dataset::kAcdc;
  /// ACDC protocol (slices resized to 256 x 256, whole volume per predictor call).
  AcdcProtocolOptions acdc;
  /// LA protocol (patch 112x112x80, stride 18/18/4, window batch 1, threshold 0.5, largest
  /// component); `la.num_classes` is taken from the network.
  LaProtocolOptions la;
  /// Reference labels may hold data::kIgnoreLabel (not annotated): those voxels are set to
  /// background in both masks before scoring, so they count for no class.
  bool ignore_label = false;
  /// Folder for one prediction file per case; empty = save nothing.
  std::string predictions_dir;
  MaskFormat prediction_format = MaskFormat::kH5;
  /// fp32, or bf16: a bf16 compute copy of the network (nets/compute_copy.h) runs the
  /// passes; probabilities, averaging and post-processing stay fp32.
  nets::Precision precision = nets::Precision::kFp32;
  /// fp32 on the CPU with a 2-D network: run an fp32 channels-last copy of it (oneDNN's 2-D
  /// convolutions are about 1.4x faster in that layout; the labels are those of the plain
  /// network but where the last bits of a logit decide). false runs the network as it is.
  bool channels_last = true;
  /// Optional per-case progress callback.
  EvaluateProgress progress;
};

/// Logits of `model` for a batch, computed on the model's device: the input is moved there and
/// the logits stay there. precision "fp32" runs the model itself, or with `channels_last` on the
/// CPU a 2-D model's fp32 channels-last compute copy; "bf16" a bf16 compute copy. A compute copy
/// (nets/compute_copy.h) is made here, with the model's current weights and mode, and kept by
/// the predictor. Throws std::invalid_argument for another precision. The caller sets eval mode
/// (before this call) and no-grad.
Predictor model_predictor(nets::SegmentationNetImpl& model,
                          nets::Precision precision = nets::Precision::kFp32,
                          bool channels_last = true);

/// The dataset protocol on one image (ACDC (D, H, W), LA (X, Y, Z), float32): runs on the
/// model's device, under no-grad, in eval mode (the model's mode is restored afterwards).
/// Returns uint8 labels of the image's shape on the CPU.
torch::Tensor predict_case(nets::SegmentationNetImpl& model, const torch::Tensor& image,
                           const ModelEvaluateOptions& options);

/// Same, with a predictor built once by the caller (model_predictor) for many cases; the caller
/// sets eval mode and no-grad. `probabilities`, when given, receives the protocol's class
/// probabilities (C, image's shape), float32 on the CPU.
torch::Tensor predict_case(nets::SegmentationNetImpl& model, const Predictor& predictor,
                           const torch::Tensor& image, const ModelEvaluateOptions& options,
                           torch::Tensor* probabilities = nullptr);
/// The options that run `protocol` (validated; throws std::invalid_argument when it is not).
ModelEvaluateOptions evaluate_options(const EvalProtocol& protocol);
/// evaluate_options(checkpoint_eval_protocol(meta, config)).
ModelEvaluateOptions checkpoint_protocol(const nlohmann::json& meta,
                                         const nets::ModelConfig& config);
/// Writes uint8 labels to `<dir>/<case_name>.h5` (dataset `pred`) or `<dir>/<case_name>.nii.gz`
/// (voxel spacing 1). NIfTI follows the authors' files: ACDC (D, H, W) arrays as SimpleITK
/// writes them (NIfTI i = W), LA (X, Y, Z) arrays as nibabel writes them (NIfTI i = X).
/// Creates `dir`. Returns the path written.
std::string write_prediction(const std::string& dir, const std::string& case_name,
                             const torch::Tensor& labels, data::Dataset dataset, MaskFormat format);

/// Scores `model` on `cases` (images with their uint8 labels): predict_case on each, then
/// per_class_scores for classes 1..num_classes-1 in voxel units (unit "voxels"). Saves
/// predictions when options.predictions_dir is set. The model is left in the mode it came in.
/// Throws std::invalid_argument when the dataset does not fit the network (2D vs 3D) or is
/// unknown, c10::Error / std::runtime_error for bad cases (case named).
ScoreReport evaluate_model(nets::SegmentationNetImpl& model, const std::vector<data::Sample>& cases,
                           const ModelEvaluateOptions& options);

/// What `bcp evaluate` runs.
struct EvaluateOptions {
  /// Checkpoint: a file written by nets::save_model or a trainer checkpoint (bcp tensor archive).
  std::string model_path;
  /// Network inside the checkpoint: "" = the model (a trainer's student), "teacher" = its teacher.
  std::string model_prefix;
  /// Dataset root: ACDC (<root>/data/<name>.h5) or LA (<root>/2018LA_Seg_Training
  /// Set/<id>/mri_norm2.h5).
  std::string data_root;
  /// Split list file name inside data_root, e.g. "val.list".
  std::string list_name;
  /// Output folder: metrics.json, metrics.csv, predictions/.
  std::string out_dir;
  /// acdc | la; unset = the checkpoint's eval protocol (or, for older files, the dataset its
  /// meta names, else the network's architecture: unet2d -> acdc, vnet -> la).
  std::optional<data::Dataset> dataset;
  /// Torch device string: "cpu", "cuda", "cuda:1".
  std::string device = "cpu";
  /// LA: sliding windows per network call (1 = the authors' behaviour; same results for any value).
  int64_t window_batch = 1;
  /// Write out_dir/predictions/<case>.<format>.
  bool save_predictions = true;
  MaskFormat prediction_format = MaskFormat::kH5;
  /// fp32 or bf16 (see ModelEvaluateOptions::precision).
  nets::Precision precision = nets::Precision::kFp32;
  /// See ModelEvaluateOptions::channels_last.
  bool channels_last = true;
  /// Optional per-case progress callback.
  EvaluateProgress progress;
};

/// Loads the checkpoint (eval mode, no-grad, on options.device), runs the dataset's protocol on
/// every case of the list, writes out_dir/metrics.json + metrics.csv (write_report) and the
/// predictions, and returns the report. Every input is checked before any work starts; a missing
/// checkpoint, root, list or case file throws std::runtime_error naming it, a bad option
/// std::invalid_argument.
ScoreReport evaluate(const EvaluateOptions& options);

}  // namespace bcp::eval
