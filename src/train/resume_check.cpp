#include "bcp/train/resume_check.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "bcp/util/text.h"

namespace bcp::train {
namespace {

using nlohmann::json;

const std::vector<std::string> kIterationKeys = {"schedule.pretrain_iters",
                                                 "schedule.selftrain_iters"};

}  // namespace

const std::vector<std::string>& resume_safe_keys() {
  static const std::vector<std::string> keys = {"schedule.pretrain_iters",
                                                "schedule.selftrain_iters",
                                                "schedule.val_every",
                                                "schedule.log_every",
                                                "schedule.checkpoint_every",
                                                "threads",
                                                "world_size",
                                                "device",
                                                "eval.window_batch",
                                                "eval.max_cases"};
  return keys;
}

std::vector<std::string> resume_conflicts(const TrainConfig& saved, const TrainConfig& requested) {
  // Compared leaf by leaf; a list of another length leaves keys on one side only.
  const json a = config_to_json(saved).flatten();
  const json b = config_to_json(requested).flatten();
  const auto& safe = resume_safe_keys();
  std::vector<std::string> out;
  for (auto it = a.begin(); it != a.end(); ++it) {
    const std::string key = util::dotted_key(it.key());
    const json& requested_value = b.contains(it.key()) ? b.at(it.key()) : json();
    if (requested_value == it.value()) continue;
    const bool is_iterations =
        std::find(kIterationKeys.begin(), kIterationKeys.end(), key) != kIterationKeys.end();
    const bool fewer = is_iterations && requested_value.is_number() &&
                       requested_value.get<double>() < it.value().get<double>();
    if (!fewer && std::find(safe.begin(), safe.end(), key) != safe.end()) continue;
    out.push_back(key + ": saved " + it.value().dump() + ", requested " + requested_value.dump() +
                  (fewer ? " (fewer iterations)" : ""));
  }
  // A list that changes length shows up as keys on one side only.
  for (auto it = b.begin(); it != b.end(); ++it) {
    if (a.contains(it.key())) continue;
    out.push_back(util::dotted_key(it.key()) + ": saved (none), requested " + it.value().dump());
  }
  return out;
}

}  // namespace bcp::train
