#include "bcp/nets/state_dict.h"

#include <sstream>
#include <stdexcept>
#include <vector>

#include "bcp/io/h5.h"
#include "bcp/util/error_message.h"
#include "bcp/util/text.h"

namespace bcp::nets {
namespace {

// "'a', 'b' and 3 more": long key lists would drown the one line an error gets.
std::string key_list(const std::vector<std::string>& keys) {
  std::string out;
  const size_t shown = std::min<size_t>(keys.size(), 3);
  for (size_t i = 0; i < shown; ++i) out += (i ? ", '" : "'") + keys[i] + "'";
  if (keys.size() > shown) out += " and " + std::to_string(keys.size() - shown) + " more";
  return out;
}

}  // namespace

std::map<std::string, torch::Tensor> state_dict(const torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : module.named_parameters()) out[item.key()] = item.value().detach();
  for (const auto& item : module.named_buffers()) out[item.key()] = item.value().detach();
  return out;
}

void load_state_dict(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors,
                     bool strict) {
  std::map<std::string, torch::Tensor> targets;
  for (const auto& item : module.named_parameters()) targets[item.key()] = item.value();
  for (const auto& item : module.named_buffers()) targets[item.key()] = item.value();

  std::vector<std::string> missing, unexpected;
  for (const auto& [key, target] : targets)
    if (!tensors.count(key) && !util::ends_with(key, "num_batches_tracked")) missing.push_back(key);
  for (const auto& item : tensors)
    if (!targets.count(item.first)) unexpected.push_back(item.first);
  // Key-set errors first: weights of another architecture are better reported as such than as
  // the first shape that happens to differ.
  if (strict && !missing.empty())
    throw std::runtime_error("load_state_dict: missing key " + key_list(missing) + " (" +
                             std::to_string(missing.size()) + " of " +
                             std::to_string(targets.size()) + " module keys absent)");
  if (strict && !unexpected.empty())
    throw std::runtime_error("load_state_dict: unexpected key " + key_list(unexpected) +
                             " (not in the module)");
  for (const auto& [key, target] : targets) {
    auto it = tensors.find(key);
    if (it == tensors.end()) continue;
    if (!it->second.defined())
      throw std::runtime_error("load_state_dict: key '" + key + "' holds an undefined tensor");
    // A diverged or damaged checkpoint would otherwise predict all background without a word.
    if (it->second.is_floating_point() && !torch::isfinite(it->second).all().item<bool>())
      throw std::runtime_error("load_state_dict: key '" + key + "' holds NaN or Inf values");
    // A negative variance makes BatchNorm's sqrt NaN at inference: all background, exit 0.
    if (util::ends_with(key, "running_var") && (it->second < 0).any().item<bool>())
      throw std::runtime_error("load_state_dict: key '" + key +
                               "' holds negative variances (damaged checkpoint)");
    if (it->second.sizes() != target.sizes())
      throw std::runtime_error("load_state_dict: shape mismatch for key '" + key +
                               "': module has " + c10::str(target.sizes()) + ", given " +
                               c10::str(it->second.sizes()));
  }

  torch::NoGradGuard no_grad;
  for (auto& [key, target] : targets) {
    auto it = tensors.find(key);
    if (it != tensors.end()) target.copy_(it->second);
  }
}

void load_state_dict_h5(torch::nn::Module& module, const std::string& path,
                        const std::string& group, bool strict) {
  io::H5File file(path);
  std::map<std::string, torch::Tensor> tensors;
  const std::string prefix = (group.empty() || group == "/") ? "" : group + "/";
  for (const std::string& name : file.list(group)) tensors[name] = file.read(prefix + name);
  try {
    load_state_dict(module, tensors, strict);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + " (group '" + group + "'): " + util::error_message(e));
  }
}

}  // namespace bcp::nets
