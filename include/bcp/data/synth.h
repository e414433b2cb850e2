// Synthetic stand-ins for ACDC and LA, written in exactly the real layouts (see acdc.h, la.h) so
// every command runs without the real data. Deterministic: the same options give the same
// tensors; each case depends only on (seed, case), not on how many cases are generated.
// Not trivially separable on purpose (overlapping intensities, distractor blobs, bias field,
// Rician noise, shape variation), so semi-supervised training has something to gain.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bcp/data/sample.h"

namespace bcp::data {

struct SynthAcdcOptions {
  /// Seeds everything; same seed -> same dataset.
  uint64_t seed = 0;
  /// Patients whose frames go to train.list / train_slices.list (written as 2D slices).
  int train_patients = 20;
  /// Patients whose frames go to val.list (written as 3D volumes).
  int val_patients = 4;
  /// Patients whose frames go to test.list (written as 3D volumes).
  int test_patients = 4;
  /// Slice height and width are drawn per patient in [min_side, max_side].
  int min_side = 112;
  int max_side = 144;
  /// Slices per volume, drawn per patient in [min_slices, max_slices].
  int min_slices = 8;
  int max_slices = 10;
};

/// One cardiac frame: image float32 (D, H, W) in [0, 1], label uint8 (D, H, W) with 0 background,
/// 1 RV (crescent), 2 myocardium (ring), 3 LV (disk); name "patientXXX_frameYY".
/// `patient` is 1-based; `frame` is 1 (end-diastole) or 2 (end-systole: smaller LV, thicker wall).
Sample synth_acdc_volume(const SynthAcdcOptions& opt, int patient, int frame);

/// Writes an ACDC-layout dataset to `out_dir` (created if needed): data/slices/<name>_slice_<z>.h5
/// for train patients (z 1-based), data/<name>.h5 for val/test patients, then train_slices.list,
/// train.list, val.list, test.list. Patients are numbered 1.. in train, val, test order. Lists are
/// removed first and written last (each via rename), so a dataset without test.list is incomplete.
/// Throws std::invalid_argument for bad options, std::runtime_error for IO.
void write_synth_acdc(const std::string& out_dir, const SynthAcdcOptions& opt);

struct SynthLaOptions {
  /// Seeds everything; same seed -> same dataset.
  uint64_t seed = 0;
  /// Volumes in train.list / val.list / test.list.
  int train_cases = 8;
  int val_cases = 2;
  int test_cases = 2;
  /// Volume size in file axis order (X, Y, Z).
  int64_t size_x = 96;
  int64_t size_y = 96;
  int64_t size_z = 64;
  /// Label the atrial wall (the enhanced shell around the blood pool) as class 2: a second
  /// structure adjacent to the first, for 3-class data. Off: LA's 0/1 labels.
  bool label_wall = false;
};

/// Name of LA case `index` (0-based over train, val, test), e.g. "SYNTHLA007".
std::string synth_la_id(int index);

/// One atrium-like volume: image float32 (X, Y, Z) z-score normalised, label uint8 0/1.
Sample synth_la_volume(const SynthLaOptions& opt, int index);

/// Writes an LA-layout dataset: "2018LA_Seg_Training Set"/<id>/mri_norm2.h5, then train.list,
/// val.list, test.list (removed first, written last, as for ACDC).
void write_synth_la(const std::string& out_dir, const SynthLaOptions& opt);

struct SynthNnunetOptions {
  /// Seeds everything; same seed -> same dataset.
  uint64_t seed = 0;
  /// 2: cardiac-like volumes (4 classes, sliced for 2D training); 3: atrium-like (2 classes).
  int dim = 2;
  /// Cases in imagesTr + labelsTr, in unlabeledTr (images only), and in imagesTs + labelsTs.
  int labeled = 6;
  int unlabeled = 6;
  int test = 2;
  /// Image channels (CASE_0000, CASE_0001, ...): channel k > 0 is another contrast of the same
  /// anatomy (inverted, rescaled, with its own noise), as T1/T2 pairs are.
  int channels = 1;
  /// dim 3: volume size in ITK index order (X, Y, Z).
  int64_t size_x = 64;
  int64_t size_y = 64;
  int64_t size_z = 48;
  /// Classes with background: 0 = the kind's own (dim 2: 4 cardiac classes; dim 3: 2, atrium).
  /// dim 2 also takes 2 (the heart as one class); dim 3 also 3 (blood pool + atrial wall).
  int classes = 0;
  /// dim 3: each case's size per axis drawn in size * [1 - jitter, 1 + jitter] (0: all alike).
  double size_jitter = 0.0;
  /// Voxel spacing in ITK order (x, y, z) mm for every case; empty: scanner-like defaults that
  /// vary a little per case (2D 1.4 x 1.4 x 8-9 mm slices, 3D about 0.7 x 0.75 x 1.25 mm).
  std::vector<double> spacing;
  /// Files of other types, as real datasets mix them: odd cases' images float32 (else int16),
  /// every third case's label float32 holding whole numbers (else uint8).
  bool mixed_dtypes = false;
  /// Partial annotations, as sparse labeling leaves them: dataset.json gains nnU-Net's "ignore"
  /// label (value K, after the classes), and every label file holds it on every other slice
  /// along its slowest axis and on the first quarter of rows of the other slices.
  bool partial_labels = false;
};

/// Writes an nnU-Net v2 raw dataset of NIfTI files (dataset.json, imagesTr/CASE_0000.nii.gz,
/// labelsTr/CASE.nii.gz, unlabeledTr/, imagesTs/, labelsTs/) made from the ACDC- or LA-like
/// synthetic volumes above, with what real scans have and the HDF5 layouts lack: raw int16
/// intensities (not normalised), anisotropic spacing, a non-zero origin and an oblique direction.
/// dataset.json is written last. Throws std::invalid_argument for bad options.
void write_synth_nnunet(const std::string& out_dir, const SynthNnunetOptions& opt);

}  // namespace bcp::data
