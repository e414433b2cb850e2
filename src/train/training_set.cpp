#include "bcp/train/training_set.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "bcp/data/augment.h"
#include "bcp/data/case_list.h"
#include "bcp/data/recipe.h"
#include "bcp/io/input_path.h"
#include "bcp/util/rng.h"

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
  if (config.data.foreground_oversample > 0) index_foreground(set, config.data.num_classes);
  return set;
}

void index_foreground(TrainingSet& set, int64_t num_classes) {
  set.labeled_with_class.assign(static_cast<size_t>(std::max<int64_t>(num_classes - 1, 0)), {});
  for (int64_t i = 0; i < set.labeled; ++i)
    for (int64_t k = 1; k < num_classes; ++k)
      if ((set.labels[i] == k).any().item<bool>()) set.labeled_with_class[k - 1].push_back(i);
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

namespace {

/// The item and foreground class (-1: none) of an oversampled labeled entry (make_batch's rule).
std::pair<int64_t, int64_t> foreground_draw(const TrainingSet& set, int64_t item, bool planar,
                                            std::mt19937_64& rng) {
  const auto holds = [&](int64_t k, int64_t i) {
    const auto& items = set.labeled_with_class[k - 1];
    return std::binary_search(items.begin(), items.end(), i);
  };
  std::vector<int64_t> classes;
  for (int64_t k = 1; k <= static_cast<int64_t>(set.labeled_with_class.size()); ++k)
    if (planar ? !set.labeled_with_class[k - 1].empty() : holds(k, item)) classes.push_back(k);
  if (classes.empty()) return {item, -1};
  const int64_t k = classes[util::uniform_int(rng, 0, static_cast<int64_t>(classes.size()))];
  if (!planar || holds(k, item)) return {item, k};
  const auto& items = set.labeled_with_class[k - 1];
  return {items[util::uniform_int(rng, 0, static_cast<int64_t>(items.size()))], k};
}

}  // namespace

int64_t oversampled_entries(int64_t labeled_entries, double share) {
  return labeled_entries - std::lround(static_cast<double>(labeled_entries) * (1.0 - share));
}

Batch make_batch(const TrainingSet& set, const std::vector<int64_t>& indices,
                 const TrainConfig& config, std::mt19937_64& rng) {
  std::vector<torch::Tensor> images, labels;
  images.reserve(indices.size());
  labels.reserve(indices.size());
  const bool planar = data::recipe_of(config.dataset).spatial_dims == 2;
  auto augment = [&](const torch::Tensor& image, const torch::Tensor& label, int64_t centre_on,
                     std::mt19937_64& r) {
    if (planar) {
      data::AcdcAugmentOptions opt;
      opt.patch_size = config.data.patch;
      return data::acdc_augment(image, label, r, opt);
    }
    data::LaAugmentOptions opt;
    opt.patch_size = config.data.patch;
    opt.centre_on = centre_on;
    return data::la_augment(image, label, r, opt);
  };
  const double share = config.data.foreground_oversample;
  if (share > 0 &&
      set.labeled_with_class.size() != static_cast<size_t>(config.data.num_classes - 1))
    throw std::logic_error("make_batch: foreground oversampling needs index_foreground first");
  int64_t labeled_entries = 0;
  for (int64_t i : indices) labeled_entries += i < set.labeled;
  const int64_t unforced = labeled_entries - oversampled_entries(labeled_entries, share);
  int64_t labeled_seen = 0;
  for (int64_t i : indices) {
    int64_t centre_on = -1;
    if (share > 0 && i < set.labeled && labeled_seen++ >= unforced)
      std::tie(i, centre_on) = foreground_draw(set, i, planar, rng);
    const torch::Tensor& image = set.images[i];
    if (image.dim() == set.labels[i].dim()) {
      auto p = augment(image, set.labels[i], centre_on, rng);
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
      p = augment(image[c], set.labels[i], centre_on, rng);
      channels.push_back(p.image);
    }
    images.push_back(torch::stack(channels));
    labels.push_back(p.label.to(torch::kInt64));
  }
  return {torch::stack(images), torch::stack(labels)};
}

}  // namespace bcp::train
