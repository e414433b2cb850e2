#include "bcp/data/acdc.h"

#include <torch/torch.h>

#include <filesystem>
#include <stdexcept>

#include "bcp/data/case_list.h"
#include "bcp/io/h5.h"

namespace bcp::data {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

}  // namespace

std::string AcdcRoot::list_path(const std::string& list_name) const {
  return (fs::path(root) / list_name).string();
}
std::string AcdcRoot::slice_path(const std::string& name) const {
  check_case_name(name);
  return (fs::path(root) / "data" / "slices" / (name + ".h5")).string();
}
std::string AcdcRoot::volume_path(const std::string& name) const {
  check_case_name(name);
  return (fs::path(root) / "data" / (name + ".h5")).string();
}
std::vector<std::string> AcdcRoot::read_list(const std::string& list_name) const {
  return read_case_list(list_path(list_name));
}

Sample validate_sample(const std::string& path, torch::Tensor image, torch::Tensor label,
                       int64_t rank, int64_t max_label, std::string name, int64_t channels) {
  if (channels > 1) {
    if (image.dim() != rank + 1 || image.size(0) != channels)
      fail(path, "'image' must be " + std::to_string(channels) + " channels of " +
                     std::to_string(rank) + "D (channels first), got shape " +
                     c10::str(image.sizes()));
  } else if (image.dim() != rank) {
    fail(path,
         "'image' must be " + std::to_string(rank) + "D, got shape " + c10::str(image.sizes()));
  }
  if (label.dim() != rank)
    fail(path,
         "'label' must be " + std::to_string(rank) + "D, got shape " + c10::str(label.sizes()));
  if (!image.is_floating_point())
    fail(path, "'image' must be float32, got " + std::string(c10::toString(image.scalar_type())));
  if (label.is_floating_point() || label.scalar_type() == torch::kBool)
    fail(path, "'label' must be uint8, got " + std::string(c10::toString(label.scalar_type())));
  if (image.sizes().slice(image.dim() - rank) != label.sizes())
    fail(path, "'image' shape " + c10::str(image.sizes()) + " != 'label' shape " +
                   c10::str(label.sizes()));
  if (image.numel() == 0) fail(path, "'image' is empty, shape " + c10::str(image.sizes()));
  image = image.to(torch::kFloat32).contiguous();
  if (!torch::isfinite(image).all().item<bool>()) fail(path, "'image' contains NaN or Inf");
  const int64_t lo = label.min().item<int64_t>();
  const int64_t hi = label.max().item<int64_t>();
  if (lo < 0 || hi > max_label)
    fail(path, "'label' values must be in 0.." + std::to_string(max_label) + ", found " +
                   std::to_string(lo) + ".." + std::to_string(hi));
  return Sample{image, label.to(torch::kUInt8).contiguous(), std::move(name)};
}

Sample load_h5_sample(const std::string& path, int64_t rank, int64_t max_label, std::string name,
                      int64_t channels) {
  if (!fs::exists(path)) fail(path, "no such file");
  // H5File's errors already name the file and the dataset (missing, truncated, unreadable).
  io::H5File f(path);
  for (const char* key : {"image", "label"})
    if (!f.has(key)) fail(path, std::string("missing dataset '") + key + "'");
  return validate_sample(path, f.read("image"), f.read("label"), rank, max_label, std::move(name),
                         channels);
}

Sample load_acdc_slice(const AcdcRoot& root, const std::string& name, int64_t max_label,
                       int64_t channels) {
  return load_h5_sample(root.slice_path(name), 2, max_label, name, channels);
}

Sample load_acdc_volume(const AcdcRoot& root, const std::string& name, int64_t max_label,
                        int64_t channels) {
  return load_h5_sample(root.volume_path(name), 3, max_label, name, channels);
}

AcdcSliceDataset::AcdcSliceDataset(const AcdcRoot& root, const std::vector<std::string>& names) {
  samples_.reserve(names.size());
  for (const auto& n : names) samples_.push_back(load_acdc_slice(root, n));
}

const Sample& AcdcSliceDataset::get(size_t i) const {
  if (i >= samples_.size())
    throw std::out_of_range("AcdcSliceDataset::get: index " + std::to_string(i) + " >= size " +
                            std::to_string(samples_.size()));
  return samples_[i];
}

}  // namespace bcp::data
