#include "bcp/train/training_set.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "bcp/data/augment.h"
#include "bcp/data/case_list.h"
#include "bcp/data/recipe.h"
#include "bcp/io/input_path.h"

namespace bcp::train {
namespace fs = std::filesystem;

TrainingSet load_training_set(const TrainConfig& config, const std::string& root) {
  if (!fs::is_directory(root)) throw std::runtime_error(root + ": data root is not a folder");
  std::string list = io::file_in_root(root, config.data.train_list);
  std::vector<std::string> names = data::read_case_list(list);
  if (static_cast<int64_t>(names.size()) < config.data.labeled)
    throw std::runtime_error(
        list + ": has " + std::to_string(names.size()) +
        " cases, fewer than data.labeled = " + std::to_string(config.data.labeled));
  int64_t rest = static_cast<int64_t>(names.size()) - config.data.labeled;
  int64_t unlabeled = config.data.unlabeled < 0 ? rest : std::min(rest, config.data.unlabeled);
  if (config.method != Method::kSupervised && unlabeled < config.batch.unlabeled)
    throw std::runtime_error(
        list + ": only " + std::to_string(unlabeled) + " unlabeled cases after the first " +
        std::to_string(config.data.labeled) +
        ", fewer than batch.unlabeled = " + std::to_string(config.batch.unlabeled));
  if (config.method == Method::kSupervised) unlabeled = 0;
  names.resize(config.data.labeled + unlabeled);
  TrainingSet set;
  set.labeled = config.data.labeled;
  const data::LabelValues values{config.data.num_classes - 1, config.data.ignore_label};
  const int64_t channels = config.data.channels;
  for (const auto& name : names) {
    data::Sample s = data::load_training_item(config.dataset, root, name, values, channels);
    set.names.push_back(name);
    set.images.push_back(s.image);
    set.labels.push_back(s.label);
  }
  return set;
}

std::string cases_fingerprint(const TrainingSet& set) {
  uint64_t hash = 1469598103934665603ull;  // FNV-1a, 64 bits
  for (const auto& name : set.names)
    for (const unsigned char c : name + "\n") hash = (hash ^ c) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return std::to_string(set.names.size()) + " cases, " + std::to_string(set.labeled) +
         " labeled, names " + hex;
}

ValidationSet load_validation_set(const TrainConfig& config, const std::string& root) {
  std::string list = io::file_in_root(root, config.data.val_list);
  std::vector<std::string> names = data::read_case_list(list);
  // The final evaluation reads the whole list: a missing or bad case (NaN, labels out of range)
  // beyond eval.max_cases must fail now, not after hours of training. Those are read and checked
  // one at a time, then dropped.
  for (const auto& name : names) {
    const std::string path = data::volume_path(config.dataset, root, name);
    if (!fs::is_regular_file(path))
      throw std::runtime_error(list + ": case '" + name + "' not found: " + path);
  }
  const size_t kept = config.eval.max_cases > 0
                          ? std::min(names.size(), static_cast<size_t>(config.eval.max_cases))
                          : names.size();
  ValidationSet set;
  const data::LabelValues values{config.data.num_classes - 1, config.data.ignore_label};
  const int64_t channels = config.data.channels;
  for (size_t i = 0; i < names.size(); ++i) {
    data::Sample sample = data::load_volume(config.dataset, root, names[i], values, channels);
    if (i < kept) set.push_back(std::move(sample));
  }
  return set;
}

Batch make_batch(const TrainingSet& set, const std::vector<int64_t>& indices,
                 const TrainConfig& config, std::mt19937_64& rng) {
  std::vector<torch::Tensor> images, labels;
  images.reserve(indices.size());
  labels.reserve(indices.size());
  const bool planar = data::recipe_of(config.dataset).spatial_dims == 2;
  auto augment = [&](const torch::Tensor& image, const torch::Tensor& label, std::mt19937_64& r) {
    if (planar) {
      data::AcdcAugmentOptions opt;
      opt.patch_size = config.data.patch;
      return data::acdc_augment(image, label, r, opt);
    }
    data::LaAugmentOptions opt;
    opt.patch_size = config.data.patch;
    return data::la_augment(image, label, r, opt);
  };
  for (int64_t i : indices) {
    const torch::Tensor& image = set.images[i];
    if (image.dim() == set.labels[i].dim()) {
      auto p = augment(image, set.labels[i], rng);
      images.push_back(p.image.unsqueeze(0));
      labels.push_back(p.label.to(torch::kInt64));
      continue;
    }
    // Channels first: every channel takes the same transform, drawn from the same generator
    // state (the draws depend only on the generator and the shape).
    const std::mt19937_64 start = rng;
    std::vector<torch::Tensor> channels;
    data::AugmentedPair p;
    for (int64_t c = 0; c < image.size(0); ++c) {
      rng = start;
      p = augment(image[c], set.labels[i], rng);
      channels.push_back(p.image);
    }
    images.push_back(torch::stack(channels));
    labels.push_back(p.label.to(torch::kInt64));
  }
  return {torch::stack(images), torch::stack(labels)};
}

}  // namespace bcp::train
