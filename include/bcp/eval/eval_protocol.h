// How a network is evaluated and applied: the dataset's protocol (ACDC slice-wise at a slice size,
// LA sliding window with a patch and stride), its post-processing and the intensity rule for raw
// scans. Training writes it into every checkpoint (meta "eval_protocol"), so evaluation and
// prediction read this one small record and never the training config's keys.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstdint>
#include <string>

#include "bcp/data/dataset_kind.h"
#include "bcp/data/intensity.h"
#include "bcp/eval/acdc_protocol.h"
#include "bcp/eval/la_protocol.h"

namespace bcp::nets {
struct ModelConfig;
}  // namespace bcp::nets

namespace bcp::eval {

/// Its defaults are the protocols' own (acdc_protocol.h, la_protocol.h): the paper's.
struct EvalProtocol {
  data::Dataset dataset = data::Dataset::kAcdc;     ///< acdc: 2D slice-wise; la: 3D sliding window
  int64_t acdc_slice = AcdcProtocolOptions{}.size;  ///< ACDC: each slice resized to this side
  std::array<int64_t, 3> la_patch = SlidingWindowOptions{}.patch;    ///< LA: sliding-window patch
  std::array<int64_t, 3> la_stride = SlidingWindowOptions{}.stride;  ///< LA: sliding-window stride
  /// LA: keep the largest connected component of the mask.
  bool largest_component = LaProtocolOptions{}.largest_component;
  /// Reference labels hold data::kIgnoreLabel where nobody annotated (nnU-Net's "ignore"):
  /// those voxels are left out of every score.
  bool ignore_label = false;
  /// For raw scans (`bcp predict`); "auto" means the authors' files: ACDC min-max, LA z-score.
  data::IntensityNorm intensity{data::IntensityKind::kAuto, -1000.0, 1000.0};
};

/// Throws std::invalid_argument naming the field: another dataset, sizes < 1, a stride outside
/// [1, patch], a bad intensity rule.
void validate(const EvalProtocol& protocol);

/// JSON: {"dataset", "acdc_slice", "la_patch", "la_stride", "largest_component", "intensity":
/// {"kind", "ct_low", "ct_high"}}, and "ignore_label" only when true (so that checkpoints without
/// partial annotations read as before). Reading defaults missing keys, refuses unknown ones and
/// validates.
void to_json(nlohmann::json& j, const EvalProtocol& protocol);
void from_json(const nlohmann::json& j, EvalProtocol& protocol);

/// The protocol a checkpoint carries: meta "eval_protocol" (every training checkpoint), else,
/// for files without one (`bcp import`, `save_model`, checkpoints of bcp before the record), the
/// dataset its meta names ("extra"."dataset") or its architecture's (unet2d -> acdc, vnet -> la)
/// with the protocol's defaults, patched by `legacy_protocol` below for older training
/// checkpoints. Throws std::runtime_error when the recorded protocol is malformed.
EvalProtocol checkpoint_eval_protocol(const nlohmann::json& meta, const nets::ModelConfig& config);

/// Checkpoints written by bcp before "eval_protocol" existed carry only their training config:
/// their resolution (data.patch), LA stride (eval.stride) and intensity rule are read from it
/// here, the one place that still knows those keys, so such runs keep evaluating as they were
/// validated.
void legacy_protocol(const nlohmann::json& training_config, EvalProtocol& protocol);

}  // namespace bcp::eval
