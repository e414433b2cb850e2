#include "bcp/data/sample.h"

#include <torch/torch.h>

#include <filesystem>
#include <stdexcept>

#include "bcp/io/h5.h"

namespace bcp::data {
namespace {

[[noreturn]] void fail_sample(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

}  // namespace

Sample validate_sample(const std::string& path, torch::Tensor image, torch::Tensor label,
                       int64_t rank, const LabelValues& labels, std::string name,
                       int64_t channels) {
  if (channels > 1) {
    if (image.dim() != rank + 1 || image.size(0) != channels)
      fail_sample(path, "'image' must be " + std::to_string(channels) + " channels of " +
                            std::to_string(rank) + "D (channels first), got shape " +
                            c10::str(image.sizes()));
  } else if (image.dim() != rank) {
    fail_sample(path, "'image' must be " + std::to_string(rank) + "D, got shape " +
                          c10::str(image.sizes()));
  }
  if (label.dim() != rank)
    fail_sample(path, "'label' must be " + std::to_string(rank) + "D, got shape " +
                          c10::str(label.sizes()));
  if (!image.is_floating_point())
    fail_sample(path,
                "'image' must be float32, got " + std::string(c10::toString(image.scalar_type())));
  if (label.is_floating_point() || label.scalar_type() == torch::kBool)
    fail_sample(path,
                "'label' must be uint8, got " + std::string(c10::toString(label.scalar_type())));
  if (image.sizes().slice(image.dim() - rank) != label.sizes())
    fail_sample(path, "'image' shape " + c10::str(image.sizes()) + " != 'label' shape " +
                          c10::str(label.sizes()));
  if (image.numel() == 0) fail_sample(path, "'image' is empty, shape " + c10::str(image.sizes()));
  image = image.to(torch::kFloat32).contiguous();
  if (!torch::isfinite(image).all().item<bool>()) fail_sample(path, "'image' contains NaN or Inf");
  if (has_foreign_label(label, labels)) {
    const int64_t lo = label.min().item<int64_t>();
    const int64_t hi = label.max().item<int64_t>();
    fail_sample(path, "'label' values must be " + labels.text() + ", found " + std::to_string(lo) +
                          ".." + std::to_string(hi));
  }
  return Sample{image, label.to(torch::kUInt8).contiguous(), std::move(name)};
}

Sample load_h5_sample(const std::string& path, int64_t rank, const LabelValues& labels,
                      std::string name, int64_t channels) {
  if (!std::filesystem::exists(path)) fail_sample(path, "no such file");
  // H5File's errors already name the file and the dataset (missing, truncated, unreadable).
  io::H5File f(path);
  for (const char* key : {"image", "label"})
    if (!f.has(key)) fail_sample(path, std::string("missing dataset '") + key + "'");
  return validate_sample(path, f.read("image"), f.read("label"), rank, labels, std::move(name),
                         channels);
}

const Sample& SampleDataset::get(size_t i) const {
  if (i >= samples_.size())
    throw std::out_of_range("SampleDataset::get: index " + std::to_string(i) + " >= size " +
                            std::to_string(samples_.size()));
  return samples_[i];
}

}  // namespace bcp::data
