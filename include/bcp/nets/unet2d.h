// The 2D UNet of the ACDC experiments: SSL4MIS `networks/unet.py` as BCP uses it (`UNet_2d`,
// without its unused projection/prediction/selector heads). Submodule names and Sequential
// indices follow the reference, so its state-dict keys load by name, e.g.
// `encoder.down1.maxpool_conv.1.conv_conv.0.weight`.
#pragma once
#include <torch/arg.h>
#include <torch/nn.h>

#include <utility>
#include <vector>

#include "bcp/nets/segmentation_net.h"

namespace bcp::nets {

/// Widths and dropouts of the UNet. Defaults are BCP's ACDC network.
struct UNet2dOptions {
  UNet2dOptions() = default;
  UNet2dOptions(int64_t in_channels, int64_t num_classes)
      : in_channels_(in_channels), num_classes_(num_classes) {}
  /// image channels
  TORCH_ARG(int64_t, in_channels) = 1;
  /// output classes, background included
  TORCH_ARG(int64_t, num_classes) = 4;
  /// widths of the five encoder stages (the decoder mirrors them)
  TORCH_ARG(std::vector<int64_t>, feature_channels) = std::vector<int64_t>{16, 32, 64, 128, 256};
  /// nn.Dropout p inside each encoder stage's block (decoder blocks use 0)
  TORCH_ARG(std::vector<double>, encoder_dropout) = std::vector<double>{0.05, 0.1, 0.2, 0.3, 0.5};
};

/// conv3x3 -> BN -> LeakyReLU(0.01) -> Dropout(p) (nn.Dropout's semantics, see dropout.h) ->
/// conv3x3 -> BN -> LeakyReLU, as Sequential `conv_conv` (indices 0..6; parameters at 0, 1, 4, 5).
class UNetConvBlockImpl : public torch::nn::Module {
 public:
  UNetConvBlockImpl(int64_t in_channels, int64_t out_channels, double dropout_p);
  /// (N, in, H, W) -> (N, out, H, W)
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Sequential conv_conv{nullptr};
};
TORCH_MODULE(UNetConvBlock);

/// MaxPool2d(2) then a conv block, as Sequential `maxpool_conv` (block at index 1).
class UNetDownBlockImpl : public torch::nn::Module {
 public:
  UNetDownBlockImpl(int64_t in_channels, int64_t out_channels, double dropout_p);
  /// (N, in, H, W) -> (N, out, H/2, W/2)
  /// On bf16 channels-last activations the pooling runs as max_pool_2x2 (max_pool.h).
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Sequential maxpool_conv{nullptr};
};
TORCH_MODULE(UNetDownBlock);

/// conv1x1 (to the skip's width) -> bilinear x2 (align_corners=true) -> cat[skip, up] -> block.
class UNetUpBlockImpl : public torch::nn::Module {
 public:
  UNetUpBlockImpl(int64_t in_channels1, int64_t in_channels2, int64_t out_channels,
                  double dropout_p);
  /// x1: (N, in1, H, W) deeper features; x2: (N, in2, 2H, 2W) skip -> (N, out, 2H, 2W)
  torch::Tensor forward(torch::Tensor x1, torch::Tensor x2);
  torch::nn::Conv2d conv1x1{nullptr};
  torch::nn::Upsample up{nullptr};
  UNetConvBlock conv{nullptr};
};
TORCH_MODULE(UNetUpBlock);

class UNetEncoderImpl : public torch::nn::Module {
 public:
  explicit UNetEncoderImpl(const UNet2dOptions& options);
  /// (N, C, H, W) -> five feature maps, widths feature_channels, sizes H/2^k (H, W divisible by 16)
  std::vector<torch::Tensor> forward(torch::Tensor x);
  UNetConvBlock in_conv{nullptr};
  UNetDownBlock down1{nullptr}, down2{nullptr}, down3{nullptr}, down4{nullptr};
};
TORCH_MODULE(UNetEncoder);

class UNetDecoderImpl : public torch::nn::Module {
 public:
  explicit UNetDecoderImpl(const UNet2dOptions& options);
  /// encoder features -> (logits (N, num_classes, H, W), last features (N, feature_channels[0], H,
  /// W))
  std::pair<torch::Tensor, torch::Tensor> forward(const std::vector<torch::Tensor>& features);
  UNetUpBlock up1{nullptr}, up2{nullptr}, up3{nullptr}, up4{nullptr};
  torch::nn::Conv2d out_conv{nullptr};
};
TORCH_MODULE(UNetDecoder);

/// The whole UNet: `encoder` + `decoder`. Input (N, C, H, W) with H and W divisible by 16.
class UNet2dImpl : public SegmentationNetImpl {
 public:
  explicit UNet2dImpl(const UNet2dOptions& options = {});
  SegmentationOutput forward_with_features(torch::Tensor x) override;
  /// {"unet2d", in, classes, feature_channels[0], any encoder dropout > 0}; a layout that a
  /// ModelConfig cannot describe (non-doubling widths, other dropouts) throws.
  ModelConfig config() const override;
  int64_t spatial_dims() const override { return 2; }
  const UNet2dOptions& options() const { return options_; }

  UNetEncoder encoder{nullptr};
  UNetDecoder decoder{nullptr};

 private:
  UNet2dOptions options_;
};
TORCH_MODULE(UNet2d);

/// The options `make_model` uses for an "unet2d" config.
UNet2dOptions unet2d_options(const ModelConfig& config);

}  // namespace bcp::nets
