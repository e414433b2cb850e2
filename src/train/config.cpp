#include "bcp/train/config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "bcp/data/label_values.h"
#include "bcp/data/recipe.h"
#include "bcp/io/json_file.h"
#include "bcp/nets/segmentation_net.h"
#include "bcp/ssl/mask_shapes.h"
#include "bcp/util/error_message.h"
#include "bcp/util/text.h"
#include "bcp/util/threads.h"

namespace bcp::train {
namespace {

using nlohmann::json;

// Overlays `src` onto `dst`, refusing keys `dst` does not have and values of another kind, so a
// typo in a config file is an error rather than a silently ignored setting.
/// Throws unless `given` may replace `def` at `key`: same JSON type, where a whole number must
/// stay whole (1.5 would be cut to 1) and a non-negative one non-negative (-1 would wrap).
void check_same_kind(const json& def, const json& given, const std::string& key) {
  const auto refuse = [&](const std::string& expects) {
    throw std::invalid_argument("config key '" + key + "' expects " + expects + ", got " +
                                std::string(given.type_name()) + " (" + given.dump() + ")");
  };
  if (def.is_number_unsigned()) {
    if (!given.is_number_unsigned()) refuse("a whole number >= 0");
  } else if (def.is_number_integer()) {
    if (!given.is_number_integer()) refuse("a whole number");
  } else if (def.is_number()) {
    if (!given.is_number()) refuse("a number");
  } else if (key == "net.strides") {
    // A list of [x, y, z] whole numbers, empty by default (so its default says nothing of them).
    const auto bad = [&] {
      refuse("a list of [x, y, z] strides, e.g. [[2,2,1],[2,2,1],[2,2,2],[2,2,2]]");
    };
    if (!given.is_array()) bad();
    for (const json& stage : given) {
      if (!stage.is_array() || stage.size() != 3) bad();
      for (const json& v : stage)
        if (!v.is_number_integer() || v.get<int64_t>() < 0) bad();
    }
  } else if (def.is_array()) {
    if (!given.is_array()) refuse("an array");
    // The config's lists are numbers; an empty default says nothing more about them.
    for (const json& item : given) {
      if (!def.empty())
        check_same_kind(def.front(), item, key + "[]");
      else if (!item.is_number())
        refuse("an array of numbers");
    }
  } else if (def.type() != given.type()) {
    refuse(def.type_name());
  }
}

void merge_strict(json& dst, const json& src, const std::string& where) {
  if (!src.is_object())
    throw std::invalid_argument(where.empty() ? "a config must be a JSON object"
                                              : "config key '" + where + "' expects an object");
  for (auto it = src.begin(); it != src.end(); ++it) {
    std::string key = where.empty() ? it.key() : where + "." + it.key();
    if (!dst.contains(it.key())) throw std::invalid_argument("unknown config key '" + key + "'");
    json& d = dst[it.key()];
    const json& s = it.value();
    if (d.is_object()) {
      merge_strict(d, s, key);
    } else {
      check_same_kind(d, s, key);
      d = s;
    }
  }
}

}  // namespace

// One field list per struct serves both directions; key names are the member names.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TrainConfig::Data, train_list, val_list, labeled, unlabeled,
                                   patch, num_classes, ignore_label, foreground_oversample,
                                   channels, intensity, ct_window)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TrainConfig::Net, strides)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TrainConfig::Optim, lr, momentum, weight_decay, schedule,
                                   step_size, gamma, poly_power)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TrainConfig::Batch, labeled, unlabeled)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TrainConfig::Schedule, pretrain_iters, selftrain_iters,
                                   val_every, log_every, checkpoint_every)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TrainConfig::Bcp, beta, u_weight, ema_decay, ema_buffers,
                                   inherit_optimizer, direction, mask, pseudo_label, temperature,
                                   mix, blend_weight)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TrainConfig::MeanTeacher, ema_decay, consistency, rampup_epochs,
                                   iters_per_epoch, noise_std)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TrainConfig::Eval, stride, window_batch, max_cases)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TrainConfig, dataset, method, seed, device, precision,
                                   channels_last, world_size, sync_batchnorm, threads, data, net,
                                   optim, batch, schedule, bcp, mt, eval)

json config_to_json(const TrainConfig& c) {
  json j = c;
  // Written only when set, so that configs and checkpoints without partial annotations or
  // oversampling read in bcp versions from before the keys (and the presets' stay unchanged).
  if (!c.data.ignore_label) j["data"].erase("ignore_label");
  if (c.data.foreground_oversample == 0.0) j["data"].erase("foreground_oversample");
  return j;
}

TrainConfig config_from_json(const json& user) {
  // Overlaying onto the defaults first makes every key present and refuses unknown ones.
  const json defaults = TrainConfig{};  // every key, those config_to_json leaves out included
  json j = defaults;
  merge_strict(j, user, "");
  try {
    return j.get<TrainConfig>();
  } catch (const util::UnknownName& e) {
    // Name the key: the one holding the unknown value where the defaults hold a valid name.
    const json given = j.flatten(), fallback = defaults.flatten();
    for (auto it = given.begin(); it != given.end(); ++it) {
      if (!fallback.contains(it.key())) continue;  // list entries the defaults lack
      const json& d = fallback.at(it.key());
      if (it.value() == e.value && e.valid.find(d.get<std::string>()) != std::string::npos)
        throw std::invalid_argument("config '" + util::dotted_key(it.key()) + "': " + e.what());
    }
    throw std::invalid_argument(std::string("config: ") + e.what());
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("config: a value of the wrong type: ") + e.what());
  }
}

TrainConfig load_config(const std::string& path) {
  const json j = io::read_json_file(path);
  try {
    TrainConfig c = config_from_json(j);
    validate_config(c);
    return c;
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + util::error_message(e));
  }
}

void apply_override(TrainConfig& c, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw std::invalid_argument("--set expects key=value, got '" + assignment + "'");
  std::string key = assignment.substr(0, eq);
  std::string text = assignment.substr(eq + 1);
  json value;
  try {
    value = json::parse(text);
  } catch (const json::parse_error&) {
    value = text;  // bare words are strings: --set method=bcp
  } catch (const json::exception&) {
    throw std::invalid_argument("--set " + assignment + ": not a number this config can hold");
  }
  // Build {"a": {"b": value}} from "a.b" and overlay it strictly.
  json patch = value;
  std::string rest = key;
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string part; std::getline(ss, part, '.');) parts.push_back(part);
  if (parts.empty() || key.back() == '.' ||
      std::any_of(parts.begin(), parts.end(), [](const std::string& p) { return p.empty(); }))
    throw std::invalid_argument("--set " + assignment + ": '" + key +
                                "' is not a config key (dotted names, e.g. schedule.val_every)");
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) patch = json{{*it, patch}};
  json j = c;  // every key, those config_to_json leaves out when unset included
  merge_strict(j, patch, "");
  c = config_from_json(j);
}

nets::Arch arch_for(data::Dataset dataset) {
  return data::recipe_of(dataset).spatial_dims == 2 ? nets::Arch::kUNet2d : nets::Arch::kVNet;
}

nets::ModelConfig model_config_for(const TrainConfig& config) {
  nets::ModelConfig mc;
  mc.arch = arch_for(config.dataset);
  mc.num_classes = config.data.num_classes;
  mc.in_channels = config.data.channels;
  for (const auto& stage : config.net.strides) {
    if (stage.size() != 3) throw std::invalid_argument("strides need [x, y, z] per down-sampling");
    mc.strides.push_back({stage[0], stage[1], stage[2]});
  }
  return mc;
}

void validate_config(const TrainConfig& c) {
  auto bad = [](const std::string& key, const std::string& why) {
    throw std::invalid_argument("config '" + key + "' " + why);
  };
  if (c.world_size < 1) bad("world_size", "must be >= 1");
  const data::Recipe& recipe = data::recipe_of(c.dataset);
  const size_t dims = static_cast<size_t>(recipe.spatial_dims);
  if (c.data.patch.size() != dims)
    bad("data.patch",
        "needs " + std::to_string(dims) + " sizes for " + std::string(util::name_of(c.dataset)));
  if (c.data.num_classes < 2 || c.data.num_classes > nets::kMaxClasses)
    bad("data.num_classes", "must be in [2, " + std::to_string(nets::kMaxClasses) + "], got " +
                                std::to_string(c.data.num_classes));
  if (c.data.ignore_label && c.data.num_classes > data::kIgnoreLabel)
    bad("data.num_classes", "must be at most " + std::to_string(data::kIgnoreLabel) +
                                " with data.ignore_label (" + std::to_string(data::kIgnoreLabel) +
                                " marks voxels without annotation), got " +
                                std::to_string(c.data.num_classes));
  if (!(c.data.foreground_oversample >= 0.0 && c.data.foreground_oversample <= 1.0))
    bad("data.foreground_oversample",
        "must be in [0, 1], got " + std::to_string(c.data.foreground_oversample));
  if (c.data.channels < 1 || c.data.channels > nets::kMaxInChannels)
    bad("data.channels", "must be in [1, " + std::to_string(nets::kMaxInChannels) + "], got " +
                             std::to_string(c.data.channels));
  nets::ModelConfig model;
  try {
    model = model_config_for(c);
    nets::validate(model);
  } catch (const std::invalid_argument& e) {
    bad("net.strides", util::error_message(e));  // classes and channels are checked above
  }
  // A patch is allocated many times over (batch, channels, activations): one that cannot fit
  // must be refused here, not by LibTorch's allocator at the first step.
  constexpr int64_t kMaxPatchSide = 4096, kMaxPatchVoxels = int64_t{1} << 24;
  int64_t voxels = 1;
  for (int64_t side : c.data.patch) {
    if (side < 1 || side > kMaxPatchSide)
      bad("data.patch", "sizes must be in [1, " + std::to_string(kMaxPatchSide) + "], got " +
                            std::to_string(side));
    voxels *= side;  // at most 4096^3: no overflow
  }
  if (voxels > kMaxPatchVoxels)
    bad("data.patch", "holds " + std::to_string(voxels) + " voxels, more than the " +
                          std::to_string(kMaxPatchVoxels) + " (256^3) a training patch may have");
  const std::vector<int64_t> factor = nets::pooling_factor(model);
  for (size_t a = 0; a < c.data.patch.size() && a < factor.size(); ++a)
    if (c.data.patch[a] < factor[a] || c.data.patch[a] % factor[a] != 0)
      bad("data.patch", "sizes must be multiples of the network's down-sampling on their axis (" +
                            std::to_string(factor[a]) + " on axis " + std::to_string(a) +
                            "), got " + std::to_string(c.data.patch[a]));
  int64_t bottleneck = 1;
  for (size_t a = 0; a < c.data.patch.size() && a < factor.size(); ++a)
    bottleneck *= c.data.patch[a] / factor[a];
  if (!c.data.patch.empty() && bottleneck < 2)
    bad("data.patch",
        "leaves the networks' bottleneck one voxel, which BatchNorm cannot normalise in a pass "
        "of one image: use twice the down-sampling on at least one axis");
  if (c.data.train_list.empty()) bad("data.train_list", "must name a list file of the data root");
  if (c.data.val_list.empty()) bad("data.val_list", "must name a list file of the data root");
  if (c.data.labeled < 2) bad("data.labeled", "must be >= 2 (two labeled halves per step)");
  if (c.data.num_classes < 2) bad("data.num_classes", "must be >= 2");
  if (c.data.channels < 1) bad("data.channels", "must be >= 1");
  if (c.data.ct_window.size() != 2 || !(c.data.ct_window[0] < c.data.ct_window[1]))
    bad("data.ct_window", "must be [low, high] with low < high");
  if (c.batch.labeled < 2 || c.batch.labeled % 2 != 0)
    bad("batch.labeled", "must be even and >= 2, got " + std::to_string(c.batch.labeled));
  if (c.method != Method::kSupervised && (c.batch.unlabeled < 2 || c.batch.unlabeled % 2 != 0))
    bad("batch.unlabeled", "must be even and >= 2 for " + std::string(util::name_of(c.method)));
  if (c.world_size > 1) {
    // Every rank takes an equal share of each step's batch, and splits its share in halves.
    auto check_share = [&](const std::string& key, int64_t size) {
      const int64_t share = size / c.world_size;
      if (size % c.world_size != 0 || share < 2 || share % 2 != 0)
        bad(key, "(" + std::to_string(size) + ") must split over world_size " +
                     std::to_string(c.world_size) +
                     " into equal shares that are even and >= 2 (each rank pastes between halves)");
    };
    check_share("batch.labeled", c.batch.labeled);
    if (c.method != Method::kSupervised) check_share("batch.unlabeled", c.batch.unlabeled);
  }
  if (c.batch.labeled > c.data.labeled)
    bad("batch.labeled", "(" + std::to_string(c.batch.labeled) + ") exceeds data.labeled (" +
                             std::to_string(c.data.labeled) + ")");
  if (!(c.optim.lr > 0)) bad("optim.lr", "must be > 0");
  if (c.optim.schedule == LrSchedule::kStep && c.optim.step_size < 1)
    bad("optim.step_size", "must be >= 1");
  if (c.method == Method::kBcp && c.schedule.pretrain_iters < 0)
    bad("schedule.pretrain_iters", "must be >= 0");
  if (c.schedule.selftrain_iters < 1) bad("schedule.selftrain_iters", "must be >= 1");
  if (c.schedule.val_every < 0) bad("schedule.val_every", "must be >= 0");
  if (!(c.bcp.beta > 0 && c.bcp.beta < 1)) bad("bcp.beta", "must be in (0, 1)");
  if (!(c.bcp.ema_decay >= 0 && c.bcp.ema_decay <= 1)) bad("bcp.ema_decay", "must be in [0, 1]");
  if (!(c.bcp.temperature > 0)) bad("bcp.temperature", "must be > 0");
  // A soft mix one-hot encodes the labeled side, which has no class for unannotated voxels.
  if (c.method == Method::kBcp && c.bcp.pseudo_label == PseudoLabel::kSoft && c.data.ignore_label)
    bad("bcp.pseudo_label",
        "\"soft\" is not supported with partial annotations (data.ignore_label): use \"hard\"");
  if (!(c.bcp.blend_weight > 0 && c.bcp.blend_weight < 1))
    bad("bcp.blend_weight", "must be in (0, 1)");
  if (c.method == Method::kBcp && c.bcp.mix == MixMode::kPaste && c.bcp.mask != MaskShape::kBox) {
    // Draw one mask now: a patch too small for the shape must fail here, not at the first step
    // (the single box always fits: beta < 1).
    ssl::Rng probe(0);
    try {
      ssl::copy_paste_mask(c.bcp.mask, c.data.patch, c.bcp.beta, probe);
    } catch (const c10::Error& e) {
      bad("bcp.mask", "\"" + std::string(util::name_of(c.bcp.mask)) +
                          "\" does not fit data.patch: " + util::error_message(e));
    }
  }
  const bool window = recipe.eval == data::EvalKind::kSlidingWindow;
  if (window && c.eval.stride.size() != 3) bad("eval.stride", "needs 3 values");
  if (window)
    for (size_t d = 0; d < c.eval.stride.size() && d < c.data.patch.size(); ++d)
      if (c.eval.stride[d] < 1 || c.eval.stride[d] > c.data.patch[d])
        bad("eval.stride",
            "values must be in [1, patch size] (windows must overlap or touch), got " +
                std::to_string(c.eval.stride[d]) + " against patch " +
                std::to_string(c.data.patch[d]));
  if (c.eval.window_batch < 1) bad("eval.window_batch", "must be >= 1");
  if (c.eval.max_cases == 0 || c.eval.max_cases < -1)
    bad("eval.max_cases", "must be -1 (all) or >= 1");
  // The checks below are written as !(x in range) so that NaN fails them too.
  if (c.threads < 0) bad("threads", "must be >= 0 (0 = OMP_NUM_THREADS, else the available cores)");
  // More threads than cores only slows a step down; 100000 would exhaust the process's limits.
  if (c.threads > max_threads())
    bad("threads", "must be at most " + std::to_string(max_threads()) +
                       " (4 x this machine's cores), got " + std::to_string(c.threads));
  if (c.data.unlabeled < -1) bad("data.unlabeled", "must be -1 (all) or >= 0");
  if (!(c.optim.momentum >= 0 && c.optim.momentum < 1)) bad("optim.momentum", "must be in [0, 1)");
  if (!(c.optim.weight_decay >= 0)) bad("optim.weight_decay", "must be >= 0");
  if (c.optim.schedule == LrSchedule::kStep && !(c.optim.gamma > 0))
    bad("optim.gamma", "must be > 0");
  if (c.optim.schedule == LrSchedule::kPoly && !(c.optim.poly_power >= 0))
    bad("optim.poly_power", "must be >= 0");
  if (c.schedule.log_every < 0) bad("schedule.log_every", "must be >= 0");
  if (c.schedule.checkpoint_every < 0) bad("schedule.checkpoint_every", "must be >= 0");
  if (!(c.bcp.u_weight >= 0)) bad("bcp.u_weight", "must be >= 0");
  if (!(c.mt.ema_decay >= 0 && c.mt.ema_decay <= 1)) bad("mt.ema_decay", "must be in [0, 1]");
  if (!(c.mt.consistency >= 0)) bad("mt.consistency", "must be >= 0");
  if (!(c.mt.rampup_epochs >= 0)) bad("mt.rampup_epochs", "must be >= 0");
  if (c.mt.iters_per_epoch < 1) bad("mt.iters_per_epoch", "must be >= 1");
  if (!(c.mt.noise_std >= 0)) bad("mt.noise_std", "must be >= 0");
}

int64_t max_threads() {
  return util::max_threads();
}

TrainConfig preset(Dataset dataset, int percent, Method method) {
  if (percent != 5 && percent != 10)
    throw std::invalid_argument("preset percent must be 5 or 10, got " + std::to_string(percent));
  TrainConfig c;
  c.dataset = dataset;
  c.method = method;
  const bool acdc = dataset == Dataset::kAcdc;
  if (acdc) {
    c.data.labeled = percent == 5 ? 68 : 136;  // 3 / 7 patients in train_slices.list order
  } else {
    c.data.train_list = "train.list";
    c.data.labeled = percent == 5 ? 4 : 8;
    c.data.patch = {112, 112, 80};
    c.data.num_classes = 2;
    c.batch = {4, 4};
    c.schedule.pretrain_iters = 2000;
    c.schedule.selftrain_iters = 15000;
    c.optim.schedule = LrSchedule::kStep;
    c.bcp.ema_buffers = false;        // LA code blends parameters only
    c.bcp.inherit_optimizer = false;  // LA student starts with a fresh optimizer
  }
  if (method != Method::kBcp) {
    // The SSL4MIS / UA-MT baselines: poly decay (ACDC) or the step decay (LA), one stage.
    c.schedule.pretrain_iters = 0;
    if (acdc) {
      c.optim.schedule = LrSchedule::kPoly;
      c.schedule.selftrain_iters = 30000;
    } else {
      c.schedule.selftrain_iters = 6000;
    }
    if (method == Method::kSupervised) {
      c.batch.labeled = acdc ? 24 : 4;
      c.batch.unlabeled = 0;
    }
  }
  validate_config(c);
  return c;
}

TrainConfig preset(const std::string& dataset, int percent, const std::string& method) {
  try {
    return preset(util::parse_enum<Dataset>(dataset), percent, util::parse_enum<Method>(method));
  } catch (const util::UnknownName& e) {
    throw std::invalid_argument("preset: " + std::string(e.what()));
  }
}

}  // namespace bcp::train
