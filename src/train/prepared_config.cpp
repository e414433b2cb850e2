#include "bcp/train/prepared_config.h"

#include <algorithm>
#include <stdexcept>

namespace bcp::train {
namespace {

int64_t even_cap(int64_t want, int64_t available) {
  const int64_t n = std::min(want, available);
  return n - n % 2;
}

}  // namespace

TrainConfig config_for_prepared(const data::PreparedDataset& p) {
  const bool semi = p.unlabeled_items >= 2;
  TrainConfig c = preset(p.dim == 2 ? Dataset::kAcdc : Dataset::kLa, 5,
                         semi ? Method::kBcp : Method::kSupervised);
  c.data.train_list = p.train_list;
  c.data.val_list = "val.list";
  c.data.labeled = p.labeled_items;
  c.data.unlabeled = -1;
  c.data.num_classes = static_cast<int64_t>(p.class_names.size());
  c.data.channels = p.channels;
  c.data.intensity = p.intensity.kind;
  c.data.ct_window = {p.intensity.ct_low, p.intensity.ct_high};
  if (p.dim == 2) {
    const int64_t side = std::max(p.median_shape[0], p.median_shape[1]);
    const int64_t patch = std::clamp<int64_t>((side + 15) / 16 * 16, 64, 256);
    c.data.patch = {patch, patch};
  } else {
    std::vector<int64_t> patch;
    for (int64_t extent : p.min_shape) {
      if (extent < 16)
        throw std::invalid_argument("prepared data: a training volume is " +
                                    std::to_string(extent) +
                                    " voxels thin; the VNet needs at least 16 per axis");
      patch.push_back(std::min<int64_t>(extent / 16 * 16, 128));
    }
    const int64_t budget = 112 * 112 * 80;
    while (patch[0] * patch[1] * patch[2] > budget) {
      auto longest = std::max_element(patch.begin(), patch.end());
      *longest -= 16;
    }
    c.data.patch = patch;
    c.eval.stride = {std::max<int64_t>(1, patch[0] / 2), std::max<int64_t>(1, patch[1] / 2),
                     std::max<int64_t>(1, patch[2] / 2)};
  }
  c.batch.labeled = even_cap(c.batch.labeled, p.labeled_items);
  if (c.batch.labeled < 2)
    throw std::invalid_argument("prepared data: " + std::to_string(p.labeled_items) +
                                " labeled training items; at least 2 are needed");
  if (semi) c.batch.unlabeled = even_cap(c.batch.unlabeled, p.unlabeled_items);
  validate_config(c);
  return c;
}

}  // namespace bcp::train
