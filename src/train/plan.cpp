#include "bcp/train/plan.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "bcp/data/recipe.h"
#include "bcp/nets/segmentation_net.h"
#include "bcp/train/training_set.h"

namespace bcp::train {
namespace {

/// Slices this many times thicker than the in-plane spacing get the plan's 2-D note (nnU-Net
/// calls a dataset anisotropic at 3).
constexpr double kThickSliceRatio = 3.0;

int64_t even_cap(int64_t want, int64_t available) {
  const int64_t n = std::min(want, available);
  return n - n % 2;
}

int64_t round_up(int64_t v, int64_t multiple) {
  return (v + multiple - 1) / multiple * multiple;
}

template <typename T>
std::string joined(const std::vector<T>& v, const char* sep = " x ") {
  std::ostringstream s;
  for (size_t i = 0; i < v.size(); ++i) s << (i ? sep : "") << v[i];
  return s.str();
}

/// The 3D patch and strides: the median volume, shrunk (physically longest axis first) until it
/// holds at most kPlanPatchVoxels once rounded up to its down-sampling.
std::pair<std::vector<int64_t>, std::vector<std::vector<int64_t>>> plan_patch_3d(
    const std::vector<int64_t>& median, const std::vector<double>& spacing) {
  std::vector<int64_t> target = median;
  while (true) {
    const auto strides = plan_strides(target, spacing);
    nets::ModelConfig net;
    net.arch = nets::Arch::kVNet;
    for (const auto& st : strides) net.strides.push_back({st[0], st[1], st[2]});
    const auto factor = nets::pooling_factor(net);
    std::vector<int64_t> patch(3);
    int64_t voxels = 1;
    for (size_t a = 0; a < 3; ++a) {
      patch[a] = round_up(std::max<int64_t>(target[a], 1), factor[a]);
      voxels *= patch[a];
    }
    if (voxels <= kPlanPatchVoxels) return {patch, strides};
    // Shorten the physically longest axis that can still shrink (each pass shortens one, so the
    // loop ends: three axes of 1 voxel hold fewer than kPlanPatchVoxels).
    int longest = -1;
    for (int a = 0; a < 3; ++a)
      if (target[a] > 1 &&
          (longest < 0 || static_cast<double>(patch[a]) * spacing[a] >
                              static_cast<double>(patch[longest]) * spacing[longest]))
        longest = a;
    if (longest < 0) throw std::logic_error("plan: no axis left to shorten");
    target[longest] = std::max<int64_t>(
        1, std::min(target[longest], patch[longest]) - std::max<int64_t>(factor[longest], 8));
  }
}

}  // namespace

std::vector<std::vector<int64_t>> plan_strides(const std::vector<int64_t>& patch,
                                               const std::vector<double>& spacing) {
  std::vector<double> size(patch.begin(), patch.end());
  std::vector<double> sp = spacing;
  std::vector<std::vector<int64_t>> strides;
  for (int stage = 0; stage < 4; ++stage) {
    // nnU-Net's rule: among the axes that can still be halved, those within twice the finest.
    double finest = 0;
    for (size_t a = 0; a < 3; ++a)
      if (size[a] >= 8 && (finest == 0 || sp[a] < finest)) finest = sp[a];
    std::vector<int64_t> st(3, 1);
    for (size_t a = 0; a < 3; ++a) {
      if (size[a] >= 8 && sp[a] < 2 * finest) {
        st[a] = 2;
        size[a] /= 2;
        sp[a] *= 2;
      }
    }
    strides.push_back(st);
  }
  return strides;
}

Plan plan_for(const data::PreparedDataset& p) {
  data::check_fingerprint(p);
  Plan plan;
  auto& c = plan.config;
  auto why = [&](const std::string& topic, const std::string& text) {
    plan.reasons.emplace_back(topic, text);
  };
  const bool semi = p.unlabeled_items >= 2;
  const Dataset recipe_name = p.dim == 2 ? Dataset::kAcdc : Dataset::kLa;
  c = preset(recipe_name, 5, semi ? Method::kBcp : Method::kSupervised);
  const TrainConfig reference = preset(recipe_name, 5, Method::kBcp);
  c.data.train_list = p.train_list;
  c.data.val_list = "val.list";
  c.data.labeled = p.labeled_items;
  c.data.unlabeled = -1;
  c.data.num_classes = static_cast<int64_t>(p.class_names.size());
  c.data.ignore_label = p.ignore_label;
  c.data.channels = p.channels;
  c.data.intensity = p.intensity.kind;
  c.data.ct_window = {p.intensity.ct_low, p.intensity.ct_high};
  why("recipe", p.dim == 2 ? "2D: slices, UNet (4 down-samplings), slice-wise evaluation, the "
                             "ACDC code's losses and augmentation (rot90/flip or rotation, resize)"
                           : "3D: volumes, VNet, sliding-window evaluation, the LA code's losses "
                             "and augmentation (rot90 + flip in-plane, random crop)");
  why("method", semi ? "bcp: " + std::to_string(p.unlabeled_items) + " unlabeled items"
                     : "supervised: fewer than 2 unlabeled items, nothing to pseudo-label");

  if (p.dim == 2) {
    const int64_t side = std::max(p.median_shape[0], p.median_shape[1]);
    const int64_t patch = std::clamp<int64_t>(round_up(side, 16), 64, 256);
    c.data.patch = {patch, patch};
    why("patch", std::to_string(patch) + " x " + std::to_string(patch) +
                     ": the median slice's longer side (" + std::to_string(side) +
                     ") rounded up to 16, within [64, 256]; slices are resized to it");
  } else {
    // A fingerprint without spacing (made by hand) counts every axis as 1 mm.
    const std::vector<double> spacing =
        p.median_spacing.size() == 3 ? p.median_spacing : std::vector<double>(3, 1.0);
    const auto [patch, strides] = plan_patch_3d(p.median_shape, spacing);
    c.data.patch = patch;
    const bool reference_strides = strides == std::vector<std::vector<int64_t>>(4, {2, 2, 2});
    if (!reference_strides) c.net.strides = strides;
    std::vector<std::string> stages;
    for (const auto& s : strides) stages.push_back("[" + joined(s, ",") + "]");
    why("network", "VNet strides " + joined(stages, " ") + " (x, y, z)" +
                       (reference_strides ? ", the reference's"
                                          : ": an axis is halved while it keeps >= 4 voxels "
                                            "and its spacing stays within twice the finest"));
    bool covers = true;
    for (size_t a = 0; a < 3; ++a) covers = covers && patch[a] >= p.median_shape[a];
    why("patch", joined(patch) + (covers ? ": covers the median volume " + joined(p.median_shape) +
                                               " (smaller volumes are padded)"
                                         : ": the median volume " + joined(p.median_shape) +
                                               " shortened to at most " +
                                               std::to_string(kPlanPatchVoxels) + " voxels"));
    const auto [finest, coarsest] = std::minmax_element(spacing.begin(), spacing.end());
    if (*finest > 0 && *coarsest >= kThickSliceRatio * *finest) {
      std::ostringstream ratio;
      ratio.precision(2);
      ratio << *coarsest / *finest;
      // Measured on ACDC exported as volumes (docs/own-data.md): on one AVX2 core the 3-D plan
      // trained some 250 steps in an hour and scored 11 to 20 % Dice (one seed); the ACDC
      // preset's 2-D run reaches 80 % in 20 minutes (2 cores, bf16).
      why("note", "slices " + ratio.str() +
                      "x thicker than the in-plane spacing: a 3-D step costs far more than a 2-D "
                      "one; on a CPU `prepare --dim 2d` is the faster plan (docs/own-data.md)");
    }
    c.eval.stride = {std::max<int64_t>(1, patch[0] / 2), std::max<int64_t>(1, patch[1] / 2),
                     std::max<int64_t>(1, patch[2] / 2)};
    why("evaluation", "sliding window, stride " + joined(c.eval.stride) + " (half the patch)");
    // 3-D only: 2-D items are whole slices, and slices without foreground are negatives that
    // evaluation scores; on LA's slices drawing more foreground ones scored no better
    // (docs/own-data.md).
    c.data.foreground_oversample = kPlanForegroundOversample;
  }
  c.batch.labeled = even_cap(reference.batch.labeled, p.labeled_items);
  if (c.batch.labeled < 2)
    throw std::invalid_argument("prepared data: " + std::to_string(p.labeled_items) +
                                " labeled training items; at least 2 are needed");
  c.batch.unlabeled = semi ? even_cap(reference.batch.unlabeled, p.unlabeled_items) : 0;
  why("batch", std::to_string(c.batch.labeled) + " labeled" +
                   (semi ? " + " + std::to_string(c.batch.unlabeled) + " unlabeled" : "") +
                   " per step (the recipe's " + std::to_string(reference.batch.labeled) + " + " +
                   std::to_string(reference.batch.unlabeled) + ", capped by the items)");
  if (c.data.foreground_oversample > 0) {
    const int64_t n = oversampled_entries(c.batch.labeled, c.data.foreground_oversample);
    why("sampling", std::to_string(n) + " of the " + std::to_string(c.batch.labeled) +
                        " labeled volumes a step (the last) " + (n == 1 ? "is" : "are") +
                        " cropped around a voxel of a class drawn among those the volume holds "
                        "(nnU-Net's oversampling); the others at random");
  }

  const int64_t passes = (p.labeled_items + c.batch.labeled - 1) / c.batch.labeled;
  const int64_t pre = std::clamp<int64_t>(500 * passes, 200, reference.schedule.pretrain_iters);
  const int64_t self = std::clamp<int64_t>(3 * pre, 600, reference.schedule.selftrain_iters);
  if (semi) {
    c.schedule.pretrain_iters = pre;
    c.schedule.selftrain_iters = self;
    why("schedule", std::to_string(pre) + " pre-training steps (500 passes over the " +
                        std::to_string(p.labeled_items) + " labeled items, within [200, " +
                        std::to_string(reference.schedule.pretrain_iters) + "]) + " +
                        std::to_string(self) + " self-training (3x, within [600, " +
                        std::to_string(reference.schedule.selftrain_iters) + "])");
  } else {
    c.schedule.pretrain_iters = 0;
    c.schedule.selftrain_iters = pre + self;
    why("schedule",
        std::to_string(pre + self) + " steps: what BCP would train in both stages on this data");
  }
  const int64_t total = c.schedule.pretrain_iters + c.schedule.selftrain_iters;
  c.schedule.val_every = std::max<int64_t>(50, round_up(total / 20, 50));
  c.schedule.checkpoint_every = c.schedule.val_every;
  why("validation", "every " + std::to_string(c.schedule.val_every) +
                        " steps on val.list; the best is kept (best.h5)");
  validate_config(c);
  return plan;
}

TrainConfig config_for_prepared(const data::PreparedDataset& fingerprint) {
  return plan_for(fingerprint).config;
}

std::string plan_text(const data::PreparedDataset& p, const Plan& plan) {
  std::ostringstream s;
  s << "dataset   " << (p.name.empty() ? "(unnamed)" : p.name) << ": " << p.dim << "D, "
    << p.class_names.size() << " classes (" << joined(p.class_names, ", ") << "), " << p.channels
    << " channel" << (p.channels == 1 ? "" : "s") << "\n";
  s << "data      " << p.labeled_items << " labeled + " << p.unlabeled_items << " unlabeled "
    << (p.dim == 2 ? "slices" : "volumes") << " (" << p.labeled_cases.size() << " + "
    << p.unlabeled_cases.size() << " cases), " << p.val_cases.size() << " validation case"
    << (p.val_cases.size() == 1 ? "" : "s") << "\n";
  std::ostringstream spacing;
  spacing.precision(3);
  for (size_t a = 0; a < p.median_spacing.size(); ++a)
    spacing << (a ? " x " : "") << p.median_spacing[a];
  s << "shape     median " << joined(p.median_shape) << " (min " << joined(p.min_shape) << ", max "
    << joined(p.max_shape) << ") " << (p.dim == 2 ? "pixels" : "voxels") << " at " << spacing.str()
    << " mm\n";
  std::ostringstream fractions;
  fractions.precision(3);
  for (size_t k = 0; k < p.class_fraction.size(); ++k)
    fractions << (k ? ", " : "") << p.class_names[k] << " " << 100 * p.class_fraction[k] << "%";
  if (!p.class_fraction.empty())
    s << "classes   " << fractions.str() << " of " << (p.ignore_label ? "annotated " : "")
      << "labeled voxels\n";
  if (p.ignore_label)
    s << "labels    partial: voxels labeled \"ignore\" get no loss and no score\n";
  s << "intensity " << util::name_of(p.intensity.kind) << " per volume and channel\n";
  for (const auto& [topic, text] : plan.reasons) {
    std::string t = topic;
    t.resize(std::max<size_t>(t.size(), 9), ' ');
    s << t << " " << text << "\n";
  }
  return s.str();
}

}  // namespace bcp::train
