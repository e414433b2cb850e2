#include "bcp/nets/model_archive.h"

#include <stdexcept>

#include "bcp/nets/state_dict.h"
#include "bcp/util/error_message.h"

namespace bcp::nets {
namespace {

std::string key_prefix(const std::string& prefix) {
  return prefix.empty() ? "" : prefix + "/";
}

}  // namespace

void add_model_to_archive(std::map<std::string, torch::Tensor>& tensors, nlohmann::json& meta,
                          const std::string& prefix, const SegmentationNetImpl& net) {
  if (!meta.is_null() && !meta.is_object())
    throw std::invalid_argument("add_model_to_archive: meta must be a JSON object, got " +
                                meta.dump());
  const std::string p = key_prefix(prefix);
  for (const auto& [key, t] : state_dict(net))
    tensors[p + key] = t.detach().to(torch::kCPU).clone();
  meta["models"][prefix] = net.config();
}

std::map<std::string, torch::Tensor> tensors_under(const io::TensorArchive& archive,
                                                   const std::string& prefix) {
  const std::string p = key_prefix(prefix);
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, t] : archive.tensors) {
    if (name.compare(0, p.size(), p) != 0) continue;
    const std::string key = name.substr(p.size());
    // With an empty prefix, skip other models' "<prefix>/..." entries: state keys have no '/'.
    if (prefix.empty() && key.find('/') != std::string::npos) continue;
    out[key] = t;
  }
  return out;
}

std::shared_ptr<SegmentationNetImpl> model_from_archive(const io::TensorArchive& archive,
                                                        const std::string& prefix,
                                                        const std::string& path) {
  const nlohmann::json& meta = archive.meta;
  if (!meta.is_object() || !meta.contains("models") || !meta.at("models").is_object() ||
      !meta.at("models").contains(prefix))
    throw std::runtime_error(path + ": the archive holds no network under prefix '" + prefix +
                             "' (meta.models has no such entry)");
  ModelConfig config;
  try {
    config = meta.at("models").at(prefix).get<ModelConfig>();
    validate(config);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": bad model config under prefix '" + prefix +
                             "': " + util::error_message(e));
  }
  std::shared_ptr<SegmentationNetImpl> net = make_model(config);
  try {
    load_state_dict(*net, tensors_under(archive, prefix), /*strict=*/true);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + " (prefix '" + prefix + "'): " + util::error_message(e));
  }
  net->eval();
  return net;
}

void save_model(const std::string& path, const SegmentationNetImpl& net, const ModelConfig& config,
                const nlohmann::json& extra_meta) {
  validate(config);
  const nlohmann::json given = config, actual = net.config();
  if (given != actual)
    throw std::invalid_argument("save_model: " + path + ": config " + given.dump() +
                                " does not describe the network (" + actual.dump() + ")");
  std::map<std::string, torch::Tensor> tensors;
  nlohmann::json meta = nlohmann::json::object();
  add_model_to_archive(tensors, meta, "", net);
  meta["extra"] = extra_meta;
  io::save_tensor_archive(path, tensors, meta);
}

LoadedModel load_model(const std::string& path, const std::string& prefix) {
  io::TensorArchive archive = io::load_tensor_archive(path);
  LoadedModel out;
  out.model = model_from_archive(archive, prefix, path);
  out.config = out.model->config();
  if (archive.meta.is_object() && archive.meta.contains("extra")) out.meta = archive.meta["extra"];
  return out;
}

const nlohmann::json* checkpoint_config(const nlohmann::json& meta) {
  if (!meta.is_object()) return nullptr;
  if (meta.contains("config") && meta["config"].is_object()) return &meta["config"];
  if (meta.contains("extra") && meta["extra"].is_object() && meta["extra"].contains("config") &&
      meta["extra"]["config"].is_object())
    return &meta["extra"]["config"];
  return nullptr;
}

}  // namespace bcp::nets
