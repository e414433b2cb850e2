// `bcp predict` as a library: a checkpoint segments new scans. The checkpoint says everything:
// the network, its classes, the intensity rule of its training data and the protocol it was
// validated with (2D models slice-wise as on ACDC, 3D models with the sliding window as on LA).
// Masks are written under the input's file name, in its format and with its exact geometry, so
// they overlay the scan in a viewer.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bcp/nets/precision.h"
#include "bcp/util/enum_names.h"

namespace bcp::eval {

struct PredictedCase {
  std::string input;
  std::string output;
  std::string probabilities;  ///< the probabilities file, when saved
  double seconds = 0;
};

/// Post-processing of `bcp predict`: "auto" (the protocol's: the largest component for 3D
/// models, none for 2D ones), "on" (the largest component of every class) or "off".
enum class LargestComponent { kAuto, kOn, kOff };
BCP_ENUM_NAMES(LargestComponent, {LargestComponent::kAuto, "auto"}, {LargestComponent::kOn, "on"},
               {LargestComponent::kOff, "off"})

/// Called after each case with its result, its 0-based index and the number of cases.
using PredictProgress = std::function<void(const PredictedCase&, size_t index, size_t count)>;

struct PredictOptions {
  std::string model_path;    ///< bcp checkpoint (saved model, trainer checkpoint, `bcp import`)
  std::string model_prefix;  ///< "" (the model / student) or "teacher"
  /// A file, or a folder whose .nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd, .h5 files are all read.
  /// ITK formats are raw scans: normalised with the checkpoint's intensity rule. HDF5 files hold
  /// an already-normalised `image` (the authors' and `bcp prepare`'s layout) and are used as is.
  std::string input;
  std::string out_dir;  ///< created; must not be the input's folder
  std::string device = "cpu";
  nets::Precision precision = nets::Precision::kFp32;
  LargestComponent largest_component = LargestComponent::kAuto;
  /// Also write OUT/probabilities/NAME.h5: dataset `probabilities` (C, then the mask's array
  /// axes), float32, the protocol's class probabilities before any largest-component step (2D
  /// models: the softmax zoomed back like the mask; 3D: the averaged sliding-window softmax),
  /// with the mask's `spacing`, `origin` and `direction` for ITK inputs (torch axis order, as
  /// io::Volume keeps them).
  bool save_probabilities = false;
  PredictProgress progress;
  /// Called, before the first case, with each thing a user should know about how the input was
  /// read (for example files named like channels of one scan given to a one-channel model).
  std::function<void(const std::string&)> note;
};

/// Segments every input and writes, for input NAME.EXT, OUT/NAME.EXT (.nhdr -> .nrrd and .mhd ->
/// .mha: single files; nnU-Net's channel suffix dropped, CASE_0000.nii.gz -> CASE.nii.gz) as uint8
/// labels with the input's spacing, origin and direction, or for HDF5
/// OUT/NAME.h5 with dataset `pred`. With a one-channel model, files that share a case name
/// (CASE_0000, CASE_0001: plain numbering, or channels of one scan) keep their whole names and
/// are noted. Each file is written atomically; OUT/predictions.json, the
/// list of what was written, comes last and marks a complete run (one left by an earlier run is
/// removed first). Options, the checkpoint, file types and output names are checked before the
/// first case runs; a scan's contents (NaN, rank) as it is read, so a run that stops there keeps
/// the masks already written but no predictions.json. Errors are one line naming the file.
std::vector<PredictedCase> predict(const PredictOptions& options);

}  // namespace bcp::eval
