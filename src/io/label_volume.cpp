#include "bcp/io/label_volume.h"

#include <torch/torch.h>

#include <filesystem>
#include <stdexcept>

#include "bcp/io/h5.h"
#include "bcp/io/nifti.h"
#include "bcp/util/text.h"

namespace bcp::io {
namespace {

LabelVolume read_h5_labels(const std::string& path) {
  H5File f(path);
  std::string name;
  if (f.has("label")) {
    name = "label";
  } else if (f.has("pred")) {
    name = "pred";
  } else {
    throw std::runtime_error(path + ": has neither a 'label' nor a 'pred' dataset");
  }
  LabelVolume v;
  v.labels = f.read(name);
  const int64_t rank = v.labels.dim();
  v.spacing.assign(static_cast<size_t>(std::max<int64_t>(rank, 0)), 1.0);
  if (f.has("spacing")) {
    torch::Tensor s = f.read("spacing").to(torch::kFloat64).flatten();
    if (s.numel() != rank)
      throw std::invalid_argument(path + ": dataset 'spacing' has " + std::to_string(s.numel()) +
                                  " values for a " + std::to_string(rank) + "D '" + name + "'");
    for (int64_t i = 0; i < rank; ++i) v.spacing[i] = s[i].item<double>();
    v.spacing_from_header = true;
  }
  return v;
}

}  // namespace

LabelVolume read_label_volume(const std::string& path) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such file");
  LabelVolume v;
  if (is_h5_path(path)) {
    v = read_h5_labels(path);
  } else if (is_itk_volume_path(path)) {
    Volume vol = read_volume(path);
    v.labels = vol.data;
    v.spacing = vol.spacing;
    v.spacing_from_header = true;
    v.origin = vol.origin;
    v.direction = vol.direction;
  } else {
    throw std::runtime_error(path +
                             ": unsupported label file extension (expected .h5, .hdf5, .nii, "
                             ".nii.gz, .nrrd, .nhdr, .mha or .mhd)");
  }

  const int64_t rank = v.labels.dim();
  if (rank != 2 && rank != 3)
    throw std::invalid_argument(path + ": labels must be 2D or 3D, got rank " +
                                std::to_string(rank));
  for (double s : v.spacing)
    if (!(s > 0))
      throw std::invalid_argument(path + ": spacing must be positive, got " + std::to_string(s));
  torch::Tensor l = v.labels;
  if (l.is_floating_point()) {
    if (!torch::isfinite(l).all().item<bool>())
      throw std::invalid_argument(path + ": labels contain NaN or Inf");
    if (!torch::equal(l, torch::round(l)))
      throw std::invalid_argument(path + ": float labels hold non-integer values");
  } else if (l.scalar_type() == torch::kBool) {
    // 0/1 masks are fine as they are.
  } else if (!c10::isIntegralType(l.scalar_type(), /*includeBool=*/false)) {
    throw std::invalid_argument(path + ": labels have non-integer dtype " +
                                std::string(c10::toString(l.scalar_type())));
  }
  l = l.to(torch::kInt64);
  if (l.numel() > 0) {
    const int64_t lo = l.min().item<int64_t>();
    if (lo < 0)
      throw std::invalid_argument(path + ": labels must be >= 0, found " + std::to_string(lo));
  }
  v.labels = l.contiguous();
  return v;
}

#ifndef BCP_WITH_ITK
// Builds without ITK drop nifti_itk.cpp; these keep nifti.h's promise of a clear error.
Volume read_volume(const std::string& path) {
  throw std::runtime_error(path + ": cannot read: bcp was built without ITK (BCP_WITH_ITK=OFF)");
}
void write_volume(const std::string& path, const torch::Tensor&, const std::vector<double>&,
                  const std::vector<double>&, const std::vector<double>&) {
  throw std::runtime_error(path + ": cannot write: bcp was built without ITK (BCP_WITH_ITK=OFF)");
}
#endif

}  // namespace bcp::io
