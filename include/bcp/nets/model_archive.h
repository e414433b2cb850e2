// Networks in tensor archives: weights under a name prefix, the ModelConfig in the metadata, so
// a checkpoint rebuilds its own network (no code, no pickles).
#pragma once
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>

#include "bcp/io/tensor_archive.h"
#include "bcp/nets/segmentation_net.h"

namespace bcp::nets {

/// A network read back from an archive.
struct LoadedModel {
  std::shared_ptr<SegmentationNetImpl> model;  ///< on the CPU, float32, in eval mode
  ModelConfig config;                          ///< the config it was built from
  nlohmann::json meta;  ///< the `extra_meta` given to save_model (null if none)
};

/// Writes a one-network archive: the state dict under its plain keys, and meta
/// {"models": {"": config}, "extra": extra_meta}. `config` must equal `net.config()`.
void save_model(const std::string& path, const SegmentationNetImpl& net, const ModelConfig& config,
                const nlohmann::json& extra_meta = nullptr);

/// Reads the network stored under `prefix` ("" for save_model's files; e.g. "student" or
/// "teacher" in a trainer's checkpoint): builds it from meta["models"][prefix] and loads its
/// weights strictly. Errors name the file and, for weights, the key.
LoadedModel load_model(const std::string& path, const std::string& prefix = "");

/// For trainers composing a larger checkpoint: adds `net`'s state dict to `tensors` as
/// "<prefix>/<key>" ("<key>" when prefix is empty) and its config to meta["models"][prefix]
/// (meta must be null or an object). Tensors are cloned to the CPU, so later training steps do
/// not change what is saved.
void add_model_to_archive(std::map<std::string, torch::Tensor>& tensors, nlohmann::json& meta,
                          const std::string& prefix, const SegmentationNetImpl& net);

/// The inverse of add_model_to_archive for an archive already in memory; `path` names the file
/// in errors. The network is on the CPU in eval mode.
std::shared_ptr<SegmentationNetImpl> model_from_archive(const io::TensorArchive& archive,
                                                        const std::string& prefix,
                                                        const std::string& path);

/// The training config a checkpoint carries: meta.config (a trainer's checkpoint) or
/// meta.extra.config (save_model's files); null when it has none. For tools that analyse a run
/// (`bcp kde`) and for checkpoints older than their evaluation protocol; evaluation itself reads
/// the checkpoint's EvalProtocol.
const nlohmann::json* checkpoint_config(const nlohmann::json& meta);

/// The weights stored under `prefix` with the prefix stripped (for load_state_dict into an
/// existing network, e.g. a teacher that must keep its identity).
std::map<std::string, torch::Tensor> tensors_under(const io::TensorArchive& archive,
                                                   const std::string& prefix);

}  // namespace bcp::nets
