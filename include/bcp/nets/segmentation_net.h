// The common face of BCP's two networks (2D UNet for ACDC, 3D VNet for LA), so trainers,
// evaluators and checkpoints can hold either through one pointer type.
#pragma once
#include <torch/nn/module.h>
#include <torch/types.h>

#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bcp/util/enum_names.h"

namespace bcp::nets {

/// The two networks: "unet2d" (SSL4MIS UNet_2d) and "vnet" (BCP's VNet with BatchNorm).
enum class Arch { kUNet2d, kVNet };
BCP_ENUM_NAMES(Arch, {Arch::kUNet2d, "unet2d"}, {Arch::kVNet, "vnet"})

/// 2 for the UNet, 3 for the VNet (what SegmentationNetImpl::spatial_dims gives once built). A
/// network knows no dataset: recipes pair them by this (train/config.h: arch_for).
int64_t spatial_dims(Arch arch);

/// What `make_model` builds: the one description of a network (UNet2dOptions and VNetOptions
/// are derived from it by unet2d_options / vnet_options). Every field has the released BCP code's
/// value as its default, except `num_classes`, which the caller must give (ACDC 4, LA 2).
struct ModelConfig {
  Arch arch = Arch::kUNet2d;
  int64_t in_channels = 1;    ///< image channels
  int64_t num_classes = 0;    ///< output channels, background included; must be >= 2
  int64_t base_filters = 16;  ///< width of the first stage; UNet widths are base*{1,2,4,8,16},
                              ///< VNet's `n_filters`
  bool has_dropout = true;    ///< UNet: encoder dropouts 0.05,0.1,0.2,0.3,0.5 (false: all 0);
                              ///< VNet: Dropout3d(0.5) on the bottleneck and before the output
                              ///< conv (BCP's "train" factory: true; its "test" factory: false).
                              ///< Dropout acts in train mode only either way.
  /// VNet only: the stride of each of its four down-samplings per axis (x, y, z), 2 (halve) or 1
  /// (keep: nnU-Net's anisotropic pooling, for thick slices or thin volumes); the up-samplings
  /// mirror them. Empty: 2 everywhere, the reference VNet. An axis of the input must be divisible
  /// by the product of its strides.
  std::vector<std::array<int64_t, 3>> strides{};
};

/// The strides of a network's four down-samplings per axis (x, y, z): ModelConfig::strides, or 2
/// on every axis for the reference networks (a 2-D UNet's unused third axis: 1).
std::vector<std::array<int64_t, 3>> stage_strides(const ModelConfig& config);
/// The per-axis down-sampling factor of a network (the product of its strides; 16 on every axis
/// for the reference networks): each spatial input size must be divisible by it.
std::vector<int64_t> pooling_factor(const ModelConfig& config);

/// Bounds of ModelConfig far above any real network and far below what exhausts memory: a
/// damaged checkpoint or a typo is named, not left to the allocator.
constexpr int64_t kMaxInChannels = 1024;
constexpr int64_t kMaxClasses = 256;  ///< masks are uint8
constexpr int64_t kMaxBaseFilters = 256;

/// Throws std::invalid_argument naming the field and value when `config` cannot be built.
void validate(const ModelConfig& config);
/// JSON form: {"arch", "in_channels", "num_classes", "base_filters", "has_dropout"} and
/// "strides" when not empty (so the reference networks' records are as before). Reading
/// requires "arch" and "num_classes", defaults the rest, and rejects unknown keys and bad types.
void to_json(nlohmann::json& j, const ModelConfig& config);
void from_json(const nlohmann::json& j, ModelConfig& config);

/// Both outputs of one forward pass.
struct SegmentationOutput {
  torch::Tensor logits;    ///< (N, num_classes, spatial...), float, before softmax
  torch::Tensor features;  ///< (N, base_filters, spatial...): last decoder features before the
                           ///< output conv (and before VNet's output dropout), for KDE analysis
};

/// Base of UNet2dImpl and VNetImpl. Derived classes register submodules under the reference
/// state-dict key names, so `named_parameters()` + `named_buffers()` match the authors' keys.
///
/// Cloning: LibTorch's `Cloneable<T>` cannot sit under a shared polymorphic base, so this base
/// overrides `Module::clone` itself: it rebuilds the network from `config()` (restoring the
/// global CPU generator afterwards, so cloning consumes no random numbers) and deep-copies every
/// parameter and buffer, keeping dtype, device, requires_grad and train/eval mode.
class SegmentationNetImpl : public torch::nn::Module {
 public:
  /// x: (N, in_channels, H, W) for "unet2d", (N, in_channels, H, W, D) for "vnet".
  virtual SegmentationOutput forward_with_features(torch::Tensor x) = 0;
  /// Logits (N, num_classes, spatial...).
  virtual torch::Tensor forward(torch::Tensor x) { return forward_with_features(x).logits; }
  /// Last decoder features (N, base_filters, spatial...) before the output conv.
  virtual torch::Tensor forward_features(torch::Tensor x) {
    return forward_with_features(x).features;
  }
  /// The config this network was built from (make_model(config()) builds an identical layout).
  virtual ModelConfig config() const = 0;
  /// 2 for the UNet, 3 for the VNet.
  virtual int64_t spatial_dims() const = 0;

  /// Deep copy (see the class comment), optionally moved to `device`.
  std::shared_ptr<SegmentationNetImpl> clone_net(
      const torch::optional<torch::Device>& device = torch::nullopt) const;
  std::shared_ptr<torch::nn::Module> clone(
      const torch::optional<torch::Device>& device = torch::nullopt) const override;

 protected:
  explicit SegmentationNetImpl(const std::string& name) : torch::nn::Module(name) {}
};

/// Builds a freshly initialised network (PyTorch's default init, drawn from the global torch
/// generator: seed it with torch::manual_seed first for a reproducible start). Validates first.
std::shared_ptr<SegmentationNetImpl> make_model(const ModelConfig& config);

}  // namespace bcp::nets
