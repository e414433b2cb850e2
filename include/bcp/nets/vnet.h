// The 3D VNet of the LA experiments: BCP `networks/VNet.py` with normalization='batchnorm'
// (without its unused projection/prediction/selector heads). Submodule names and Sequential
// indices follow the reference, so its state-dict keys load by name, e.g.
// `decoder.block_five_up.conv.0.weight`.
#pragma once
#include <torch/arg.h>
#include <torch/nn.h>

#include <array>
#include <utility>
#include <vector>

#include "bcp/nets/segmentation_net.h"

namespace bcp::nets {

using Strides = std::vector<std::array<int64_t, 3>>;

/// Defaults are BCP's LA training network (net_factory(net_type="VNet", mode="train")).
struct VNetOptions {
  VNetOptions() = default;
  VNetOptions(int64_t in_channels, int64_t num_classes)
      : in_channels_(in_channels), num_classes_(num_classes) {}
  /// image channels
  TORCH_ARG(int64_t, in_channels) = 1;
  /// output classes, background included
  TORCH_ARG(int64_t, num_classes) = 2;
  /// width of the first stage; stages are n_filters*{1,2,4,8,16}
  TORCH_ARG(int64_t, n_filters) = 16;
  /// Dropout3d on the bottleneck and before the output conv (train mode only);
  /// BCP's "train" factory sets it, its "test" factory does not
  TORCH_ARG(bool, has_dropout) = true;
  /// Dropout3d probability used when has_dropout
  TORCH_ARG(double, dropout_p) = 0.5;
  /// stride (= kernel) per axis of the four down-samplings, mirrored by the up-samplings; the
  /// reference's is 2 everywhere (ModelConfig::strides)
  TORCH_ARG(Strides, strides) = Strides(4, {2, 2, 2});
};

/// n_stages x (conv3x3x3 pad 1 -> BN3d -> ReLU), as Sequential `conv` (parameters at 3i, 3i+1).
class VNetConvBlockImpl : public torch::nn::Module {
 public:
  VNetConvBlockImpl(int64_t n_stages, int64_t in_channels, int64_t out_channels);
  /// The Sequential's modules in order. On bf16 channels-last activations (the bf16 compute copy
  /// on the CPU) the convolutions run channels-last (conv3d_channels_last.h) and BN + ReLU as one
  /// pass where the batch norm fuses (SyncBatchNormImpl::fuses_leaky_relu).
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Sequential conv{nullptr};
};
TORCH_MODULE(VNetConvBlock);

/// conv (kernel = stride, 2 per axis in the reference) -> BN3d -> ReLU, as Sequential `conv`
/// (reference: DownsamplingConvBlock).
class VNetDownBlockImpl : public torch::nn::Module {
 public:
  VNetDownBlockImpl(int64_t in_channels, int64_t out_channels,
                    std::array<int64_t, 3> stride = {2, 2, 2});
  /// (N, in, H, W, D) -> (N, out, H/sx, W/sy, D/sz); channels-last as VNetConvBlock.
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Sequential conv{nullptr};
};
TORCH_MODULE(VNetDownBlock);

/// transposed conv (kernel = stride, 2 per axis in the reference) -> BN3d -> ReLU, as Sequential
/// `conv` (reference: UpsamplingDeconvBlock).
class VNetUpBlockImpl : public torch::nn::Module {
 public:
  VNetUpBlockImpl(int64_t in_channels, int64_t out_channels,
                  std::array<int64_t, 3> stride = {2, 2, 2});
  /// (N, in, H, W, D) -> (N, out, sx H, sy W, sz D)
  /// On the CPU the transposed convolution runs as a matrix product (transposed_conv.h) in x's
  /// dtype; elsewhere through LibTorch's, in its weight's dtype (x is cast to it and back). BN and
  /// ReLU as in VNetConvBlock.
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Sequential conv{nullptr};
};
TORCH_MODULE(VNetUpBlock);

class VNetEncoderImpl : public torch::nn::Module {
 public:
  explicit VNetEncoderImpl(const VNetOptions& options);
  /// (N, C, H, W, D), each spatial size divisible by its strides' product (16) -> [x1 .. x5], x5
  /// after dropout
  std::vector<torch::Tensor> forward(torch::Tensor x);
  VNetConvBlock block_one{nullptr};
  VNetDownBlock block_one_dw{nullptr};
  VNetConvBlock block_two{nullptr};
  VNetDownBlock block_two_dw{nullptr};
  VNetConvBlock block_three{nullptr};
  VNetDownBlock block_three_dw{nullptr};
  VNetConvBlock block_four{nullptr};
  VNetDownBlock block_four_dw{nullptr};
  VNetConvBlock block_five{nullptr};
  torch::nn::Dropout3d dropout{nullptr};
  bool has_dropout = true;
};
TORCH_MODULE(VNetEncoder);

class VNetDecoderImpl : public torch::nn::Module {
 public:
  explicit VNetDecoderImpl(const VNetOptions& options);
  /// encoder features -> (logits (N, classes, H, W, D), x9 (N, n_filters, H, W, D) before dropout)
  std::pair<torch::Tensor, torch::Tensor> forward(const std::vector<torch::Tensor>& features);
  VNetUpBlock block_five_up{nullptr};
  VNetConvBlock block_six{nullptr};
  VNetUpBlock block_six_up{nullptr};
  VNetConvBlock block_seven{nullptr};
  VNetUpBlock block_seven_up{nullptr};
  VNetConvBlock block_eight{nullptr};
  VNetUpBlock block_eight_up{nullptr};
  VNetConvBlock block_nine{nullptr};
  torch::nn::Conv3d out_conv{nullptr};
  torch::nn::Dropout3d dropout{nullptr};
  bool has_dropout = true;
};
TORCH_MODULE(VNetDecoder);

/// The whole VNet: `encoder` + `decoder` with additive skips. Input (N, C, H, W, D), each spatial
/// size divisible by the product of its axis's strides (16 in the reference; LA patches are
/// 112x112x80).
class VNetImpl : public SegmentationNetImpl {
 public:
  explicit VNetImpl(const VNetOptions& options = {});
  SegmentationOutput forward_with_features(torch::Tensor x) override;
  /// {"vnet", in, classes, n_filters, has_dropout}; a dropout_p other than 0.5 throws.
  ModelConfig config() const override;
  int64_t spatial_dims() const override { return 3; }
  const VNetOptions& options() const { return options_; }

  VNetEncoder encoder{nullptr};
  VNetDecoder decoder{nullptr};

 private:
  VNetOptions options_;
  std::array<int64_t, 3> factor_{16, 16, 16};  ///< per-axis product of the strides
};
TORCH_MODULE(VNet);

/// The options `make_model` uses for a "vnet" config.
VNetOptions vnet_options(const ModelConfig& config);

}  // namespace bcp::nets
