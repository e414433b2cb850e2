#include "bcp/train/resume_check.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "bcp/io/tensor_archive.h"
#include "bcp/util/error_message.h"
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

void check_resume_config(const std::string& checkpoint, const TrainConfig& requested) {
  const nlohmann::json meta = io::load_tensor_archive_meta(checkpoint);
  if (!meta.is_object() || !meta.contains("train") || !meta.contains("config"))
    throw std::runtime_error(checkpoint + ": not a bcp training checkpoint (no config saved)");
  TrainConfig saved;
  try {
    saved = config_from_json(meta["config"]);
  } catch (const std::exception& e) {
    throw std::runtime_error(checkpoint + ": saved config unreadable: " + util::error_message(e));
  }
  const auto conflicts = resume_conflicts(saved, requested);
  if (conflicts.empty()) return;
  std::string list;
  for (const auto& c : conflicts) list += (list.empty() ? "" : "; ") + c;
  std::string safe;
  for (const auto& k : resume_safe_keys()) safe += (safe.empty() ? "" : ", ") + k;
  throw std::invalid_argument(checkpoint +
                              ": --resume would continue this run as another experiment: " + list +
                              " (a resume may change only " + safe +
                              ", iteration counts upwards; train into a new --out instead)");
}

LoopState peek_loop(const std::string& checkpoint) {
  const nlohmann::json meta = io::load_tensor_archive_meta(checkpoint);
  if (!meta.is_object() || !meta.contains("train"))
    throw std::runtime_error(checkpoint + ": not a bcp training checkpoint");
  LoopState l;
  l.stage = meta["train"].at("stage").get<std::string>();
  l.iteration = meta["train"].at("iteration").get<int64_t>();
  l.cases = meta["train"].value("cases", std::string());
  return l;
}

void check_resume_cases(const std::string& checkpoint, const std::string& saved,
                        const std::string& now, const TrainConfig& config,
                        const std::string& data_root) {
  if (!saved.empty() && saved != now)
    throw std::invalid_argument(
        checkpoint + ": --resume on other training cases: the run trained on " + saved + ", but " +
        config.data.train_list + " of " + data_root + " now gives " + now +
        " (another root, or the list edited or reordered); train into a new --out instead");
}

}  // namespace bcp::train
