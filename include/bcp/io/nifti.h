// Medical image volumes in NIfTI (.nii/.nii.gz), NRRD (.nrrd/.nhdr) and MetaImage (.mha/.mhd),
// read and written through ITK. Only present in builds with ITK (BCP_WITH_ITK); without it every
// function throws std::runtime_error saying so.
//
// Axis convention: a tensor's axes are ITK's index axes reversed, i.e. a NIfTI image of ITK
// size (W, H, D) (x fastest in memory) becomes a torch tensor (D, H, W), so the memory layout is
// shared and nothing is transposed. `spacing`, `origin` use the same (torch) axis order;
// `direction` is the ITK direction matrix, row-major, with rows and columns both in torch order.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "bcp/io/volume_format.h"

namespace bcp::io {

struct Volume {
  /// (D, H, W) or (H, W). float32 for floating-point files; integer files keep an integer dtype
  /// (uint8, int8, int16, int32, int64; uint16 -> int32, uint32/uint64 -> int64).
  torch::Tensor data;
  /// mm per voxel, one per axis of `data` (torch order).
  std::vector<double> spacing;
  /// Physical position of voxel 0, one per axis (torch order).
  std::vector<double> origin;
  /// rank x rank direction cosines, row-major, torch order (identity for most files).
  std::vector<double> direction;
};

/// True for the extensions this module reads (.nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd),
/// case-insensitive (volume_format.h). Callers can dispatch on it in builds without ITK.
inline bool is_itk_volume_path(const std::string& path) {
  return is_itk_format(volume_format(path));
}

/// Reads a 2D or 3D scalar image. Throws std::runtime_error naming the file when it is missing,
/// unreadable, of an unsupported extension, 4D or more, or multi-component.
Volume read_volume(const std::string& path);

/// Writes `data` ((D,H,W) or (H,W); float32/64, uint8, int8, int16, int32, int64, bool -> uint8)
/// to `path`, one of the single-file formats .nii, .nii.gz, .nrrd, .mha (format from the
/// extension). Empty `spacing`/`origin`/`direction` mean 1.0 / 0.0 / identity. Written to a
/// temporary name in the same folder, then renamed, so a reader never sees a half-written file.
/// Throws std::invalid_argument for bad arguments, std::runtime_error for IO.
void write_volume(const std::string& path, const torch::Tensor& data,
                  const std::vector<double>& spacing = {}, const std::vector<double>& origin = {},
                  const std::vector<double>& direction = {});

}  // namespace bcp::io
