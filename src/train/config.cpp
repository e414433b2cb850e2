#include "bcp/train/config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace bcp::train {
namespace {

using nlohmann::json;

// Overlays `src` onto `dst`, refusing keys `dst` does not have and values of another kind, so a
// typo in a config file is an error rather than a silently ignored setting.
void merge_strict(json& dst, const json& src, const std::string& where) {
  if (!src.is_object()) throw std::invalid_argument(where + ": expected an object");
  for (auto it = src.begin(); it != src.end(); ++it) {
    std::string key = where.empty() ? it.key() : where + "." + it.key();
    if (!dst.contains(it.key())) throw std::invalid_argument("unknown config key '" + key + "'");
    json& d = dst[it.key()];
    const json& s = it.value();
    if (d.is_object()) {
      merge_strict(d, s, key);
    } else if (d.is_number() && s.is_number()) {
      d = s;
    } else if (d.type() == s.type()) {
      d = s;
    } else {
      throw std::invalid_argument("config key '" + key + "' expects " + d.type_name() + ", got " +
                                  s.type_name() + " (" + s.dump() + ")");
    }
  }
}

template <typename T>
void get(const json& j, const char* key, T& out) {
  out = j.at(key).get<T>();
}

}  // namespace

json config_to_json(const TrainConfig& c) {
  return json{
      {"dataset", c.dataset},
      {"method", c.method},
      {"seed", c.seed},
      {"device", c.device},
      {"precision", c.precision},
      {"world_size", c.world_size},
      {"threads", c.threads},
      {"data",
       {{"train_list", c.data.train_list},
        {"val_list", c.data.val_list},
        {"labeled", c.data.labeled},
        {"unlabeled", c.data.unlabeled},
        {"patch", c.data.patch},
        {"num_classes", c.data.num_classes}}},
      {"optim",
       {{"lr", c.optim.lr},
        {"momentum", c.optim.momentum},
        {"weight_decay", c.optim.weight_decay},
        {"schedule", c.optim.schedule},
        {"step_size", c.optim.step_size},
        {"gamma", c.optim.gamma},
        {"poly_power", c.optim.poly_power}}},
      {"batch", {{"labeled", c.batch.labeled}, {"unlabeled", c.batch.unlabeled}}},
      {"schedule",
       {{"pretrain_iters", c.schedule.pretrain_iters},
        {"selftrain_iters", c.schedule.selftrain_iters},
        {"val_every", c.schedule.val_every},
        {"log_every", c.schedule.log_every},
        {"checkpoint_every", c.schedule.checkpoint_every}}},
      {"bcp",
       {{"beta", c.bcp.beta},
        {"u_weight", c.bcp.u_weight},
        {"ema_decay", c.bcp.ema_decay},
        {"ema_buffers", c.bcp.ema_buffers},
        {"inherit_optimizer", c.bcp.inherit_optimizer},
        {"direction", c.bcp.direction}}},
      {"mt",
       {{"ema_decay", c.mt.ema_decay},
        {"consistency", c.mt.consistency},
        {"rampup_epochs", c.mt.rampup_epochs},
        {"iters_per_epoch", c.mt.iters_per_epoch},
        {"noise_std", c.mt.noise_std}}},
      {"eval",
       {{"stride", c.eval.stride},
        {"window_batch", c.eval.window_batch},
        {"max_cases", c.eval.max_cases}}},
  };
}

TrainConfig config_from_json(const json& user) {
  json j = config_to_json(TrainConfig{});
  merge_strict(j, user, "");
  TrainConfig c;
  get(j, "dataset", c.dataset);
  get(j, "method", c.method);
  get(j, "seed", c.seed);
  get(j, "device", c.device);
  get(j, "precision", c.precision);
  get(j, "world_size", c.world_size);
  get(j, "threads", c.threads);
  const json& d = j["data"];
  get(d, "train_list", c.data.train_list);
  get(d, "val_list", c.data.val_list);
  get(d, "labeled", c.data.labeled);
  get(d, "unlabeled", c.data.unlabeled);
  get(d, "patch", c.data.patch);
  get(d, "num_classes", c.data.num_classes);
  const json& o = j["optim"];
  get(o, "lr", c.optim.lr);
  get(o, "momentum", c.optim.momentum);
  get(o, "weight_decay", c.optim.weight_decay);
  get(o, "schedule", c.optim.schedule);
  get(o, "step_size", c.optim.step_size);
  get(o, "gamma", c.optim.gamma);
  get(o, "poly_power", c.optim.poly_power);
  get(j["batch"], "labeled", c.batch.labeled);
  get(j["batch"], "unlabeled", c.batch.unlabeled);
  const json& s = j["schedule"];
  get(s, "pretrain_iters", c.schedule.pretrain_iters);
  get(s, "selftrain_iters", c.schedule.selftrain_iters);
  get(s, "val_every", c.schedule.val_every);
  get(s, "log_every", c.schedule.log_every);
  get(s, "checkpoint_every", c.schedule.checkpoint_every);
  const json& b = j["bcp"];
  get(b, "beta", c.bcp.beta);
  get(b, "u_weight", c.bcp.u_weight);
  get(b, "ema_decay", c.bcp.ema_decay);
  get(b, "ema_buffers", c.bcp.ema_buffers);
  get(b, "inherit_optimizer", c.bcp.inherit_optimizer);
  get(b, "direction", c.bcp.direction);
  const json& m = j["mt"];
  get(m, "ema_decay", c.mt.ema_decay);
  get(m, "consistency", c.mt.consistency);
  get(m, "rampup_epochs", c.mt.rampup_epochs);
  get(m, "iters_per_epoch", c.mt.iters_per_epoch);
  get(m, "noise_std", c.mt.noise_std);
  const json& e = j["eval"];
  get(e, "stride", c.eval.stride);
  get(e, "window_batch", c.eval.window_batch);
  get(e, "max_cases", c.eval.max_cases);
  return c;
}

TrainConfig load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open config file");
  json j;
  try {
    in >> j;
  } catch (const json::parse_error& e) {
    throw std::runtime_error(path + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  try {
    TrainConfig c = config_from_json(j);
    validate_config(c);
    return c;
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
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
  }
  // Build {"a": {"b": value}} from "a.b" and overlay it strictly.
  json patch = value;
  std::string rest = key;
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string part; std::getline(ss, part, '.');) parts.push_back(part);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) patch = json{{*it, patch}};
  json j = config_to_json(c);
  merge_strict(j, patch, "");
  c = config_from_json(j);
}

void validate_config(const TrainConfig& c) {
  auto bad = [](const std::string& key, const std::string& why) {
    throw std::invalid_argument("config '" + key + "' " + why);
  };
  if (c.dataset != "acdc" && c.dataset != "la")
    bad("dataset", "must be acdc or la, got " + c.dataset);
  if (c.method != "supervised" && c.method != "mean-teacher" && c.method != "bcp")
    bad("method", "must be supervised, mean-teacher or bcp, got " + c.method);
  if (c.precision != "fp32" && c.precision != "bf16")
    bad("precision", "must be fp32 or bf16, got " + c.precision);
  if (c.world_size < 1) bad("world_size", "must be >= 1");
  size_t dims = c.dataset == "acdc" ? 2 : 3;
  if (c.data.patch.size() != dims)
    bad("data.patch", "needs " + std::to_string(dims) + " sizes for " + c.dataset);
  for (auto p : c.data.patch)
    if (p < 16) bad("data.patch", "sizes must be >= 16");
  if (c.data.labeled < 2) bad("data.labeled", "must be >= 2 (two labeled halves per step)");
  if (c.data.num_classes < 2) bad("data.num_classes", "must be >= 2");
  if (c.batch.labeled < 2 || c.batch.labeled % 2 != 0)
    bad("batch.labeled", "must be even and >= 2, got " + std::to_string(c.batch.labeled));
  if (c.method != "supervised" && (c.batch.unlabeled < 2 || c.batch.unlabeled % 2 != 0))
    bad("batch.unlabeled", "must be even and >= 2 for " + c.method);
  if (c.batch.labeled > c.data.labeled)
    bad("batch.labeled", "(" + std::to_string(c.batch.labeled) + ") exceeds data.labeled (" +
                             std::to_string(c.data.labeled) + ")");
  if (c.optim.lr <= 0) bad("optim.lr", "must be > 0");
  if (c.optim.schedule != "constant" && c.optim.schedule != "step" && c.optim.schedule != "poly")
    bad("optim.schedule", "must be constant, step or poly, got " + c.optim.schedule);
  if (c.optim.schedule == "step" && c.optim.step_size < 1) bad("optim.step_size", "must be >= 1");
  if (c.method == "bcp" && c.schedule.pretrain_iters < 0)
    bad("schedule.pretrain_iters", "must be >= 0");
  if (c.schedule.selftrain_iters < 1) bad("schedule.selftrain_iters", "must be >= 1");
  if (c.schedule.val_every < 0) bad("schedule.val_every", "must be >= 0");
  if (c.bcp.beta <= 0 || c.bcp.beta >= 1) bad("bcp.beta", "must be in (0, 1)");
  if (c.bcp.ema_decay < 0 || c.bcp.ema_decay > 1) bad("bcp.ema_decay", "must be in [0, 1]");
  if (c.bcp.direction != "both" && c.bcp.direction != "inward" && c.bcp.direction != "outward")
    bad("bcp.direction", "must be both, inward or outward");
  if (c.dataset == "la" && c.eval.stride.size() != 3) bad("eval.stride", "needs 3 values");
  if (c.eval.window_batch < 1) bad("eval.window_batch", "must be >= 1");
}

TrainConfig preset(const std::string& dataset, int percent, const std::string& method) {
  if (percent != 5 && percent != 10)
    throw std::invalid_argument("preset percent must be 5 or 10, got " + std::to_string(percent));
  TrainConfig c;
  c.dataset = dataset;
  c.method = method;
  if (dataset == "acdc") {
    c.data.labeled = percent == 5 ? 68 : 136;  // 3 / 7 patients in train_slices.list order
  } else if (dataset == "la") {
    c.data.train_list = "train.list";
    c.data.labeled = percent == 5 ? 4 : 8;
    c.data.patch = {112, 112, 80};
    c.data.num_classes = 2;
    c.batch = {4, 4};
    c.schedule.pretrain_iters = 2000;
    c.schedule.selftrain_iters = 15000;
    c.optim.schedule = "step";
    c.bcp.ema_buffers = false;        // LA code blends parameters only
    c.bcp.inherit_optimizer = false;  // LA student starts with a fresh optimizer
  } else {
    throw std::invalid_argument("preset dataset must be acdc or la, got " + dataset);
  }
  if (method == "supervised" || method == "mean-teacher") {
    // The SSL4MIS / UA-MT baselines: poly decay (ACDC) or the step decay (LA), one stage.
    c.schedule.pretrain_iters = 0;
    if (dataset == "acdc") {
      c.optim.schedule = "poly";
      c.schedule.selftrain_iters = 30000;
    } else {
      c.schedule.selftrain_iters = 6000;
    }
    if (method == "supervised") {
      c.batch.labeled = dataset == "acdc" ? 24 : 4;
      c.batch.unlabeled = 0;
    }
  }
  validate_config(c);
  return c;
}

}  // namespace bcp::train
