#include "bcp/eval/eval_protocol.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "bcp/data/recipe.h"
#include "bcp/nets/model_archive.h"
#include "bcp/nets/segmentation_net.h"
#include "bcp/util/error_message.h"

using nlohmann::json;

namespace bcp::eval {

void validate(const EvalProtocol& p) {
  auto bad = [](const std::string& field, const std::string& why) {
    throw std::invalid_argument("eval protocol: " + field + " " + why);
  };
  // Far above any scan's size, far below an allocation that fails (a damaged record once asked
  // for 400 GB).
  constexpr int64_t kLargest = 4096;
  if (p.acdc_slice < 1 || p.acdc_slice > kLargest) bad("acdc_slice", "must be in [1, 4096]");
  for (size_t i = 0; i < 3; ++i) {
    if (p.la_patch[i] < 1 || p.la_patch[i] > kLargest)
      bad("la_patch", "must be in [1, 4096] on every axis");
    if (p.la_stride[i] < 1 || p.la_stride[i] > p.la_patch[i])
      bad("la_stride", "must be in [1, la_patch] on every axis");
  }
  data::IntensityNorm norm = p.intensity;
  if (norm.kind == data::IntensityKind::kAuto)
    norm.kind = data::IntensityKind::kNone;  // resolved per dataset when applied
  data::validate(norm);
}

void to_json(json& j, const EvalProtocol& p) {
  j = {{"dataset", p.dataset},
       {"acdc_slice", p.acdc_slice},
       {"la_patch", p.la_patch},
       {"la_stride", p.la_stride},
       {"largest_component", p.largest_component},
       {"intensity",
        {{"kind", p.intensity.kind},
         {"ct_low", p.intensity.ct_low},
         {"ct_high", p.intensity.ct_high}}}};
  if (p.ignore_label) j["ignore_label"] = true;
}

void from_json(const json& j, EvalProtocol& p) {
  if (!j.is_object()) throw std::invalid_argument("eval protocol: expected a JSON object");
  EvalProtocol out;
  for (const auto& [key, value] : j.items()) {
    if (key == "dataset")
      out.dataset = value.get<data::Dataset>();
    else if (key == "acdc_slice")
      out.acdc_slice = value.get<int64_t>();
    else if (key == "la_patch")
      out.la_patch = value.get<std::array<int64_t, 3>>();
    else if (key == "la_stride")
      out.la_stride = value.get<std::array<int64_t, 3>>();
    else if (key == "largest_component")
      out.largest_component = value.get<bool>();
    else if (key == "ignore_label")
      out.ignore_label = value.get<bool>();
    else if (key == "intensity") {
      for (const auto& [k, v] : value.items()) {
        if (k == "kind")
          out.intensity.kind = v.get<data::IntensityKind>();
        else if (k == "ct_low")
          out.intensity.ct_low = v.get<double>();
        else if (k == "ct_high")
          out.intensity.ct_high = v.get<double>();
        else
          throw std::invalid_argument("eval protocol: unknown key 'intensity." + k + "'");
      }
    } else {
      throw std::invalid_argument("eval protocol: unknown key '" + key + "'");
    }
  }
  validate(out);
  p = out;
}

void legacy_protocol(const json& c, EvalProtocol& p) {
  if (!c.is_object()) return;
  const bool window = data::recipe_of(p.dataset).eval == data::EvalKind::kSlidingWindow;
  const json d = c.value("data", json::object());
  if (d.contains("patch") && d["patch"].is_array()) {
    const auto patch = d["patch"].get<std::vector<int64_t>>();
    if (!window && patch.size() == 2) p.acdc_slice = patch[0];
    if (window && patch.size() == 3) p.la_patch = {patch[0], patch[1], patch[2]};
  }
  const json e = c.value("eval", json::object());
  if (window && e.contains("stride") && e["stride"].is_array()) {
    const auto stride = e["stride"].get<std::vector<int64_t>>();
    if (stride.size() == 3) p.la_stride = {stride[0], stride[1], stride[2]};
  }
  if (d.contains("intensity") && d["intensity"].is_string())
    p.intensity.kind = d["intensity"].get<data::IntensityKind>();
  if (d.contains("ct_window") && d["ct_window"].is_array() && d["ct_window"].size() == 2) {
    p.intensity.ct_low = d["ct_window"][0].get<double>();
    p.intensity.ct_high = d["ct_window"][1].get<double>();
  }
}

EvalProtocol checkpoint_eval_protocol(const json& meta, const nets::ModelConfig& config) {
  if (meta.is_object() && meta.contains("eval_protocol")) {
    try {
      return meta["eval_protocol"].get<EvalProtocol>();
    } catch (const std::exception& e) {
      throw std::runtime_error("the checkpoint's eval_protocol is malformed: " +
                               util::error_message(e));
    }
  }
  // Older files: the dataset from the first place that names one, else the architecture's.
  EvalProtocol p;
  p.dataset = data::reference_dataset(nets::spatial_dims(config.arch));
  auto string_at = [&](std::initializer_list<const char*> keys) -> std::string {
    const json* cur = &meta;
    for (const char* k : keys) {
      if (!cur->is_object() || !cur->contains(k)) return "";
      cur = &cur->at(k);
    }
    return cur->is_string() ? cur->get<std::string>() : "";
  };
  for (auto keys : {std::initializer_list<const char*>{"config", "dataset"},
                    std::initializer_list<const char*>{"extra", "dataset"},
                    std::initializer_list<const char*>{"extra", "config", "dataset"},
                    std::initializer_list<const char*>{"dataset"}}) {
    const std::string d = string_at(keys);
    if (!d.empty()) {
      p.dataset = util::parse_enum<data::Dataset>(d);
      break;
    }
  }
  if (const json* training = nets::checkpoint_config(meta)) legacy_protocol(*training, p);
  return p;
}

}  // namespace bcp::eval
