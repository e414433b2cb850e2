#include "bcp/nets/segmentation_net.h"

#include <ATen/CPUGeneratorImpl.h>

#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "bcp/nets/unet2d.h"
#include "bcp/nets/vnet.h"

namespace bcp::nets {
namespace {

// Module construction draws its initial weights from the global CPU generator; a clone must
// not, or cloning a teacher would shift every later random draw of the run.
class PreserveCpuGenerator {
 public:
  PreserveCpuGenerator() : gen_(at::detail::getDefaultCPUGenerator()) {
    std::lock_guard<std::mutex> lock(gen_.mutex());
    state_ = gen_.get_state();
  }
  ~PreserveCpuGenerator() {
    std::lock_guard<std::mutex> lock(gen_.mutex());
    gen_.set_state(state_);
  }

 private:
  at::Generator gen_;
  torch::Tensor state_;
};

}  // namespace

int64_t spatial_dims(Arch arch) {
  return arch == Arch::kUNet2d ? 2 : 3;
}

void validate(const ModelConfig& c) {
  if (c.in_channels < 1 || c.in_channels > kMaxInChannels)
    throw std::invalid_argument("model config: in_channels must be in [1, " +
                                std::to_string(kMaxInChannels) + "], got " +
                                std::to_string(c.in_channels));
  if (c.num_classes < 2 || c.num_classes > kMaxClasses)
    throw std::invalid_argument("model config: num_classes must be in [2, " +
                                std::to_string(kMaxClasses) + "] (background included), got " +
                                std::to_string(c.num_classes));
  if (c.base_filters < 1 || c.base_filters > kMaxBaseFilters)
    throw std::invalid_argument("model config: base_filters must be in [1, " +
                                std::to_string(kMaxBaseFilters) + "], got " +
                                std::to_string(c.base_filters));
  if (c.strides.empty()) return;
  if (c.arch != Arch::kVNet)
    throw std::invalid_argument("model config: strides apply to the vnet only, not to " +
                                std::string(util::name_of(c.arch)));
  if (c.strides.size() != 4)
    throw std::invalid_argument(
        "model config: strides must list the VNet's 4 down-samplings, got " +
        std::to_string(c.strides.size()));
  for (const auto& stage : c.strides)
    for (int64_t s : stage)
      if (s != 1 && s != 2)
        throw std::invalid_argument("model config: each stride must be 1 or 2, got " +
                                    std::to_string(s));
}

std::vector<std::array<int64_t, 3>> stage_strides(const ModelConfig& c) {
  if (c.arch == Arch::kUNet2d) return std::vector<std::array<int64_t, 3>>(4, {2, 2, 1});
  return c.strides.empty() ? std::vector<std::array<int64_t, 3>>(4, {2, 2, 2}) : c.strides;
}

std::vector<int64_t> pooling_factor(const ModelConfig& c) {
  std::vector<int64_t> factor(c.arch == Arch::kUNet2d ? 2 : 3, 1);
  for (const auto& stage : stage_strides(c))
    for (size_t a = 0; a < factor.size(); ++a) factor[a] *= stage[a];
  return factor;
}

void to_json(nlohmann::json& j, const ModelConfig& c) {
  j = nlohmann::json{{"arch", c.arch},
                     {"in_channels", c.in_channels},
                     {"num_classes", c.num_classes},
                     {"base_filters", c.base_filters},
                     {"has_dropout", c.has_dropout}};
  if (!c.strides.empty()) j["strides"] = c.strides;
}

void from_json(const nlohmann::json& j, ModelConfig& c) {
  if (!j.is_object())
    throw std::invalid_argument("model config: expected a JSON object, got " + j.dump());
  static const std::set<std::string> known = {"arch",         "in_channels", "num_classes",
                                              "base_filters", "has_dropout", "strides"};
  for (const auto& item : j.items())
    if (!known.count(item.key()))
      throw std::invalid_argument("model config: unknown key \"" + item.key() + "\"");
  for (const char* required : {"arch", "num_classes"})
    if (!j.contains(required))
      throw std::invalid_argument(std::string("model config: missing key \"") + required + "\"");
  ModelConfig out;
  auto get_int = [&](const char* key, int64_t& dst) {
    if (!j.contains(key)) return;
    if (!j.at(key).is_number_integer())
      throw std::invalid_argument(std::string("model config: \"") + key +
                                  "\" must be an integer, got " + j.at(key).dump());
    dst = j.at(key).get<int64_t>();
  };
  try {
    out.arch = j.at("arch").get<Arch>();
  } catch (const util::UnknownName& e) {
    throw std::invalid_argument(std::string("model config: \"arch\": ") + e.what());
  }
  get_int("in_channels", out.in_channels);
  get_int("num_classes", out.num_classes);
  get_int("base_filters", out.base_filters);
  if (j.contains("has_dropout")) {
    if (!j.at("has_dropout").is_boolean())
      throw std::invalid_argument("model config: \"has_dropout\" must be true or false, got " +
                                  j.at("has_dropout").dump());
    out.has_dropout = j.at("has_dropout").get<bool>();
  }
  if (j.contains("strides")) {
    const auto& s = j.at("strides");
    const auto bad = [&] {
      throw std::invalid_argument(
          "model config: \"strides\" must be a list of [x, y, z] whole numbers, got " + s.dump());
    };
    if (!s.is_array()) bad();
    for (const auto& stage : s) {
      if (!stage.is_array() || stage.size() != 3) bad();
      std::array<int64_t, 3> st{};
      for (size_t a = 0; a < 3; ++a) {
        if (!stage[a].is_number_integer()) bad();
        st[a] = stage[a].get<int64_t>();
      }
      out.strides.push_back(st);
    }
  }
  validate(out);
  c = out;
}

std::shared_ptr<SegmentationNetImpl> make_model(const ModelConfig& config) {
  validate(config);
  if (config.arch == Arch::kUNet2d) return std::make_shared<UNet2dImpl>(unet2d_options(config));
  return std::make_shared<VNetImpl>(vnet_options(config));
}

std::shared_ptr<SegmentationNetImpl> SegmentationNetImpl::clone_net(
    const torch::optional<torch::Device>& device) const {
  std::shared_ptr<SegmentationNetImpl> copy;
  {
    PreserveCpuGenerator keep;
    copy = make_model(config());
  }
  torch::NoGradGuard no_grad;
  auto copy_all = [&](const torch::OrderedDict<std::string, torch::Tensor>& src,
                      torch::OrderedDict<std::string, torch::Tensor> dst, const char* what) {
    TORCH_CHECK(src.size() == dst.size(), "clone: ", what, " count differs (", src.size(), " vs ",
                dst.size(), ")");
    for (const auto& item : src) {
      torch::Tensor* target = dst.find(item.key());
      TORCH_CHECK(target != nullptr, "clone: the rebuilt network has no ", what, " '", item.key(),
                  "'");
      torch::Tensor value = item.value().detach().clone();
      if (device) value = value.to(*device);
      // set_data swaps storage, dtype and device while the module keeps the same tensor object
      // (dst holds handles to the module's own tensors).
      target->set_data(value);
      target->set_requires_grad(item.value().requires_grad());
    }
  };
  copy_all(named_parameters(), copy->named_parameters(), "parameter");
  copy_all(named_buffers(), copy->named_buffers(), "buffer");
  copy->train(is_training());
  return copy;
}

std::shared_ptr<torch::nn::Module> SegmentationNetImpl::clone(
    const torch::optional<torch::Device>& device) const {
  return clone_net(device);
}

}  // namespace bcp::nets
