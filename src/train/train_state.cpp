#include "bcp/train/train_state.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <mutex>
#include <stdexcept>

#include "bcp/io/tensor_archive.h"
#include "bcp/nets/model_archive.h"
#include "bcp/nets/state_dict.h"
#include "bcp/train/optimizer_state.h"
#include "bcp/train/validation.h"
#include "bcp/util/error_message.h"

namespace bcp::train {
namespace {

torch::Tensor global_cpu_rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_global_cpu_rng_state(const torch::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

// CUDA generators (dropout and noise on a GPU), one per device, so resume on CUDA is exact too.
// Through ATen's device-generic accessor, which a CPU-only LibTorch also compiles.
std::string cuda_rng_key(int64_t device) {
  return "rng/torch_cuda_" + std::to_string(device);
}

void add_cuda_rng_states(std::map<std::string, torch::Tensor>& tensors,
                         const nets::SegmentationNetImpl& net) {
  const auto params = net.parameters();
  if (params.empty() || !params.front().is_cuda()) return;  // a CPU run leaves CUDA alone
  for (int64_t i = 0; i < static_cast<int64_t>(torch::cuda::device_count()); ++i) {
    auto gen = at::globalContext().defaultGenerator(at::Device(at::kCUDA, i));
    std::lock_guard<std::mutex> lock(gen.mutex());
    tensors[cuda_rng_key(i)] = gen.get_state();
  }
}

void restore_cuda_rng_states(const std::map<std::string, torch::Tensor>& tensors) {
  if (!torch::cuda::is_available()) return;  // a CUDA run resumed on the CPU cannot be exact
  for (int64_t i = 0; i < static_cast<int64_t>(torch::cuda::device_count()); ++i) {
    auto it = tensors.find(cuda_rng_key(i));
    if (it == tensors.end()) continue;
    auto gen = at::globalContext().defaultGenerator(at::Device(at::kCUDA, i));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(it->second);
  }
}

}  // namespace

void save_train_state(const std::string& path, const nets::SegmentationNetImpl& student,
                      const nets::SegmentationNetImpl* teacher, torch::optim::SGD* optimizer,
                      const LoopState& loop, const nlohmann::json& config) {
  std::map<std::string, torch::Tensor> tensors;
  nlohmann::json meta = nlohmann::json::object();
  nets::add_model_to_archive(tensors, meta, "", student);
  if (teacher) nets::add_model_to_archive(tensors, meta, "teacher", *teacher);
  if (optimizer) {
    auto opt = sgd_state(*optimizer);
    tensors.insert(opt.begin(), opt.end());
  }
  tensors["rng/torch_cpu"] = global_cpu_rng_state();
  add_cuda_rng_states(tensors, student);
  meta["train"] = {{"stage", loop.stage},
                   {"iteration", loop.iteration},
                   {"best_dice", loop.best_dice},
                   {"best_iteration", loop.best_iteration},
                   {"sampler", loop.sampler},
                   {"rng", loop.rng},
                   {"extra", loop.extra},
                   {"cases", loop.cases},
                   {"has_teacher", teacher != nullptr},
                   {"has_optimizer", optimizer != nullptr}};
  meta["config"] = config;
  meta["eval_protocol"] = eval_protocol_of(config_from_json(config));
  io::save_tensor_archive(path, tensors, meta);
}

namespace {

/// Runs `load`, naming `path` in what it throws.
template <typename Load>
auto naming_file(const std::string& path, Load load) {
  try {
    return load();
  } catch (const std::exception& e) {
    std::string what = util::error_message(e);
    if (what.rfind(path, 0) == 0) throw;
    throw std::runtime_error(path + ": " + what);
  }
}

const nlohmann::json& train_meta(const io::TensorArchive& archive, const std::string& path) {
  if (!archive.meta.is_object() || !archive.meta.contains("train"))
    throw std::runtime_error(path + ": not a bcp training checkpoint (no 'train' metadata)");
  return archive.meta["train"];
}

}  // namespace

LoopState load_train_state(const std::string& path, nets::SegmentationNetImpl& student,
                           nets::SegmentationNetImpl* teacher, torch::optim::SGD* optimizer) {
  return load_train_state(io::load_tensor_archive(path), path, student, teacher, optimizer);
}

LoopState load_train_state(const io::TensorArchive& archive, const std::string& path,
                           nets::SegmentationNetImpl& student, nets::SegmentationNetImpl* teacher,
                           torch::optim::SGD* optimizer) {
  const auto& t = train_meta(archive, path);
  return naming_file(path, [&] {
    nets::load_state_dict(student, nets::tensors_under(archive, ""));
    if (teacher) {
      if (!t.value("has_teacher", false))
        throw std::runtime_error("checkpoint holds no EMA teacher");
      nets::load_state_dict(*teacher, nets::tensors_under(archive, "teacher"));
    }
    if (optimizer) load_sgd_state(*optimizer, archive.tensors);
    LoopState loop;
    loop.stage = t.at("stage").get<std::string>();
    loop.iteration = t.at("iteration").get<int64_t>();
    loop.best_dice = t.at("best_dice").get<double>();
    loop.best_iteration = t.at("best_iteration").get<int64_t>();
    loop.sampler = t.at("sampler").get<std::string>();
    loop.rng = t.at("rng").get<std::string>();
    loop.extra = t.value("extra", nlohmann::json());
    loop.cases = t.value("cases", std::string());
    return loop;
  });
}

void restore_generators(const io::TensorArchive& archive, const std::string& path) {
  train_meta(archive, path);
  naming_file(path, [&] {
    auto rng = archive.tensors.find("rng/torch_cpu");
    if (rng == archive.tensors.end()) throw std::runtime_error("missing rng/torch_cpu");
    set_global_cpu_rng_state(rng->second);
    restore_cuda_rng_states(archive.tensors);
    return 0;
  });
}

}  // namespace bcp::train
