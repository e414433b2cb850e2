// One experiment's settings: every constant of BCP_SPEC.md, in one JSON file.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "bcp/data/dataset_kind.h"
#include "bcp/data/intensity.h"
#include "bcp/nets/precision.h"
#include "bcp/nets/segmentation_net.h"
#include "bcp/ssl/mask_shapes.h"
#include "bcp/util/enum_names.h"

namespace bcp::train {

using data::Dataset;
using data::IntensityKind;
using nets::Precision;
using ssl::MaskShape;

enum class Method { kSupervised, kMeanTeacher, kBcp };
BCP_ENUM_NAMES(Method, {Method::kSupervised, "supervised"}, {Method::kMeanTeacher, "mean-teacher"},
               {Method::kBcp, "bcp"})

/// The learning rate over a stage: constant, x gamma every step_size steps, or polynomial decay.
enum class LrSchedule { kConstant, kStep, kPoly };
BCP_ENUM_NAMES(LrSchedule, {LrSchedule::kConstant, "constant"}, {LrSchedule::kStep, "step"},
               {LrSchedule::kPoly, "poly"})

/// Which mixed images BCP self-training trains on: both, or the labeled patch pasted into the
/// unlabeled image only (inward), or the unlabeled patch into the labeled one only (outward).
enum class PasteDirection { kBoth, kInward, kOutward };
BCP_ENUM_NAMES(PasteDirection, {PasteDirection::kBoth, "both"}, {PasteDirection::kInward, "inward"},
               {PasteDirection::kOutward, "outward"})

/// The teacher's pseudo-labels: argmax cleaned to its largest component, or probabilities.
enum class PseudoLabel { kHard, kSoft };
BCP_ENUM_NAMES(PseudoLabel, {PseudoLabel::kHard, "hard"}, {PseudoLabel::kSoft, "soft"})

/// How two images are mixed: a box pasted from the other, or a per-pixel blend (mixup).
enum class MixMode { kPaste, kBlend };
BCP_ENUM_NAMES(MixMode, {MixMode::kPaste, "paste"}, {MixMode::kBlend, "blend"})

/// The training recipe. Defaults are the released BCP code's ACDC 5% run; presets in configs/.
struct TrainConfig {
  Dataset dataset = Dataset::kAcdc;  ///< "acdc" (2D UNet on slices) or "la" (3D VNet on volumes)
  Method method = Method::kBcp;      ///< "supervised", "mean-teacher" or "bcp"
  uint64_t seed = 1337;              ///< seeds every generator of the run
  std::string device = "cpu";        ///< "cpu" or "cuda[:i]"
  Precision precision =
      Precision::kFp32;       ///< "fp32" or "bf16" (bf16 compute copy, fp32 master weights)
  bool channels_last = true;  ///< passes run on a channels-last copy of the network (faster
                              ///< convolutions on CPU and GPU; false = the plain layout)
  int64_t world_size = 1;     ///< processes in data-parallel training (1 = single process)
  /// With world_size > 1: train-mode BatchNorm normalises with the statistics of all ranks' shares
  /// together (synchronised BatchNorm) instead of each rank's own share.
  bool sync_batchnorm = false;
  int64_t threads = 0;  ///< intra-op CPU threads; 0 = OMP_NUM_THREADS, else the allowed cores

  struct Data {
    std::string train_list =
        "train_slices.list";            ///< list of training slices (ACDC) or volumes (LA)
    std::string val_list = "val.list";  ///< validation volumes, evaluated with the protocol
    int64_t labeled = 68;    ///< first N list entries are labeled (ACDC 68/136 slices; LA 4/8)
    int64_t unlabeled = -1;  ///< how many of the rest to use as unlabeled (-1 = all)
    std::vector<int64_t> patch = {256, 256};  ///< training patch (ACDC HxW; LA XxYxZ 112x112x80)
    int64_t num_classes = 4;                  ///< including background
    /// Partial annotations (nnU-Net v2's "ignore" label, data/label_values.h): labels hold 255
    /// on voxels nobody annotated, which get no loss and no score. `bcp prepare` sets it.
    bool ignore_label = false;
    /// nnU-Net's foreground oversampling: about this share of each labeled batch (the entries at
    /// labeled position >= round(n * (1 - share))) is drawn to hold foreground: a 3-D crop
    /// centred on a voxel of a foreground class, a 2-D slice holding that class; the class is
    /// drawn uniformly among those present. 0 (the presets): the authors' uniform crops and
    /// slices. 3-D plans from `bcp prepare` use nnU-Net's 0.33.
    double foreground_oversample = 0.0;
    int64_t channels = 1;  ///< image channels (more only in a multi-channel `bcp prepare`d root)
    /// How raw scans become network inputs (data/intensity.h), recorded so `bcp predict` can
    /// normalise new scans as the training data was: "auto" (ACDC min-max, LA z-score, as the
    /// authors' files were made), "zscore", "minmax", "ct" (clip to ct_window, map to [0, 1]) or
    /// "none". Training reads already-normalised files and does not apply it.
    IntensityKind intensity = IntensityKind::kAuto;
    std::vector<double> ct_window = {-1000.0, 1000.0};  ///< [low, high] for "ct"
  } data;

  struct Net {
    /// 3-D recipe: the stride per axis (x, y, z) of each of the VNet's four down-samplings, 1 or
    /// 2, e.g. [[2,2,1],[2,2,1],[2,2,2],[2,2,2]] for thick slices along z (nets::ModelConfig);
    /// [] = 2 everywhere (the reference). Each patch axis is a multiple of its strides' product.
    std::vector<std::vector<int64_t>> strides{};
  } net;

  struct Optim {
    double lr = 0.01;
    double momentum = 0.9;
    double weight_decay = 1e-4;
    LrSchedule schedule = LrSchedule::kConstant;  ///< "constant", "step" or "poly"
    int64_t step_size = 2500;                     ///< for "step"
    double gamma = 0.1;                           ///< for "step"
    double poly_power = 0.9;                      ///< for "poly": lr * (1 - it/max)^power
  } optim;

  struct Batch {
    int64_t labeled = 12;    ///< labeled samples per step (split in two halves for copy-paste)
    int64_t unlabeled = 12;  ///< unlabeled samples per step
  } batch;

  struct Schedule {
    int64_t pretrain_iters = 10000;  ///< BCP stage 1
    int64_t selftrain_iters =
        30000;  ///< BCP stage 2; also the length of supervised / mean-teacher runs
    int64_t val_every =
        200;  ///< validate (and keep the best) every N iterations; 0 = only at the end
    int64_t log_every = 20;          ///< human log line every N iterations
    int64_t checkpoint_every = 200;  ///< write `last` every N iterations (always at the end)
  } schedule;

  struct Bcp {
    double beta = 2.0 / 3.0;  ///< zero-box side ratio of the mask
    double u_weight = 0.5;    ///< weight of pseudo-labeled regions
    double ema_decay = 0.99;  ///< teacher = decay*teacher + (1-decay)*student
    bool ema_buffers = true;  ///< blend BN statistics too (ACDC code: yes; LA code: no)
    bool inherit_optimizer =
        true;  ///< self-training student takes the pre-training optimizer state (ACDC)
    PasteDirection direction = PasteDirection::kBoth;  ///< ablation: "both", "inward" or "outward"
    /// ablation: the copy-paste mask's shape (ssl/mask_shapes.h): "box" (the paper's single
    /// zero box), "boxes" (the authors' random_mask: small boxes on a 3x3(x3) grid) or "contact"
    /// (their contact/concatenation mask: one band)
    MaskShape mask = MaskShape::kBox;
    /// ablation: "hard" (the paper: the teacher's argmax, cleaned to its largest component) or
    /// "soft" (the teacher's probabilities softmax(logits / temperature), ssl/pseudo_label.h)
    PseudoLabel pseudo_label = PseudoLabel::kHard;
    double temperature = 1.0;  ///< for "soft"; < 1 sharpens
    /// ablation: "paste" (the paper: the mask's box comes from the other image) or "blend"
    /// (mixup-style: every pixel is blend_weight * background image + (1 - blend_weight) * other
    /// image, and each pixel's loss weighs the two targets the same way; no box is drawn)
    MixMode mix = MixMode::kPaste;
    double blend_weight = 0.5;  ///< for "blend": the share of the background image, in (0, 1)
  } bcp;

  struct MeanTeacher {
    double ema_decay = 0.99;
    double consistency = 0.1;       ///< final consistency weight
    double rampup_epochs = 200;     ///< sigmoid ramp-up length in "epochs"
    int64_t iters_per_epoch = 150;  ///< SSL4MIS counts epochs as iterations / 150
    double noise_std = 0.1;         ///< teacher input noise, clamped to +-2 std
  } mt;

  struct Eval {
    std::vector<int64_t> stride = {18, 18, 4};  ///< LA sliding-window stride (x, y, z)
    int64_t window_batch = 4;                   ///< windows per forward pass (result is the same)
    int64_t max_cases = -1;  ///< validate on the first N val cases only (-1 = all)
  } eval;
};

/// Reads a config file; unknown keys are errors (a typo must not silently fall back to a default).
TrainConfig load_config(const std::string& path);
TrainConfig config_from_json(const nlohmann::json& j);
nlohmann::json config_to_json(const TrainConfig& c);
/// Applies `key=value` with a dotted key, e.g. "schedule.pretrain_iters=600" or
/// "data.patch=[128,128]".
void apply_override(TrainConfig& c, const std::string& assignment);
/// The network a config trains: the recipe's architecture with the data's channels and classes
/// and `net.strides`. Throws std::invalid_argument for a malformed `net.strides`.
nets::ModelConfig model_config_for(const TrainConfig& config);

/// The network of a recipe's experiments: ACDC's (2-D) the UNet, LA's (3-D) the VNet. The one
/// place that pairs a dataset with a network (training builds by it, import checks by it; the way
/// back, for files that name no dataset, is data::reference_dataset of the network's dims).
nets::Arch arch_for(data::Dataset dataset);
/// Checks values and combinations; throws std::invalid_argument naming the key.
void validate_config(const TrainConfig& c);

/// The most intra-op threads a config (`threads`) or `--threads` may ask for: 4 x the hardware
/// cores.
int64_t max_threads();
/// A built-in preset: dataset, labeled percent 5|10, method.
TrainConfig preset(Dataset dataset, int percent, Method method);
/// The same by name ("acdc", 5, "mean-teacher"); an unknown name lists the valid ones.
TrainConfig preset(const std::string& dataset, int percent, const std::string& method);

}  // namespace bcp::train
